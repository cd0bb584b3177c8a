//! The symmetric `v4.local` key.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{
    Lifecycle, SecretBytes, SecretString, decode_base64url_secret, decode_hex_secret, exact_array,
};
use crate::encoding;
use crate::error::Error;
use crate::primitives::random_array;

/// A 256-bit symmetric key for `v4.local` tokens.
///
/// Persistent unless made ephemeral; zeroized on drop; compared in constant time;
/// `Debug` shows only its lifecycle.
///
/// # Examples
///
/// ```
/// use vaulttoken::{LocalKey, v4};
///
/// let key = LocalKey::generate()?;
/// let token = v4::local::encrypt(&key, b"hello", b"", b"")?;
/// assert_eq!(v4::local::decrypt(&key, &token, None, b"")?, b"hello");
/// assert_eq!(format!("{key:?}"), "LocalKey { lifecycle: \"persistent\", .. }");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub struct LocalKey {
    material: Lifecycle<Zeroizing<[u8; Self::LENGTH]>>,
}

impl LocalKey {
    /// The key length in bytes.
    pub const LENGTH: usize = 32;

    /// Generates a new persistent key from the operating system's RNG.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if the operating system cannot provide random bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::generate()?;
    /// assert!(!key.is_ephemeral());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn generate() -> Result<Self, Error> {
        random_array().map(Self::persistent)
    }

    /// Loads a key from exactly 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] with [`KeyError::Length`](crate::error::KeyError::Length) for any
    /// other length.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::from_bytes(&[1u8; 32])?;
    /// assert!(vaulttoken::LocalKey::from_bytes(&[1u8; 33]).is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        exact_array(bytes).map(Self::persistent)
    }

    /// Loads a key from 64 hex digits (either case), decoded in constant time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if the text is not hex or does not decode to 32 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::from_hex(&"0f".repeat(32))?;
    /// assert_eq!(key.to_hex()?.as_str(), "0f".repeat(32));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_hex_secret(text)?)
    }

    /// Loads a key from unpadded base64url (43 characters).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] if the text is not canonical unpadded base64url or does
    /// not decode to 32 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::generate()?;
    /// let text = key.to_base64url()?;
    /// assert_eq!(vaulttoken::LocalKey::from_base64url(text.as_str())?, key);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_base64url(text: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_base64url_secret(text)?)
    }

    /// Copies the raw key bytes out. Does not count as a token operation.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Security
    ///
    /// The bytes are the key: store them only where the key itself may live.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::from_bytes(&[9u8; 32])?;
    /// assert_eq!(key.expose_secret_bytes()?.as_bytes(), &[9u8; 32]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn expose_secret_bytes(&self) -> Result<SecretBytes<{ Self::LENGTH }>, Error> {
        self.material
            .peek(|bytes| SecretBytes::new(Zeroizing::new(**bytes)))
    }

    /// The key as lowercase hex.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::from_bytes(&[0u8; 32])?;
    /// assert_eq!(key.to_hex()?.as_str(), "00".repeat(32));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_hex(&self) -> Result<SecretString, Error> {
        self.material
            .peek(|bytes| SecretString::new(Zeroizing::new(encoding::encode_hex(bytes.as_ref()))))
    }

    /// The key as unpadded base64url.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if the key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::from_bytes(&[0u8; 32])?;
    /// assert_eq!(key.to_base64url()?.as_str(), "A".repeat(43));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_base64url(&self) -> Result<SecretString, Error> {
        self.material.peek(|bytes| {
            SecretString::new(Zeroizing::new(encoding::encode_base64url(bytes.as_ref())))
        })
    }

    /// Turns this key into an ephemeral one, wiped after its next token operation.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, LocalKey, v4};
    ///
    /// let key = LocalKey::generate()?.into_ephemeral();
    /// v4::local::encrypt(&key, b"once", b"", b"")?;
    /// let again = v4::local::encrypt(&key, b"twice", b"", b"");
    /// assert!(matches!(again, Err(Error::KeyCleared)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn into_ephemeral(self) -> Self {
        Self {
            material: self.material.into_ephemeral(),
        }
    }

    /// Copies this key for a single operation. The copy is ephemeral; this key is
    /// unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::KeyCleared`] if this key was cleared or has been used up.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{LocalKey, v4};
    ///
    /// let key = LocalKey::generate()?;
    /// let once = key.ephemeral_copy()?;
    /// let token = v4::local::encrypt(&once, b"m", b"", b"")?;
    /// assert!(once.is_cleared());
    /// assert_eq!(v4::local::decrypt(&key, &token, None, b"")?, b"m");
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn ephemeral_copy(&self) -> Result<Self, Error> {
        self.material.peek(|bytes| Self {
            material: Lifecycle::ephemeral(bytes.clone()),
        })
    }

    /// Wipes the key now; every later use fails with [`Error::KeyCleared`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Error, LocalKey, v4};
    ///
    /// let mut key = LocalKey::generate()?;
    /// key.clear();
    /// assert!(matches!(v4::local::encrypt(&key, b"m", b"", b""), Err(Error::KeyCleared)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.material.clear();
    }

    /// Whether this key is wiped after its next token operation.
    ///
    /// # Examples
    ///
    /// ```
    /// let key = vaulttoken::LocalKey::generate()?;
    /// assert!(!key.is_ephemeral());
    /// assert!(key.into_ephemeral().is_ephemeral());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn is_ephemeral(&self) -> bool {
        self.material.is_ephemeral()
    }

    /// Whether the key was cleared or, being ephemeral, has been used.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut key = vaulttoken::LocalKey::generate()?;
    /// assert!(!key.is_cleared());
    /// key.clear();
    /// assert!(key.is_cleared());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn is_cleared(&self) -> bool {
        self.material.is_cleared()
    }

    fn persistent(bytes: Zeroizing<[u8; Self::LENGTH]>) -> Self {
        Self {
            material: Lifecycle::persistent(bytes),
        }
    }

    /// Runs one token operation with the key bytes (consumes an ephemeral key).
    pub(crate) fn use_for_operation<R>(
        &self,
        operation: impl FnOnce(&[u8; Self::LENGTH]) -> R,
    ) -> Result<R, Error> {
        self.material.use_for_operation(|bytes| operation(bytes))
    }
}

