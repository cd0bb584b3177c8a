//! The Ed25519 verifying key for `v4.public`.

use core::fmt;
use core::hash::{Hash, Hasher};

use ed25519_dalek::VerifyingKey;

use crate::encoding;
use crate::error::{Error, KeyEncoding, KeyError};

/// An Ed25519 public key that verifies `v4.public` tokens.
///
/// Loading refuses, once and for all, what libsodium refuses on every verify: bytes
/// that are not a curve point, points of small order (weak keys) and non-canonical
/// encodings. A `PublicKey` is therefore always safe to verify with.
///
/// # Examples
///
/// ```
/// use vaulttoken::{PublicKey, SecretKey, v4};
///
/// let secret = SecretKey::generate()?;
/// let public = PublicKey::from_bytes(&secret.public_key().to_bytes())?;
/// let token = v4::public::sign(&secret, b"hi", b"", b"")?;
/// assert_eq!(v4::public::verify(&public, &token, None, b"")?, b"hi");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    /// The key length in bytes.
    pub const LENGTH: usize = 32;

    /// Loads a key from its 32-byte compressed Edwards encoding.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] with [`KeyError::Length`], [`KeyError::NotOnCurve`],
    /// [`KeyError::NonCanonicalPublicKey`] or [`KeyError::WeakPublicKey`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, PublicKey, error::KeyError};
    ///
    /// // The identity point: every signature "verifies" under it.
    /// let mut identity = [0u8; 32];
    /// identity[0] = 1;
    /// assert!(matches!(
    ///     PublicKey::from_bytes(&identity),
    ///     Err(Error::InvalidKey(KeyError::WeakPublicKey))
    /// ));
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: &[u8; Self::LENGTH] = bytes.try_into().map_err(|_| KeyError::Length {
            expected: Self::LENGTH,
            found: bytes.len(),
        })?;
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotOnCurve)?;
        Self::from_verifying_key(key)
    }

    /// Loads a key from 64 hex digits (either case).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for bad hex or any reason [`PublicKey::from_bytes`] gives.
    ///
    /// # Examples
    ///
    /// ```
    /// let hex = "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2";
    /// let key = vaulttoken::PublicKey::from_hex(hex)?;
    /// assert_eq!(key.to_hex(), hex);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let bytes = encoding::decode_hex(text).ok_or(KeyError::Encoding(KeyEncoding::Hex))?;
        Self::from_bytes(&bytes)
    }

    /// Loads a key from unpadded base64url (43 characters).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for bad base64url or any reason [`PublicKey::from_bytes`]
    /// gives.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?.public_key();
    /// assert_eq!(vaulttoken::PublicKey::from_base64url(&key.to_base64url())?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_base64url(text: &str) -> Result<Self, Error> {
        let bytes =
            encoding::decode_base64url(text).ok_or(KeyError::Encoding(KeyEncoding::Base64Url))?;
        Self::from_bytes(&bytes)
    }

    /// The 32-byte compressed encoding.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::from_seed(&[0u8; 32])?.public_key();
    /// assert_eq!(key.to_bytes().len(), 32);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::LENGTH] {
        self.key.to_bytes()
    }

    /// The 32-byte compressed encoding, borrowed.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::from_seed(&[0u8; 32])?.public_key();
    /// assert_eq!(key.as_bytes(), &key.to_bytes());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; Self::LENGTH] {
        self.key.as_bytes()
    }

    /// The key as lowercase hex.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?.public_key();
    /// assert_eq!(key.to_hex().len(), 64);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_hex(&self) -> String {
        encoding::encode_hex(self.as_bytes())
    }

    /// The key as unpadded base64url.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::SecretKey::generate()?.public_key();
    /// assert_eq!(key.to_base64url().len(), 43);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn to_base64url(&self) -> String {
        encoding::encode_base64url(self.as_bytes())
    }

    /// Accepts a decompressed key only if it is canonical and not of small order.
    pub(crate) fn from_verifying_key(key: VerifyingKey) -> Result<Self, Error> {
        if key.to_edwards().compress().as_bytes() != key.as_bytes() {
            return Err(KeyError::NonCanonicalPublicKey.into());
        }
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey.into());
        }
        Ok(Self { key })
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicKey").field(&self.to_hex()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `p = 2^255 - 19`, little-endian.
    fn field_prime_plus(small: u8) -> [u8; 32] {
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xed + small;
        bytes[31] = 0x7f;
        bytes
    }

    #[test]
    fn every_small_order_point_is_refused_as_weak() {
        for point in curve25519_dalek::constants::EIGHT_TORSION {
            let err = PublicKey::from_bytes(point.compress().as_bytes()).unwrap_err();
            assert!(
                matches!(err, Error::InvalidKey(KeyError::WeakPublicKey)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn a_non_canonical_encoding_of_a_sound_point_is_refused() {
        // y = p + y0 encodes the same point as y0; find a y0 that is on the curve.
        let mut found = 0;
        for y0 in 2..19u8 {
            let bytes = field_prime_plus(y0);
            if VerifyingKey::from_bytes(&bytes).is_ok_and(|k| !k.is_weak()) {
                found += 1;
                assert!(matches!(
                    PublicKey::from_bytes(&bytes),
                    Err(Error::InvalidKey(KeyError::NonCanonicalPublicKey))
                ));
            }
        }
        assert!(found > 0, "no non-canonical test point found");
    }

    #[test]
    fn a_negative_zero_x_is_refused() {
        // (0, 1) with the sign bit set: the identity, encoded non-canonically.
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        bytes[31] = 0x80;
        assert!(PublicKey::from_bytes(&bytes).is_err());
    }

    #[test]
    fn bytes_off_the_curve_are_refused() {
        // y = 2 has no x on edwards25519 (checked against the decompressor here).
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert!(VerifyingKey::from_bytes(&bytes).is_err());
        assert!(matches!(
            PublicKey::from_bytes(&bytes),
            Err(Error::InvalidKey(KeyError::NotOnCurve))
        ));
    }

    #[test]
    fn wrong_lengths_are_refused() {
        for len in [0, 31, 33, 64] {
            assert!(matches!(
                PublicKey::from_bytes(&vec![9; len]),
                Err(Error::InvalidKey(KeyError::Length { expected: 32, .. }))
            ));
        }
    }
}
