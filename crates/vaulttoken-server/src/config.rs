//! Configuration from the environment (and optionally a file of `KEY=value`
//! lines), validated in one pass: every problem is named in one
//! [`ConfigError`] before the server listens.

mod parse;

use core::fmt;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use time::Duration;
use vaulttoken::LocalKey;
use vaulttoken::binding::{IpPrefix, Observer};
use vaulttoken_axum::TrustedProxies;

use crate::clients::Clients;
use crate::logging::LogWrites;
use crate::secret::Secret;

/// Names the file of `KEY=value` lines read before the environment (which
/// wins). Read by [`Config::from_env`] only.
pub const CONFIG_FILE_VAR: &str = "VAULTTOKEN_CONFIG_FILE";

/// Every variable the server reads, with its default (`None`: no default).
pub const VARIABLES: &[(&str, Option<&str>)] = &[
    ("VAULTTOKEN_LISTEN", Some("127.0.0.1:8080")),
    ("VAULTTOKEN_KEYRING_FILE", None),
    ("VAULTTOKEN_KEYRING_CREATE", Some("false")),
    ("VAULTTOKEN_KEK", None),
    ("VAULTTOKEN_KEK_FILE", None),
    ("VAULTTOKEN_ACCESS_PURPOSE", Some("public")),
    ("VAULTTOKEN_ACCESS_TTL_SECS", Some("900")),
    ("VAULTTOKEN_REFRESH_TTL_SECS", Some("1209600")),
    ("VAULTTOKEN_FAMILY_TTL_SECS", Some("2592000")),
    ("VAULTTOKEN_REFRESH_GRACE_SECS", Some("0")),
    ("VAULTTOKEN_REFRESH_GRACE_USES", Some("1")),
    ("VAULTTOKEN_CLIENTS", None),
    ("VAULTTOKEN_ADMIN_SECRET", None),
    ("VAULTTOKEN_TRUSTED_PROXIES", Some("")),
    ("VAULTTOKEN_RATE_LIMIT_PER_IP", Some("120")),
    ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", Some("600")),
    ("VAULTTOKEN_RATE_LIMIT_WINDOW_SECS", Some("60")),
    ("VAULTTOKEN_RATE_LIMIT_IPV6_PREFIX", Some("64")),
    ("VAULTTOKEN_KEYS_MAX_AGE_SECS", Some("300")),
    ("VAULTTOKEN_KEYS_POLL_SECS", Some("5")),
    ("VAULTTOKEN_BINDING", Some("off")),
    ("VAULTTOKEN_BINDING_IP_PREFIX_V4", Some("24")),
    ("VAULTTOKEN_BINDING_IP_PREFIX_V6", Some("56")),
    ("VAULTTOKEN_OBSERVER_KEY", None),
    ("VAULTTOKEN_REDIS_DEADLINE_MS", Some("500")),
    ("VAULTTOKEN_RATE_LIMIT_DEADLINE_MS", Some("1000")),
    ("VAULTTOKEN_KEYS_DEADLINE_MS", Some("2000")),
    ("VAULTTOKEN_REDIS_CONNECT_TIMEOUT_MS", Some("5000")),
    ("VAULTTOKEN_MIRROR_MAX_STALENESS_MS", None),
    ("REDIS_URL", None),
    ("REDIS_CLUSTER_URLS", None),
    ("VAULTTOKEN_ISSUER", None),
    ("VAULTTOKEN_CLIENT_AUDIENCES", Some("")),
    ("VAULTTOKEN_CLIENT_SCOPES", Some("")),
    ("VAULTTOKEN_CLIENT_DEFAULT_SCOPES", Some("")),
    ("VAULTTOKEN_ROTATE_EVERY", None),
    ("VAULTTOKEN_METRICS_LISTEN", None),
    ("VAULTTOKEN_LOG_WRITES", Some("batched")),
    ("VAULTTOKEN_DRAIN_SECS", Some("10")),
];

