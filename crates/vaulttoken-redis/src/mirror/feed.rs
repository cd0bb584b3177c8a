//! The feed: one task that keeps a [`MirrorTable`] equal to Redis's state
//! by following a single server's change stream.
//!
//! - **Replay.** It reads the feed record (`n i h t`), the whole stream
//!   (`XRANGE`, in pages), and every slot's epoch marker (`MGET`): the
//!   stream is trimmed only of changes that have expired, so this is the
//!   whole current state.
//! - **Follow.** It then sends, again and again, one pipeline: the feed's
//!   `i`, the anonymous subjects' epoch marker, and a
//!   blocking `XREAD` from the last entry. Changes are applied in order, each
//!   numbered one more than the last. An answer that held every change there
//!   was (fewer than the read's count) means everything committed before the
//!   pipeline was sent is applied: the freshness "heard" instant.
//! - **Rebuild.** Another `i` (the stream is gone: Redis lost its data), the
//!   marker gone or holding another epoch (written again after a loss,
//!   maybe by another instance before this feed reconnected: the only
//!   witness of a loss while no change was ever appended), or a change out
//!   of sequence (trimmed past the reader, or
//!   deleted by hand): the table is cleared and replayed, checks go to Redis
//!   meanwhile.
//! - **A gap trimming does not explain.** Trimming removes the oldest
//!   entries only, once what they describe expired, and counts them (the
//!   record's `f`). A replay whose stream starts at the change numbered `n`
//!   is whole at once if at least `n - 1` were trimmed. Otherwise (a hole
//!   further in, too few trimmed, or changes missing after the last entry)
//!   someone removed entries by hand, and what they described may still
//!   matter until the time of the entry after the hole plus the horizon
//!   `h`: until then the table does not answer (error-level log).
//! - **Faults.** A failed or late call drops the connection; the task
//!   reconnects with backoff and resumes from the last entry. While it does,
//!   the table ages past `max_staleness` and checks go to Redis.
//!
//! Epoch markers are read at replay; while some are missing (a read-only
//! mirror before any writer connected, or after a loss), they are read
//! again every few heartbeats, and checks in their slots go to Redis.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Value, cmd, pipe};

use crate::changes;
use crate::keys::{self, KeyLayout};
use crate::mirror::{MIRROR_CLIENT_NAME, Shared};

/// The most entries one read returns.
pub(super) const PAGE: usize = 1_000;

/// How many markers one `MGET` reads.
const MARKERS_PER_READ: usize = 1_024;

/// Every how many heartbeats missing markers are read again, and expired
/// entries purged.
const CHORE_EVERY: u32 = 4;

/// How the feed reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedSettings {
    /// How long a blocking read waits for a change (and so how often the
    /// feed hears from Redis when nothing changes).
    pub(crate) heartbeat: Duration,
    /// How long any other call may take, on top of the heartbeat for the
    /// blocking one.
    pub(crate) deadline: Duration,
    /// The first and the longest wait between reconnection attempts.
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
}

impl FeedSettings {
    /// The pause after `delay` between reconnection attempts: doubled, at
    /// most the longest. Both feeds back off by it.
    pub(super) fn next_delay(&self, delay: Duration) -> Duration {
        (delay * 2).min(self.reconnect_max)
    }
}

/// The feed of one single server.
pub(crate) struct Feed {
    client: Client,
    stream: String,
    feed: String,
    /// The anonymous subjects' epoch marker: the data's witness.
    marker: String,
    /// Every slot's marker, in slot order.
    markers: Vec<String>,
    settings: FeedSettings,
    shared: Arc<Shared>,
}

/// Where the feed is in the stream it follows.
#[derive(Debug)]
struct Cursor {
    /// The last entry applied (`0-0` before any).
    last_id: StreamId,
    /// Its change number (the feed's `n` at replay when the stream was empty).
    last_n: u64,
    /// The feed's `i` (`None` before the stream began).
    incarnation: Option<Vec<u8>>,
    /// The anonymous subjects' epoch marker (`None`: not there).
    marker: Option<i64>,
}

