//! The configured clients and their secrets.

use std::collections::HashMap;

use crate::secret::Secret;

/// What an unknown client id's secret is compared with, so that an unknown
/// id costs about what a known one does.
const DUMMY_SECRET: &str = "vaulttoken-server:no-such-client:0000000000000000";

/// The clients allowed to call the token endpoints, id to secret.
///
/// # Examples
///
/// ```
/// use vaulttoken_server::{Clients, Secret};
///
/// let clients = Clients::new([("web".to_owned(), Secret::new("0123456789abcdef"))]);
/// assert!(clients.authenticate("web", "0123456789abcdef"));
/// assert!(!clients.authenticate("web", "0123456789abcdeF"));
/// assert!(!clients.authenticate("app", "0123456789abcdef"));
/// assert!(clients.contains("web"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clients(HashMap<String, Secret>);

impl Clients {
    /// The clients given.
    ///
    /// # Examples
    ///
    /// See [`Clients`].
    pub fn new(clients: impl IntoIterator<Item = (String, Secret)>) -> Self {
        Self(clients.into_iter().collect())
    }

    /// Whether `id` is a client and `secret` its secret, compared in constant
    /// time. An unknown id is compared against a dummy secret first.
    ///
    /// # Examples
    ///
    /// See [`Clients`].
    #[must_use]
    pub fn authenticate(&self, id: &str, secret: &str) -> bool {
        match self.0.get(id) {
            Some(expected) => expected.matches(secret),
            None => {
                let _ = Secret::new(DUMMY_SECRET).matches(secret);
                false
            }
        }
    }

    /// Whether `id` is a configured client.
    ///
    /// # Examples
    ///
    /// See [`Clients`].
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.0.contains_key(id)
    }

    /// The client ids.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// How many clients there are.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::Clients::default().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(vaulttoken_server::Clients::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `id` may name a client: `[A-Za-z0-9._-]{1,64}` (so it never holds
/// the `:` that separates it from a subject).
pub(crate) fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Clients {
        Clients::new([
            ("web".to_owned(), Secret::new("web-secret-0123456789")),
            ("app".to_owned(), Secret::new("app-secret-0123456789")),
        ])
    }

    #[test]
    fn only_configured_ids_are_clients() {
        let clients = two();
        assert!(clients.contains("web") && clients.contains("app"));
        assert!(!clients.contains("ghost") && !clients.contains("") && !clients.contains("Web"));
    }

    #[test]
    fn empty_means_no_client() {
        assert!(Clients::default().is_empty());
        assert!(!two().is_empty());
        assert_eq!(two().len(), 2);
    }
}