/// Seconds added to the announcement period beyond the key set's cache
/// time and the poll interval (see [`Config::announcement`]): the fetch of a
/// verifier whose cached key set expired just before the promotion takes a
/// moment, and instances' clocks differ by a little (NTP keeps them within
/// milliseconds; one second covers a clock that drifted far more).
pub(crate) const ANNOUNCEMENT_MARGIN_SECS: i64 = 1;

/// The names of the Redis settings: read from the environment beside the
/// `VAULTTOKEN_*` names, and exclusive (one server or one cluster).
pub(crate) const REDIS_URL_VAR: &str = "REDIS_URL";
/// See [`REDIS_URL_VAR`].
pub(crate) const REDIS_CLUSTER_URLS_VAR: &str = "REDIS_CLUSTER_URLS";

/// The validated configuration of a server.
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// use vaulttoken_server::{AccessPurpose, Config};
///
/// let kek = vaulttoken::LocalKey::generate()?.to_paserk()?;
/// let vars = BTreeMap::from([
///     ("VAULTTOKEN_KEYRING_FILE".to_owned(), "/tmp/doc-example-ring.json".to_owned()),
///     ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
///     ("VAULTTOKEN_KEK".to_owned(), kek.as_str().to_owned()),
///     ("VAULTTOKEN_CLIENTS".to_owned(), "web:0123456789abcdef0123".to_owned()),
///     ("VAULTTOKEN_ISSUER".to_owned(), "https://auth.example".to_owned()),
/// ]);
/// let config = Config::from_vars(&vars)?;
/// assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
/// assert_eq!(config.access_purpose, AccessPurpose::Public);
/// assert!(config.redis.is_none());
/// assert_eq!(config.redis_deadlines.store.as_millis(), 500);
/// assert_eq!(config.issuer, "https://auth.example");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen (`VAULTTOKEN_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The key file (`VAULTTOKEN_KEYRING_FILE`, required): the access-token
    /// ring and the refresh and trust keys, each wrapped with the KEK.
    pub keyring_file: PathBuf,
    /// Whether a missing key file is created (`VAULTTOKEN_KEYRING_CREATE`,
    /// default `false`: a missing file is an error).
    pub create_keyring: bool,
    /// The key-encryption key, a `k4.local.` PASERK (`VAULTTOKEN_KEK`, or
    /// the first line of the file `VAULTTOKEN_KEK_FILE`; exactly one).
    pub kek: LocalKey,
    /// The access tokens' purpose (`VAULTTOKEN_ACCESS_PURPOSE`, `public` or
    /// `local`, default `public`).
    pub access_purpose: AccessPurpose,
    /// Token lifetimes and the refresh grace window.
    pub lifetimes: Lifetimes,
    /// Redis, for the token store, the shared key ring and the rate limits:
    /// one server (`REDIS_URL`) or a cluster (`REDIS_CLUSTER_URLS`); none:
    /// the in-memory store, for one instance only.
    pub redis: Option<RedisTarget>,
    /// How long each use of Redis may wait for an answer.
    pub redis_deadlines: RedisDeadlines,
    /// The revocation mirror's staleness bound
    /// (`VAULTTOKEN_MIRROR_MAX_STALENESS_MS`, 160 to 60000, default unset:
    /// no mirror; with Redis only): checks answer from a local mirror
    /// of the store, fed by its change stream, while it has heard from Redis
    /// within this bound, and go to Redis past it. See
    /// `vaulttoken_redis::MirroredStore` and docs/OPERATIONS.md.
    pub mirror: Option<std::time::Duration>,
    /// The clients and their secrets (`VAULTTOKEN_CLIENTS`,
    /// `id:secret,id:secret`; ids `[A-Za-z0-9._-]{1,64}`, secrets at least
    /// 16 bytes, no `,`), and the audiences each may ask for
    /// (`VAULTTOKEN_CLIENT_AUDIENCES`, `id=audience audience…,id=audience`,
    /// default none: the first is the client's default `aud`; at most 8 per
    /// client, each 1 to 256 bytes, no whitespace or `,`; a client without
    /// audiences issues tokens without `aud`). See [`Clients::audiences`].
    /// And the scopes each may ask for (`VAULTTOKEN_CLIENT_SCOPES`,
    /// `id=scope scope…,id=scope`, default none; at most 32 per client, each
    /// an RFC 6749 §3.3 scope token of 1 to 64 bytes without `,` or `=`),
    /// with its default set (`VAULTTOKEN_CLIENT_DEFAULT_SCOPES`, same form,
    /// a subset; default all of the client's scopes). See [`Clients::scopes`].
    pub clients: Clients,
    /// The bearer secret of `POST /keys/rotate` (`VAULTTOKEN_ADMIN_SECRET`,
    /// at least 32 bytes); none: rotation through HTTP is off (401).
    pub admin_secret: Option<Secret>,
    /// The proxies whose `X-Forwarded-For` is believed
    /// (`VAULTTOKEN_TRUSTED_PROXIES`, comma-separated CIDRs, default none).
    pub trusted_proxies: TrustedProxies,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// `Cache-Control: max-age` of `GET /keys`, in seconds
    /// (`VAULTTOKEN_KEYS_MAX_AGE_SECS`, default 300).
    pub keys_max_age: u32,
    /// How often, with Redis, the shared key ring is read for rotations made
    /// by other instances (`VAULTTOKEN_KEYS_POLL_SECS`, default 5, 1 to 300):
    /// the bound on how long an instance serves an old ring.
    pub keys_poll: Duration,
    /// Binding tokens to the end user's context.
    pub binding: BindingConfig,
    /// Who issues the tokens (`VAULTTOKEN_ISSUER`, required; 1 to
    /// [`MAX_ISSUER_LEN`](vaulttoken::keyring::MAX_ISSUER_LEN) bytes, no
    /// whitespace or control characters; usually the server's public URL):
    /// the `iss` of every access token and the `issuer` of `GET /keys`.
    /// Every instance of one deployment has the same.
    pub issuer: String,
    /// How often the access keys rotate by themselves
    /// (`VAULTTOKEN_ROTATE_EVERY`, whole seconds; unset or empty: never,
    /// rotation only through `POST /keys/rotate`). Must be more than
    /// [`Config::announcement`] plus the access-token lifetime, so at most
    /// three keys are in the ring: the active one, the one it replaced
    /// (until its tokens expired) and the next one announced.
    pub rotate_every: Option<Duration>,
    /// Where `GET /metrics` is served instead of the main listener
    /// (`VAULTTOKEN_METRICS_LISTEN`, an `address:port` other than
    /// `VAULTTOKEN_LISTEN`'s; unset or empty: on the main listener). For a
    /// port only the monitoring network reaches.
    pub metrics_listen: Option<SocketAddr>,
    /// When log lines reach stdout (`VAULTTOKEN_LOG_WRITES`, `batched` or
    /// `line`, default `batched`). Read from the environment by
    /// [`init_logging`](crate::init_logging) before the configuration, and
    /// applied from here with [`Logs::set_writes`](crate::Logs::set_writes)
    /// (a value set in the configuration file).
    pub log_writes: LogWrites,
    /// How long a stopping server waits for its open connections to finish
    /// (`VAULTTOKEN_DRAIN_SECS`, default 10, 1 to 300): after SIGTERM or
    /// Ctrl-C it takes no new connection, answers the requests in flight and
    /// closes idle connections; a connection still open after this long (a
    /// client that never reads its answer, or never acknowledges an HTTP/2
    /// GOAWAY) no longer keeps the process from exiting.
    pub drain: std::time::Duration,
}

