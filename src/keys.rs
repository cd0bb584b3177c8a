//! Typed keys: one Rust type per (version, purpose).
//!
//! [`LocalKey`] encrypts `v4.local` tokens, [`SecretKey`] signs `v4.public` tokens and
//! [`PublicKey`] verifies them. No token operation takes a key as a byte slice, so a
//! key can never be used for the wrong purpose (PASETO's *algorithm lucidity*).
//!
//! Secret keys are zeroized on drop, compare in constant time, never print their
//! material in `Debug`, and give their bytes out only through loudly named methods
//! that return the redacting wrappers [`SecretBytes`] and [`SecretString`].
//!
//! # Lifecycles
//!
//! A secret key is *persistent* by default: usable until dropped or cleared. An
//! *ephemeral* key ([`LocalKey::into_ephemeral`], [`LocalKey::ephemeral_copy`]) wipes
//! itself after one token operation. After that, or after an explicit `clear()`,
//! every operation fails with [`Error::KeyCleared`].

mod lifecycle;
mod local;
#[cfg(feature = "pem")]
mod pem;
mod public;
mod secret;

use core::fmt;

use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::error::Error;

pub(crate) use self::lifecycle::Lifecycle;
pub use self::local::LocalKey;
pub use self::public::PublicKey;
pub use self::secret::SecretKey;

/// Secret bytes handed out by a key, wiped when dropped and never printed.
///
/// # Examples
///
/// ```
/// use vaulttoken::LocalKey;
///
/// let key = LocalKey::from_bytes(&[7u8; 32])?;
/// let bytes = key.expose_secret_bytes()?;
/// assert_eq!(bytes.as_bytes(), &[7u8; 32]);
/// assert_eq!(format!("{bytes:?}"), "SecretBytes { .. }");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub struct SecretBytes<const N: usize>(Zeroizing<[u8; N]>);

impl<const N: usize> SecretBytes<N> {
    pub(crate) fn new(bytes: Zeroizing<[u8; N]>) -> Self {
        Self(bytes)
    }

    /// The secret bytes. Keep the borrow short and do not copy them out.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::LocalKey;
    ///
    /// let key = LocalKey::generate()?;
    /// assert_eq!(key.expose_secret_bytes()?.as_bytes().len(), 32);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }
}

/// Wiped on drop: the bytes live only in a [`Zeroizing`] buffer.
impl<const N: usize> ZeroizeOnDrop for SecretBytes<N> {}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBytes").finish_non_exhaustive()
    }
}

/// A secret in text form (hex, base64url, PEM), wiped when dropped and never printed.
///
/// # Examples
///
/// ```
/// use vaulttoken::LocalKey;
///
/// let key = LocalKey::from_bytes(&[0xab; 32])?;
/// let hex = key.to_hex()?;
/// assert_eq!(hex.as_str(), "ab".repeat(32));
/// assert_eq!(format!("{hex:?}"), "SecretString { .. }");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub(crate) fn new(text: Zeroizing<String>) -> Self {
        Self(text)
    }

    /// The secret text. Keep the borrow short and do not copy it out.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::LocalKey;
    ///
    /// let key = LocalKey::generate()?;
    /// assert_eq!(key.to_base64url()?.as_str().len(), 43);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Wiped on drop: the text lives only in a [`Zeroizing`] string.
impl ZeroizeOnDrop for SecretString {}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretString").finish_non_exhaustive()
    }
}

/// Copies `bytes` into a zeroizing array, or reports the length mismatch.
pub(crate) fn exact_array<const N: usize>(bytes: &[u8]) -> Result<Zeroizing<[u8; N]>, Error> {
    if bytes.len() != N {
        return Err(crate::error::KeyError::Length {
            expected: N,
            found: bytes.len(),
        }
        .into());
    }
    let mut out = Zeroizing::new([0u8; N]);
    out.copy_from_slice(bytes);
    Ok(out)
}

/// Decodes hex key text into zeroizing bytes.
pub(crate) fn decode_hex_secret(text: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    crate::encoding::decode_hex(text)
        .map(Zeroizing::new)
        .ok_or(crate::error::KeyError::Encoding(crate::error::KeyEncoding::Hex).into())
}

/// Decodes base64url key text into zeroizing bytes.
pub(crate) fn decode_base64url_secret(text: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    crate::encoding::decode_base64url(text)
        .map(Zeroizing::new)
        .ok_or(crate::error::KeyError::Encoding(crate::error::KeyEncoding::Base64Url).into())
}

/// Runs `work` on another thread; fails if it has not finished in 10 s (a
/// deadlocked key comparison never does). For the key types' tests.
#[cfg(test)]
pub(crate) fn finishes_in_time<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("deadlocked: the comparison did not finish")
}
