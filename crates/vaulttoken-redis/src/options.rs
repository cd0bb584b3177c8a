//! [`StoreOptions`]: the key prefix, the deadline of every call, the
//! optional wait for replicas, the reconnect pauses, and how write deadlines
//! are kept in Redis's clock.

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

/// How often in a row the single-server connection tries to reconnect
/// unless [`StoreOptions::reconnect_retries`] sets another: 6.
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{DEFAULT_RECONNECT_RETRIES, StoreOptions};
///
/// assert_eq!(StoreOptions::default().reconnect_retries, DEFAULT_RECONNECT_RETRIES);
/// assert_eq!(DEFAULT_RECONNECT_RETRIES, 6);
/// ```
pub const DEFAULT_RECONNECT_RETRIES: usize = 6;

/// The first pause between two reconnect attempts unless
/// [`StoreOptions::reconnect_min_delay`] sets another: 50 ms.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::{DEFAULT_RECONNECT_MIN_DELAY, StoreOptions};
///
/// assert_eq!(StoreOptions::default().reconnect_min_delay, DEFAULT_RECONNECT_MIN_DELAY);
/// assert_eq!(DEFAULT_RECONNECT_MIN_DELAY, Duration::from_millis(50));
/// ```
pub const DEFAULT_RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);

/// The pause between two reconnect attempts stops growing here unless
/// [`StoreOptions::reconnect_max_delay`] sets another: 1 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::{DEFAULT_RECONNECT_MAX_DELAY, StoreOptions};
///
/// assert_eq!(StoreOptions::default().reconnect_max_delay, DEFAULT_RECONNECT_MAX_DELAY);
/// assert_eq!(DEFAULT_RECONNECT_MAX_DELAY, Duration::from_secs(1));
/// ```
pub const DEFAULT_RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);

/// The part of the deadline kept for a write's answer unless
/// [`StoreOptions::reply_margin`] sets another: 50 ms.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::{DEFAULT_REPLY_MARGIN, StoreOptions};
///
/// assert_eq!(StoreOptions::default().reply_margin, DEFAULT_REPLY_MARGIN);
/// assert_eq!(DEFAULT_REPLY_MARGIN, Duration::from_millis(50));
/// ```
pub const DEFAULT_REPLY_MARGIN: Duration = Duration::from_millis(50);

