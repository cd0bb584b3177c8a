//! PEM loading and saving for the Ed25519 keys: PKCS#8 for the secret key, SPKI for
//! the public key, through ed25519-dalek's own codecs (no hand-written DER).

use ed25519_dalek::ed25519::KeypairBytes;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroize;

use super::{PublicKey, SecretKey, SecretString};
use crate::error::{Error, KeyEncoding, KeyError, KeyKind};

const PRIVATE_LABEL: &str = "-----BEGIN PRIVATE KEY-----";
const PUBLIC_LABEL: &str = "-----BEGIN PUBLIC KEY-----";

/// What kind of key a PEM document announces, from its first line alone.
fn announced_kind(pem: &str) -> Option<KeyKind> {
    let first_line = pem.trim_start().lines().next()?.trim_end();
    match first_line {
        PRIVATE_LABEL => Some(KeyKind::Secret),
        PUBLIC_LABEL => Some(KeyKind::Public),
        _ => None,
    }
}

fn bad_pem() -> Error {
    KeyError::Encoding(KeyEncoding::Pem).into()
}

impl SecretKey {
    /// Loads an Ed25519 key from a PKCS#8 `PRIVATE KEY` PEM document (RFC 8410).
    ///
    /// # Errors
    ///
    /// [`Error::WrongKeyType`] for a `PUBLIC KEY` document, and [`Error::InvalidKey`]
    /// with [`KeyError::Encoding`] for anything that is not a PKCS#8 Ed25519 key.
    ///
    /// # Examples
    ///
    /// ```
    /// let pem = "-----BEGIN PRIVATE KEY-----
    /// MC4CAQAwBQYDK2VwBCIEILTL+0PfTOIQcn2VPkpxMwf6Gbt9n4UEFDjZ4RuUKjd0
    /// -----END PRIVATE KEY-----";
    /// let key = vaulttoken::SecretKey::from_pkcs8_pem(pem)?;
    /// assert_eq!(
    ///     key.public_key().to_hex(),
    ///     "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2"
    /// );
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        if announced_kind(pem) == Some(KeyKind::Public) {
            return Err(Error::WrongKeyType {
                expected: KeyKind::Secret,
                found: KeyKind::Public,
            });
        }
        SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_signing_key)
            .map_err(|_| bad_pem())
    }

    /// Saves the key as a PKCS#8 v1 `PRIVATE KEY` PEM document (RFC 8410, seed only,
    /// the form OpenSSL and the PASETO test vectors use) with `\n` line endings.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?;
    /// let pem = key.to_pkcs8_pem()?;
    /// assert!(pem.as_str().starts_with("-----BEGIN PRIVATE KEY-----"));
    /// assert_eq!(vaulttoken::SecretKey::from_pkcs8_pem(pem.as_str())?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_pkcs8_pem(&self) -> Result<SecretString, Error> {
        self.peek(|m| {
            let mut seed_only = KeypairBytes {
                secret_key: *m.seed(),
                public_key: None,
            };
            let pem = seed_only.to_pkcs8_pem(LineEnding::LF);
            seed_only.secret_key.zeroize();
            pem
        })?
        .map(SecretString::new)
        .map_err(|_| bad_pem())
    }
}

impl PublicKey {
    /// Loads an Ed25519 key from an SPKI `PUBLIC KEY` PEM document (RFC 8410), with
    /// the same checks as [`PublicKey::from_bytes`].
    ///
    /// # Errors
    ///
    /// [`Error::WrongKeyType`] for a `PRIVATE KEY` document, and [`Error::InvalidKey`]
    /// for anything that is not a sound SPKI Ed25519 key.
    ///
    /// # Examples
    ///
    /// ```
    /// let pem = "-----BEGIN PUBLIC KEY-----
    /// MCowBQYDK2VwAyEAHrnbu7wEfAP9cGBOAHHwmH4Wsot1ciXBHwBBXQ4gsaI=
    /// -----END PUBLIC KEY-----";
    /// let key = vaulttoken::PublicKey::from_public_key_pem(pem)?;
    /// assert_eq!(key.to_public_key_pem().trim_end(), pem);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_public_key_pem(pem: &str) -> Result<Self, Error> {
        if announced_kind(pem) == Some(KeyKind::Secret) {
            return Err(Error::WrongKeyType {
                expected: KeyKind::Public,
                found: KeyKind::Secret,
            });
        }
        let key = VerifyingKey::from_public_key_pem(pem).map_err(|_| bad_pem())?;
        // The decoder accepts any point; apply the same canonical / weak checks.
        Self::from_bytes(key.as_bytes())
    }

    /// Saves the key as an SPKI `PUBLIC KEY` PEM document with `\n` line endings.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?.public_key();
    /// let pem = key.to_public_key_pem();
    /// assert_eq!(vaulttoken::PublicKey::from_public_key_pem(&pem)?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_public_key_pem(&self) -> String {
        self.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_else(|_| unreachable!("a 32-byte key always fits in SPKI PEM"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILTL+0PfTOIQcn2VPkpxMwf6Gbt9n4UEFDjZ4RuUKjd0\n-----END PRIVATE KEY-----";
    const PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAHrnbu7wEfAP9cGBOAHHwmH4Wsot1ciXBHwBBXQ4gsaI=\n-----END PUBLIC KEY-----";

    #[test]
    fn a_public_pem_is_not_a_secret_key_and_vice_versa() {
        assert!(matches!(
            SecretKey::from_pkcs8_pem(PUBLIC_PEM),
            Err(Error::WrongKeyType {
                expected: KeyKind::Secret,
                found: KeyKind::Public
            })
        ));
        assert!(matches!(
            PublicKey::from_public_key_pem(SECRET_PEM),
            Err(Error::WrongKeyType {
                expected: KeyKind::Public,
                found: KeyKind::Secret
            })
        ));
    }

    #[test]
    fn malformed_pem_is_an_encoding_error() {
        let truncated = &SECRET_PEM[..SECRET_PEM.len() - 10];
        let bad_body = SECRET_PEM.replace("MC4C", "MC4D");
        for pem in [
            "",
            "garbage",
            truncated,
            &bad_body,
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
        ] {
            assert!(
                matches!(
                    SecretKey::from_pkcs8_pem(pem),
                    Err(Error::InvalidKey(KeyError::Encoding(KeyEncoding::Pem)))
                ),
                "{pem:?}"
            );
        }
        assert!(matches!(
            PublicKey::from_public_key_pem(&PUBLIC_PEM.replace("MCow", "MCox")),
            Err(Error::InvalidKey(KeyError::Encoding(KeyEncoding::Pem)))
        ));
    }

    #[test]
    fn a_weak_key_inside_valid_spki_is_still_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).unwrap();
        let pem = weak.to_public_key_pem(LineEnding::LF).unwrap();
        assert!(matches!(
            PublicKey::from_public_key_pem(&pem),
            Err(Error::InvalidKey(KeyError::WeakPublicKey))
        ));
    }

    #[test]
    fn secret_pem_round_trips() {
        let key = SecretKey::from_pkcs8_pem(SECRET_PEM).unwrap();
        let again = key.to_pkcs8_pem().unwrap();
        assert_eq!(again.as_str().trim_end(), SECRET_PEM);
    }
}
