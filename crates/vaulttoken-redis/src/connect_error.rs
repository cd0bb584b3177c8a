//! [`ConnectError`]: why a store could not be set up. No variant holds a
//! connection URL or a server message.

use std::borrow::Cow;
use std::time::Duration;

use crate::server_check::{MINIMUM_VERSION, READ_ONLY_MINIMUM_VERSION, ServerVersion};

/// Why [`RedisStore::connect`](crate::RedisStore::connect) or
/// [`RedisStore::connect_cluster`](crate::RedisStore::connect_cluster) failed.
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{ConnectError, ServerVersion};
///
/// let err = ConnectError::ServerTooOld { found: ServerVersion::new(6, 0, 16) };
/// assert_eq!(err.to_string(), "Redis 6.0.16 is too old: this store needs 6.2.0 or later");
/// // A URL is never echoed: it may hold a password.
/// assert_eq!(ConnectError::InvalidUrl.to_string(), "invalid Redis URL");
/// assert!(ConnectError::NotPrimary.to_string().contains("read-only replica"));
/// assert!(ConnectError::ClusterNode.to_string().contains("Redis Cluster node"));
/// let err = ConnectError::ReadOnlyNeedsRedis7 { found: ServerVersion::new(6, 2, 14) };
/// assert_eq!(
///     err.to_string(),
///     "Redis 6.2.14 has no read-only scripts (EVAL_RO): a read-only store needs 7.0.0 or later"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// A URL could not be parsed (it is not repeated: it may hold a password).
    #[error("invalid Redis URL")]
    InvalidUrl,
    /// The options contradict themselves.
    #[error("invalid store options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: &'static str,
    },
    /// Connecting and checking the server took longer than the connect
    /// timeout.
    #[error("Redis did not answer within {timeout:?}")]
    Timeout {
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The server could not be reached or refused the connection.
    #[error("Redis unreachable: {reason}")]
    Unreachable {
        /// What failed, as a category.
        reason: Cow<'static, str>,
    },
    /// The server is older than [`MINIMUM_VERSION`].
    #[error("Redis {found} is too old: this store needs {MINIMUM_VERSION} or later")]
    ServerTooOld {
        /// The version found.
        found: ServerVersion,
    },
    /// A read-only store
    /// ([`StoreOptions::read_only`](crate::StoreOptions::read_only())) found
    /// a server older than [`READ_ONLY_MINIMUM_VERSION`] (Redis 7), which has
    /// no read-only scripts (`EVAL_RO`, `EVALSHA_RO`): a Redis user that may
    /// only read could not run the check. Upgrade Redis, or give the resource
    /// server introspection or short token lifetimes instead.
    #[error(
        "Redis {found} has no read-only scripts (EVAL_RO): a read-only store needs {READ_ONLY_MINIMUM_VERSION} or later"
    )]
    ReadOnlyNeedsRedis7 {
        /// The version found.
        found: ServerVersion,
    },
    /// `INFO server` did not say which version the server is.
    #[error("the Redis version could not be read")]
    VersionUnknown,
    /// The server is not a primary (`INFO replication` does not say
    /// `role:master`): a replica answers from data that may be stale, and
    /// refuses every write. Typically a URL left on the old primary after a
    /// failover. The store talks to primaries only.
    #[error(
        "the Redis URL points at a read-only replica, not a primary: point the store at the primary"
    )]
    NotPrimary,
    /// The URL given to [`RedisStore::connect`](crate::RedisStore::connect)
    /// is a node of a Redis Cluster (`INFO cluster` says
    /// `cluster_enabled:1`): a single-server connection would reach only
    /// that node's slots. Connect with
    /// [`RedisStore::connect_cluster`](crate::RedisStore::connect_cluster)
    /// and the cluster's node URLs instead.
    #[error(
        "the Redis URL points at a Redis Cluster node: connect to the cluster (connect_cluster) with its nodes' URLs"
    )]
    ClusterNode,
}
