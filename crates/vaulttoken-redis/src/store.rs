//! [`RedisStore`]: the [`TokenStore`] over one Redis server or a cluster.

use core::fmt;
use core::future::Future;
use std::sync::Arc;
use std::time::Instant;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Client, RedisResult, ScriptInvocation, Value, cmd};
use time::OffsetDateTime;
use vaulttoken::error::StoreError;
use vaulttoken::store::{
    Check, Consumption, NewFamily, Rotated, Rotation, StoreFuture, StoreHealth, TokenState,
    TokenStore,
};

use crate::connect_error::ConnectError;
use crate::connection::Connection;
use crate::digest::Digest;
use crate::epochs::{self, Sweep};
use crate::failure::Failure;
use crate::keys::{KeyLayout, SubjectKeys};
use crate::losses::Losses;
use crate::options::StoreOptions;
use crate::server_check::{
    self, CheckFailure, MINIMUM_VERSION, READ_ONLY_MINIMUM_VERSION, ServerCheck, ServerVersion,
};
use crate::write_deadline::{RedisClock, Sample};
use crate::{cluster_mode, replies, role, scripts, times};

/// A [`TokenStore`] in Redis, shared by every instance of a service: one
/// server (through a connection that reconnects in the background) or a
/// Redis Cluster.
///
/// - **One round trip per decode.** A subject's entries share one hash tag,
///   so [`TokenStore::check`] is one script call, on a cluster too.
/// - **Bounded.** Every key expires with the token it describes.
/// - **Deadlines.** Every call fails after [`StoreOptions::deadline`] with
///   [`StoreError::Timeout`]; a lost connection is
///   [`StoreError::Unreachable`] (a category, never the URL), and the next
///   calls succeed once the server is back.
/// - **A write that timed out was not made.** Each write script carries its
///   deadline in Redis's own clock and refuses itself when it reaches Redis
///   later ([`StoreOptions::reply_margin`]), so a caller that saw
///   [`StoreError::Timeout`] may retry.
/// - **Primaries only.** A server that is not (or no longer) a primary fails
///   every call with [`StoreError::Unreachable`], checks included: a replica
///   may not have the latest revocations.
/// - **Fail closed.** An answer the store cannot read is
///   [`StoreError::Protocol`], never a default.
/// - **Lost data is noticed.** Each cluster slot keeps the second its state
///   began (its epoch, in a marker that never expires); a token issued
///   before it is refused ([`TokenState::IssuedBeforeStoreEpoch`]). When a
///   check, a consume or a rotation finds its marker gone (Redis restarted
///   without persistence, was flushed or replaced), it refuses, starts a new
///   epoch, and the store reports the error-level audit event
///   `store_data_lost`: every token issued before the loss is refused, and
///   users sign in again.
/// - **Read-only, for resource servers.** With
///   [`StoreOptions::read_only`], the store only checks, as a Redis user
///   that may only read its keys: see there.
///
/// Cloning is cheap and shares the connection.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use vaulttoken::{LocalKey, LocalService};
/// use vaulttoken_redis::{RedisStore, StoreOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379", StoreOptions::default()).await?;
/// assert!(!store.server_check().eviction_policy.may_evict());
/// let service = LocalService::builder(LocalKey::generate()?)
///     .store(Arc::new(store))
///     .build();
/// # let token = String::new();
/// let verified = service.decode_async(&token).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: Connection,
    keys: KeyLayout,
    options: StoreOptions,
    server: ServerCheck,
    clock: Arc<RedisClock>,
    losses: Arc<Losses>,
}

