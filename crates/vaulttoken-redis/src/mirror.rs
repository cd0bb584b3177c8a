//! [`MirroredStore`]: a [`RedisStore`] whose checks answer from a local
//! mirror of the store's state, fed by the change stream, within a stated
//! staleness bound.

mod cluster_feed;
mod feed;
mod freshness;
pub(crate) mod table;

use core::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::{Client, ConnectionAddr, IntoConnectionInfo as _};
use vaulttoken::store::{
    Check, Consumption, NewFamily, Rotated, Rotation, StoreFuture, StoreHealth, TokenState,
    TokenStore,
};

use crate::connect_error::ConnectError;
use crate::digest::Digest;
use crate::keys::KeyLayout;
use crate::options::StoreOptions;
use crate::store::RedisStore;
use crate::times;

use self::cluster_feed::ClusterFeed;
use self::feed::{Feed, FeedSettings};
use self::freshness::Freshness;
use self::table::{Answer, MirrorTable, Query};

/// The name a mirror's feed connection gives itself (`CLIENT SETNAME`),
/// so an operator finds it in `CLIENT LIST`.
///
/// # Examples
///
/// ```
/// assert_eq!(vaulttoken_redis::MIRROR_CLIENT_NAME, "vaulttoken-mirror");
/// ```
pub const MIRROR_CLIENT_NAME: &str = "vaulttoken-mirror";

/// How old the mirror may be and still answer, unless
/// [`MirrorOptions::max_staleness`] sets another: 2 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::{DEFAULT_MAX_STALENESS, MirrorOptions};
///
/// assert_eq!(MirrorOptions::default().max_staleness, DEFAULT_MAX_STALENESS);
/// assert_eq!(DEFAULT_MAX_STALENESS, Duration::from_secs(2));
/// ```
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(2);

/// How many entries the mirror holds at most, unless
/// [`MirrorOptions::max_entries`] sets another: 4,000,000 (about 180 MiB).
///
/// # Examples
///
/// ```
/// use vaulttoken_redis::{DEFAULT_MAX_ENTRIES, MirrorOptions};
///
/// assert_eq!(MirrorOptions::default().max_entries, DEFAULT_MAX_ENTRIES);
/// ```
pub const DEFAULT_MAX_ENTRIES: usize = 4_000_000;

/// How often [`MirroredStore::wait_current`] looks.
const WAIT_STEP: Duration = Duration::from_millis(10);

/// The shortest heartbeat: a blocking read shorter than this costs Redis
/// calls for nothing.
const MIN_HEARTBEAT: Duration = Duration::from_millis(20);

/// How a [`MirroredStore`]'s mirror follows Redis. Every field has a
/// builder method of the same name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use vaulttoken_redis::MirrorOptions;
///
/// let options = MirrorOptions::default().max_staleness(Duration::from_millis(500));
/// assert_eq!(options.max_staleness, Duration::from_millis(500));
/// assert_eq!(options.heartbeat(), Duration::from_micros(62_500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MirrorOptions {
    /// The staleness bound, the mirror's security contract: a check answers
    /// from memory only if the mirror has heard from Redis within it, so a
    /// token revoked anywhere is refused everywhere at most this long after
    /// the revocation returned. Past it, checks go to Redis (and fail as
    /// unavailable if Redis does not answer either): never "valid" from a
    /// stale mirror. Defaults to [`DEFAULT_MAX_STALENESS`] (2 s); at least
    /// 160 ms (eight of the shortest heartbeat).
    pub max_staleness: Duration,
    /// The most entries (revoked and spent ids, cutoffs, latest tokens,
    /// families) the mirror holds: beyond it the mirror stops answering and
    /// says so at error level, and checks go to Redis, so its memory stays
    /// bounded whatever Redis holds. Defaults to [`DEFAULT_MAX_ENTRIES`].
    pub max_entries: usize,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        Self {
            max_staleness: DEFAULT_MAX_STALENESS,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl MirrorOptions {
    /// Sets [`MirrorOptions::max_staleness`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::MirrorOptions;
    ///
    /// let options = MirrorOptions::default().max_staleness(Duration::from_secs(1));
    /// assert_eq!(options.max_staleness, Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self
    }

    /// Sets [`MirrorOptions::max_entries`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_redis::MirrorOptions;
    ///
    /// assert_eq!(MirrorOptions::default().max_entries(10).max_entries, 10);
    /// ```
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// How long each blocking read waits, and so how often the mirror hears
    /// from Redis when nothing changes: an eighth of the staleness bound, at
    /// least 20 ms. A mirror is current as long as one read in eight comes
    /// back in time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use vaulttoken_redis::MirrorOptions;
    ///
    /// assert_eq!(MirrorOptions::default().heartbeat(), Duration::from_millis(250));
    /// ```
    #[must_use]
    pub fn heartbeat(&self) -> Duration {
        (self.max_staleness / 8).max(MIN_HEARTBEAT)
    }

    fn problem(&self) -> Option<&'static str> {
        if self.max_staleness < MIN_HEARTBEAT * 8 {
            return Some("the mirror's max_staleness must be at least 160 ms");
        }
        if self.max_entries == 0 {
            return Some("the mirror's max_entries must be at least 1");
        }
        None
    }
}

