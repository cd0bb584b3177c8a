//! What every handler shares.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};

use vaulttoken::family::RefreshFamilies;
use vaulttoken::store::{Grace, TokenStore};
use vaulttoken::trust::TrustTokens;
use vaulttoken_axum::TrustedProxies;

use crate::app::ServerStore;
use crate::client_access::ClientAccess;
use crate::clients::Clients;
use crate::config::{Config, Lifetimes};
use crate::context::ContextBinding;
use crate::key_sync::{KeySource, LiveKeys, RotationSettings, spawn_poll, spawn_rotation};
use crate::metrics::{MeteredStore, Metrics, MirrorReading};
use crate::oauth_error::OAuthError;
use crate::rate_limit::{Key, Limiter, Refusal};
use crate::redis_connection::RedisConnection;
use crate::secret::Secret;
use crate::shared_keys::SharedKeys;
use crate::start_error::StartError;

/// The server's state: keys, services, clients, limits. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    /// The access keys in force, and where keys are loaded and saved.
    pub(crate) keys: Arc<LiveKeys>,
    /// The services sealed with the internal rings in force: built again
    /// when another key document is installed.
    services: RwLock<Arc<Services>>,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) clients: Clients,
    pub(crate) admin: Option<Secret>,
    pub(crate) proxies: TrustedProxies,
    pub(crate) limiter: Limiter,
    /// The network prefix an IPv6 client is counted by.
    pub(crate) ipv6_prefix: u8,
    pub(crate) keys_max_age: u32,
    /// How tokens are bound to the end user's context.
    pub(crate) binding: ContextBinding,
    /// The token store, for the readiness check.
    pub(crate) store: Arc<dyn TokenStore>,
    /// Who issues the tokens: their `iss`, the key set's `issuer`.
    pub(crate) issuer: Arc<str>,
    /// What `GET /metrics` reports.
    pub(crate) metrics: Arc<Metrics>,
    /// How often the shared key ring is polled (`VAULTTOKEN_KEYS_POLL_SECS`):
    /// an instance that has not read it for twice as long is not ready.
    pub(crate) keys_poll: std::time::Duration,
}

/// The services sealed with the internal rings of one key document.
#[derive(Debug)]
struct Services {
    /// The [`LiveKeys::generation`] they were built for.
    generation: u64,
    /// Each client's refresh families, sealed with its own ring.
    families: HashMap<String, Arc<RefreshFamilies>>,
    trust: Arc<TrustTokens>,
}