/// Why the feed stops following.
#[derive(Debug)]
pub(super) enum Fault {
    /// The connection failed or a call was late: reconnect, resume.
    Connection,
    /// The table no longer matches the stream: rebuild.
    Rebuild(&'static str),
    /// Redis answered something the feed cannot read: rebuild after a
    /// pause (never answer from a table that may be wrong).
    Unreadable(&'static str),
}

impl Fault {
    /// Logs the fault (target `vaulttoken_redis`) and counts a rebuild.
    pub(super) fn report(&self, shared: &Shared) {
        match self {
            Self::Rebuild(reason) => {
                shared.rebuilds.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    target: "vaulttoken_redis",
                    reason,
                    "revocation mirror: rebuilding (checks go to Redis meanwhile)"
                );
            }
            Self::Connection => tracing::warn!(
                target: "vaulttoken_redis",
                "revocation mirror: lost a connection to Redis (or a cluster's slots moved); \
                 connecting again (checks go to Redis once the mirror is older than its \
                 max_staleness)"
            ),
            Self::Unreadable(reason) => tracing::error!(
                target: "vaulttoken_redis",
                reason,
                "revocation mirror: an answer it cannot read; checks go to Redis until a \
                 rebuild succeeds"
            ),
        }
    }
}

impl From<redis::RedisError> for Fault {
    fn from(_: redis::RedisError) -> Self {
        Self::Connection
    }
}

impl Feed {
    pub(crate) fn new(
        client: Client,
        keys: &KeyLayout,
        settings: FeedSettings,
        shared: Arc<Shared>,
    ) -> Self {
        let stream = keys.single_changes();
        Self {
            client,
            feed: keys::feed_of(&stream),
            stream,
            marker: keys.subject(None).epoch().to_owned(),
            markers: keys.all_epochs(),
            settings,
            shared,
        }
    }

    /// Runs until the task is aborted.
    pub(crate) async fn run(self) {
        let mut cursor = None;
        let mut delay = self.settings.reconnect_min;
        loop {
            if let Ok(mut connection) = self.connect().await {
                delay = self.settings.reconnect_min;
                loop {
                    let fault = self.serve(&mut connection, &mut cursor).await;
                    fault.report(&self.shared);
                    match fault {
                        Fault::Rebuild(_) => cursor = None,
                        Fault::Connection => break,
                        Fault::Unreadable(_) => {
                            cursor = None;
                            self.shared.freshness.broken();
                            break;
                        }
                    }
                }
            }
            tokio::time::sleep(delay).await;
            delay = self.settings.next_delay(delay);
        }
    }