/// What the mirror shares between its feed task and every check.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) table: MirrorTable,
    pub(crate) freshness: Freshness,
    /// Rebuilds since connect (a loss, a gap, a stream replaced).
    pub(crate) rebuilds: AtomicU64,
    /// Replays that found changes missing that trimming does not explain.
    pub(crate) unexplained_gaps: AtomicU64,
    /// Checks answered from memory.
    answered: AtomicU64,
    /// Checks sent to Redis because the mirror was not current.
    stale: AtomicU64,
    /// Checks sent to Redis because the mirror could not tell (an unknown
    /// family or epoch).
    unknown: AtomicU64,
}

impl Shared {
    fn new(mirror: &MirrorOptions) -> Self {
        Self {
            table: MirrorTable::new(mirror.max_entries),
            freshness: Freshness::new(mirror.max_staleness),
            rebuilds: AtomicU64::new(0),
            unexplained_gaps: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
        }
    }
}

/// How the feed of `mirror` over `store` reads.
fn feed_settings(store: &RedisStore, mirror: &MirrorOptions) -> FeedSettings {
    let options = store.options();
    FeedSettings {
        heartbeat: mirror.heartbeat(),
        deadline: options.deadline,
        reconnect_min: options.reconnect_min_delay,
        reconnect_max: options.reconnect_max_delay,
    }
}

/// A [`TokenStore`] over Redis whose checks answer from a local mirror of
/// the store's state, fed by the change stream every write appends to, so
/// a decode with a revocation check costs what a memory-store decode
/// costs, and Redis sees no call for it.
///
/// - **Stated staleness.** A check answers from memory only while the
///   mirror has heard from Redis within [`MirrorOptions::max_staleness`]:
///   a token revoked on any instance is refused here at most that long
///   after the revocation returned. Past it, checks are round trips to
///   Redis, and when those fail, [`StoreError`](vaulttoken::error::StoreError) (503): never "valid" from a
///   stale mirror.
/// - **Reads its own writes.** After a write through this store, checks of
///   its subject (of every subject if it failed) go to Redis until the
///   mirror has heard from a later read. Checks of other subjects still
///   answer from memory: a write changes only its subject's entries.
/// - **Exact.** The mirror answers as the store's own check would, in the
///   same order; where it cannot tell (a family it never saw created, a
///   slot whose epoch marker is missing), it asks Redis.
/// - **Writes go to Redis**, exactly once: consuming and refresh rotation
///   are decided there.
/// - **Lost data is noticed.** A stream replaced, an epoch marker gone,
///   or a change out of sequence makes the mirror rebuild from Redis;
///   changes missing from the stream that trimming does not explain keep it
///   from answering until what they described has expired.
/// - **One server or a cluster.** On one server the mirror follows its one
///   change stream with blocking reads; on a cluster it keeps one
///   connection to each primary, woken by the changes' publications, and
///   reads each slot's stream where it lives ([`MirroredStore::connect_cluster`]).
///
/// Every writer must run a version that appends changes (this one) before
/// any mirror is turned on: a write by an older writer appends nothing, and
/// no mirror could see it.
///
/// Cloning is cheap and shares the mirror; the feed task stops when the
/// last clone is dropped.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use vaulttoken::{LocalKey, LocalService};
/// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let mirror = MirrorOptions::default().max_staleness(Duration::from_secs(1));
/// let store =
///     MirroredStore::connect("redis://127.0.0.1:6379", StoreOptions::default(), mirror).await?;
/// assert!(store.status().current);
/// let service = LocalService::builder(LocalKey::generate()?)
///     .store(Arc::new(store))
///     .build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MirroredStore {
    inner: RedisStore,
    shared: Arc<Shared>,
    options: MirrorOptions,
    _feed: Arc<FeedTask>,
}

