//! `k4.local.`, `k4.public.` and `k4.secret.`: keys in clear.

use super::{PaserkType, decode_exact, encode, encode_secret};
use crate::error::Error;
use crate::keys::{LocalKey, PublicKey, SecretKey, SecretString};

impl LocalKey {
    /// The key as a `k4.local.` PASERK: the key itself, in clear.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Security
    ///
    /// Store the string only where the key itself may live. To store a key
    /// anywhere else, wrap it ([`LocalKey::to_paserk_wrapped`],
    /// [`LocalKey::to_paserk_password`]) or seal it ([`LocalKey::to_paserk_sealed`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::from_bytes(&[0u8; 32])?;
    /// assert_eq!(key.to_paserk()?.as_str(), format!("k4.local.{}", "A".repeat(43)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_paserk(&self) -> Result<SecretString, Error> {
        let bytes = self.expose_secret_bytes()?;
        Ok(encode_secret(PaserkType::Local, bytes.as_bytes()))
    }

    /// Loads a key from a `k4.local.` PASERK.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for another version or type, a wrong length or bad
    /// base64url.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::LocalKey;
    ///
    /// let key = LocalKey::generate()?;
    /// assert_eq!(LocalKey::from_paserk(key.to_paserk()?.as_str())?, key);
    /// assert!(LocalKey::from_paserk("k3.local.AAAA").is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_exact(text, PaserkType::Local, Self::LENGTH)?)
    }
}

impl PublicKey {
    /// The key as a `k4.public.` PASERK.
    ///
    /// # Examples
    ///
    /// ```
    /// let public = vaulttoken::SecretKey::generate()?.public_key();
    /// assert!(public.to_paserk().starts_with("k4.public."));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_paserk(&self) -> String {
        encode(PaserkType::Public, self.as_bytes())
    }

    /// Loads a key from a `k4.public.` PASERK, with every check of
    /// [`PublicKey::from_bytes`] (no weak or non-canonical keys).
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for another version or type, a wrong length or bad
    /// base64url; [`Error::InvalidKey`] for a key that is unsafe to verify with.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, PublicKey, error::KeyError};
    ///
    /// let public = vaulttoken::SecretKey::generate()?.public_key();
    /// assert_eq!(PublicKey::from_paserk(&public.to_paserk())?, public);
    ///
    /// // The all-zero encoding is a point of order 4: refused.
    /// let weak = format!("k4.public.{}", "A".repeat(43));
    /// assert!(matches!(
    ///     PublicKey::from_paserk(&weak),
    ///     Err(Error::InvalidKey(KeyError::WeakPublicKey))
    /// ));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_exact(text, PaserkType::Public, Self::LENGTH)?)
    }
}

impl SecretKey {
    /// The key as a `k4.secret.` PASERK (seed ‖ public key), in clear.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Security
    ///
    /// Store the string only where the key itself may live; elsewhere use
    /// [`SecretKey::to_paserk_wrapped`] or [`SecretKey::to_paserk_password`].
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// assert!(key.to_paserk()?.as_str().starts_with("k4.secret."));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_paserk(&self) -> Result<SecretString, Error> {
        let bytes = self.expose_secret_bytes()?;
        Ok(encode_secret(PaserkType::Secret, bytes.as_bytes()))
    }

    /// Loads a key from a `k4.secret.` PASERK, whose public half must match its
    /// seed.
    ///
    /// # Errors
    ///
    /// [`Error::Paserk`] for another version or type, a wrong length or bad
    /// base64url; [`Error::InvalidKey`] with
    /// [`KeyError::KeyPairMismatch`](crate::error::KeyError::KeyPairMismatch) if the halves
    /// do not belong together.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::SecretKey;
    ///
    /// let key = SecretKey::generate()?;
    /// assert_eq!(SecretKey::from_paserk(key.to_paserk()?.as_str())?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_paserk(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_exact(
            text,
            PaserkType::Secret,
            Self::KEYPAIR_LENGTH,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PaserkError;

    #[test]
    fn each_key_type_refuses_the_other_types_strings() {
        let local = LocalKey::generate().unwrap();
        let secret = SecretKey::generate().unwrap();
        let public = secret.public_key().to_paserk();
        let local_text = local.to_paserk().unwrap();
        let secret_text = secret.to_paserk().unwrap();

        let wrong = |result: Result<(), Error>, expected, found| {
            assert!(
                matches!(
                    result,
                    Err(Error::Paserk(PaserkError::WrongType { expected: e, found: f }))
                        if e == expected && f == found
                ),
                "{expected} <- {found}"
            );
        };
        wrong(
            LocalKey::from_paserk(&public).map(drop),
            PaserkType::Local,
            PaserkType::Public,
        );
        wrong(
            LocalKey::from_paserk(secret_text.as_str()).map(drop),
            PaserkType::Local,
            PaserkType::Secret,
        );
        wrong(
            PublicKey::from_paserk(local_text.as_str()).map(drop),
            PaserkType::Public,
            PaserkType::Local,
        );
        wrong(
            SecretKey::from_paserk(&public).map(drop),
            PaserkType::Secret,
            PaserkType::Public,
        );
    }

    #[test]
    fn secret_paserk_with_a_foreign_public_half_is_refused() {
        let a = SecretKey::from_seed(&[1; 32]).unwrap();
        let b = SecretKey::from_seed(&[2; 32]).unwrap();
        let mut pair = *a.expose_secret_bytes().unwrap().as_bytes();
        pair[32..].copy_from_slice(b.public_key().as_bytes());
        let text = encode(PaserkType::Secret, &pair);
        assert!(matches!(
            SecretKey::from_paserk(&text),
            Err(Error::InvalidKey(crate::error::KeyError::KeyPairMismatch))
        ));
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        // 43 characters carry 258 bits; the last 2 must be zero.
        let text = format!("k4.local.{}B", "A".repeat(42));
        assert!(matches!(
            LocalKey::from_paserk(&text),
            Err(Error::Paserk(PaserkError::Encoding))
        ));
    }

    #[test]
    fn cleared_keys_cannot_be_exported() {
        let mut key = LocalKey::generate().unwrap();
        key.clear();
        assert!(matches!(key.to_paserk(), Err(Error::KeyCleared)));
    }
}
