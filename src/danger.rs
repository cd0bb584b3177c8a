//! Entry points that weaken a guarantee, for known-answer tests only.
//!
//! Compiled only with the `known-answer-tests` feature, which is off by default and
//! hidden from the documentation. A fixed nonce reused under one key destroys the
//! confidentiality of `v4.local`; nothing in production should ever enable this.

use crate::error::Error;
use crate::keys::LocalKey;

/// Encrypts a `v4.local` token with a caller-chosen nonce, to reproduce the
/// official test vectors byte for byte.
///
/// # Errors
///
/// [`Error::KeyCleared`] if the key was cleared or has been used up.
///
/// # Security
///
/// Never use a nonce twice with one key. Use [`crate::v4::local::encrypt`].
///
/// # Examples
///
/// ```
/// use vaulttoken::{LocalKey, danger, v4};
///
/// let key = LocalKey::from_bytes(&[0x70; 32])?;
/// let token = danger::dangerous_encrypt_with_nonce(&key, b"m", b"", b"", &[0; 32])?;
/// assert!(token.starts_with("v4.local.AAAAAAAA"));
/// assert_eq!(v4::local::decrypt(&key, &token, None, b"")?, b"m");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub fn dangerous_encrypt_with_nonce(
    key: &LocalKey,
    message: &[u8],
    footer: &[u8],
    implicit: &[u8],
    nonce: &[u8; 32],
) -> Result<String, Error> {
    crate::v4::local::encrypt_with_nonce(key, message, footer, implicit, nonce)
}
