//! Why the server could not start.

use core::fmt;

/// Why the server could not start: the configuration, the key file, the
/// store or the listener. Never holds a secret.
///
/// # Examples
///
/// ```
/// let err = vaulttoken_server::StartError::new("VAULTTOKEN_LISTEN: address in use");
/// assert_eq!(err.to_string(), "VAULTTOKEN_LISTEN: address in use");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(String);

impl StartError {
    /// An error with this message.
    ///
    /// # Examples
    ///
    /// See [`StartError`].
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}
