//! The store's epochs: when the state of each cluster slot began.
//!
//! Each slot has a marker, `<prefix>:{<slot tag>}:epoch`, holding a unix
//! second, and never expiring. A token issued before its slot's epoch is
//! refused: the store cannot say whether it was revoked or spent. Connecting
//! creates every missing marker ([`ensure_all`]); a deciding script that
//! finds its marker missing (the slot's data is gone) writes a new one and
//! answers "lost", and the store reports the loss ([`RedisStore`]'s
//! `data_lost`) and creates the other missing markers at once, so that one
//! loss is one report and every slot's new epoch starts together.
//!
//! The first use of a Redis and the loss of its data look the same, and are
//! treated the same: nothing issued before the state began is vouched for.
//!
//! [`RedisStore`]: crate::RedisStore

use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{RedisResult, Value, cmd, pipe};
use vaulttoken::clock::{Clock as _, SystemClock};

use crate::connection::Connection;
use crate::keys::{KeyLayout, SLOTS};

/// The longest a connect waits for the new epoch to begin.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_millis(1_500);

/// What [`ensure_all`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Sweep {
    /// Markers it created: slots whose state begins now.
    pub(crate) created: usize,
    /// Markers that were there.
    pub(crate) present: usize,
    /// The latest epoch it wrote, if any.
    pub(crate) newest: Option<i64>,
}

impl Sweep {
    /// Whether some slots had markers and others had lost theirs: data was
    /// lost (a cluster node restarted empty, or keys were deleted).
    pub(crate) fn found_loss(self) -> bool {
        self.created > 0 && self.present > 0
    }

    /// Whether no slot had a marker: a Redis used for the first time, or one
    /// that lost everything.
    pub(crate) fn all_new(self) -> bool {
        self.created > 0 && self.present == 0
    }

    fn add(&mut self, replies: &[Value], epoch: i64) {
        let created = replies
            .iter()
            .filter(|reply| matches!(reply, Value::Okay))
            .count();
        self.created += created;
        self.present += replies.len() - created;
        if created > 0 {
            self.newest = Some(self.newest.map_or(epoch, |newest| newest.max(epoch)));
        }
    }
}

/// Creates every missing epoch marker (`SET NX`, pipelined, per node on a
/// cluster), each with the next whole second of its node's clock.
pub(crate) async fn ensure_all(connection: &Connection, keys: &KeyLayout) -> RedisResult<Sweep> {
    let markers = keys.all_epochs();
    let mut sweep = Sweep::default();
    match connection {
        Connection::Single(manager) => {
            let time = cmd("TIME").query_async(&mut manager.clone()).await?;
            let epoch = next_second(&time)?;
            let replies: Vec<Value> = set_missing(&markers, epoch)
                .query_async(&mut manager.clone())
                .await?;
            sweep.add(&replies, epoch);
        }
        Connection::Cluster(cluster) => {
            for (first, last) in cluster_slot_ranges(cluster).await? {
                let Some(range) = markers.get(usize::from(first)..=usize::from(last)) else {
                    return Err(unreadable("a slot range outside the cluster's slots"));
                };
                let node = SingleNodeRoutingInfo::SpecificNode(Route::new(first, SlotAddr::Master));
                let time = cluster
                    .clone()
                    .route_command(cmd("TIME"), RoutingInfo::SingleNode(node.clone()))
                    .await?;
                let epoch = next_second(&time)?;
                let replies = cluster
                    .clone()
                    .route_pipeline(set_missing(range, epoch), 0, range.len(), node)
                    .await?;
                sweep.add(&replies, epoch);
            }
        }
    }
    Ok(sweep)
}

/// The cluster's slot ranges (`CLUSTER SLOTS` of any node), first and last
/// slot of each.
pub(crate) async fn cluster_slot_ranges(
    cluster: &ClusterConnection,
) -> RedisResult<Vec<(u16, u16)>> {
    let mut slots = cmd("CLUSTER");
    slots.arg("SLOTS");
    let any = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
    slot_ranges(&cluster.clone().route_command(slots, any).await?)
}

/// Waits (at most [`MAX_WAIT`]) until this process's clock reaches `epoch`,
/// so that the tokens it issues next are not before the epoch it just began.
pub(crate) async fn wait_for(epoch: i64) {
    let now = SystemClock.now();
    let left_nanos = i128::from(epoch) * 1_000_000_000 - now.unix_timestamp_nanos();
    if left_nanos <= 0 {
        return;
    }
    let left = u64::try_from(left_nanos).map_or(MAX_WAIT, std::time::Duration::from_nanos);
    tokio::time::sleep(left.min(MAX_WAIT)).await;
}