impl core::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads (or creates) the keys and builds the services over `store`;
    /// with Redis, shares the keys through it and polls for rotations made
    /// elsewhere. A revocation mirror's status goes to the metrics.
    ///
    /// # Errors
    ///
    /// A [`StartError`] if the keys cannot be loaded, created or shared.
    pub(crate) async fn new(config: Config, store: ServerStore) -> Result<Self, StartError> {
        let mut metrics = Metrics::new();
        if let Some(mirror) = store.mirror().cloned() {
            metrics.register_mirror(move || MirrorReading::of(&mirror));
        }
        let metrics = Arc::new(metrics);
        // Every use of the store is timed and counted.
        let store: Arc<dyn TokenStore> = Arc::new(MeteredStore::new(
            Arc::clone(store.tokens()),
            metrics.store.clone(),
        ));
        let lifetimes = config.lifetimes;
        let binding = ContextBinding::new(config.binding);
        let deadlines = config.redis_deadlines;
        let redis = match &config.redis {
            Some(target) => Some(RedisConnection::connect(target, &deadlines).await?),
            None => None,
        };
        let shared = redis
            .as_ref()
            .map(|connection| SharedKeys::new(connection.with_deadline(deadlines.keys)));
        let limiter = match redis {
            Some(connection) => Limiter::redis(
                connection.with_deadline(deadlines.rate_limit),
                &config.rate_limits,
                metrics.rate_limit_refusals(),
            ),
            None => Limiter::memory(&config.rate_limits, metrics.rate_limit_refusals()),
        };
        let announcement = crate::config::announcement(config.keys_max_age, config.keys_poll);
        let source = KeySource {
            path: config.keyring_file,
            kek: config.kek,
            purpose: config.access_purpose,
            create: config.create_keyring,
            access_lifetime: lifetimes.access,
            family_lifetime: lifetimes.family,
            store: Arc::clone(&store),
            shared,
            rotation: RotationSettings {
                announcement,
                every: config.rotate_every,
            },
        };
        let issuer: Arc<str> = Arc::from(config.issuer.as_str());
        let clients: Vec<&str> = config.clients.ids().collect();
        let keys = source.load(&clients).await?;
        let live = Arc::new(LiveKeys::new(source, keys.access, keys.internal, keys.meta));
        let services = build_services(&live, &config.clients, lifetimes, &binding, &issuer, &store);
        spawn_rotation(Arc::downgrade(&live));
        let keys_poll =
            std::time::Duration::from_secs(config.keys_poll.whole_seconds().unsigned_abs());
        if live.source.shared.is_some() {
            spawn_poll(Arc::downgrade(&live), keys_poll);
        }
        Ok(Self(Arc::new(Inner {
            keys: live,
            services: RwLock::new(Arc::new(services)),
            lifetimes,
            clients: config.clients,
            admin: config.admin_secret,
            proxies: config.trusted_proxies,
            limiter,
            ipv6_prefix: config.rate_limits.ipv6_prefix,
            keys_max_age: config.keys_max_age,
            binding,
            store,
            issuer,
            metrics,
            keys_poll,
        })))
    }

    /// The refresh families of an authenticated client.
    pub(crate) fn families_of(&self, client_id: &str) -> Result<Arc<RefreshFamilies>, OAuthError> {
        self.services()
            .families
            .get(client_id)
            .cloned()
            .ok_or_else(OAuthError::server_error)
    }

    /// The trust tokens.
    pub(crate) fn trust(&self) -> Arc<TrustTokens> {
        Arc::clone(&self.services().trust)
    }

    /// The services of the key document in force, built again if another
    /// was installed since they were built.
    fn services(&self) -> Arc<Services> {
        let generation = self.keys.generation();
        let held = Arc::clone(&self.services.read().unwrap_or_else(PoisonError::into_inner));
        if held.generation == generation {
            return held;
        }
        let fresh = Arc::new(build_services(
            &self.keys,
            &self.clients,
            self.lifetimes,
            &self.binding,
            &self.issuer,
            &self.store,
        ));
        let mut slot = self
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Another request may have built newer ones meanwhile.
        if slot.generation <= fresh.generation {
            *slot = Arc::clone(&fresh);
        }
        fresh
    }

    /// Counts a request that is refused before its client is known (a
    /// body that does not parse, credentials presented twice) against its
    /// client IP.
    pub(crate) async fn count_ip(&self, ip: Option<IpAddr>) -> Result<(), OAuthError> {
        match ip {
            Some(ip) => self
                .limiter
                .hit(&[self.ip_key(ip)], 1)
                .await
                .map_err(refused),
            None => Ok(()),
        }
    }

    /// What a request from `ip` is counted against.
    fn ip_key(&self, ip: IpAddr) -> Key {
        Key::ip(ip, self.ipv6_prefix)
    }

    /// Counts a request against its client IP and, if the client id is a
    /// configured one, against the client (one count, one Redis call on a
    /// single server), then checks the client's secret; a failed check
    /// counts once more against both.
    pub(crate) async fn authenticate(
        &self,
        ip: Option<IpAddr>,
        client_id: &str,
        client_secret: &str,
    ) -> Result<(), OAuthError> {
        let known = self.clients.contains(client_id);
        let keys: Vec<Key> = ip
            .map(|ip| self.ip_key(ip))
            .into_iter()
            .chain(known.then(|| Key::Client(client_id.to_owned())))
            .collect();
        self.limiter.hit(&keys, 1).await.map_err(refused)?;
        if self.clients.authenticate(client_id, client_secret) {
            return Ok(());
        }
        self.limiter.penalize(&keys, 1).await;
        tracing::info!(
            target: "vaulttoken_server::audit",
            event = "client_authentication_failed",
            known_client = known,
            ip = ip.map(tracing::field::display),
        );
        Err(OAuthError::invalid_client())
    }
}