impl fmt::Debug for RedisStore {
    /// The mode, prefix, deadline and server check: never a URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.connection.is_cluster() {
            "cluster"
        } else {
            "single server"
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("prefix", &self.options.prefix)
            .field("deadline", &self.options.deadline)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to one Redis server (`redis://[user:password@]host:port[/db]`,
    /// or `rediss://` built with a TLS feature of `redis`), checks its version
    /// and eviction policy, and warns (target `vaulttoken_redis`) unless the
    /// policy is `noeviction`. Then it creates the epoch markers that are
    /// missing: where none was found, the store's state begins now (a token
    /// issued before is refused), and it waits (at most 1.5 s) until this
    /// process's clock is past that second, so that the tokens it issues next
    /// are accepted. Where some were missing and others not, the data was
    /// lost, which it reports as `store_data_lost`. A read-only store
    /// ([`StoreOptions::read_only`]) creates no marker: where one is missing,
    /// its checks refuse tokens as issued before the store's epoch until a
    /// writing store has connected.
    ///
    /// # Errors
    ///
    /// [`ConnectError::InvalidUrl`], [`ConnectError::InvalidOptions`],
    /// [`ConnectError::Timeout`] after [`StoreOptions::connect_timeout`] (for
    /// the server check, then again for the epoch markers),
    /// [`ConnectError::Unreachable`], [`ConnectError::ServerTooOld`] for a
    /// server older than 6.2, [`ConnectError::ReadOnlyNeedsRedis7`] for a
    /// read-only store and a server older than 7.0,
    /// [`ConnectError::NotPrimary`] for a replica, and
    /// [`ConnectError::ClusterNode`] for a node of a Redis Cluster (before
    /// anything is written to it: use [`RedisStore::connect_cluster`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use vaulttoken_redis::{RedisStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let options = StoreOptions::default().deadline(Duration::from_millis(200));
    /// let store = RedisStore::connect("redis://127.0.0.1:6379", options).await?;
    /// println!("Redis {}", store.server_check().version);
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str, options: StoreOptions) -> Result<Self, ConnectError> {
        if let Some(reason) = options.problem() {
            return Err(ConnectError::InvalidOptions { reason });
        }
        let client = Client::open(url).map_err(|_| ConnectError::InvalidUrl)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.deadline))
            .set_response_timeout(Some(options.deadline))
            .set_number_of_retries(options.reconnect_retries)
            .set_min_delay(options.reconnect_min_delay)
            .set_max_delay(options.reconnect_max_delay);
        let timeout = options.connect_timeout;
        let connected = tokio::time::timeout(timeout, async {
            let manager = ConnectionManager::new_with_config(client, config).await?;
            let connection = Connection::Single(manager);
            if cluster_mode::is_cluster_node(&connection).await? {
                return Err(CheckFailure::ClusterNode);
            }
            let server = server_check::run(&connection).await?;
            let sample = Sample::take(&connection).await?;
            Ok::<_, CheckFailure>((connection, server, sample))
        })
        .await;
        Self::finish(connected, options)?.begin().await
    }

    /// Connects to a Redis Cluster through any of its nodes
    /// (`redis://host:port` each); every call goes to the primary of its
    /// subject's slot. Checks every primary as [`RedisStore::connect`] does.
    ///
    /// # Errors
    ///
    /// As for [`RedisStore::connect`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{RedisStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let nodes = ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3:6379"];
    /// let store = RedisStore::connect_cluster(nodes, StoreOptions::default()).await?;
    /// assert!(store.is_cluster());
    /// # Ok(()) }
    /// ```
    pub async fn connect_cluster<I, S>(
        nodes: I,
        options: StoreOptions,
    ) -> Result<Self, ConnectError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if let Some(reason) = options.problem() {
            return Err(ConnectError::InvalidOptions { reason });
        }
        let nodes: Vec<String> = nodes
            .into_iter()
            .map(|node| node.as_ref().to_owned())
            .collect();
        if nodes.is_empty() {
            return Err(ConnectError::InvalidOptions {
                reason: "no cluster node given",
            });
        }
        let client = ClusterClientBuilder::new(nodes)
            .connection_timeout(options.deadline)
            .response_timeout(options.deadline)
            .build()
            .map_err(|_| ConnectError::InvalidUrl)?;
        let timeout = options.connect_timeout;
        let connected = tokio::time::timeout(timeout, async {
            let cluster = client.get_async_connection().await?;
            let connection = Connection::Cluster(cluster);
            let server = server_check::run(&connection).await?;
            let sample = Sample::take(&connection).await?;
            Ok::<_, CheckFailure>((connection, server, sample))
        })
        .await;
        Self::finish(connected, options)?.begin().await
    }

    /// The end of a connect: a writing store creates the missing epoch
    /// markers; a read-only store writes nothing.
    async fn begin(self) -> Result<Self, ConnectError> {
        if self.options.read_only {
            return Ok(self);
        }
        self.begin_epochs().await
    }

    /// Creates the missing epoch markers (see [`RedisStore::connect`]).
    async fn begin_epochs(self) -> Result<Self, ConnectError> {
        let timeout = self.options.connect_timeout;
        let sweep = epochs::ensure_all(&self.connection, &self.keys);
        let sweep = match tokio::time::timeout(timeout, sweep).await {
            Err(_) => return Err(ConnectError::Timeout { timeout }),
            Ok(Err(error)) => return Err(connect_failure(&error, timeout)),
            Ok(Ok(sweep)) => sweep,
        };
        self.report_sweep(sweep);
        if let Some(epoch) = sweep.newest {
            epochs::wait_for(epoch).await;
        }
        Ok(self)
    }

    fn finish(
        connected: Result<
            Result<(Connection, ServerCheck, Sample), CheckFailure>,
            tokio::time::error::Elapsed,
        >,
        options: StoreOptions,
    ) -> Result<Self, ConnectError> {
        let timeout = options.connect_timeout;
        let (connection, server, sample) = match connected {
            Err(_) => return Err(ConnectError::Timeout { timeout }),
            Ok(Err(CheckFailure::VersionUnknown)) => return Err(ConnectError::VersionUnknown),
            Ok(Err(CheckFailure::NotPrimary)) => return Err(ConnectError::NotPrimary),
            Ok(Err(CheckFailure::ClusterNode)) => return Err(ConnectError::ClusterNode),
            Ok(Err(CheckFailure::Redis(error))) => return Err(connect_failure(&error, timeout)),
            Ok(Ok(found)) => found,
        };
        supported(server.version, options.read_only)?;
        let keys = KeyLayout::new(&options.prefix, connection.is_cluster());
        Ok(Self {
            connection,
            keys,
            options,
            server,
            clock: Arc::new(RedisClock::new(sample)),
            losses: Arc::default(),
        })
    }

    /// What connecting found of the epoch markers, reported: a loss as
    /// `store_data_lost`; no marker at all as a warning (a first use cannot be
    /// told from the loss of everything).
    fn report_sweep(&self, sweep: Sweep) {
        if sweep.found_loss() {
            self.losses.found();
        } else if sweep.all_new() {
            tracing::warn!(
                target: "vaulttoken_redis",
                "no epoch marker in Redis: the store's state begins now, and every token issued \
                 before is refused (a first use of this Redis, or it lost its data)"
            );
        }
    }

    /// What the store found at connect: the server version and its
    /// eviction policy (on a cluster, the oldest and the riskiest).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{EvictionPolicy, RedisStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379", StoreOptions::default()).await?;
    /// if store.server_check().eviction_policy != EvictionPolicy::NoEviction {
    ///     eprintln!("revocations may be evicted");
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn server_check(&self) -> &ServerCheck {
        &self.server
    }

    /// Where its keys are (for the mirror's slow path).
    pub(crate) fn keys(&self) -> &KeyLayout {
        &self.keys
    }

    /// The options the store was connected with.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{RedisStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let options = StoreOptions::default().prefix("auth");
    /// let store = RedisStore::connect("redis://127.0.0.1:6379", options).await?;
    /// assert_eq!(store.options().prefix, "auth");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Whether the store talks to a cluster.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{RedisStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379", StoreOptions::default()).await?;
    /// assert!(!store.is_cluster());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        self.connection.is_cluster()
    }

    /// Whether the store only checks ([`StoreOptions::read_only`]): its
    /// writes fail without contacting Redis.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{RedisStore, StoreOptions};
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let url = "redis://reader:password@127.0.0.1:6379";
    /// let store = RedisStore::connect(url, StoreOptions::default().read_only(true)).await?;
    /// assert!(store.is_read_only());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.options.read_only
    }

    /// `future`, within the deadline, with its failure as a category. An
    /// error only a replica gives (`READONLY`, `MASTERDOWN`) makes the store
    /// ask the server's role, within the same deadline, to say so.
    async fn within<T>(
        &self,
        future: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let deadline = self.options.deadline;
        let answer = tokio::time::timeout(deadline, async {
            match future.await {
                Ok(value) => Ok(value),
                Err(error) if role::from_a_replica(&error) => Err(self.role_failure(&error).await),
                Err(error) => Err(Failure::of(&error)),
            }
        })
        .await;
        match answer {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(failure)) => Err(failure.into_store_error(deadline)),
            Err(_) => Err(Failure::Timeout.into_store_error(deadline)),
        }
    }

    /// After `error` from a replica: [`Failure::NotPrimary`] if the server
    /// says it is not a primary, else the error's own category. On a cluster
    /// the cluster client follows the new primaries itself.
    async fn role_failure(&self, error: &redis::RedisError) -> Failure {
        if self.connection.is_cluster() {
            return Failure::of(error);
        }
        let mut info = cmd("INFO");
        info.arg("replication");
        match self.connection.query(&info).await {
            Ok(answer) if !role::answer_is_primary(&answer) => Failure::NotPrimary,
            _ => Failure::of(error),
        }
    }

    /// Runs a write script of `key`, one of the subject `keys`, within the
    /// deadline: its last two keys are the subject's change stream and feed
    /// record (`scripts::CHANGE_FEED`), added here after the script's own,
    /// and its last argument its deadline in Redis's clock (on a cluster,
    /// `key`'s primary's): one that reaches Redis too late refuses itself,
    /// so a write that timed out changed nothing.
    async fn write(
        &self,
        keys: &SubjectKeys<'_>,
        key: &str,
        script: &mut ScriptInvocation<'_>,
    ) -> Result<Value, StoreError> {
        if self.options.read_only {
            return Err(read_only_refusal());
        }
        let [changes, feed] = keys.change_feed();
        script.key(changes).key(feed);
        let gives_up = Instant::now().checked_add(self.options.deadline);
        self.within(async {
            let interval = self.options.clock_sample_interval;
            let sample = self.clock.sample(&self.connection, interval, key).await?;
            let last_start = gives_up.map_or(i64::MAX, |at| {
                sample.deadline_micros(at, self.options.reply_margin)
            });
            script.arg(last_start);
            let answer = self.connection.run(script).await;
            if let Err(error) = &answer {
                self.clock.doubt_after(error);
            }
            answer
        })
        .await
    }

    /// After a deciding script's `answer`: when it found its slot's data
    /// lost, reports the loss and creates the other slots' missing markers
    /// at once (one loss, one report; every slot's new epoch starts now).
    async fn notice_loss(&self, answer: &Value) {
        if replies::found_data_lost(answer) {
            self.notice_loss_found().await;
        }
    }

    /// After a read-only check of the slot of `marker`: a loss is reported
    /// when first seen (see [`Losses::marker_missing`]); a read-only store
    /// leaves the new epoch to a writing store.
    fn notice_marker(&self, marker: &str, answer: &Value) {
        if replies::found_data_lost(answer) {
            self.losses.marker_missing(marker);
        } else {
            self.losses.marker_present(marker);
        }
    }

    /// Reports a loss just found and creates every slot's missing marker.
    async fn notice_loss_found(&self) {
        self.losses.found();
        let sweep = epochs::ensure_all(&self.connection, &self.keys);
        if !matches!(
            tokio::time::timeout(self.options.deadline, sweep).await,
            Ok(Ok(_))
        ) {
            tracing::warn!(
                target: "vaulttoken_redis",
                "after a data loss, the other epoch markers could not be created: each slot \
                 begins its new epoch when it is next used"
            );
        }
    }

    /// The readiness check: on a single server, the epoch marker of the
    /// anonymous subjects' slot; on a cluster, that of the first slot of each
    /// slot range (`CLUSTER SLOTS`), so every primary is asked. Each probe is
    /// a script, so a replica refuses it and a down node fails it, within the
    /// deadline. A missing marker is a loss found without waiting for a token
    /// to use that slot: it is reported and the new epoch begins (by a
    /// writing store; a read-only one reports it once, and counts the loss
    /// over when every probed marker is back).
    async fn check_health(&self) -> Result<StoreHealth, StoreError> {
        let markers = match &self.connection {
            Connection::Single(_) => vec![self.keys.subject(None).epoch().to_owned()],
            Connection::Cluster(cluster) => self.first_markers_of_each_range(cluster).await?,
        };
        let mut lost = None;
        for marker in &markers {
            if self.probe(marker).await? == Value::Int(0) {
                lost = Some(marker);
            }
        }
        match lost {
            Some(marker) if self.options.read_only => self.losses.marker_missing(marker),
            Some(_) => self.notice_loss_found().await,
            None => self.losses.all_present(),
        }
        Ok(StoreHealth::new(self.losses.record()))
    }

    /// Whether `marker` is there (1) or not (0), by the read-only probe on
    /// a read-only store.
    async fn probe(&self, marker: &str) -> Result<Value, StoreError> {
        if self.options.read_only {
            let mut probe = scripts::READ_ONLY_PROBE.call();
            probe.key(marker);
            self.within(probe.run(&self.connection)).await
        } else {
            let probe = scripts::PROBE.key(marker);
            self.within(self.connection.run(&probe)).await
        }
    }

    /// The epoch marker of the first slot of each of the cluster's slot
    /// ranges.
    async fn first_markers_of_each_range(
        &self,
        cluster: &ClusterConnection,
    ) -> Result<Vec<String>, StoreError> {
        let ranges = self.within(epochs::cluster_slot_ranges(cluster)).await?;
        Ok(ranges
            .into_iter()
            .filter_map(|(first, _)| self.keys.epoch_of_slot(first))
            .collect())
    }

    /// Spends `token_id`, refusing a token issued before its slot's epoch.
    async fn spend(
        &self,
        subject: Option<&str>,
        token_id: &str,
        issued_at: Option<OffsetDateTime>,
        until: OffsetDateTime,
    ) -> Result<Consumption, StoreError> {
        let keys = self.keys.subject(subject);
        let key = keys.token(token_id);
        let mut script = scripts::CONSUME.key(&key);
        script
            .key(keys.epoch())
            .arg(times::expiry_millis(until))
            .arg(issued_seconds(issued_at))
            .arg(Digest::token(subject, token_id).to_hex());
        let answer = self.write(&keys, &key, &mut script).await?;
        let consumption = replies::consumption(&answer)?;
        self.notice_loss(&answer).await;
        self.replicated(&key).await?;
        Ok(consumption)
    }

    /// After a write of `key`: waits for the replicas, if the options ask.
    async fn replicated(&self, key: &str) -> Result<(), StoreError> {
        let Some(wait) = self.options.replicas else {
            return Ok(());
        };
        let mut command = cmd("WAIT");
        let millis = u64::try_from(wait.timeout.as_millis()).unwrap_or(u64::MAX);
        command.arg(wait.replicas).arg(millis.max(1));
        match self.within(self.connection.query_at(key, command)).await? {
            Value::Int(acknowledged) if acknowledged >= i64::from(wait.replicas) => Ok(()),
            Value::Int(_) => Err(StoreError::Unreachable {
                reason: "too few replicas acknowledged the write".into(),
            }),
            _ => Err(StoreError::Protocol {
                reason: "an unknown answer to WAIT".into(),
            }),
        }
    }
}