impl Config {
    /// How long a rotation announces its new key before it signs with it:
    /// `VAULTTOKEN_KEYS_MAX_AGE_SECS` (a verifier that fetched the key set
    /// just before the rotation keeps it that long), plus
    /// `VAULTTOKEN_KEYS_POLL_SECS` (an instance sees another's rotation at
    /// most that much later, and only then publishes the new key), plus one
    /// second (a verifier's fetch takes a moment, and clocks differ a
    /// little).
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
    ///     ("VAULTTOKEN_CLIENTS".to_owned(), "web:0123456789abcdef0123".to_owned()),
    ///     ("VAULTTOKEN_KEYS_MAX_AGE_SECS".to_owned(), "60".to_owned()),
    ///     ("VAULTTOKEN_KEYS_POLL_SECS".to_owned(), "5".to_owned()),
    ///     ("VAULTTOKEN_ISSUER".to_owned(), "https://auth.example".to_owned()),
    /// ]);
    /// let config = Config::from_vars(&vars)?;
    /// assert_eq!(config.announcement(), time::Duration::seconds(66));
    /// assert_eq!(config.rotate_every, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn announcement(&self) -> Duration {
        announcement(self.keys_max_age, self.keys_poll)
    }
}

/// See [`Config::announcement`].
pub(crate) fn announcement(keys_max_age: u32, keys_poll: Duration) -> Duration {
    Duration::seconds(i64::from(keys_max_age) + ANNOUNCEMENT_MARGIN_SECS) + keys_poll
}

