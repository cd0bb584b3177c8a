//! The feed of a Redis Cluster: one connection per primary, the per-slot
//! change streams read where they live.
//!
//! A cluster has one change stream per slot (each beside its subjects'
//! keys), so no single blocking read can follow them. Instead:
//! - **Wake-ups.** Every change is also published on the channel
//!   `<prefix>:changes` (classic pub/sub). The feed subscribes to it on a
//!   connection to *every* primary: a primary delivers its own publications
//!   to its own subscribers while the script runs, so a change made on
//!   primary P reaches the feed on P's connection before P answers any later
//!   command sent on it. The message only names the slot's stream: the
//!   change itself is read from the stream (`XRANGE` from the slot's last
//!   applied entry), so a forged or repeated message costs a read, never a
//!   wrong entry.
//! - **Heard.** Every heartbeat the feed reads a few of each primary's epoch
//!   markers on its connection (its slots in turn, [`PROBED`] a round);
//!   once the answer is back and every slot woken before it is read,
//!   everything that primary committed before the read was sent is
//!   applied. The mirror has heard from the cluster at the earliest of these
//!   instants over all primaries. A marker gone or changed is a rebuild: a
//!   primary that lost its data in place (`FLUSHALL`, its connections up)
//!   is told within a heartbeat, though no change follows the loss.
//! - **Topology.** Each round also reads `CLUSTER SLOTS`: a new set of
//!   primaries or a slot that moved makes the feed connect again, with a
//!   repair. So does any failed call.
//! - **Repair.** After (re)connecting, every slot is read from its last
//!   applied entry, its feed record compared (another `i`: the stream was
//!   replaced, so Redis lost that slot's data: rebuild), and its epoch
//!   marker read. A replay is a repair from nothing. Changes missing that
//!   trimming does not explain keep the mirror from answering, as for one
//!   server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ProtocolVersion, PushInfo,
    PushKind, Value, cmd, pipe,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::feed::{
    Fault, FeedRecord, FeedSettings, PAGE, StreamId, bytes, optional_integer, stream_entries,
    trimmed_count, trimming_explains, whole_after,
};
use crate::changes;
use crate::keys::{KeyLayout, SLOTS};
use crate::mirror::{MIRROR_CLIENT_NAME, Shared};

/// How many of a primary's epoch markers each heartbeat reads, its slots
/// in turn: a primary that lost its data lost them all, so one would tell;
/// the turn also finds, within `SLOTS / PROBED` rounds, a marker removed by
/// hand.
const PROBED: usize = 16;

/// A primary and the slots it serves (`CLUSTER SLOTS`), by address.
type Topology = BTreeMap<(String, u16), Vec<(u16, u16)>>;

/// The feed of one cluster. Every call it makes is within
/// `FeedSettings::deadline` (`tokio::time::timeout` around each), so its
/// connections need no timeouts of their own.
pub(crate) struct ClusterFeed {
    /// The seed nodes' connection settings (credentials, database): each
    /// primary is reached with them, at its own address.
    seeds: Vec<ConnectionInfo>,
    keys: KeyLayout,
    channel: String,
    settings: FeedSettings,
    shared: Arc<Shared>,
}

/// Where the feed is in one slot's stream.
#[derive(Debug, Clone, Default)]
struct SlotCursor {
    last_id: Option<StreamId>,
    last_n: u64,
    incarnation: Option<Vec<u8>>,
}

/// What one read of a slot found besides its entries.
struct SlotRead<'a> {
    record: &'a FeedRecord,
    /// The record's `f`, read after the entries.
    trimmed: u64,
    /// Whether a full page came back (more entries to read).
    more: bool,
}

/// A connection to one primary.
struct Link {
    connection: MultiplexedConnection,
    /// The slots it serves.
    ranges: Vec<(u16, u16)>,
    /// The send instant of its last answered read of epoch markers.
    heard: Option<Instant>,
    /// Where the next heartbeat's read of its markers starts, among its
    /// slots ([`probed_slots`]).
    probed: usize,
}