/// Aborts the feed task when the last [`MirroredStore`] clone is dropped.
struct FeedTask(tokio::task::JoinHandle<()>);

impl Drop for FeedTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for MirroredStore {
    /// The store and the mirror's status: never a URL, never an entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirroredStore")
            .field("store", &self.inner)
            .field("options", &self.options)
            .field("status", &self.status())
            .finish()
    }
}

/// What a [`MirroredStore`]'s mirror is doing, for metrics and readiness.
///
/// # Examples
///
/// ```no_run
/// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
///
/// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
/// let url = "redis://127.0.0.1:6379";
/// let store = MirroredStore::connect(url, StoreOptions::default(), MirrorOptions::default()).await?;
/// let status = store.status();
/// assert!(status.entries <= MirrorOptions::default().max_entries);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MirrorStatus {
    /// Whether checks answer from memory now (but those of a subject this
    /// process wrote since the mirror last heard from Redis).
    pub current: bool,
    /// How long ago the mirror last heard from Redis (`None`: never).
    pub heard_ago: Option<Duration>,
    /// Entries held: revoked and spent ids, cutoffs, latest tokens, families.
    pub entries: usize,
    /// An estimate of the memory they take, in bytes.
    pub table_bytes: usize,
    /// Whether the mirror met more entries than [`MirrorOptions::max_entries`]
    /// (it then answers nothing from memory).
    pub overflowed: bool,
    /// Rebuilds since connect.
    pub rebuilds: u64,
    /// Replays that found changes missing that trimming does not explain.
    pub unexplained_gaps: u64,
    /// Checks answered from memory.
    pub answered: u64,
    /// Checks sent to Redis because the mirror was not current.
    pub stale: u64,
    /// Checks sent to Redis because the mirror could not tell.
    pub unknown: u64,
}

impl MirroredStore {
    /// Connects a [`RedisStore`] to one Redis server (as
    /// [`RedisStore::connect`]), starts the mirror's feed on a connection of
    /// its own (named [`MIRROR_CLIENT_NAME`]), and waits, at most
    /// [`StoreOptions::connect_timeout`], for it to be current; a mirror
    /// that is not current yet (it warns) answers by round trips until it
    /// is. Works with a read-only store ([`StoreOptions::read_only`]) too:
    /// the feed only reads.
    ///
    /// # Errors
    ///
    /// As [`RedisStore::connect`], and [`ConnectError::InvalidOptions`] for
    /// a staleness bound under 160 ms or no room for entries.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let url = "redis://127.0.0.1:6379";
    /// let store = MirroredStore::connect(url, StoreOptions::default(), MirrorOptions::default()).await?;
    /// assert!(!store.store().is_cluster());
    /// # Ok(()) }
    /// ```
    pub async fn connect(
        url: &str,
        options: StoreOptions,
        mirror: MirrorOptions,
    ) -> Result<Self, ConnectError> {
        if let Some(reason) = mirror.problem() {
            return Err(ConnectError::InvalidOptions { reason });
        }
        let client = Client::open(url).map_err(|_| ConnectError::InvalidUrl)?;
        let inner = RedisStore::connect(url, options).await?;
        let shared = Arc::new(Shared::new(&mirror));
        let keys = KeyLayout::new(&inner.options().prefix, false);
        let feed = Feed::new(
            client,
            &keys,
            feed_settings(&inner, &mirror),
            Arc::clone(&shared),
        );
        Ok(Self::start(inner, shared, mirror, tokio::spawn(feed.run())).await)
    }