/// How tokens are bound to the end user's context (the `context` object of
/// a request body). See the README, "Context binding".
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// use vaulttoken_server::{BindingMode, Config};
///
/// let kek = vaulttoken::LocalKey::generate()?.to_paserk()?;
/// let observer = vaulttoken::LocalKey::generate()?.to_paserk()?;
/// let vars = BTreeMap::from([
///     ("VAULTTOKEN_KEYRING_FILE".to_owned(), "/tmp/doc-example-ring.json".to_owned()),
///     ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
///     ("VAULTTOKEN_KEK".to_owned(), kek.as_str().to_owned()),
///     ("VAULTTOKEN_CLIENTS".to_owned(), "web:0123456789abcdef0123".to_owned()),
///     ("VAULTTOKEN_ISSUER".to_owned(), "https://auth.example".to_owned()),
///     ("VAULTTOKEN_BINDING".to_owned(), "observe".to_owned()),
///     ("VAULTTOKEN_OBSERVER_KEY".to_owned(), observer.as_str().to_owned()),
///     ("VAULTTOKEN_BINDING_IP_PREFIX_V4".to_owned(), "20".to_owned()),
/// ]);
/// let config = Config::from_vars(&vars)?;
/// assert_eq!(config.binding.mode, BindingMode::Observe);
/// assert_eq!((config.binding.ip_prefix.v4(), config.binding.ip_prefix.v6()), (20, 56));
/// assert!(config.binding.observer.is_some());
/// // The key is never printed.
/// assert!(!format!("{config:?}").contains(observer.as_str()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BindingConfig {
    /// `VAULTTOKEN_BINDING`: `off`, `observe` or `strict` (default `off`).
    pub mode: BindingMode,
    /// How much of `context.ip` is bound
    /// (`VAULTTOKEN_BINDING_IP_PREFIX_V4`, default 24, at most 32;
    /// `VAULTTOKEN_BINDING_IP_PREFIX_V6`, default 56, at most 128).
    pub ip_prefix: IpPrefix,
    /// The key of the observed hashes (`VAULTTOKEN_OBSERVER_KEY`, a
    /// `k4.local.` PASERK; required with `observe`, ignored otherwise).
    /// Every instance needs the same key; changing it makes every older
    /// token drift. `Debug` never shows it.
    pub observer: Option<Observer>,
}

/// Whether and how tokens are bound to the end user's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingMode {
    /// No binding; a `context` in a request is checked for shape and ignored.
    Off,
    /// Keyed hashes of the context values in the tokens' claims; a token
    /// presented in another context still works, and the change is reported
    /// as a `binding_drift` audit event.
    Observe,
    /// The context values in the tokens' implicit assertions: a token works
    /// only in the context it was issued in (`context.ip` by prefix).
    Strict,
}

