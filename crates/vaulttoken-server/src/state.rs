//! What every handler shares.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use vaulttoken::family::RefreshFamilies;
use vaulttoken::store::{Grace, TokenStore};
use vaulttoken::trust::TrustTokens;
use vaulttoken_axum::TrustedProxies;

use crate::access::AccessKeys;
use crate::clients::Clients;
use crate::config::Config;
use crate::key_file::{KeyFile, Keys};
use crate::oauth_error::OAuthError;
use crate::rate_limit::{Key, RateLimiter};
use crate::secret::Secret;
use crate::start_error::StartError;

/// The server's state: keys, services, clients, limits. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) access: AccessKeys,
    /// Each client's refresh families, sealed with its own key.
    pub(crate) families: HashMap<String, RefreshFamilies>,
    pub(crate) trust: TrustTokens,
    pub(crate) clients: Clients,
    pub(crate) admin: Option<Secret>,
    pub(crate) proxies: TrustedProxies,
    pub(crate) limiter: RateLimiter,
    pub(crate) key_file: KeyFile,
    /// One rotation at a time.
    pub(crate) rotation: Mutex<()>,
    pub(crate) keys_max_age: u32,
}

impl core::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads (or creates) the keys and builds the services over `store`.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if the key file cannot be loaded or created.
    pub(crate) fn new(config: Config, store: Arc<dyn TokenStore>) -> Result<Self, StartError> {
        let lifetimes = config.lifetimes;
        let clients: Vec<&str> = config.clients.ids().collect();
        let keys = Keys::load_or_create(
            &config.keyring_file,
            config.kek,
            config.access_purpose,
            config.create_keyring,
            lifetimes.access,
            &clients,
            &store,
        )
        .map_err(|err| StartError::new(format!("VAULTTOKEN_KEYRING_FILE: {}", err.0)))?;
        let families = keys
            .refresh
            .into_iter()
            .filter(|(client, _)| config.clients.contains(client))
            .map(|(client, key)| {
                let mut families = RefreshFamilies::builder(key, Arc::clone(&store))
                    .access_lifetime(lifetimes.access)
                    .refresh_lifetime(lifetimes.refresh)
                    .family_lifetime(lifetimes.family);
                if lifetimes.grace.is_positive() {
                    families = families.grace(Grace::new(lifetimes.grace, lifetimes.grace_uses));
                }
                (client, families.build())
            })
            .collect();
        let trust = TrustTokens::builder(keys.trust, store).build();
        Ok(Self(Arc::new(Inner {
            access: keys.access,
            families,
            trust,
            clients: config.clients,
            admin: config.admin_secret,
            proxies: config.trusted_proxies,
            limiter: RateLimiter::from_config(&config.rate_limits),
            key_file: keys.file,
            rotation: Mutex::new(()),
            keys_max_age: config.keys_max_age,
        })))
    }

    /// The refresh families of an authenticated client.
    pub(crate) fn families_of(&self, client_id: &str) -> Result<&RefreshFamilies, OAuthError> {
        self.families
            .get(client_id)
            .ok_or_else(OAuthError::server_error)
    }

    /// Counts a request against its client IP.
    pub(crate) fn limit_ip(&self, ip: Option<IpAddr>) -> Result<(), OAuthError> {
        match ip {
            Some(ip) => self
                .limiter
                .hit(&Key::Ip(ip), 1)
                .map_err(OAuthError::rate_limited),
            None => Ok(()),
        }
    }

    /// Counts a request against its client, then checks the client's
    /// secret; a failed check counts once more against both the client and
    /// the IP.
    pub(crate) fn authenticate(
        &self,
        ip: Option<IpAddr>,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(), OAuthError> {
        let client = self
            .clients
            .contains(client_id)
            .then(|| Key::Client(client_id.to_owned()));
        if let Some(client) = &client {
            self.limiter
                .hit(client, 1)
                .map_err(OAuthError::rate_limited)?;
        }
        if self.clients.authenticate(client_id, client_secret) {
            return Ok(());
        }
        if let Some(client) = &client {
            self.limiter.penalize(client, 1);
        }
        if let Some(ip) = ip {
            self.limiter.penalize(&Key::Ip(ip), 1);
        }
        tracing::info!(
            target: "vaulttoken_server::audit",
            event = "client_authentication_failed",
            known_client = client.is_some(),
            ip = ip.map(tracing::field::display),
        );
        Err(OAuthError::invalid_client())
    }
}
