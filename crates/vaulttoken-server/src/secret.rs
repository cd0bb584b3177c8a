//! Secrets from configuration: never printed, compared in constant time.

use core::fmt;

use subtle::ConstantTimeEq;

/// A secret from configuration (a client secret, the admin bearer secret, a
/// Redis URL that may hold a password).
///
/// `Debug` prints no part of it, it has no `Display`, and
/// [`Secret::matches`] compares in constant time.
///
/// # Examples
///
/// ```
/// use vaulttoken_server::Secret;
///
/// let secret = Secret::new("correct horse battery staple");
/// assert!(secret.matches("correct horse battery staple"));
/// assert!(!secret.matches("correct horse battery stapler"));
/// assert_eq!(format!("{secret:?}"), "Secret(..)");
/// ```
#[derive(Clone)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Wraps a secret.
    ///
    /// # Examples
    ///
    /// See [`Secret`].
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// Whether `presented` is this secret, compared in constant time over
    /// the bytes (a length mismatch returns early: the length of a secret is
    /// not treated as secret).
    ///
    /// # Examples
    ///
    /// See [`Secret`].
    #[must_use]
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// The secret itself, for the one place that needs it (connecting to
    /// Redis). Never log it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_no_part_of_the_secret() {
        let printed = format!("{:?}", Secret::new("s3cr3t-value"));
        // Says that a secret is there, and nothing of it.
        assert_eq!(printed, "Secret(..)");
    }

    #[test]
    fn matches_only_the_exact_secret() {
        let secret = Secret::new("abc");
        assert!(secret.matches("abc"));
        assert!(!secret.matches("abd"));
        assert!(!secret.matches("ab"));
        assert!(!secret.matches(""));
    }
}
