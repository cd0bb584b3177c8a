//! [`StoreOptions`]: the key prefix, the deadline of every call, and the
//! optional wait for replicas.

use std::time::Duration;

/// The key prefix unless [`StoreOptions::prefix`] sets another.
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{DEFAULT_PREFIX, StoreOptions};
///
/// assert_eq!(StoreOptions::default().prefix, DEFAULT_PREFIX);
/// assert_eq!(DEFAULT_PREFIX, "vaulttoken");
/// ```
pub const DEFAULT_PREFIX: &str = "vaulttoken";

/// The deadline of one Redis call unless [`StoreOptions::deadline`] sets
/// another: 500 ms.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::{DEFAULT_DEADLINE, StoreOptions};
///
/// assert_eq!(StoreOptions::default().deadline, DEFAULT_DEADLINE);
/// assert_eq!(DEFAULT_DEADLINE, Duration::from_millis(500));
/// ```
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(500);

/// How long connecting (and the server check) may take unless
/// [`StoreOptions::connect_timeout`] sets another: 5 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::{DEFAULT_CONNECT_TIMEOUT, StoreOptions};
///
/// assert_eq!(StoreOptions::default().connect_timeout, DEFAULT_CONNECT_TIMEOUT);
/// assert_eq!(DEFAULT_CONNECT_TIMEOUT, Duration::from_secs(5));
/// ```
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a [`RedisStore`](crate::RedisStore) talks to Redis. Every field has a
/// builder method of the same name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::StoreOptions;
///
/// let options = StoreOptions::default()
///     .prefix("auth-prod")
///     .deadline(Duration::from_millis(200))
///     .wait_for_replicas(1, Duration::from_millis(100));
/// assert_eq!(options.prefix, "auth-prod");
/// assert_eq!(options.deadline, Duration::from_millis(200));
/// assert_eq!(options.replicas.map(|wait| wait.replicas), Some(1));
/// assert_eq!(StoreOptions::default().prefix, "vaulttoken");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// The first part of every key, before the subject's hash tag. Defaults
    /// to [`DEFAULT_PREFIX`]; it must not contain `{` or `}`.
    pub prefix: String,
    /// The longest one Redis call may take: past it the operation fails with
    /// [`StoreError::Timeout`](vaulttoken::error::StoreError::Timeout).
    /// Defaults to [`DEFAULT_DEADLINE`] (500 ms).
    pub deadline: Duration,
    /// The longest connecting and checking the server may take. Defaults to
    /// [`DEFAULT_CONNECT_TIMEOUT`] (5 s).
    pub connect_timeout: Duration,
    /// Whether every write waits for replicas before it is acknowledged.
    /// Defaults to `None`: acknowledged once the primary has it.
    pub replicas: Option<ReplicaWait>,
}

/// Writes wait (`WAIT`) until this many replicas have them, or fail.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::ReplicaWait;
///
/// let wait = ReplicaWait::new(2, Duration::from_millis(50));
/// assert_eq!((wait.replicas, wait.timeout), (2, Duration::from_millis(50)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaWait {
    /// How many replicas must acknowledge the write.
    pub replicas: u32,
    /// How long `WAIT` may block; it must be shorter than the deadline.
    pub timeout: Duration,
}

impl ReplicaWait {
    /// Waits for `replicas` replicas, at most `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::ReplicaWait;
    ///
    /// assert_eq!(ReplicaWait::new(1, Duration::from_millis(10)).replicas, 1);
    /// ```
    #[must_use]
    pub fn new(replicas: u32, timeout: Duration) -> Self {
        Self { replicas, timeout }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            deadline: DEFAULT_DEADLINE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            replicas: None,
        }
    }
}

impl StoreOptions {
    /// Sets the key prefix (default [`DEFAULT_PREFIX`]), so that several
    /// services or environments can share one Redis.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// assert_eq!(StoreOptions::default().prefix("staging").prefix, "staging");
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the deadline of every Redis call (default 500 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// let options = StoreOptions::default().deadline(Duration::from_millis(50));
    /// assert_eq!(options.deadline, Duration::from_millis(50));
    /// ```
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets how long connecting may take (default 5 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// let options = StoreOptions::default().connect_timeout(Duration::from_secs(1));
    /// assert_eq!(options.connect_timeout, Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Makes every write (revoke, consume, cutoff, supersede, family create,
    /// rotate and revoke) wait until `replicas` replicas have it, at most
    /// `timeout` (which must be shorter than the deadline). A write that too
    /// few replicas acknowledge fails with
    /// [`StoreError::Unreachable`](vaulttoken::error::StoreError::Unreachable),
    /// although the primary has it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::{ReplicaWait, StoreOptions};
    ///
    /// let options = StoreOptions::default().wait_for_replicas(1, Duration::from_millis(100));
    /// assert_eq!(options.replicas, Some(ReplicaWait::new(1, Duration::from_millis(100))));
    /// ```
    #[must_use]
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replicas = Some(ReplicaWait::new(replicas, timeout));
        self
    }

    /// What is wrong with these options, if anything.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        if self.prefix.contains(['{', '}']) {
            return Some("the key prefix must not contain '{' or '}'");
        }
        if self.deadline.is_zero() {
            return Some("the deadline must be longer than zero");
        }
        if self.connect_timeout.is_zero() {
            return Some("the connect timeout must be longer than zero");
        }
        if let Some(wait) = self.replicas
            && wait.timeout >= self.deadline
        {
            return Some("the replica wait must be shorter than the deadline");
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let options = StoreOptions::default();
        assert_eq!(options.problem(), None);
        assert_eq!(options.deadline, Duration::from_millis(500));
        assert_eq!(options.connect_timeout, Duration::from_secs(5));
        assert_eq!(options.replicas, None);
    }

    #[test]
    fn braces_in_the_prefix_are_refused() {
        for prefix in ["a{b", "a}b", "{x}"] {
            assert!(StoreOptions::default().prefix(prefix).problem().is_some());
        }
        assert_eq!(StoreOptions::default().prefix("a:b").problem(), None);
    }

    #[test]
    fn zero_durations_are_refused() {
        let zero = Duration::ZERO;
        assert!(StoreOptions::default().deadline(zero).problem().is_some());
        assert!(
            StoreOptions::default()
                .connect_timeout(zero)
                .problem()
                .is_some()
        );
    }

    #[test]
    fn replica_wait_must_fit_in_the_deadline() {
        let deadline = Duration::from_millis(100);
        let options = StoreOptions::default().deadline(deadline);
        assert!(
            options
                .clone()
                .wait_for_replicas(1, deadline)
                .problem()
                .is_some()
        );
        let shorter = options.wait_for_replicas(1, Duration::from_millis(99));
        assert_eq!(shorter.problem(), None);
    }
}
