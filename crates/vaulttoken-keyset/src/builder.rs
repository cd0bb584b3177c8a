//! [`RemoteKeySetBuilder`]: the settings of a follower, checked at build,
//! and the first fetch.

use core::time::Duration;
use std::sync::Arc;

use reqwest::redirect::Policy;
use tokio::runtime::Handle;
use vaulttoken::keyring::PublicKeyRing;

use crate::RemoteKeySet;
use crate::endpoint;
use crate::error::BuildError;
use crate::follower::{Follower, Settings};

/// The default longest token lifetime the service accepts: 1 hour.
pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The default time stale keys are still served when the key set cannot be
/// fetched, counted from the end of its cache time: 10 minutes.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(600);
/// The default minimum interval between two fetches caused by unknown key
/// ids: 10 seconds.
pub const DEFAULT_MIN_LOOKUP_INTERVAL: Duration = Duration::from_secs(10);
/// The default bound on one fetch, from connecting to the last byte: 10
/// seconds.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures a [`RemoteKeySet`]; [`RemoteKeySetBuilder::build`] checks the
/// settings and fetches the key set once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_keyset::RemoteKeySet;
///
/// let builder = RemoteKeySet::builder("https://auth.example/keys")
///     .issuer("https://auth.example")
///     .max_token_lifetime(Duration::from_secs(900))
///     .max_stale(Duration::from_secs(300))
///     .min_lookup_interval(Duration::from_secs(5))
///     .fetch_timeout(Duration::from_secs(3));
/// assert!(format!("{builder:?}").contains("https://auth.example/keys"));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RemoteKeySetBuilder {
    url: String,
    issuer: Option<String>,
    max_token_lifetime: Duration,
    max_stale: Duration,
    min_lookup_interval: Duration,
    fetch_timeout: Duration,
}