impl TokenStore for RedisStore {
    fn check<'a>(&'a self, check: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        Box::pin(async move {
            let keys = self.keys.subject(check.subject);
            let mut script_keys = vec![keys.token(check.token_id), keys.cutoff()];
            if let Some(slot) = check.latest_of {
                script_keys.push(keys.latest(slot));
            }
            if let Some(family) = check.family {
                script_keys.push(keys.family(family));
            }
            script_keys.push(keys.epoch().to_owned());
            let args = [
                issued_seconds(check.issued_at),
                check.token_id.to_owned(),
                flag(check.latest_of.is_some()).to_owned(),
                flag(check.family.is_some()).to_owned(),
            ];
            if self.options.read_only {
                let mut script = scripts::READ_ONLY_CHECK.call();
                for key in script_keys {
                    script.key(key);
                }
                for arg in args {
                    script.arg(arg);
                }
                let answer = self.within(script.run(&self.connection)).await?;
                let state = replies::token_state(&answer)?;
                self.notice_marker(keys.epoch(), &answer);
                return Ok(state);
            }
            let mut script = scripts::CHECK.prepare_invoke();
            for key in &script_keys {
                script.key(key);
            }
            for arg in &args {
                script.arg(arg);
            }
            let answer = self.within(self.connection.run(&script)).await?;
            let state = replies::token_state(&answer)?;
            self.notice_loss(&answer).await;
            Ok(state)
        })
    }

    fn revoke<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let keys = self.keys.subject(subject);
            let key = keys.token(token_id);
            let mut script = scripts::REVOKE.key(&key);
            script
                .arg(times::expiry_millis(until))
                .arg(Digest::token(subject, token_id).to_hex());
            replies::done(&self.write(&keys, &key, &mut script).await?)?;
            self.replicated(&key).await
        })
    }

    fn consume<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        Box::pin(self.spend(subject, token_id, None, until))
    }

    fn consume_issued_at<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        issued_at: Option<OffsetDateTime>,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        Box::pin(self.spend(subject, token_id, issued_at, until))
    }

    fn revoke_issued_before<'a>(
        &'a self,
        subject: &'a str,
        cutoff: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let keys = self.keys.subject(Some(subject));
            let key = keys.cutoff();
            let mut script = scripts::CUTOFF.key(&key);
            script
                .arg(times::seconds_ceil(cutoff))
                .arg(times::expiry_millis(until))
                .arg(Digest::subject(Some(subject)).to_hex());
            replies::done(&self.write(&keys, &key, &mut script).await?)?;
            self.replicated(&key).await
        })
    }

    fn supersede<'a>(
        &'a self,
        subject: Option<&'a str>,
        slot: &'a str,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let keys = self.keys.subject(subject);
            let key = keys.latest(slot);
            let mut script = scripts::SUPERSEDE.key(&key);
            script
                .arg(token_id)
                .arg(times::expiry_millis(until))
                .arg(Digest::latest(subject, slot).to_hex())
                .arg(Digest::token_id(token_id).to_hex());
            replies::done(&self.write(&keys, &key, &mut script).await?)?;
            self.replicated(&key).await
        })
    }

    fn create_family<'a>(&'a self, family: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let keys = self.keys.subject(Some(family.subject));
            let key = keys.family(family.id);
            let mut script = scripts::CREATE_FAMILY.key(&key);
            script
                .key(keys.families())
                .arg(family.id)
                .arg(times::seconds_floor(family.created_at))
                .arg(times::seconds_ceil(family.expires_at))
                .arg(times::expiry_millis(family.expires_at))
                .arg(
                    family
                        .max_per_subject
                        .map(|max| max.to_string())
                        .unwrap_or_default(),
                )
                .arg(Digest::family(Some(family.subject), family.id).to_hex());
            let answer = self.write(&keys, &key, &mut script).await?;
            let revoked = replies::created_family(&answer)?;
            self.replicated(&key).await?;
            Ok(revoked)
        })
    }

    fn rotate_family<'a>(&'a self, rotation: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
        Box::pin(async move {
            let keys = self.keys.subject(Some(rotation.subject));
            let key = keys.family(rotation.family_id);
            let presented = rotation.presented_generation;
            let (window, max_uses) = match rotation.grace {
                Some(grace) => (
                    times::duration_seconds_floor(grace.window).to_string(),
                    grace.max_uses.to_string(),
                ),
                None => (String::new(), String::new()),
            };
            let mut script = scripts::ROTATE.key(&key);
            script
                .key(keys.epoch())
                .arg(presented.to_string())
                .arg(
                    presented
                        .checked_add(1)
                        .map(|next| next.to_string())
                        .unwrap_or_default(),
                )
                .arg(times::seconds_floor(rotation.now))
                .arg(
                    rotation
                        .idle_timeout
                        .map(|idle| times::duration_seconds_floor(idle).to_string())
                        .unwrap_or_default(),
                )
                .arg(window)
                .arg(max_uses)
                .arg(Digest::family(Some(rotation.subject), rotation.family_id).to_hex());
            let answer = self.write(&keys, &key, &mut script).await?;
            let step = replies::rotated(&answer)?;
            self.notice_loss(&answer).await;
            self.replicated(&key).await?;
            Ok(step)
        })
    }

    fn revoke_family<'a>(
        &'a self,
        subject: Option<&'a str>,
        family_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let keys = self.keys.subject(subject);
            let key = keys.family(family_id);
            let mut script = scripts::REVOKE_FAMILY.key(&key);
            script.arg(Digest::family(subject, family_id).to_hex());
            replies::done(&self.write(&keys, &key, &mut script).await?)?;
            self.replicated(&key).await
        })
    }

    /// Every primary answers, as a primary, within the deadline, that its
    /// data is there (a Redis that lost everything is found by the check
    /// itself, reported, and its new epoch begun, by a writing store; a
    /// read-only store only reports it); then the losses this process
    /// found, if any.
    fn health(&self) -> StoreFuture<'_, StoreHealth> {
        Box::pin(self.check_health())
    }
}