    /// Connects a [`RedisStore`] to a Redis Cluster (as
    /// [`RedisStore::connect_cluster`]) and starts the mirror's feed: one
    /// connection to each primary, subscribed to the changes' wake-ups,
    /// reading each slot's change stream where it lives. Waits for the
    /// mirror as [`MirroredStore::connect`] does.
    ///
    /// # Errors
    ///
    /// As [`RedisStore::connect_cluster`], [`ConnectError::InvalidOptions`]
    /// as for [`MirroredStore::connect`], and [`ConnectError::InvalidUrl`]
    /// for a node that is not a `redis://host:port` address.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let nodes = ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3:6379"];
    /// let store =
    ///     MirroredStore::connect_cluster(nodes, StoreOptions::default(), MirrorOptions::default())
    ///         .await?;
    /// assert!(store.store().is_cluster());
    /// # Ok(()) }
    /// ```
    pub async fn connect_cluster<I, S>(
        nodes: I,
        options: StoreOptions,
        mirror: MirrorOptions,
    ) -> Result<Self, ConnectError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if let Some(reason) = mirror.problem() {
            return Err(ConnectError::InvalidOptions { reason });
        }
        let nodes: Vec<String> = nodes
            .into_iter()
            .map(|node| node.as_ref().to_owned())
            .collect();
        let seeds = nodes
            .iter()
            .map(|node| {
                let info = node
                    .as_str()
                    .into_connection_info()
                    .map_err(|_| ConnectError::InvalidUrl)?;
                match info.addr() {
                    ConnectionAddr::Tcp(..) => Ok(info),
                    _ => Err(ConnectError::InvalidUrl),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let inner = RedisStore::connect_cluster(&nodes, options).await?;
        let shared = Arc::new(Shared::new(&mirror));
        let feed = ClusterFeed::new(
            seeds,
            &inner.options().prefix,
            feed_settings(&inner, &mirror),
            Arc::clone(&shared),
        );
        Ok(Self::start(inner, shared, mirror, tokio::spawn(feed.run())).await)
    }

    /// The store, its mirror fed by `feed`, once the mirror is current or
    /// the connect timeout passed.
    async fn start(
        inner: RedisStore,
        shared: Arc<Shared>,
        mirror: MirrorOptions,
        feed: tokio::task::JoinHandle<()>,
    ) -> Self {
        let store = Self {
            inner,
            shared,
            options: mirror,
            _feed: Arc::new(FeedTask(feed)),
        };
        let timeout = store.inner.options().connect_timeout;
        if !store.wait_current(timeout).await {
            tracing::warn!(
                target: "vaulttoken_redis",
                "revocation mirror: not current after the connect timeout; checks go to Redis \
                 until it is"
            );
        }
        store
    }

    /// Waits, at most `timeout`, until the mirror is current; answers
    /// whether it is.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let url = "redis://127.0.0.1:6379";
    /// let store = MirroredStore::connect(url, StoreOptions::default(), MirrorOptions::default()).await?;
    /// if !store.wait_current(Duration::from_secs(1)).await {
    ///     eprintln!("checks go to Redis for now");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_current(&self, timeout: Duration) -> bool {
        let give_up = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if self.shared.freshness.current(now) {
                return true;
            }
            if now >= give_up {
                return false;
            }
            tokio::time::sleep(WAIT_STEP.min(give_up - now)).await;
        }
    }