impl ClusterFeed {
    pub(crate) fn new(
        seeds: Vec<ConnectionInfo>,
        prefix: &str,
        settings: FeedSettings,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            seeds,
            keys: KeyLayout::new(prefix, true),
            channel: format!("{prefix}:changes"),
            settings,
            shared,
        }
    }

    /// Runs until the task is aborted.
    pub(crate) async fn run(self) {
        let mut cursors = vec![SlotCursor::default(); usize::from(SLOTS)];
        let mut delay = self.settings.reconnect_min;
        loop {
            let fault = self.session(&mut cursors, &mut delay).await;
            fault.report(&self.shared);
            if !matches!(fault, Fault::Connection) {
                // A rebuild, or an answer it could not read: start over.
                self.shared.freshness.broken();
                self.shared.table.clear();
                cursors.fill(SlotCursor::default());
            }
            if matches!(fault, Fault::Rebuild(_)) {
                continue;
            }
            tokio::time::sleep(delay).await;
            delay = self.settings.next_delay(delay);
        }
    }

    /// Connects to every primary, repairs every slot, then follows until a
    /// fault.
    async fn session(&self, cursors: &mut [SlotCursor], delay: &mut Duration) -> Fault {
        let topology = match self.topology().await {
            Ok(topology) => topology,
            Err(fault) => return fault,
        };
        let (sender, mut pushes) = unbounded_channel();
        let mut links = Vec::with_capacity(topology.len());
        for ((host, port), ranges) in &topology {
            match self.link(host, *port, ranges.clone(), sender.clone()).await {
                Ok(link) => links.push(link),
                Err(fault) => return fault,
            }
        }
        *delay = self.settings.reconnect_min;
        // Subscribed everywhere: every change from now on wakes the feed, and
        // every change before is in the streams.
        let fresh = cursors.iter().all(|cursor| cursor.last_id.is_none());
        if fresh {
            self.shared.freshness.broken();
        }
        let every: BTreeSet<u16> = (0..SLOTS).collect();
        let mut unexplained = None;
        if let Err(fault) = self
            .read_slots(&mut links, cursors, &every, &mut unexplained)
            .await
        {
            return fault;
        }
        if let Err(fault) = self.read_epochs(&mut links).await {
            return fault;
        }
        let now = Instant::now();
        let from = unexplained.map_or(now, |(id, horizon_ms)| {
            tracing::error!(
                target: "vaulttoken_redis",
                "revocation mirror: a change stream lacks changes that trimming does not \
                 explain (removed by hand?); checks go to Redis until what they described has \
                 expired"
            );
            self.shared.unexplained_gaps.fetch_add(1, Ordering::Relaxed);
            whole_after(id, horizon_ms, now, self.shared.freshness.wall_millis(now))
        });
        self.shared.freshness.whole_from(from);
        let mut rounds = 0_u32;
        loop {
            if let Err(fault) = self
                .round(&mut links, cursors, &mut pushes, &topology)
                .await
            {
                return fault;
            }
            rounds = rounds.wrapping_add(1);
            if rounds.is_multiple_of(4) {
                let now = self.shared.freshness.wall_millis(Instant::now());
                self.shared.table.purge(now);
                if self.shared.table.has_unknown_epochs()
                    && let Err(fault) = self.read_epochs(&mut links).await
                {
                    return fault;
                }
            }
            // Until the next round, read what wakes the feed.
            let next = Instant::now() + self.settings.heartbeat;
            loop {
                let left = next.saturating_duration_since(Instant::now());
                let Ok(woken) = tokio::time::timeout(left, pushes.recv()).await else {
                    break;
                };
                let Some(push) = woken else {
                    return Fault::Connection;
                };
                let mut slots = BTreeSet::new();
                if let Err(fault) = self.woken_slot(push, &mut slots) {
                    return fault;
                }
                while let Ok(push) = pushes.try_recv() {
                    if let Err(fault) = self.woken_slot(push, &mut slots) {
                        return fault;
                    }
                }
                let mut gap = None;
                if let Err(fault) = self.read_slots(&mut links, cursors, &slots, &mut gap).await {
                    return fault;
                }
                if gap.is_some() {
                    return Fault::Rebuild(
                        "a change stream lacks changes (trimmed past the mirror)",
                    );
                }
            }
        }
    }

    /// One heartbeat: the topology is unchanged, and each primary answers a
    /// read of [`PROBED`] of its epoch markers (the next in turn), which must
    /// hold what the table knows, after its earlier wake-ups were read.
    async fn round(
        &self,
        links: &mut [Link],
        cursors: &mut [SlotCursor],
        pushes: &mut UnboundedReceiver<PushInfo>,
        topology: &Topology,
    ) -> Result<(), Fault> {
        let Some(first) = links.first_mut() else {
            return Err(Fault::Connection);
        };
        let found = cluster_slots(&mut first.connection, self.settings.deadline).await?;
        if &found != topology {
            return Err(Fault::Connection);
        }
        for index in 0..links.len() {
            let sent = Instant::now();
            let link = &mut links[index];
            let probed = probed_slots(&link.ranges, link.probed);
            if probed.is_empty() {
                // Never: every primary of a topology serves a range
                // (`topology_of`), so a mutant without this guard is
                // equivalent. It is here because an empty pipeline would
                // count as heard without asking the primary anything.
                return Err(Fault::Unreadable("a primary without slots"));
            }
            link.probed = link.probed.wrapping_add(PROBED);
            self.check_epochs(link, &probed).await?;
            let mut slots = BTreeSet::new();
            while let Ok(push) = pushes.try_recv() {
                self.woken_slot(push, &mut slots)?;
            }
            let mut gap = None;
            self.read_slots(links, cursors, &slots, &mut gap).await?;
            if gap.is_some() {
                return Err(Fault::Rebuild(
                    "a change stream lacks changes (trimmed past the mirror)",
                ));
            }
            links[index].heard = Some(sent);
        }
        if let Some(earliest) = links.iter().map(|link| link.heard).min().flatten() {
            self.shared.freshness.heard(earliest);
        }
        Ok(())
    }

    /// The slot a push wakes, if it is a change message on the channel; a
    /// disconnection is a fault.
    fn woken_slot(&self, push: PushInfo, slots: &mut BTreeSet<u16>) -> Result<(), Fault> {
        match push.kind {
            // A lost connection also fails the next round's `PING` on it,
            // within a heartbeat: this only reconnects sooner (so no test
            // tells a mutant that deletes it; nothing answered differs).
            PushKind::Disconnection => Err(Fault::Connection),
            PushKind::Message => {
                // [channel, "<stream> <id> <entry>"]: only the stream is used.
                let stream = push
                    .data
                    .get(1)
                    .and_then(bytes)
                    .and_then(|payload| payload.split(|byte| *byte == b' ').next());
                if let Some(slot) = stream.and_then(|stream| self.keys.slot_of_stream(stream)) {
                    slots.insert(slot);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The cluster's primaries and their slots, from the first seed that
    /// answers.
    async fn topology(&self) -> Result<Topology, Fault> {
        for seed in &self.seeds {
            let Ok(client) = Client::open(seed.clone()) else {
                continue;
            };
            let config = AsyncConnectionConfig::new();
            let Ok(Ok(mut connection)) = tokio::time::timeout(
                self.settings.deadline,
                client.get_multiplexed_async_connection_with_config(&config),
            )
            .await
            else {
                continue;
            };
            if let Ok(topology) = cluster_slots(&mut connection, self.settings.deadline).await {
                return Ok(topology);
            }
        }
        Err(Fault::Connection)
    }

    /// A subscribed, named connection to the primary at `host:port`.
    async fn link(
        &self,
        host: &str,
        port: u16,
        ranges: Vec<(u16, u16)>,
        sender: UnboundedSender<PushInfo>,
    ) -> Result<Link, Fault> {
        let seed = self.seeds.first().ok_or(Fault::Connection)?;
        let settings = seed
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = seed
            .clone()
            .set_addr(ConnectionAddr::Tcp(host.to_owned(), port))
            .set_redis_settings(settings);
        let client = Client::open(info)?;
        let config = AsyncConnectionConfig::new().set_push_sender(sender);
        let connect = async {
            let mut connection = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            let mut name = cmd("CLIENT");
            name.arg("SETNAME").arg(MIRROR_CLIENT_NAME);
            name.query_async::<Value>(&mut connection).await?;
            connection.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(connection)
        };
        let connection = tokio::time::timeout(self.settings.deadline, connect)
            .await
            .map_err(|_| Fault::Connection)??;
        Ok(Link {
            connection,
            ranges,
            heard: None,
            probed: 0,
        })
    }

    /// Reads `slots` from their cursors, each on its primary's connection
    /// (one pipeline per primary): the feed record, then the entries after
    /// the last applied one. Changes missing that trimming explains are
    /// skipped; others are reported in `unexplained` (the newest entry after
    /// such a gap, and the horizon), or, in a stream followed since its
    /// start mark, fail as a rebuild.
    async fn read_slots(
        &self,
        links: &mut [Link],
        cursors: &mut [SlotCursor],
        slots: &BTreeSet<u16>,
        unexplained: &mut Option<(StreamId, i64)>,
    ) -> Result<(), Fault> {
        let mut pending: Vec<u16> = slots.iter().copied().collect();
        while !pending.is_empty() {
            let mut again = Vec::new();
            for link in links.iter_mut() {
                let mine: Vec<u16> = pending
                    .iter()
                    .copied()
                    .filter(|slot| serves(&link.ranges, *slot))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let mut reads = pipe();
                for slot in &mine {
                    let (stream, feed) = self.keys.changes_of_slot(*slot);
                    reads.cmd("HMGET").arg(&feed).arg("n").arg("i").arg("h");
                    let start = cursors[usize::from(*slot)]
                        .last_id
                        .map_or_else(|| "-".to_owned(), |id| format!("({id}"));
                    reads
                        .cmd("XRANGE")
                        .arg(&stream)
                        .arg(start)
                        .arg("+")
                        .arg("COUNT")
                        .arg(PAGE);
                    // After the entries: every one trimmed before is counted.
                    reads.cmd("HGET").arg(&feed).arg("f");
                }
                let answers: Vec<Value> = tokio::time::timeout(
                    self.settings.deadline,
                    reads.query_async(&mut link.connection),
                )
                .await
                .map_err(|_| Fault::Connection)??;
                if answers.len() != mine.len() * 3 {
                    return Err(Fault::Unreadable("a read of the change streams"));
                }
                for (slot, read) in mine.iter().zip(answers.chunks(3)) {
                    let record =
                        FeedRecord::read(&read[0]).ok_or(Fault::Unreadable("a feed record"))?;
                    let entries =
                        stream_entries(&read[1]).ok_or(Fault::Unreadable("a stream range"))?;
                    let trimmed =
                        trimmed_count(&read[2]).ok_or(Fault::Unreadable("a feed record"))?;
                    let full = entries.len() == PAGE;
                    let read = SlotRead {
                        record: &record,
                        trimmed,
                        more: full,
                    };
                    self.apply_slot(
                        &mut cursors[usize::from(*slot)],
                        &read,
                        entries,
                        unexplained,
                    )?;
                    if full {
                        again.push(*slot);
                    }
                }
            }
            pending = again;
        }
        Ok(())
    }

    /// Applies one slot's entries after its cursor. The changes missing
    /// before an entry numbered `n` are explained if trimming removed
    /// `n - 1` or more (trimming removes the oldest only); missing ones after
    /// the last entry never are.
    fn apply_slot(
        &self,
        cursor: &mut SlotCursor,
        read: &SlotRead<'_>,
        entries: Vec<(StreamId, Vec<u8>)>,
        unexplained: &mut Option<(StreamId, i64)>,
    ) -> Result<(), Fault> {
        let record = read.record;
        match (&cursor.incarnation, &record.incarnation) {
            (Some(held), found) if found.as_ref() != Some(held) => {
                return Err(Fault::Rebuild(
                    "a change stream was replaced (Redis lost a slot's data)",
                ));
            }
            (None, Some(found)) => cursor.incarnation = Some(found.clone()),
            _ => {}
        }
        let mut note = |id: StreamId| {
            let newest = unexplained.map_or(id, |(held, _)| held.max(id));
            *unexplained = Some((newest, record.horizon_ms));
        };
        for (id, body) in entries {
            let numbered = changes::parse(&body).map_err(|_| Fault::Unreadable("a change"))?;
            if numbered.n <= cursor.last_n && cursor.last_id.is_some() {
                return Err(Fault::Rebuild(
                    "a change numbered backwards (Redis lost data)",
                ));
            }
            if numbered.n != cursor.last_n + 1 && !trimming_explains(numbered.n, read.trimmed) {
                note(id);
            }
            self.shared.table.apply(&numbered.change);
            cursor.last_id = Some(id);
            cursor.last_n = numbered.n;
        }
        if !read.more && cursor.last_n < record.n {
            let now = self.shared.freshness.wall_millis(Instant::now());
            note(StreamId {
                millis: now,
                sequence: 0,
            });
            cursor.last_n = record.n;
        }
        Ok(())
    }

    /// Reads every slot's epoch marker, on its primary: a marker the table
    /// knew that is gone or changed is a rebuild.
    async fn read_epochs(&self, links: &mut [Link]) -> Result<(), Fault> {
        for link in links.iter_mut() {
            let slots: Vec<u16> = link
                .ranges
                .iter()
                .flat_map(|(first, last)| *first..=*last)
                .collect();
            self.check_epochs(link, &slots).await?;
        }
        Ok(())
    }

    /// Reads the epoch markers of `slots` on `link`'s primary (one pipeline):
    /// a marker the table knew that is gone or changed is a rebuild, and one
    /// it did not know is learnt.
    async fn check_epochs(&self, link: &mut Link, slots: &[u16]) -> Result<(), Fault> {
        let mut reads = pipe();
        for slot in slots {
            let marker = self
                .keys
                .epoch_of_slot(*slot)
                .ok_or(Fault::Unreadable("a slot"))?;
            reads.cmd("GET").arg(marker);
        }
        let answers: Vec<Value> = tokio::time::timeout(
            self.settings.deadline,
            reads.query_async(&mut link.connection),
        )
        .await
        .map_err(|_| Fault::Connection)??;
        if answers.len() != slots.len() {
            return Err(Fault::Unreadable("the epoch markers"));
        }
        for (slot, answer) in slots.iter().zip(&answers) {
            let epoch = optional_integer(answer).ok_or(Fault::Unreadable("an epoch marker"))?;
            let held = self.shared.table.epoch_of(*slot);
            match (held, epoch) {
                // A marker never changes while it exists: gone, or
                // another, means the slot's data was lost.
                (Some(held), found) if found != Some(held) => {
                    return Err(Fault::Rebuild(
                        "an epoch marker is gone or changed (Redis lost a slot's data)",
                    ));
                }
                (None, Some(epoch)) => self.shared.table.apply_epoch(*slot, epoch),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The [`PROBED`] slots of `ranges` whose markers a heartbeat reads: from
/// the `from`th slot the primary serves on (wrapping), all of them when it
/// serves fewer.
fn probed_slots(ranges: &[(u16, u16)], from: usize) -> Vec<u16> {
    let served: usize = ranges
        .iter()
        .map(|(first, last)| usize::from(last.saturating_sub(*first)) + 1)
        .sum();
    if served == 0 {
        return Vec::new();
    }
    let start = from % served;
    (0..PROBED.min(served))
        .filter_map(|i| nth_slot(ranges, (start + i) % served))
        .collect()
}

/// The `n`th slot (from 0) of `ranges`, in their order.
fn nth_slot(ranges: &[(u16, u16)], mut n: usize) -> Option<u16> {
    for (first, last) in ranges {
        let width = usize::from(last.saturating_sub(*first)) + 1;
        if n < width {
            return u16::try_from(n).ok().map(|n| first + n);
        }
        n -= width;
    }
    None
}

/// Whether `ranges` hold `slot`.
fn serves(ranges: &[(u16, u16)], slot: u16) -> bool {
    ranges
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&slot))
}

/// `CLUSTER SLOTS`, as primaries and their ranges.
async fn cluster_slots(
    connection: &mut MultiplexedConnection,
    deadline: Duration,
) -> Result<Topology, Fault> {
    let mut slots = cmd("CLUSTER");
    slots.arg("SLOTS");
    let answer: Value = tokio::time::timeout(deadline, slots.query_async(connection))
        .await
        .map_err(|_| Fault::Connection)??;
    topology_of(&answer).ok_or(Fault::Unreadable("CLUSTER SLOTS"))
}

/// `[[first, last, [host, port, …], replicas…], …]` as primaries.
fn topology_of(answer: &Value) -> Option<Topology> {
    let Value::Array(ranges) = answer else {
        return None;
    };
    let mut topology = Topology::new();
    for range in ranges {
        let Value::Array(parts) = range else {
            return None;
        };
        let [first, last, primary, ..] = parts.as_slice() else {
            return None;
        };
        let slot = |value: &Value| {
            optional_integer(value)
                .flatten()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n < SLOTS)
        };
        let (first, last) = (slot(first)?, slot(last)?);
        let Value::Array(node) = primary else {
            return None;
        };
        let [host, port, ..] = node.as_slice() else {
            return None;
        };
        let host = String::from_utf8(bytes(host)?.to_vec()).ok()?;
        let port = optional_integer(port)
            .flatten()
            .and_then(|port| u16::try_from(port).ok())?;
        topology
            .entry((host, port))
            .or_default()
            .push((first, last));
    }
    Some(topology)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use redis::Value;

    use super::{PROBED, probed_slots, topology_of};
    use crate::keys::SLOTS;

    fn range(first: i64, last: i64, port: i64) -> Value {
        let node = Value::Array(vec![
            Value::BulkString(b"127.0.0.1".to_vec()),
            Value::Int(port),
            Value::BulkString(b"a-node-id".to_vec()),
        ]);
        Value::Array(vec![Value::Int(first), Value::Int(last), node])
    }

    #[test]
    fn cluster_slots_are_read_as_primaries_and_their_ranges() {
        let answer = Value::Array(vec![
            range(0, 8191, 7000),
            range(8192, 16383, 7001),
            range(100, 100, 7000),
        ]);
        let topology = topology_of(&answer).expect("readable");
        let primaries: Vec<_> = topology.into_iter().collect();
        assert_eq!(
            primaries,
            [
                (("127.0.0.1".to_owned(), 7000), vec![(0, 8191), (100, 100)]),
                (("127.0.0.1".to_owned(), 7001), vec![(8192, 16383)]),
            ]
        );
    }

    /// A slot past the last (16383), a negative one, a port that is no
    /// port, a host that is not a string: unreadable, never a range the
    /// feed would read markers of.
    #[test]
    fn a_range_outside_the_slots_is_unreadable() {
        for bad in [
            range(0, 16384, 7000),
            range(16384, 16384, 7000),
            range(-1, 10, 7000),
            range(0, 10, 70_000),
        ] {
            assert_eq!(
                topology_of(&Value::Array(vec![bad.clone()])),
                None,
                "{bad:?}"
            );
        }
        let simple_host = Value::Array(vec![
            Value::Int(0),
            Value::Int(10),
            Value::Array(vec![
                Value::SimpleString("127.0.0.1".to_owned()),
                Value::Int(7000),
            ]),
        ]);
        assert_eq!(topology_of(&Value::Array(vec![simple_host])), None);
        assert_eq!(topology_of(&Value::Nil), None);
    }

    /// Each heartbeat reads the next `PROBED` markers of a primary's slots,
    /// across its ranges and around to the first, and in turn all of them.
    #[test]
    fn heartbeats_read_a_primarys_markers_in_turn() {
        let wide = [(0, 8191)];
        assert_eq!(probed_slots(&wide, 0), (0..16).collect::<Vec<u16>>());
        assert_eq!(probed_slots(&wide, 16), (16..32).collect::<Vec<u16>>());
        let around: Vec<u16> = [8190, 8191].into_iter().chain(0..14).collect();
        assert_eq!(probed_slots(&wide, 8190), around);
        assert_eq!(probed_slots(&wide, 8192 + 3), (3..19).collect::<Vec<u16>>());
        // Fewer slots than a heartbeat reads: all of them, from `from`.
        let narrow = [(5, 9), (100, 102), (7, 7)];
        let all: Vec<u16> = [5, 6, 7, 8, 9, 100, 101, 102, 7].into();
        assert_eq!(probed_slots(&narrow, 0), all);
        let from_two: Vec<u16> = [7, 8, 9, 100, 101, 102, 7, 5, 6].into();
        assert_eq!(probed_slots(&narrow, 2), from_two);
        assert!(probed_slots(&[], 0).is_empty());
        // The turn's counter wraps (`wrapping_add`); the slots never do.
        let last_turn: Vec<u16> = [8191].into_iter().chain(0..15).collect();
        assert_eq!(probed_slots(&wide, usize::MAX), last_turn);
        // In turn, every slot of every range.
        let split = [(0, 99), (8000, 16383)];
        let served: usize = 100 + 8384;
        let mut seen = BTreeSet::new();
        let mut from = 0;
        for _ in 0..served.div_ceil(PROBED) {
            seen.extend(probed_slots(&split, from));
            from += PROBED;
        }
        assert_eq!(seen.len(), served);
        let whole = [(0, SLOTS - 1)];
        assert_eq!(
            probed_slots(&whole, usize::from(SLOTS) - 1)[..2],
            [SLOTS - 1, 0]
        );
    }
}