/// Refuses a server older than [`MINIMUM_VERSION`], or, for a read-only
/// store, than [`READ_ONLY_MINIMUM_VERSION`].
fn supported(version: ServerVersion, read_only: bool) -> Result<(), ConnectError> {
    if version < MINIMUM_VERSION {
        return Err(ConnectError::ServerTooOld { found: version });
    }
    if read_only && version < READ_ONLY_MINIMUM_VERSION {
        return Err(ConnectError::ReadOnlyNeedsRedis7 { found: version });
    }
    Ok(())
}

/// What every write of a read-only store answers, before anything is sent.
fn read_only_refusal() -> StoreError {
    StoreError::Unreachable {
        reason: "this store is read-only (StoreOptions::read_only): revocations and other \
                 writes are made by the token server's writing store"
            .into(),
    }
}

/// A connect-time Redis failure, as a category.
fn connect_failure(error: &redis::RedisError, timeout: std::time::Duration) -> ConnectError {
    match Failure::of(error) {
        Failure::Timeout => ConnectError::Timeout { timeout },
        Failure::NotPrimary => ConnectError::NotPrimary,
        Failure::Unreachable(reason) | Failure::Protocol(reason) => ConnectError::Unreachable {
            reason: reason.into(),
        },
    }
}

/// A token's `iat` in whole seconds (rounded down), or empty.
fn issued_seconds(issued_at: Option<OffsetDateTime>) -> String {
    issued_at
        .map(|at| times::seconds_floor(at).to_string())
        .unwrap_or_default()
}