    /// What the mirror is doing.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let url = "redis://127.0.0.1:6379";
    /// let store = MirroredStore::connect(url, StoreOptions::default(), MirrorOptions::default()).await?;
    /// println!("{} entries, heard {:?} ago", store.status().entries, store.status().heard_ago);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn status(&self) -> MirrorStatus {
        let shared = &self.shared;
        let now = Instant::now();
        MirrorStatus {
            current: shared.freshness.current(now),
            heard_ago: shared.freshness.heard_ago(now),
            entries: shared.table.entries(),
            table_bytes: shared.table.bytes(),
            overflowed: shared.table.overflowed(),
            rebuilds: shared.rebuilds.load(Ordering::Relaxed),
            unexplained_gaps: shared.unexplained_gaps.load(Ordering::Relaxed),
            answered: shared.answered.load(Ordering::Relaxed),
            stale: shared.stale.load(Ordering::Relaxed),
            unknown: shared.unknown.load(Ordering::Relaxed),
        }
    }

    /// The [`RedisStore`] under the mirror: writes go there, and checks the
    /// mirror cannot answer.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let url = "redis://127.0.0.1:6379";
    /// let store = MirroredStore::connect(url, StoreOptions::default(), MirrorOptions::default()).await?;
    /// assert_eq!(store.store().options().prefix, "vaulttoken");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn store(&self) -> &RedisStore {
        &self.inner
    }

    /// The options the mirror runs with.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{DEFAULT_MAX_STALENESS, MirrorOptions, MirroredStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let url = "redis://127.0.0.1:6379";
    /// let store = MirroredStore::connect(url, StoreOptions::default(), MirrorOptions::default()).await?;
    /// assert_eq!(store.mirror_options().max_staleness, DEFAULT_MAX_STALENESS);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn mirror_options(&self) -> &MirrorOptions {
        &self.options
    }

    /// The mirror's answer to `check`, if it may and can give one.
    fn answer_from_memory(&self, check: &Check<'_>) -> Option<TokenState> {
        let shared = &self.shared;
        let generation = shared.freshness.generation();
        let subject = check.subject;
        let (id, subject_digest) = Digest::token_and_subject(subject, check.token_id);
        let Some(now_ms) = shared
            .freshness
            .current_at(Instant::now(), Some(subject_digest))
        else {
            shared.stale.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let keys = self.inner.keys();
        let slot = || keys.slot_of(subject);
        let query = Query {
            id,
            subject: subject_digest,
            issued_at: check.issued_at.map(times::seconds_floor),
            latest: check.latest_of.map(|latest| {
                (
                    Digest::latest(subject, latest),
                    Digest::token_id(check.token_id),
                )
            }),
            family: check.family.map(|family| Digest::family(subject, family)),
            slot: &slot,
        };
        let answer = shared.table.answer(&query, now_ms);
        if shared.freshness.generation() != generation {
            // A rebuild began while this check read the table.
            shared.stale.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        match answer {
            Answer::Known(state) => {
                shared.answered.fetch_add(1, Ordering::Relaxed);
                Some(state)
            }
            Answer::Unknown => {
                shared.unknown.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// `write` of `subject` through the store; once it returned, this
    /// process's checks of `subject` (of every subject if it failed) wait
    /// for the mirror to hear from a later read.
    fn write<'a, T: Send + 'a>(
        &'a self,
        subject: Option<&'a str>,
        write: StoreFuture<'a, T>,
    ) -> StoreFuture<'a, T> {
        self.write_changing(subject, write, |_| true)
    }

    /// As [`MirroredStore::write`], but a write whose answer `changed` says
    /// appended no change (nothing the mirror holds moved) leaves the
    /// checks of `subject` to the mirror: there is nothing to read back.
    fn write_changing<'a, T: Send + 'a>(
        &'a self,
        subject: Option<&'a str>,
        write: StoreFuture<'a, T>,
        changed: impl FnOnce(&T) -> bool + Send + 'a,
    ) -> StoreFuture<'a, T> {
        Box::pin(async move {
            let answer = write.await;
            let freshness = &self.shared.freshness;
            match &answer {
                Ok(done) if changed(done) => {
                    freshness.wrote(Instant::now(), Digest::subject(subject));
                }
                Ok(_) => {}
                Err(_) => freshness.write_failed(Instant::now()),
            }
            answer
        })
    }
}

impl TokenStore for MirroredStore {
    fn check<'a>(&'a self, check: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        match self.answer_from_memory(check) {
            Some(state) => Box::pin(core::future::ready(Ok(state))),
            None => self.inner.check(check),
        }
    }

    fn revoke<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.write(subject, self.inner.revoke(subject, token_id, until))
    }

    fn consume<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        self.write(subject, self.inner.consume(subject, token_id, until))
    }

    fn consume_issued_at<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        issued_at: Option<time::OffsetDateTime>,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        self.write(
            subject,
            self.inner
                .consume_issued_at(subject, token_id, issued_at, until),
        )
    }

    fn revoke_issued_before<'a>(
        &'a self,
        subject: &'a str,
        cutoff: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.write(
            Some(subject),
            self.inner.revoke_issued_before(subject, cutoff, until),
        )
    }

    fn supersede<'a>(
        &'a self,
        subject: Option<&'a str>,
        slot: &'a str,
        token_id: &'a str,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.write(
            subject,
            self.inner.supersede(subject, slot, token_id, until),
        )
    }

    fn create_family<'a>(&'a self, family: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
        self.write(Some(family.subject), self.inner.create_family(family))
    }

    /// A rotation that moves the family on, or replays inside its grace,
    /// appends no change (the family stays live, and the mirror holds no
    /// generations), so the subject's checks stay with the mirror; one that
    /// revokes the family appends its change and is read back as any
    /// write.
    fn rotate_family<'a>(&'a self, rotation: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
        self.write_changing(
            Some(rotation.subject),
            self.inner.rotate_family(rotation),
            |rotated| {
                !matches!(
                    rotated,
                    Rotated::Advanced { .. } | Rotated::GraceReplay { .. }
                )
            },
        )
    }

    fn revoke_family<'a>(
        &'a self,
        subject: Option<&'a str>,
        family_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        self.write(subject, self.inner.revoke_family(subject, family_id))
    }

    /// The store's health (every primary answers as a primary, its data
    /// there): the mirror's own state is in [`MirroredStore::status`].
    fn health(&self) -> StoreFuture<'_, StoreHealth> {
        self.inner.health()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builders_set_their_fields() {
        let options = MirrorOptions::default()
            .max_staleness(Duration::from_millis(700))
            .max_entries(12);
        assert_eq!(options.max_staleness, Duration::from_millis(700));
        assert_eq!(options.max_entries, 12);
        assert_eq!(
            MirrorOptions::default(),
            MirrorOptions {
                max_staleness: DEFAULT_MAX_STALENESS,
                max_entries: DEFAULT_MAX_ENTRIES,
            }
        );
    }

    #[test]
    fn the_heartbeat_is_an_eighth_of_the_bound_and_at_least_20_ms() {
        let heartbeat = |millis| {
            MirrorOptions::default()
                .max_staleness(Duration::from_millis(millis))
                .heartbeat()
        };
        assert_eq!(heartbeat(2_000), Duration::from_millis(250));
        assert_eq!(heartbeat(160), Duration::from_millis(20));
        assert_eq!(heartbeat(80), Duration::from_millis(20));
        assert_eq!(heartbeat(800), Duration::from_millis(100));
    }

    #[test]
    fn a_bound_under_160_ms_or_no_room_is_refused() {
        let with = |millis| MirrorOptions::default().max_staleness(Duration::from_millis(millis));
        assert_eq!(with(160).problem(), None);
        assert_eq!(with(2_000).problem(), None);
        assert_eq!(
            with(159).problem(),
            Some("the mirror's max_staleness must be at least 160 ms")
        );
        assert!(with(0).problem().is_some());
        assert_eq!(
            MirrorOptions::default().max_entries(0).problem(),
            Some("the mirror's max_entries must be at least 1")
        );
        assert_eq!(MirrorOptions::default().max_entries(1).problem(), None);
    }
}