impl RemoteKeySetBuilder {
    pub(crate) fn new(url: String) -> Self {
        Self {
            url,
            issuer: None,
            max_token_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
            max_stale: DEFAULT_MAX_STALE,
            min_lookup_interval: DEFAULT_MIN_LOOKUP_INTERVAL,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }

    /// The issuer the key set must name (required): a document naming
    /// another is refused and the keys held are kept.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use vaulttoken_keyset::{BuildError, RemoteKeySet};
    ///
    /// let unconfigured = RemoteKeySet::builder("https://auth.example/keys").build().await;
    /// assert!(matches!(unconfigured, Err(BuildError::NoIssuer)));
    /// # }
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The longest lifetime of a token the service accepts (default
    /// [`DEFAULT_MAX_TOKEN_LIFETIME`]): the ring's, so a service built from
    /// it refuses a token valid for longer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use vaulttoken_keyset::{BuildError, RemoteKeySet};
    ///
    /// let endless = RemoteKeySet::builder("https://auth.example/keys")
    ///     .issuer("https://auth.example")
    ///     .max_token_lifetime(Duration::MAX)
    ///     .build()
    ///     .await;
    /// assert!(matches!(endless, Err(BuildError::Setting("max_token_lifetime"))));
    /// # }
    /// ```
    pub fn max_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_token_lifetime = lifetime;
        self
    }

    /// How long keys are still served after their cache time is over when
    /// the key set cannot be fetched (default [`DEFAULT_MAX_STALE`]); then
    /// every decode fails closed with
    /// [`Error::KeysUnavailable`](vaulttoken::Error::KeysUnavailable) until a
    /// fetch succeeds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_keyset::RemoteKeySet;
    ///
    /// let builder = RemoteKeySet::builder("https://auth.example/keys").max_stale(Duration::from_secs(60));
    /// assert!(format!("{builder:?}").contains("max_stale: 60s"));
    /// ```
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// The minimum interval between two fetches caused by unknown key ids
    /// (default [`DEFAULT_MIN_LOOKUP_INTERVAL`]), and after a failed one; a
    /// lookup within it answers at once. Not zero.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use vaulttoken_keyset::{BuildError, RemoteKeySet};
    ///
    /// let hammering = RemoteKeySet::builder("https://auth.example/keys")
    ///     .issuer("https://auth.example")
    ///     .min_lookup_interval(Duration::ZERO)
    ///     .build()
    ///     .await;
    /// assert!(matches!(hammering, Err(BuildError::Setting("min_lookup_interval"))));
    /// # }
    /// ```
    pub fn min_lookup_interval(mut self, interval: Duration) -> Self {
        self.min_lookup_interval = interval;
        self
    }

    /// The bound on one fetch, from connecting to the last byte of the
    /// document (default [`DEFAULT_FETCH_TIMEOUT`]). Not zero.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use vaulttoken_keyset::{BuildError, RemoteKeySet};
    ///
    /// let impatient = RemoteKeySet::builder("https://auth.example/keys")
    ///     .issuer("https://auth.example")
    ///     .fetch_timeout(Duration::ZERO)
    ///     .build()
    ///     .await;
    /// assert!(matches!(impatient, Err(BuildError::Setting("fetch_timeout"))));
    /// # }
    /// ```
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Checks the settings, fetches the key set once, and starts the
    /// background refresher (a tokio task, stopped when the last clone of
    /// the [`RemoteKeySet`] and every service built from it are dropped).
    /// Must be called within a tokio runtime: the follower's fetches run in
    /// it, so its services may decode on any executor, or none.
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidUrl`], [`BuildError::InsecureUrl`] or
    /// [`BuildError::CredentialsInUrl`] for the URL;
    /// [`BuildError::NoRuntime`] outside a tokio runtime;
    /// [`BuildError::NoIssuer`]; [`BuildError::Setting`] for a zero
    /// interval or timeout or a lifetime over `i64::MAX` seconds;
    /// [`BuildError::Client`]; [`BuildError::FirstFetch`] when the first
    /// fetch fails: a follower never starts without keys.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use vaulttoken_keyset::{BuildError, FetchError, RemoteKeySet};
    ///
    /// // Nothing listens there: no keys, no follower.
    /// let down = RemoteKeySet::builder("http://127.0.0.1:9/keys")
    ///     .issuer("https://auth.example")
    ///     .fetch_timeout(Duration::from_secs(2))
    ///     .build()
    ///     .await;
    /// assert!(matches!(
    ///     down,
    ///     Err(BuildError::FirstFetch(FetchError::Unreachable(_) | FetchError::TimedOut(_)))
    /// ));
    /// # }
    /// ```
    pub async fn build(self) -> Result<RemoteKeySet, BuildError> {
        let runtime = Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let url = endpoint::checked(&self.url)?;
        let issuer = self.issuer.ok_or(BuildError::NoIssuer)?;
        if self.min_lookup_interval.is_zero() {
            return Err(BuildError::Setting("min_lookup_interval"));
        }
        if self.fetch_timeout.is_zero() {
            return Err(BuildError::Setting("fetch_timeout"));
        }
        let lifetime = time::Duration::try_from(self.max_token_lifetime)
            .map_err(|_| BuildError::Setting("max_token_lifetime"))?;
        let ring =
            PublicKeyRing::new(lifetime).map_err(|_| BuildError::Setting("max_token_lifetime"))?;
        let mut client = reqwest::Client::builder()
            .redirect(Policy::none())
            .connect_timeout(self.fetch_timeout)
            .user_agent(concat!("vaulttoken-keyset/", env!("CARGO_PKG_VERSION")));
        if url.scheme() == "http" {
            // Plain http is allowed to a loopback host only, because the
            // bytes never leave it: no proxy from the environment
            // (`HTTP_PROXY`, `ALL_PROXY`) may carry them elsewhere. An https
            // fetch may go through one (its TLS is end to end).
            client = client.no_proxy();
        }
        let client = client.build().map_err(BuildError::Client)?;
        let settings = Settings {
            url,
            issuer,
            timeout: self.fetch_timeout,
            min_interval: self.min_lookup_interval,
            max_stale: self.max_stale,
        };
        let follower = Arc::new(Follower::new(settings, client, Arc::new(ring), runtime));
        follower
            .first_fetch()
            .await
            .map_err(BuildError::FirstFetch)?;
        follower.start_refresher();
        Ok(RemoteKeySet::from_follower(follower))
    }
}