fn flag(set: bool) -> &'static str {
    if set { "1" } else { "0" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_from_6_2_are_supported() {
        assert_eq!(supported(ServerVersion::new(6, 2, 0), false), Ok(()));
        assert_eq!(supported(ServerVersion::new(7, 0, 15), false), Ok(()));
        assert_eq!(
            supported(ServerVersion::new(6, 0, 20), false),
            Err(ConnectError::ServerTooOld {
                found: ServerVersion::new(6, 0, 20)
            })
        );
        assert!(supported(ServerVersion::new(5, 9, 9), false).is_err());
    }

    #[test]
    fn a_read_only_store_needs_redis_7() {
        assert_eq!(supported(ServerVersion::new(7, 0, 0), true), Ok(()));
        assert_eq!(supported(ServerVersion::new(7, 2, 4), true), Ok(()));
        assert_eq!(
            supported(ServerVersion::new(6, 2, 14), true),
            Err(ConnectError::ReadOnlyNeedsRedis7 {
                found: ServerVersion::new(6, 2, 14)
            })
        );
        assert_eq!(
            supported(ServerVersion::new(6, 0, 20), true),
            Err(ConnectError::ServerTooOld {
                found: ServerVersion::new(6, 0, 20)
            })
        );
    }

    #[test]
    fn flags_are_one_and_zero() {
        assert_eq!((flag(true), flag(false)), ("1", "0"));
    }
}
