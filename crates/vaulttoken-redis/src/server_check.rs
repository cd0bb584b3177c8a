//! What the store checks at connect: the server version (6.2 or later, for
//! `SET … PXAT`), that it is a primary (a replica may answer from stale
//! data), and the eviction policy (anything but `noeviction` can silently
//! drop a revocation).

use core::fmt;

use redis::{Value, cmd};

use crate::connection::Connection;
use crate::role;

/// The oldest Redis this crate runs on: 6.2, the first with `SET … PXAT`.
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{MINIMUM_VERSION, ServerVersion};
///
/// assert_eq!(MINIMUM_VERSION, ServerVersion::new(6, 2, 0));
/// ```
pub const MINIMUM_VERSION: ServerVersion = ServerVersion {
    major: 6,
    minor: 2,
    patch: 0,
};

/// The oldest Redis a read-only store
/// ([`StoreOptions::read_only`](crate::StoreOptions::read_only())) runs on:
/// 7.0, the first with read-only scripts (`EVAL_RO`, `EVALSHA_RO`).
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{MINIMUM_VERSION, READ_ONLY_MINIMUM_VERSION, ServerVersion};
///
/// assert_eq!(READ_ONLY_MINIMUM_VERSION, ServerVersion::new(7, 0, 0));
/// assert!(READ_ONLY_MINIMUM_VERSION > MINIMUM_VERSION);
/// ```
pub const READ_ONLY_MINIMUM_VERSION: ServerVersion = ServerVersion {
    major: 7,
    minor: 0,
    patch: 0,
};

/// A Redis version, as `INFO server` reports it (`redis_version`).
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{MINIMUM_VERSION, ServerVersion};
///
/// let version = ServerVersion::new(7, 0, 15);
/// assert!(version >= MINIMUM_VERSION);
/// assert_eq!(version.to_string(), "7.0.15");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// The major version.
    pub major: u32,
    /// The minor version.
    pub minor: u32,
    /// The patch level.
    pub patch: u32,
}

impl ServerVersion {
    /// A version.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_redis::{MINIMUM_VERSION, ServerVersion};
    ///
    /// assert!(ServerVersion::new(6, 0, 20) < MINIMUM_VERSION);
    /// ```
    #[must_use]
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// The `redis_version` line of an `INFO server` answer.
    fn from_info(info: &str) -> Option<Self> {
        let version = info
            .lines()
            .find_map(|line| line.trim_end().strip_prefix("redis_version:"))?;
        let mut parts = version.split('.').map(str::parse::<u32>);
        let major = parts.next()?.ok()?;
        let minor = parts.next().unwrap_or(Ok(0)).ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        Some(Self::new(major, minor, patch))
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The server's `maxmemory-policy`.
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::EvictionPolicy;
///
/// assert!(!EvictionPolicy::NoEviction.may_evict());
/// assert!(EvictionPolicy::Evicts("allkeys-lru".into()).may_evict());
/// assert!(EvictionPolicy::Unchecked.may_evict());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// `noeviction`: at its memory limit the server refuses writes, which the
    /// store reports as errors. The only safe policy.
    NoEviction,
    /// Another policy (named): under memory pressure the server may drop
    /// entries, revocations included, and refused tokens come back.
    Evicts(String),
    /// `CONFIG GET` is not allowed (as on many managed services): the policy
    /// is unknown.
    Unchecked,
}

impl EvictionPolicy {
    /// Whether entries may disappear before they expire (or it is unknown).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_redis::EvictionPolicy;
    ///
    /// assert!(EvictionPolicy::Evicts("volatile-ttl".into()).may_evict());
    /// ```
    #[must_use]
    pub fn may_evict(&self) -> bool {
        !matches!(self, Self::NoEviction)
    }

    /// The policy of one `CONFIG GET maxmemory-policy` answer: an array
    /// (RESP2) or a map (RESP3) of name and value.
    fn from_config(answer: &Value) -> Option<Self> {
        let value = match answer {
            Value::Array(items) => match items.as_slice() {
                [_, value] => value,
                _ => return None,
            },
            Value::Map(pairs) => match pairs.as_slice() {
                [(_, value)] => value,
                _ => return None,
            },
            Value::ServerError(_) => return Some(Self::Unchecked),
            _ => return None,
        };
        let name = text(value)?;
        Some(if name == "noeviction" {
            Self::NoEviction
        } else {
            Self::Evicts(name)
        })
    }