fn set_missing(markers: &[String], epoch: i64) -> redis::Pipeline {
    let mut pipeline = pipe();
    for marker in markers {
        pipeline.cmd("SET").arg(marker).arg(epoch).arg("NX");
    }
    pipeline
}

/// The second after a `TIME` answer (`[seconds, microseconds]`).
fn next_second(time: &Value) -> RedisResult<i64> {
    let seconds = match time {
        Value::Array(parts) => parts.first().and_then(integer),
        _ => None,
    };
    seconds
        .and_then(|seconds| seconds.checked_add(1))
        .ok_or_else(|| unreadable("an unreadable TIME"))
}

/// The slot ranges of a `CLUSTER SLOTS` answer: `[[first, last, node…]…]`.
fn slot_ranges(answer: &Value) -> RedisResult<Vec<(u16, u16)>> {
    let Value::Array(ranges) = answer else {
        return Err(unreadable("an unreadable CLUSTER SLOTS"));
    };
    ranges
        .iter()
        .map(|range| {
            let bounds = match range {
                Value::Array(parts) => parts.get(0..2),
                _ => None,
            };
            let slot = |value: &Value| {
                integer(value)
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n < SLOTS)
            };
            match bounds {
                Some([first, last]) => match (slot(first), slot(last)) {
                    (Some(first), Some(last)) if first <= last => Ok((first, last)),
                    _ => Err(unreadable("an unreadable CLUSTER SLOTS")),
                },
                _ => Err(unreadable("an unreadable CLUSTER SLOTS")),
            }
        })
        .collect()
}

/// An integer reply, or one as text (`TIME` answers text).
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        _ => None,
    }
}

fn unreadable(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn the_epoch_is_the_second_after_time() {
        let time = Value::Array(vec![bulk("1893456000"), bulk("999999")]);
        assert_eq!(next_second(&time).ok(), Some(1_893_456_001));
        assert!(next_second(&Value::Array(vec![])).is_err());
        assert!(next_second(&Value::Array(vec![bulk("x"), bulk("1")])).is_err());
        assert!(next_second(&Value::Int(1)).is_err());
        let last = Value::Array(vec![Value::Int(i64::MAX)]);
        assert!(next_second(&last).is_err());
    }

    #[test]
    fn slot_ranges_are_read_from_cluster_slots() {
        let node = Value::Array(vec![bulk("127.0.0.1"), Value::Int(7000), bulk("id")]);
        let answer = Value::Array(vec![
            Value::Array(vec![Value::Int(0), Value::Int(5460), node.clone()]),
            Value::Array(vec![Value::Int(5461), Value::Int(16383), node.clone()]),
        ]);
        assert_eq!(
            slot_ranges(&answer).ok(),
            Some(vec![(0, 5460), (5461, 16383)])
        );
        for bad in [
            Value::Int(0),
            Value::Array(vec![Value::Int(0)]),
            Value::Array(vec![Value::Array(vec![Value::Int(0)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(5), Value::Int(4)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(0), Value::Int(16384)])]),
            Value::Array(vec![Value::Array(vec![Value::Int(-1), Value::Int(3)])]),
        ] {
            assert!(slot_ranges(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_sweep_counts_created_and_present_markers() {
        let mut sweep = Sweep::default();
        assert!(!sweep.found_loss() && !sweep.all_new());
        sweep.add(&[Value::Nil, Value::Nil], 10);
        assert_eq!(
            sweep,
            Sweep {
                created: 0,
                present: 2,
                newest: None
            }
        );
        assert!(!sweep.found_loss() && !sweep.all_new());
        sweep.add(&[Value::Okay, Value::Nil], 12);
        sweep.add(&[Value::Okay], 11);
        assert_eq!(
            sweep,
            Sweep {
                created: 2,
                present: 3,
                newest: Some(12)
            }
        );
        assert!(sweep.found_loss() && !sweep.all_new());
        let mut fresh = Sweep::default();
        fresh.add(&[Value::Okay, Value::Okay], 5);
        assert!(fresh.all_new() && !fresh.found_loss());
    }

    #[tokio::test]
    async fn waiting_for_an_epoch_is_bounded() {
        let now = SystemClock.now().unix_timestamp();
        let started = std::time::Instant::now();
        wait_for(now - 10).await;
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        wait_for(now + 1_000).await;
        let waited = started.elapsed();
        assert!(waited >= MAX_WAIT && waited < MAX_WAIT * 2, "{waited:?}");
    }
}