impl PartialEq for LocalKey {
    /// Constant-time comparison of the key bytes. A cleared or used-up key equals
    /// nothing.
    fn eq(&self, other: &Self) -> bool {
        self.material
            .peek_pair(&other.material, |mine, theirs| {
                bool::from(mine.as_slice().ct_eq(theirs.as_slice()))
            })
            .unwrap_or(false)
    }
}

impl fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("lifecycle", &self.material.describe())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{KeyEncoding, KeyError};

    #[test]
    fn from_bytes_rejects_every_wrong_length() {
        for len in [0, 1, 31, 33, 64] {
            let err = LocalKey::from_bytes(&vec![0u8; len]).unwrap_err();
            assert!(
                matches!(err, Error::InvalidKey(KeyError::Length { expected: 32, found }) if found == len),
                "{len}: {err:?}"
            );
        }
    }

    #[test]
    fn hex_and_base64url_round_trip() {
        let key = LocalKey::generate().unwrap();
        assert_eq!(
            LocalKey::from_hex(key.to_hex().unwrap().as_str()).unwrap(),
            key
        );
        assert_eq!(
            LocalKey::from_base64url(key.to_base64url().unwrap().as_str()).unwrap(),
            key
        );
    }

    #[test]
    fn bad_text_encodings_are_named() {
        assert!(matches!(
            LocalKey::from_hex("xyz"),
            Err(Error::InvalidKey(KeyError::Encoding(KeyEncoding::Hex)))
        ));
        assert!(matches!(
            LocalKey::from_base64url(&format!("{}=", "A".repeat(43))),
            Err(Error::InvalidKey(KeyError::Encoding(
                KeyEncoding::Base64Url
            )))
        ));
        assert!(matches!(
            LocalKey::from_hex(&"00".repeat(31)),
            Err(Error::InvalidKey(KeyError::Length {
                expected: 32,
                found: 31
            }))
        ));
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(LocalKey::generate().unwrap(), LocalKey::generate().unwrap());
    }

    #[test]
    fn debug_never_prints_key_material() {
        let key = LocalKey::from_bytes(&[0xAB; 32]).unwrap();
        let debug = format!("{key:?} {:?}", key.to_hex().unwrap());
        assert!(!debug.to_lowercase().contains("ab"), "{debug}");
        assert!(!debug.contains("171"), "{debug}");
    }

    #[test]
    fn cleared_keys_are_not_equal_to_anything() {
        let mut key = LocalKey::from_bytes(&[1; 32]).unwrap();
        let other = LocalKey::from_bytes(&[1; 32]).unwrap();
        assert_eq!(key, other);
        key.clear();
        assert_ne!(key, other);
        assert!(matches!(key.expose_secret_bytes(), Err(Error::KeyCleared)));
        assert_eq!(
            format!("{key:?}"),
            "LocalKey { lifecycle: \"cleared\", .. }"
        );
    }

    #[test]
    fn an_ephemeral_key_equals_itself_without_deadlocking() {
        let equal = crate::keys::finishes_in_time(|| {
            let key = LocalKey::from_bytes(&[4; 32]).unwrap().into_ephemeral();
            #[allow(clippy::eq_op)]
            let equal = key == key;
            (equal, key.is_cleared())
        });
        assert_eq!(equal, (true, false), "comparing must not use the key up");
    }

    #[test]
    fn a_cleared_key_is_not_equal_to_itself() {
        let mut key = LocalKey::from_bytes(&[4; 32]).unwrap().into_ephemeral();
        key.clear();
        #[allow(clippy::eq_op)]
        let equal = key == key;
        assert!(!equal);
        let used = LocalKey::from_bytes(&[4; 32]).unwrap().into_ephemeral();
        used.use_for_operation(|_| ()).unwrap();
        #[allow(clippy::eq_op)]
        let equal = used == used;
        assert!(!equal);
    }

    #[test]
    fn comparing_two_ephemeral_keys_from_both_sides_at_once_does_not_deadlock() {
        let a = std::sync::Arc::new(LocalKey::from_bytes(&[4; 32]).unwrap().into_ephemeral());
        let b = std::sync::Arc::new(LocalKey::from_bytes(&[4; 32]).unwrap().into_ephemeral());
        let equal = crate::keys::finishes_in_time(move || {
            let start = std::sync::Barrier::new(2);
            std::thread::scope(|scope| {
                let forward = scope.spawn(|| {
                    start.wait();
                    (0..200_000).all(|_| *a == *b)
                });
                let backward = scope.spawn(|| {
                    start.wait();
                    (0..200_000).all(|_| *b == *a)
                });
                forward.join().unwrap() && backward.join().unwrap()
            })
        });
        assert!(equal);
    }
}