/// How old the store's reading of Redis's clock may get before a write
/// reads it again, unless [`StoreOptions::clock_sample_interval`] sets
/// another: 10 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::{DEFAULT_CLOCK_SAMPLE_INTERVAL, StoreOptions};
///
/// assert_eq!(StoreOptions::default().clock_sample_interval, DEFAULT_CLOCK_SAMPLE_INTERVAL);
/// assert_eq!(DEFAULT_CLOCK_SAMPLE_INTERVAL, Duration::from_secs(10));
/// ```
pub const DEFAULT_CLOCK_SAMPLE_INTERVAL: Duration = Duration::from_secs(10);

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
    /// How often in a row a single-server store tries to reconnect after it
    /// lost its connection, in the background; once they all failed, the
    /// next call starts over. Defaults to [`DEFAULT_RECONNECT_RETRIES`] (6).
    /// Calls keep their deadline meanwhile. (A cluster store reconnects
    /// through the cluster client's own policy, within the deadline.)
    pub reconnect_retries: usize,
    /// The first pause between two reconnect attempts; each next pause
    /// doubles, up to [`reconnect_max_delay`](Self::reconnect_max_delay),
    /// and each gets a random jitter of up to as much again. Defaults to
    /// [`DEFAULT_RECONNECT_MIN_DELAY`] (50 ms).
    pub reconnect_min_delay: Duration,
    /// The longest pause between two reconnect attempts (before jitter).
    /// Defaults to [`DEFAULT_RECONNECT_MAX_DELAY`] (1 s).
    pub reconnect_max_delay: Duration,
    /// The end of the deadline kept for a write's answer: a write (revoke,
    /// consume, cutoff, supersede, family create, rotate or revoke) that
    /// reaches Redis later than `deadline - reply_margin` (by Redis's own
    /// clock, counted early) refuses itself and changes nothing, and the
    /// caller gets [`StoreError::Timeout`](vaulttoken::error::StoreError::Timeout).
    /// So a write that timed out was not made, unless its answer took longer
    /// than this margin to come back. It must be shorter than the deadline.
    /// Defaults to [`DEFAULT_REPLY_MARGIN`] (50 ms).
    pub reply_margin: Duration,
    /// How old the store's reading of Redis's clock (for the write
    /// deadlines) may get before the next write reads it again (one `TIME`
    /// call): this bounds how long a drift or a step of either clock can
    /// make write deadlines late. Defaults to
    /// [`DEFAULT_CLOCK_SAMPLE_INTERVAL`] (10 s). On a cluster every write
    /// reads its own primary's clock instead (one more round trip per
    /// write), so this does not apply there.
    pub clock_sample_interval: Duration,
    /// A store that only checks: for a resource server that sees the token
    /// server's revocations through a Redis ACL user limited to reading the
    /// store's keys. Its check runs as a read-only script (`EVALSHA_RO`,
    /// Redis 7 or later), connecting writes nothing (no epoch marker is
    /// created), and every write fails with
    /// [`StoreError::Unreachable`](vaulttoken::error::StoreError::Unreachable)
    /// without contacting Redis. See
    /// [`read_only`](Self::read_only()). Defaults to `false`.
    pub read_only: bool,
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
            reconnect_retries: DEFAULT_RECONNECT_RETRIES,
            reconnect_min_delay: DEFAULT_RECONNECT_MIN_DELAY,
            reconnect_max_delay: DEFAULT_RECONNECT_MAX_DELAY,
            reply_margin: DEFAULT_REPLY_MARGIN,
            clock_sample_interval: DEFAULT_CLOCK_SAMPLE_INTERVAL,
            read_only: false,
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

    /// Makes the store read-only (default `false`): for a resource server
    /// that checks tokens against the token server's revocations, connected
    /// as a Redis ACL user that may only read the store's keys, for example
    ///
    /// ```text
    /// ACL SETUSER reader on >password resetkeys %R~vaulttoken:{* resetchannels -@all
    ///     +eval_ro +evalsha_ro +get +hget +exists +info +time
    /// ```
    ///
    /// (`vaulttoken` is the prefix; every key of the store has a hash tag
    /// after it, so `vaulttoken:{*` leaves out other keys under the same
    /// prefix). `CONFIG GET` is not needed: without it the eviction policy is
    /// reported [`Unchecked`](crate::EvictionPolicy::Unchecked), with a
    /// warning. What changes:
    ///
    /// - [`TokenStore::check`](vaulttoken::store::TokenStore::check) and
    ///   [`TokenStore::health`](vaulttoken::store::TokenStore::health) run
    ///   as read-only scripts (`EVALSHA_RO`, with `EVAL_RO` when the server
    ///   does not have the script yet), so the server needs Redis 7 or later:
    ///   connecting to an older one fails with
    ///   [`ConnectError::ReadOnlyNeedsRedis7`](crate::ConnectError::ReadOnlyNeedsRedis7).
    /// - Connecting writes nothing: it creates no epoch marker. Where a
    ///   slot's marker is missing (the token server has not connected yet,
    ///   or Redis lost its data), a check refuses every token
    ///   as issued before the store's epoch, and reports the loss
    ///   (`store_data_lost`) once, until the writing store begins the new
    ///   epoch.
    /// - Every write (revoke, consume, cutoff, supersede, family create,
    ///   rotate and revoke) fails with
    ///   [`StoreError::Unreachable`](vaulttoken::error::StoreError::Unreachable)
    ///   without contacting Redis: it never pretends to succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// let options = StoreOptions::default().read_only(true);
    /// assert!(options.read_only);
    /// assert!(!StoreOptions::default().read_only);
    /// ```
    #[must_use]
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
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

    /// Sets how often in a row the connection tries to reconnect (default
    /// 6); with `0`, one attempt, and the next call that finds the
    /// connection lost starts another.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// assert_eq!(StoreOptions::default().reconnect_retries(10).reconnect_retries, 10);
    /// ```
    #[must_use]
    pub fn reconnect_retries(mut self, retries: usize) -> Self {
        self.reconnect_retries = retries;
        self
    }

    /// Sets the first pause between two reconnect attempts (default 50 ms);
    /// it must be longer than zero and no longer than
    /// [`reconnect_max_delay`](Self::reconnect_max_delay).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// let options = StoreOptions::default().reconnect_min_delay(Duration::from_millis(200));
    /// assert_eq!(options.reconnect_min_delay, Duration::from_millis(200));
    /// ```
    #[must_use]
    pub fn reconnect_min_delay(mut self, delay: Duration) -> Self {
        self.reconnect_min_delay = delay;
        self
    }

    /// Sets the longest pause between two reconnect attempts (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// let options = StoreOptions::default().reconnect_max_delay(Duration::from_secs(5));
    /// assert_eq!(options.reconnect_max_delay, Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn reconnect_max_delay(mut self, delay: Duration) -> Self {
        self.reconnect_max_delay = delay;
        self
    }

    /// Sets the part of the deadline kept for a write's answer (default
    /// 50 ms; shorter than the deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// let options = StoreOptions::default().reply_margin(Duration::from_millis(100));
    /// assert_eq!(options.reply_margin, Duration::from_millis(100));
    /// ```
    #[must_use]
    pub fn reply_margin(mut self, margin: Duration) -> Self {
        self.reply_margin = margin;
        self
    }

    /// Sets how old the reading of Redis's clock may get (default 10 s;
    /// longer than zero).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::StoreOptions;
    ///
    /// let options = StoreOptions::default().clock_sample_interval(Duration::from_secs(1));
    /// assert_eq!(options.clock_sample_interval, Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn clock_sample_interval(mut self, interval: Duration) -> Self {
        self.clock_sample_interval = interval;
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
        if self.reconnect_min_delay.is_zero() {
            return Some("the first reconnect pause must be longer than zero");
        }
        if self.reconnect_min_delay > self.reconnect_max_delay {
            return Some("the first reconnect pause must not be longer than the longest");
        }
        if self.reply_margin >= self.deadline {
            return Some("the reply margin must be shorter than the deadline");
        }
        if self.clock_sample_interval.is_zero() {
            return Some("the clock sample interval must be longer than zero");
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
    fn reconnect_defaults_are_documented_values() {
        let options = StoreOptions::default();
        assert_eq!(options.reconnect_retries, 6);
        assert_eq!(options.reconnect_min_delay, Duration::from_millis(50));
        assert_eq!(options.reconnect_max_delay, Duration::from_secs(1));
    }

    #[test]
    fn reconnect_pauses_must_be_ordered_and_not_zero() {
        let second = Duration::from_secs(1);
        assert!(
            StoreOptions::default()
                .reconnect_min_delay(Duration::ZERO)
                .problem()
                .is_some()
        );
        let reversed = StoreOptions::default()
            .reconnect_min_delay(second * 2)
            .reconnect_max_delay(second);
        assert!(reversed.problem().is_some());
        let equal = StoreOptions::default()
            .reconnect_min_delay(second)
            .reconnect_max_delay(second);
        assert_eq!(equal.problem(), None);
        let none = StoreOptions::default().reconnect_retries(0);
        assert_eq!(none.problem(), None);
    }

    #[test]
    fn write_deadline_defaults_are_documented_values() {
        let options = StoreOptions::default();
        assert_eq!(options.reply_margin, Duration::from_millis(50));
        assert_eq!(options.clock_sample_interval, Duration::from_secs(10));
    }

    #[test]
    fn the_reply_margin_must_fit_in_the_deadline() {
        let deadline = Duration::from_millis(100);
        let options = StoreOptions::default().deadline(deadline);
        assert!(options.clone().reply_margin(deadline).problem().is_some());
        let shorter = options.clone().reply_margin(Duration::from_millis(99));
        assert_eq!(shorter.problem(), None);
        assert_eq!(options.reply_margin(Duration::ZERO).problem(), None);
        // The default margin does not fit a deadline as short as itself.
        let short = StoreOptions::default().deadline(Duration::from_millis(50));
        assert!(short.problem().is_some());
    }

    #[test]
    fn the_clock_sample_interval_is_not_zero() {
        let zero = StoreOptions::default().clock_sample_interval(Duration::ZERO);
        assert!(zero.problem().is_some());
        let tiny = StoreOptions::default().clock_sample_interval(Duration::from_nanos(1));
        assert_eq!(tiny.problem(), None);
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