impl BindingMode {
    /// `off`, `observe` or `strict`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::BindingMode::Strict.name(), "strict");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Observe => "observe",
            Self::Strict => "strict",
        }
    }
}

/// What access tokens are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessPurpose {
    /// `v4.public`, signed: any service verifies them with `GET /keys`.
    Public,
    /// `v4.local`, encrypted: only this server (introspection) reads them.
    Local,
}

impl AccessPurpose {
    /// `public` or `local`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::AccessPurpose::Local.name(), "local");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Local => "local",
        }
    }
}

/// Token lifetimes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Lifetimes {
    /// Access tokens (`VAULTTOKEN_ACCESS_TTL_SECS`, default 900, at most a day).
    pub access: Duration,
    /// Each refresh token (`VAULTTOKEN_REFRESH_TTL_SECS`, default 14 days).
    pub refresh: Duration,
    /// A refresh family, absolute (`VAULTTOKEN_FAMILY_TTL_SECS`, default 30
    /// days, at least the refresh lifetime).
    pub family: Duration,
    /// The refresh grace window (`VAULTTOKEN_REFRESH_GRACE_SECS`, default 0:
    /// off; at most 60).
    pub grace: Duration,
    /// Replays allowed in the grace window (`VAULTTOKEN_REFRESH_GRACE_USES`,
    /// default 1).
    pub grace_uses: u32,
}

/// Where Redis is. Both kinds of setting may hold a password, so they are
/// [`Secret`]s: never printed.
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// use vaulttoken_server::{Config, RedisTarget};
///
/// let kek = vaulttoken::LocalKey::generate()?.to_paserk()?;
/// let vars = BTreeMap::from([
///     ("VAULTTOKEN_KEYRING_FILE".to_owned(), "/tmp/doc-example-ring.json".to_owned()),
///     ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
///     ("VAULTTOKEN_KEK".to_owned(), kek.as_str().to_owned()),
///     ("VAULTTOKEN_CLIENTS".to_owned(), "web:0123456789abcdef0123".to_owned()),
///     ("VAULTTOKEN_ISSUER".to_owned(), "https://auth.example".to_owned()),
///     (
///         "REDIS_CLUSTER_URLS".to_owned(),
///         "redis://:pw@10.0.0.1:6379, redis://:pw@10.0.0.2:6379".to_owned(),
///     ),
/// ]);
/// let config = Config::from_vars(&vars)?;
/// assert!(matches!(&config.redis, Some(RedisTarget::Cluster(seeds)) if seeds.len() == 2));
/// assert!(!format!("{config:?}").contains("pw@"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RedisTarget {
    /// One server, its primary (`REDIS_URL`,
    /// `redis://[user:password@]host:port[/db]`). A cluster node is refused
    /// at start.
    Server(Secret),
    /// A Redis Cluster, through any of its nodes (`REDIS_CLUSTER_URLS`, its
    /// nodes' URLs separated by commas, 1 to 32): the client learns the
    /// others from them, and sends each key to the primary of its slot.
    Cluster(Vec<Secret>),
}

/// How long each use of Redis waits for an answer before it gives up and
/// the request answers 503 (`temporarily_unavailable`). Whole milliseconds,
/// 100 to 60000 each. A connection known to be down (the port closed: the
/// connection refused) answers 503 at once instead: each connection makes
/// one reconnect attempt when it finds itself lost, not a series with
/// pauses that would last up to the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisDeadlines {
    /// Each call of the token store (`VAULTTOKEN_REDIS_DEADLINE_MS`,
    /// default 500).
    pub store: std::time::Duration,
    /// Each rate-limit count (`VAULTTOKEN_RATE_LIMIT_DEADLINE_MS`, default
    /// 1000).
    pub rate_limit: std::time::Duration,
    /// Each read or write of the shared key ring
    /// (`VAULTTOKEN_KEYS_DEADLINE_MS`, default 2000).
    pub keys: std::time::Duration,
    /// Connecting at start, with the checks of every primary and the
    /// creation of the store's epoch markers
    /// (`VAULTTOKEN_REDIS_CONNECT_TIMEOUT_MS`, default 5000, 1000 to
    /// 120000): on a first start, 16384 markers are written, which a
    /// cluster with `appendfsync always` under load may need longer for.
    pub connect: std::time::Duration,
}