    /// The policy of a set of nodes: any that evicts, else any unchecked.
    fn of_all(policies: Vec<Self>) -> Self {
        let mut all = Self::NoEviction;
        for policy in policies {
            match policy {
                Self::Evicts(_) => return policy,
                Self::Unchecked => all = Self::Unchecked,
                Self::NoEviction => {}
            }
        }
        all
    }
}

/// What the store found at connect: see
/// [`RedisStore::server_check`](crate::RedisStore::server_check). On a
/// cluster, the oldest version and the riskiest policy of the primaries.
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{EvictionPolicy, ServerCheck, ServerVersion};
///
/// let check = ServerCheck::new(ServerVersion::new(7, 2, 0), EvictionPolicy::NoEviction);
/// assert!(!check.eviction_policy.may_evict());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ServerCheck {
    /// The server's version.
    pub version: ServerVersion,
    /// Its `maxmemory-policy`.
    pub eviction_policy: EvictionPolicy,
}

impl ServerCheck {
    /// A check's findings.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_redis::{EvictionPolicy, ServerCheck, ServerVersion};
    ///
    /// let check = ServerCheck::new(ServerVersion::new(6, 2, 0), EvictionPolicy::Unchecked);
    /// assert_eq!(check.version, ServerVersion::new(6, 2, 0));
    /// ```
    #[must_use]
    pub fn new(version: ServerVersion, eviction_policy: EvictionPolicy) -> Self {
        Self {
            version,
            eviction_policy,
        }
    }
}

/// Why the check could not finish.
#[derive(Debug)]
pub(crate) enum CheckFailure {
    /// A call failed.
    Redis(redis::RedisError),
    /// `INFO` answered without a readable `redis_version`.
    VersionUnknown,
    /// A server is not a primary.
    NotPrimary,
    /// A single-server connection reached a cluster node.
    ClusterNode,
}

impl From<redis::RedisError> for CheckFailure {
    fn from(error: redis::RedisError) -> Self {
        Self::Redis(error)
    }
}

/// Reads the version, the role and the eviction policy of every primary
/// (refusing a replica), and warns
/// (target `vaulttoken_redis`) when entries may be evicted.
pub(crate) async fn run(connection: &Connection) -> Result<ServerCheck, CheckFailure> {
    let mut info = cmd("INFO");
    info.arg("server");
    let mut versions = Vec::new();
    for answer in connection.query_each_primary(info).await? {
        let version = text(&answer)
            .as_deref()
            .and_then(ServerVersion::from_info)
            .ok_or(CheckFailure::VersionUnknown)?;
        versions.push(version);
    }
    let version = versions
        .into_iter()
        .min()
        .ok_or(CheckFailure::VersionUnknown)?;

    let mut replication = cmd("INFO");
    replication.arg("replication");
    for answer in connection.query_each_primary(replication).await? {
        if !role::answer_is_primary(&answer) {
            return Err(CheckFailure::NotPrimary);
        }
    }

    let mut config = cmd("CONFIG");
    config.arg("GET").arg("maxmemory-policy");
    let eviction_policy = match connection.query_each_primary(config).await {
        Ok(answers) => EvictionPolicy::of_all(
            answers
                .iter()
                .map(|answer| {
                    EvictionPolicy::from_config(answer).unwrap_or(EvictionPolicy::Unchecked)
                })
                .collect(),
        ),
        // A refusal (CONFIG disabled or renamed): the policy is unknown.
        Err(error) if error.code().is_some() => EvictionPolicy::Unchecked,
        Err(error) => return Err(error.into()),
    };
    warn_about(&eviction_policy);
    Ok(ServerCheck::new(version, eviction_policy))
}

