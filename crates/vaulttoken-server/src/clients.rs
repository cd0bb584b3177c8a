//! The configured clients and their secrets.

use std::collections::HashMap;

use crate::secret::Secret;

/// What an unknown client id's secret is compared with, so that an unknown
/// id costs about what a known one does.
const DUMMY_SECRET: &str = "vaulttoken-server:no-such-client:0000000000000000";

/// The clients allowed to call the token endpoints, id to secret, and the
/// audiences each may ask for.
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
/// assert!(clients.audiences("web").is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clients {
    secrets: HashMap<String, Secret>,
    /// Each client's audiences, its default first; none for most.
    audiences: HashMap<String, Vec<String>>,
    /// Each client's scopes and default set; none for most.
    scopes: HashMap<String, ClientScopes>,
}

/// The scopes a client may ask for, and those it gets when it asks for none.
#[derive(Debug, Clone, Default)]
struct ClientScopes {
    allowed: Vec<String>,
    default: Vec<String>,
}

impl Clients {
    /// The clients given, with no audiences.
    ///
    /// # Examples
    ///
    /// See [`Clients`].
    pub fn new(clients: impl IntoIterator<Item = (String, Secret)>) -> Self {
        Self {
            secrets: clients.into_iter().collect(),
            audiences: HashMap::new(),
            scopes: HashMap::new(),
        }
    }

    /// The audiences the client `id` may ask for (`VAULTTOKEN_CLIENT_AUDIENCES`),
    /// its default first; empty for an unknown client or one without
    /// audiences (its access tokens name none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use vaulttoken_server::Config;
    ///
    /// let kek = vaulttoken::LocalKey::generate()?.to_paserk()?;
    /// let vars = BTreeMap::from([
    ///     ("VAULTTOKEN_KEYRING_FILE".to_owned(), "/tmp/doc-example-ring.json".to_owned()),
    ///     ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
    ///     ("VAULTTOKEN_KEK".to_owned(), kek.as_str().to_owned()),
    ///     ("VAULTTOKEN_CLIENTS".to_owned(), "web:0123456789abcdef,cli:0123456789abcdef".to_owned()),
    ///     ("VAULTTOKEN_ISSUER".to_owned(), "https://auth.example".to_owned()),
    ///     (
    ///         "VAULTTOKEN_CLIENT_AUDIENCES".to_owned(),
    ///         "web=https://api.example https://files.example".to_owned(),
    ///     ),
    /// ]);
    /// let clients = Config::from_vars(&vars)?.clients;
    /// assert_eq!(clients.audiences("web"), ["https://api.example", "https://files.example"]);
    /// assert!(clients.audiences("cli").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn audiences(&self, id: &str) -> &[String] {
        self.audiences.get(id).map_or(&[], Vec::as_slice)
    }

    /// The clients with `audiences` for the client `id`.
    pub(crate) fn set_audiences(&mut self, id: &str, audiences: Vec<String>) {
        self.audiences.insert(id.to_owned(), audiences);
    }

    /// The scopes the client `id` may ask for (`VAULTTOKEN_CLIENT_SCOPES`),
    /// in their configured order; empty for an unknown client or one without
    /// scopes (its tokens carry none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use vaulttoken_server::Config;
    ///
    /// let kek = vaulttoken::LocalKey::generate()?.to_paserk()?;
    /// let vars = BTreeMap::from([
    ///     ("VAULTTOKEN_KEYRING_FILE".to_owned(), "/tmp/doc-example-ring.json".to_owned()),
    ///     ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
    ///     ("VAULTTOKEN_KEK".to_owned(), kek.as_str().to_owned()),
    ///     ("VAULTTOKEN_CLIENTS".to_owned(), "web:0123456789abcdef,cli:0123456789abcdef".to_owned()),
    ///     ("VAULTTOKEN_ISSUER".to_owned(), "https://auth.example".to_owned()),
    ///     ("VAULTTOKEN_CLIENT_SCOPES".to_owned(), "web=read write admin,cli=read".to_owned()),
    ///     ("VAULTTOKEN_CLIENT_DEFAULT_SCOPES".to_owned(), "web=read".to_owned()),
    /// ]);
    /// let clients = Config::from_vars(&vars)?.clients;
    /// assert_eq!(clients.scopes("web"), ["read", "write", "admin"]);
    /// assert_eq!(clients.default_scopes("web"), ["read"]);
    /// // Without a default set, all of the client's scopes.
    /// assert_eq!(clients.default_scopes("cli"), ["read"]);
    /// assert!(clients.scopes("ghost").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn scopes(&self, id: &str) -> &[String] {
        self.scopes
            .get(id)
            .map_or(&[], |scopes| scopes.allowed.as_slice())
    }

    /// The scopes the client `id` gets when it asks for none
    /// (`VAULTTOKEN_CLIENT_DEFAULT_SCOPES`, else all of its scopes).
    ///
    /// # Examples
    ///
    /// See [`Clients::scopes`].
    #[must_use]
    pub fn default_scopes(&self, id: &str) -> &[String] {
        self.scopes
            .get(id)
            .map_or(&[], |scopes| scopes.default.as_slice())
    }

    /// Every scope of every client, sorted, each once (the metadata's
    /// `scopes_supported`).
    pub(crate) fn all_scopes(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .scopes
            .values()
            .flat_map(|scopes| scopes.allowed.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The clients with `allowed` scopes for the client `id`, `default`
    /// its default set (a subset, checked by the caller).
    pub(crate) fn set_scopes(&mut self, id: &str, allowed: Vec<String>, default: Vec<String>) {
        self.scopes
            .insert(id.to_owned(), ClientScopes { allowed, default });
    }

    /// Whether `id` is a client and `secret` its secret, compared in constant
    /// time. An unknown id is compared against a dummy secret first.
    ///
    /// # Examples
    ///
    /// See [`Clients`].
    #[must_use]
    pub fn authenticate(&self, id: &str, secret: &str) -> bool {
        match self.secrets.get(id) {
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
        self.secrets.contains_key(id)
    }

    /// The client ids.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
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
        self.secrets.len()
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
        self.secrets.is_empty()
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