    /// A connection of its own (a blocked read would stall every other
    /// call on a shared one), named so an operator can find it.
    async fn connect(&self) -> redis::RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.settings.deadline))
            .set_response_timeout(Some(self.settings.heartbeat + self.settings.deadline));
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut name = cmd("CLIENT");
        name.arg("SETNAME").arg(MIRROR_CLIENT_NAME);
        name.query_async::<Value>(&mut connection).await?;
        Ok(connection)
    }

    /// Replays when there is no cursor, then follows, until a fault.
    async fn serve(
        &self,
        connection: &mut MultiplexedConnection,
        cursor: &mut Option<Cursor>,
    ) -> Fault {
        let mut beats = 0_u32;
        loop {
            let step = match cursor {
                None => match self.replay(connection).await {
                    Ok(replayed) => {
                        *cursor = Some(replayed);
                        Ok(())
                    }
                    Err(fault) => Err(fault),
                },
                Some(held) => self.follow(connection, held).await,
            };
            if let Err(fault) = step {
                return fault;
            }
            beats = beats.wrapping_add(1);
            if beats.is_multiple_of(CHORE_EVERY)
                && let Err(fault) = self.chores(connection).await
            {
                return fault;
            }
        }
    }

    /// Clears the table and reads the whole state.
    async fn replay(&self, connection: &mut MultiplexedConnection) -> Result<Cursor, Fault> {
        let shared = &self.shared;
        shared.freshness.broken();
        shared.table.clear();
        let mut record = cmd("HMGET");
        record.arg(&self.feed).arg("n").arg("i").arg("h");
        let record: Value = record.query_async(connection).await?;
        let record = FeedRecord::read(&record).ok_or(Fault::Unreadable("the feed record"))?;

        // Changes may be missing before the first entry, between two, or
        // after the last (the record counts more). Trimming removes the
        // oldest entries only, and counts them (the record's `f`): the
        // changes missing before the entry numbered `n` are explained if
        // `n - 1` of them were trimmed. The last hole decides (the others
        // are older, and explained if it is).
        let mut last_hole: Option<(StreamId, u64)> = None;
        let mut last: Option<(StreamId, u64)> = None;
        let mut start = "-".to_owned();
        loop {
            let mut range = cmd("XRANGE");
            range
                .arg(&self.stream)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(PAGE);
            let page: Value = range.query_async(connection).await?;
            let entries = stream_entries(&page).ok_or(Fault::Unreadable("a stream range"))?;
            let count = entries.len();
            for (id, body) in entries {
                let numbered = changes::parse(&body).map_err(|_| Fault::Unreadable("a change"))?;
                let expected = last.map_or(1, |(_, n)| n + 1);
                if numbered.n != expected {
                    last_hole = Some((id, numbered.n));
                }
                shared.table.apply(&numbered.change);
                last = Some((id, numbered.n));
            }
            match last {
                Some((id, _)) if count == PAGE => start = format!("({id}"),
                _ => break,
            }
        }
        // Read after the entries: every entry trimmed before they were read
        // is counted.
        let mut trimmed = cmd("HGET");
        trimmed.arg(&self.feed).arg("f");
        let trimmed: Value = trimmed.query_async(connection).await?;
        let trimmed = trimmed_count(&trimmed).ok_or(Fault::Unreadable("the feed record"))?;
        let mut unexplained = last_hole
            .filter(|(_, n)| !trimming_explains(*n, trimmed))
            .map(|(id, _)| id);
        let last_n = last.map_or(0, |(_, n)| n);
        if last_n < record.n {
            // The newest entries are never trimmed: removed by hand.
            unexplained = Some(StreamId {
                millis: shared.freshness.wall_millis(Instant::now()),
                sequence: 0,
            });
        }
        let marker = self.read_markers(connection).await?;
        let now = Instant::now();
        let from = unexplained.map_or(now, |id| {
            tracing::error!(
                target: "vaulttoken_redis",
                "revocation mirror: the change stream lacks changes that trimming does not explain \
                 (removed by hand?); checks go to Redis until what they described has expired"
            );
            self.shared.unexplained_gaps.fetch_add(1, Ordering::Relaxed);
            let now_ms = shared.freshness.wall_millis(now);
            whole_after(id, record.horizon_ms, now, now_ms)
        });
        shared.freshness.whole_from(from);
        Ok(Cursor {
            last_id: last.map_or(StreamId::ZERO, |(id, _)| id),
            last_n: last_n.max(record.n),
            incarnation: record.incarnation,
            marker,
        })
    }

    /// One round of following: see the module documentation.
    async fn follow(
        &self,
        connection: &mut MultiplexedConnection,
        cursor: &mut Cursor,
    ) -> Result<(), Fault> {
        let sent = Instant::now();
        let block = u64::try_from(self.settings.heartbeat.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut round = pipe();
        round.cmd("HGET").arg(&self.feed).arg("i");
        round.cmd("GET").arg(&self.marker);
        round
            .cmd("XREAD")
            .arg("COUNT")
            .arg(PAGE)
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(cursor.last_id.to_string());
        let answers: Vec<Value> = round.query_async(connection).await?;
        let [incarnation, marker, read] = answers.as_slice() else {
            return Err(Fault::Unreadable("a follow round"));
        };
        let incarnation = optional_bytes(incarnation).ok_or(Fault::Unreadable("the feed's i"))?;
        match (&cursor.incarnation, &incarnation) {
            (Some(held), found) if found.as_ref() != Some(held) => {
                return Err(Fault::Rebuild(
                    "the change stream was replaced (Redis lost its data)",
                ));
            }
            _ => {}
        }
        let marker = optional_integer(marker).ok_or(Fault::Unreadable("an epoch marker"))?;
        if cursor.marker.is_some() && marker != cursor.marker {
            return Err(Fault::Rebuild(
                "an epoch marker is gone or holds another epoch (Redis lost its data)",
            ));
        }
        cursor.marker = marker;
        let entries = read_entries(read).ok_or(Fault::Unreadable("a stream read"))?;
        let count = entries.len();
        for (id, body) in entries {
            let numbered = changes::parse(&body).map_err(|_| Fault::Unreadable("a change"))?;
            if numbered.n != cursor.last_n + 1 {
                return Err(Fault::Rebuild(
                    "a change out of sequence (trimmed past the mirror)",
                ));
            }
            self.shared.table.apply(&numbered.change);
            cursor.last_id = id;
            cursor.last_n = numbered.n;
        }
        if cursor.incarnation.is_none() {
            cursor.incarnation = incarnation;
        }
        if count < PAGE {
            self.shared.freshness.heard(sent);
        }
        Ok(())
    }

    /// Every few rounds: drops expired entries, and reads the markers
    /// again while some are missing.
    async fn chores(&self, connection: &mut MultiplexedConnection) -> Result<(), Fault> {
        let now = self.shared.freshness.wall_millis(Instant::now());
        self.shared.table.purge(now);
        if self.shared.table.has_unknown_epochs() {
            self.read_markers(connection).await?;
        }
        Ok(())
    }

    /// Reads every slot's epoch marker into the table; answers the
    /// anonymous subjects' one.
    async fn read_markers(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<Option<i64>, Fault> {
        let mut anonymous = None;
        for (chunk_index, chunk) in self.markers.chunks(MARKERS_PER_READ).enumerate() {
            let mut read = cmd("MGET");
            read.arg(chunk);
            let values: Value = read.query_async(connection).await?;
            // `MGET` answers one value per key: a shorter answer is not
            // Redis's (no test against a real server can show the guard
            // at work; cargo-mutants' `true` for it survives for that reason).
            let values = match values {
                Value::Array(values) if values.len() == chunk.len() => values,
                _ => return Err(Fault::Unreadable("the epoch markers")),
            };
            for (index, (marker, value)) in chunk.iter().zip(values).enumerate() {
                let epoch = optional_integer(&value).ok_or(Fault::Unreadable("an epoch marker"))?;
                let Some(epoch) = epoch else { continue };
                if *marker == self.marker {
                    anonymous = Some(epoch);
                }
                // `markers` is in slot order.
                let slot = chunk_index * MARKERS_PER_READ + index;
                let slot = u16::try_from(slot).map_err(|_| Fault::Unreadable("a slot"))?;
                self.shared.table.apply_epoch(slot, epoch);
            }
        }
        Ok(anonymous)
    }
}

/// When a table may answer whose stream lacks changes older than `id`:
/// once `id`'s time plus the horizon has passed (every change missing
/// described something that ends by then).
pub(super) fn whole_after(id: StreamId, horizon_ms: i64, now: Instant, now_ms: i64) -> Instant {
    let until_ms = id.millis.saturating_add(horizon_ms);
    let left_ms = until_ms.saturating_sub(now_ms).max(0);
    now + Duration::from_millis(left_ms.unsigned_abs())
}

/// The feed record's fields.
#[derive(Debug)]
pub(super) struct FeedRecord {
    pub(super) n: u64,
    pub(super) incarnation: Option<Vec<u8>>,
    pub(super) horizon_ms: i64,
}

impl FeedRecord {
    /// `HMGET feed n i h`; missing fields are 0 (a stream not begun).
    pub(super) fn read(value: &Value) -> Option<Self> {
        let Value::Array(fields) = value else {
            return None;
        };
        let [n, i, h] = fields.as_slice() else {
            return None;
        };
        Some(Self {
            n: optional_integer(n)?.map_or(Some(0), |n| u64::try_from(n).ok())?,
            incarnation: optional_bytes(i)?,
            horizon_ms: optional_integer(h)?.unwrap_or(0).max(0),
        })
    }
}

/// Whether trimming explains the changes missing before the one numbered
/// `n`: it removes the oldest entries only, so all `n - 1` before it if it
/// removed at least that many (`trimmed`, the feed record's `f`).
pub(super) fn trimming_explains(n: u64, trimmed: u64) -> bool {
    n.saturating_sub(1) <= trimmed
}

/// The feed record's `f` (`HGET feed f`): how many entries trimming has
/// removed from the stream; nil is none.
pub(super) fn trimmed_count(value: &Value) -> Option<u64> {
    optional_integer(value)?.map_or(Some(0), |f| u64::try_from(f).ok())
}

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct StreamId {
    pub(super) millis: i64,
    pub(super) sequence: u64,
}

impl StreamId {
    pub(super) const ZERO: Self = Self {
        millis: 0,
        sequence: 0,
    };

    pub(super) fn parse(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        let (millis, sequence) = text.split_once('-')?;
        Some(Self {
            millis: millis.parse().ok().filter(|millis: &i64| *millis >= 0)?,
            sequence: sequence.parse().ok()?,
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.millis, self.sequence)
    }
}

/// The entries of an `XRANGE` answer: `[[id, [field, value, …]], …]`, each
/// as its id and its `c` field.
pub(super) fn stream_entries(value: &Value) -> Option<Vec<(StreamId, Vec<u8>)>> {
    let Value::Array(entries) = value else {
        return None;
    };
    entries
        .iter()
        .map(|entry| {
            let Value::Array(parts) = entry else {
                return None;
            };
            let [id, fields] = parts.as_slice() else {
                return None;
            };
            let id = StreamId::parse(bytes(id)?)?;
            let Value::Array(fields) = fields else {
                return None;
            };
            let [name, body] = fields.as_slice() else {
                return None;
            };
            (bytes(name)? == b"c").then_some(())?;
            Some((id, bytes(body)?.to_vec()))
        })
        .collect()
}

/// The entries of an `XREAD` answer of one stream: nil when the block
/// timed out, else `[[stream, entries]]` (RESP2) or `{stream: entries}`
/// (RESP3).
fn read_entries(value: &Value) -> Option<Vec<(StreamId, Vec<u8>)>> {
    match value {
        Value::Nil => Some(Vec::new()),
        Value::Array(streams) => match streams.as_slice() {
            [Value::Array(stream)] => match stream.as_slice() {
                [_, entries] => stream_entries(entries),
                _ => None,
            },
            _ => None,
        },
        Value::Map(streams) => match streams.as_slice() {
            [(_, entries)] => stream_entries(entries),
            _ => None,
        },
        _ => None,
    }
}

/// A bulk string: every string the feeds read (ids, fields, the feed
/// record's values, `CLUSTER SLOTS` hosts, published messages) is one in
/// RESP2 and RESP3 alike. Anything else is unreadable (the feed fails
/// closed): a simple string is no answer Redis gives to those reads.
pub(super) fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        _ => None,
    }
}

/// A bulk string or nil.
pub(super) fn optional_bytes(value: &Value) -> Option<Option<Vec<u8>>> {
    match value {
        Value::Nil => Some(None),
        other => bytes(other).map(|bytes| Some(bytes.to_vec())),
    }
}

/// A decimal bulk string, an integer, or nil.
pub(super) fn optional_integer(value: &Value) -> Option<Option<i64>> {
    match value {
        Value::Nil => Some(None),
        Value::Int(n) => Some(Some(*n)),
        other => std::str::from_utf8(bytes(other)?)
            .ok()?
            .parse()
            .ok()
            .map(Some),
    }
}