/// Rate limits: requests per window, 0 turns a limit off.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RateLimits {
    /// Per client IP (`VAULTTOKEN_RATE_LIMIT_PER_IP`, default 120).
    pub per_ip: u32,
    /// Per client id (`VAULTTOKEN_RATE_LIMIT_PER_CLIENT`, default 600).
    pub per_client: u32,
    /// The window (`VAULTTOKEN_RATE_LIMIT_WINDOW_SECS`, default 60).
    pub window: Duration,
    /// The network an IPv6 client is counted by, in bits
    /// (`VAULTTOKEN_RATE_LIMIT_IPV6_PREFIX`, default 64, 1 to 128): every
    /// address of one /64 shares one per-IP count. IPv4 clients are counted
    /// per address.
    pub ipv6_prefix: u8,
}

/// Every problem found in a configuration, each naming its variable (never
/// its value).
///
/// # Examples
///
/// ```
/// use std::collections::BTreeMap;
/// use vaulttoken_server::Config;
///
/// let vars = BTreeMap::from([("VAULTTOKEN_LISTEN".to_owned(), "nowhere".to_owned())]);
/// let err = Config::from_vars(&vars).unwrap_err();
/// assert!(err.problems().len() >= 3);
/// let text = err.to_string();
/// assert!(text.contains("VAULTTOKEN_LISTEN") && text.contains("VAULTTOKEN_KEYRING_FILE"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<String>,
}

impl ConfigError {
    /// The problems, one line each, each starting with its variable.
    ///
    /// # Examples
    ///
    /// See [`ConfigError`].
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration ({} problem", self.problems.len())?;
        if self.problems.len() != 1 {
            f.write_str("s")?;
        }
        f.write_str("):")?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the file named by [`CONFIG_FILE_VAR`] (if set), then every
    /// `VAULTTOKEN_*` variable, `REDIS_URL` and `REDIS_CLUSTER_URLS` of the
    /// environment, which win over the file, and validates them
    /// ([`Config::from_vars`]).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming every problem, the file's too.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut vars = BTreeMap::new();
        let mut problems = Vec::new();
        if let Some(path) = std::env::var_os(CONFIG_FILE_VAR) {
            match std::fs::read_to_string(&path) {
                Ok(text) => parse::file_lines(&text, &mut vars, &mut problems),
                Err(_) => problems.push(format!("{CONFIG_FILE_VAR}: cannot read the file")),
            }
        }
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            let ours = name.starts_with("VAULTTOKEN_")
                || name == REDIS_URL_VAR
                || name == REDIS_CLUSTER_URLS_VAR;
            if name == CONFIG_FILE_VAR || !ours {
                continue;
            }
            match value.into_string() {
                Ok(value) => {
                    vars.insert(name.to_owned(), value);
                }
                Err(_) => problems.push(format!("{name}: not valid UTF-8")),
            }
        }
        match Self::from_vars(&vars) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(ConfigError { problems }),
            Err(err) => {
                problems.extend(err.problems);
                Err(ConfigError { problems })
            }
        }
    }

    /// Validates a set of variables. An unknown `VAULTTOKEN_*` name is a
    /// problem too (a typo would otherwise leave a default in force).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming every problem.
    ///
    /// # Examples
    ///
    /// See [`Config`] and [`ConfigError`].
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        parse::Reader::new(vars).finish()
    }
}

#[cfg(test)]
mod tests;