fn warn_about(policy: &EvictionPolicy) {
    match policy {
        EvictionPolicy::NoEviction => {}
        EvictionPolicy::Evicts(name) => tracing::warn!(
            target: "vaulttoken_redis",
            policy = %name,
            "Redis maxmemory-policy is not noeviction: under memory pressure the server may \
             evict revocations and spent token ids, and refused tokens would be accepted again; \
             set maxmemory-policy noeviction"
        ),
        EvictionPolicy::Unchecked => tracing::warn!(
            target: "vaulttoken_redis",
            "Redis maxmemory-policy could not be checked (CONFIG GET is not allowed): make sure \
             it is noeviction, or revocations may be evicted and refused tokens accepted again"
        ),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn version_is_read_from_info() {
        let info =
            "# Server\r\nredis_git_sha1:0\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n";
        assert_eq!(
            ServerVersion::from_info(info),
            Some(ServerVersion::new(7, 0, 15))
        );
        assert_eq!(
            ServerVersion::from_info("redis_version:6.2\n"),
            Some(ServerVersion::new(6, 2, 0))
        );
        assert_eq!(
            ServerVersion::from_info("redis_version:8\n"),
            Some(ServerVersion::new(8, 0, 0))
        );
        assert_eq!(ServerVersion::from_info("redis_version:x.1.2\n"), None);
        assert_eq!(ServerVersion::from_info("redis_version:7.x\n"), None);
        assert_eq!(ServerVersion::from_info("redis_version:7.0.x\n"), None);
        assert_eq!(ServerVersion::from_info("# Server\n"), None);
    }

    #[test]
    fn versions_order_numerically() {
        assert!(ServerVersion::new(6, 10, 0) > ServerVersion::new(6, 2, 0));
        assert!(ServerVersion::new(6, 1, 99) < MINIMUM_VERSION);
        assert!(ServerVersion::new(6, 2, 0) >= MINIMUM_VERSION);
        assert_eq!(MINIMUM_VERSION.to_string(), "6.2.0");
        assert!(!EvictionPolicy::NoEviction.may_evict());
        assert!(EvictionPolicy::Unchecked.may_evict());
    }

    #[test]
    fn policy_is_read_from_config_get() {
        let resp2 = Value::Array(vec![bulk("maxmemory-policy"), bulk("noeviction")]);
        assert_eq!(
            EvictionPolicy::from_config(&resp2),
            Some(EvictionPolicy::NoEviction)
        );
        let resp3 = Value::Map(vec![(bulk("maxmemory-policy"), bulk("allkeys-lru"))]);
        assert_eq!(
            EvictionPolicy::from_config(&resp3),
            Some(EvictionPolicy::Evicts("allkeys-lru".into()))
        );
        assert_eq!(EvictionPolicy::from_config(&Value::Array(vec![])), None);
        assert_eq!(EvictionPolicy::from_config(&Value::Map(vec![])), None);
        assert_eq!(EvictionPolicy::from_config(&Value::Nil), None);
        let refused = match redis::parse_redis_value(b"-ERR unknown command\r\n") {
            Ok(value) => value,
            Err(error) => panic!("{error}"),
        };
        assert_eq!(
            EvictionPolicy::from_config(&refused),
            Some(EvictionPolicy::Unchecked)
        );
    }

    #[test]
    fn the_riskiest_policy_of_a_cluster_wins() {
        use EvictionPolicy::{Evicts, NoEviction, Unchecked};
        assert_eq!(EvictionPolicy::of_all(vec![]), NoEviction);
        assert_eq!(
            EvictionPolicy::of_all(vec![NoEviction, NoEviction]),
            NoEviction
        );
        assert_eq!(
            EvictionPolicy::of_all(vec![NoEviction, Unchecked]),
            Unchecked
        );
        let lru = Evicts("allkeys-lru".into());
        assert_eq!(
            EvictionPolicy::of_all(vec![Unchecked, lru.clone(), NoEviction]),
            lru
        );
    }

    /// Counts the warning events of target `vaulttoken_redis`.
    struct Warnings(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let meta = event.metadata();
            if *meta.level() == tracing::Level::WARN && meta.target() == "vaulttoken_redis" {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    fn warnings_for(policy: &EvictionPolicy) -> usize {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber = Warnings(std::sync::Arc::clone(&count));
        tracing::subscriber::with_default(subscriber, || warn_about(policy));
        count.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn any_policy_but_noeviction_is_warned_about() {
        assert_eq!(warnings_for(&EvictionPolicy::NoEviction), 0);
        assert_eq!(
            warnings_for(&EvictionPolicy::Evicts("allkeys-lru".into())),
            1
        );
        assert_eq!(warnings_for(&EvictionPolicy::Unchecked), 1);
    }

    #[test]
    fn text_reads_every_string_kind() {
        assert_eq!(text(&bulk("a")), Some("a".into()));
        assert_eq!(text(&Value::SimpleString("b".into())), Some("b".into()));
        assert_eq!(text(&Value::BulkString(vec![0xff])), None);
        assert_eq!(text(&Value::Int(1)), None);
    }
}