/// The refresh families of every configured client and the trust tokens,
/// sealed with the internal rings of `keys` (read after its generation, so
/// they are at least as new).
fn build_services(
    keys: &Arc<LiveKeys>,
    clients: &Clients,
    lifetimes: Lifetimes,
    binding: &ContextBinding,
    issuer: &Arc<str>,
    store: &Arc<dyn TokenStore>,
) -> Services {
    let generation = keys.generation();
    let internal = keys.internal();
    let families = internal
        .refresh
        .iter()
        .filter(|(client, _)| clients.contains(client))
        .map(|(client, sealing)| {
            let access =
                ClientAccess::new(Arc::clone(keys), client, binding.mode(), Arc::clone(issuer));
            let mut families =
                RefreshFamilies::from_ring(Arc::clone(&sealing.ring), Arc::clone(store))
                    .access_issuer(Arc::new(access))
                    .access_lifetime(lifetimes.access)
                    .refresh_lifetime(lifetimes.refresh)
                    .family_lifetime(lifetimes.family);
            if let Some(legacy) = &sealing.legacy {
                families = families.legacy_key(Arc::clone(legacy));
            }
            if lifetimes.grace.is_positive() {
                families = families.grace(Grace::new(lifetimes.grace, lifetimes.grace_uses));
            }
            if let Some(observer) = binding.observer() {
                families = families.observer(observer.clone());
            }
            (client.clone(), Arc::new(families.build()))
        })
        .collect();
    let mut trust = TrustTokens::from_ring(Arc::clone(&internal.trust.ring), Arc::clone(store));
    if let Some(legacy) = &internal.trust.legacy {
        trust = trust.legacy_key(Arc::clone(legacy));
    }
    Services {
        generation,
        families,
        trust: Arc::new(trust.build()),
    }
}

fn refused(refusal: Refusal) -> OAuthError {
    match refusal {
        Refusal::Limited(seconds) => OAuthError::rate_limited(seconds),
        Refusal::Unavailable => OAuthError::unavailable(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use vaulttoken::store::MemoryStore;

    use super::*;
    use crate::key_sync::RotateRequest;

    #[tokio::test]
    async fn the_services_are_built_once_per_key_document() {
        let path = std::env::temp_dir().join(format!(
            "vaulttoken-state-test-{}-{}.json",
            std::process::id(),
            line!()
        ));
        let kek = vaulttoken::LocalKey::generate()
            .unwrap()
            .to_paserk()
            .unwrap();
        let vars = BTreeMap::from([
            ("VAULTTOKEN_KEYRING_FILE", path.to_str().unwrap()),
            ("VAULTTOKEN_KEYRING_CREATE", "true"),
            ("VAULTTOKEN_KEK", kek.as_str()),
            ("VAULTTOKEN_CLIENTS", "web:0123456789abcdef0123"),
            ("VAULTTOKEN_ISSUER", "https://auth.test.example"),
        ])
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        let config = Config::from_vars(&vars).unwrap();
        let state = AppState::new(config, Arc::new(MemoryStore::new()).into())
            .await
            .unwrap();

        let first = state.services();
        assert!(Arc::ptr_eq(&first, &state.services()), "built once");
        let first_family = state.families_of("web").unwrap();

        // Another key document: built again, once, with the new rings.
        state.keys.rotate(&RotateRequest::default()).await.unwrap();
        let second = state.services();
        assert!(second.generation > first.generation);
        assert!(Arc::ptr_eq(&second, &state.services()), "built once again");
        assert!(!Arc::ptr_eq(
            &first_family,
            &state.families_of("web").unwrap()
        ));
        std::fs::remove_file(&path).unwrap();
    }
}
