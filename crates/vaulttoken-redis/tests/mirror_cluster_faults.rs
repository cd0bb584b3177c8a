//! The cluster mirror under faults, with a real 3-primary cluster: a
//! primary killed (checks leave memory after the bound and fail closed with
//! Redis, never "valid"), a primary restarted without its data (the
//! mirror rebuilds by itself, and a token from before the loss stays
//! refused) whether its slots had changes or only epoch markers, a slot's
//! stream lost under its kept marker, and a dropped connection (no rebuild).

#[path = "support/mirror.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod mirror_support;

use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken_redis::{MirrorOptions, MirroredStore, RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisCluster, redis_available};

use mirror_support::{STALENESS, feed_client_id, kill_feed_connection};

const BOUND: Duration = Duration::from_secs(90);

async fn stores(cluster: &RedisCluster) -> (RedisStore, MirroredStore) {
    let writer = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
        .await
        .expect("connect the writer");
    let mirror = MirroredStore::connect_cluster(
        cluster.urls(),
        StoreOptions::default(),
        MirrorOptions::default().max_staleness(STALENESS),
    )
    .await
    .expect("connect the mirror");
    assert!(mirror.status().current, "{:?}", mirror.status());
    (writer, mirror)
}

/// Revokes `id` of `subject` and waits until the mirror refuses it from
/// memory; answers the node that holds the subject's keys.
async fn revoked_on_node(
    cluster: &RedisCluster,
    writer: &RedisStore,
    mirror: &MirroredStore,
    subject: &str,
    id: &str,
) -> usize {
    let until = SystemClock.now() + time::Duration::minutes(10);
    writer
        .revoke(Some(subject), id, until)
        .await
        .expect("revoke");
    let check = Check::token(Some(subject), id);
    let since = Instant::now();
    while mirror.check(&check).await != Ok(TokenState::Revoked) {
        assert!(since.elapsed() < STALENESS, "not seen within the bound");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster
        .node_holding(&format!("vaulttoken:*:id:{id}"))
        .expect("a node holds the revocation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_leaves_no_revoked_token_valid() {
    if !redis_available("a_killed_primary_leaves_no_revoked_token_valid") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut cluster = RedisCluster::start();
        let (writer, mirror) = stores(&cluster).await;
        let issued = SystemClock.now();
        let node = revoked_on_node(&cluster, &writer, &mirror, "alice", "r-1").await;
        let revoked = Check::token(Some("alice"), "r-1").issued_at(issued);
        cluster.nodes[node].kill();
        let killed = Instant::now();
        // Within the bound: still refused, from memory or not. After it:
        // refused or unavailable, never valid; and no longer from memory.
        let mut unavailable = 0;
        while killed.elapsed() < STALENESS * 4 {
            match mirror.check(&revoked).await {
                Ok(TokenState::Revoked) => {}
                Err(_) => unavailable += 1,
                other => panic!("a revoked token answered {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(unavailable > 0, "checks left memory and failed with Redis");
        assert!(!mirror.status().current, "{:?}", mirror.status());
        assert!(mirror.status().stale > 0);
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_restarted_empty_makes_the_mirror_rebuild_and_older_tokens_stay_refused() {
    if !redis_available("a_primary_restarted_empty_makes_the_mirror_rebuild") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut cluster = RedisCluster::start();
        let (writer, mirror) = stores(&cluster).await;
        let issued = SystemClock.now();
        let node = revoked_on_node(&cluster, &writer, &mirror, "bob", "r-2").await;
        let live_before = Check::token(Some("bob"), "other").issued_at(issued);
        assert_eq!(mirror.check(&live_before).await, Ok(TokenState::Live));
        let revoked = Check::token(Some("bob"), "r-2").issued_at(issued);

        cluster.restart_node_empty(node);
        // Until the mirror is current again, and after: never valid.
        let restarted = Instant::now();
        loop {
            for check in [&revoked, &live_before] {
                let answer = mirror.check(check).await;
                assert_ne!(answer, Ok(TokenState::Live), "a token from before the loss");
            }
            // The writer notices the loss when it next uses the slot.
            let _ = writer.check(&live_before).await;
            if mirror.status().current && mirror.status().rebuilds > 0 {
                break;
            }
            assert!(
                restarted.elapsed() < Duration::from_secs(30),
                "the mirror did not recover: {:?}",
                mirror.status()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            mirror.check(&live_before).await,
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        // A token issued after the new epoch is valid again, from memory.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let fresh = Check::token(Some("bob"), "new").issued_at(SystemClock.now());
        let answered = mirror.status().answered;
        assert_eq!(mirror.check(&fresh).await, Ok(TokenState::Live));
        assert_eq!(
            mirror.status().answered,
            answered + 1,
            "{:?}",
            mirror.status()
        );
    })
    .await
    .expect("bounded in time");
}

/// The stream of the slot `subject`'s keys are in, on the node holding it.
fn stream_of(cluster: &RedisCluster, id: &str) -> (usize, String) {
    let node = cluster
        .node_holding(&format!("vaulttoken:*:id:{id}"))
        .expect("a node holds the revocation");
    let key = cluster.nodes[node].cli(&["--scan", "--pattern", &format!("vaulttoken:*:id:{id}")]);
    let tag = key
        .trim()
        .split(['{', '}'])
        .nth(1)
        .expect("a hash tag")
        .to_owned();
    let slot = cluster.nodes[node].cli(&["CLUSTER", "KEYSLOT", &format!("{{{tag}}}")]);
    let streams = cluster.nodes[node].cli(&["--scan", "--pattern", "vaulttoken:{e*}:changes"]);
    let stream = streams
        .lines()
        .find(|stream| {
            cluster.nodes[node]
                .cli(&["CLUSTER", "KEYSLOT", stream])
                .trim()
                == slot.trim()
        })
        .expect("the slot's stream")
        .to_owned();
    (node, stream)
}

/// A slot's stream with entries removed by hand: a new cluster mirror
/// explains the changes missing before the change numbered `n` only if
/// trimming removed `n - 1` (the feed record's `f`), and never the changes
/// missing after the last entry; unexplained, it answers nothing from
/// memory, and its checks are still right by Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slots_stream_with_entries_removed_by_hand_is_explained_only_by_trimming() {
    if !redis_available("a_slots_stream_with_entries_removed_by_hand") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let (writer, _) = stores(&cluster).await;
        let until = SystemClock.now() + time::Duration::minutes(10);
        for id in ["g-1", "g-2", "g-3"] {
            writer
                .revoke(Some("carol"), id, until)
                .await
                .expect("revoke");
        }
        let (node, stream) = stream_of(&cluster, "g-1");
        let redis = &cluster.nodes[node];
        let feed = format!("{stream}:feed");
        let entries = redis.cli(&["XRANGE", &stream, "-", "+"]);
        let ids: Vec<&str> = entries
            .lines()
            .filter(|line| line.contains('-') && !line.contains(' '))
            .collect();
        assert_eq!(ids.len(), 3, "{entries}");
        let (first, last) = (ids[0].to_owned(), ids[2].to_owned());
        let new_mirror = || async {
            MirroredStore::connect_cluster(
                cluster.urls(),
                StoreOptions::default().connect_timeout(Duration::from_secs(2)),
                MirrorOptions::default().max_staleness(STALENESS),
            )
            .await
            .expect("connect a mirror")
        };
        let revoked = Check::token(Some("carol"), "g-2");

        // The first change removed: explained once `f` counts one trimmed.
        assert_eq!(redis.cli(&["XDEL", &stream, &first]).trim(), "1");
        for (trimmed, explained) in [("0", false), ("1", true)] {
            redis.cli(&["HSET", &feed, "f", trimmed]);
            let mirror = new_mirror().await;
            let status = mirror.status();
            assert_eq!(
                status.unexplained_gaps,
                u64::from(!explained),
                "f {trimmed}: {status:?}"
            );
            if explained {
                // Current once it has heard from every primary: on a busy
                // machine that may come after `connect_cluster` returned.
                assert!(
                    mirror.wait_current(Duration::from_secs(10)).await,
                    "f {trimmed}: {:?}",
                    mirror.status()
                );
            } else {
                assert!(!status.current, "f {trimmed}: {status:?}");
            }
            assert_eq!(mirror.check(&revoked).await, Ok(TokenState::Revoked));
        }
        // The last change removed: never explained by trimming.
        assert_eq!(redis.cli(&["XDEL", &stream, &last]).trim(), "1");
        let mirror = new_mirror().await;
        let status = mirror.status();
        assert_eq!(status.unexplained_gaps, 1, "{status:?}");
        assert!(!status.current, "{status:?}");
        let gone = Check::token(Some("carol"), "g-3");
        assert_eq!(
            mirror.check(&gone).await,
            Ok(TokenState::Revoked),
            "by Redis"
        );
    })
    .await
    .expect("bounded in time");
}

/// Waits, at most `within`, until `ready`.
async fn eventually(within: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let give_up = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < give_up, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The node serving the slot of `key` (the others answer `MOVED`).
fn node_serving(cluster: &RedisCluster, key: &str) -> usize {
    cluster
        .nodes
        .iter()
        .position(|node| !node.cli(&["EXISTS", key]).contains("MOVED"))
        .expect("a node serves every slot")
}

/// Kills the mirror's connection to node `node` and waits until the feed
/// has connected again and, past the bound, is current (a session that
/// rebuilt first has rebuilt by then).
async fn reconnected(cluster: &RedisCluster, mirror: &MirroredStore, node: usize) {
    let killed = kill_feed_connection(&cluster.nodes[node]);
    eventually(Duration::from_secs(5), "the feed connected again", || {
        feed_client_id(&cluster.nodes[node]).is_some_and(|id| id != killed)
    })
    .await;
    tokio::time::sleep(STALENESS).await;
    assert!(
        mirror.wait_current(Duration::from_secs(5)).await,
        "{:?}",
        mirror.status()
    );
}

/// A slot's change stream, its feed record and its entries gone while its
/// epoch marker stays (as after a failover to a replica that never received
/// them): the mirror, connecting again, finds no `i` where it followed one,
/// and rebuilds (no change is numbered backwards and the marker is the
/// same: only the `i` tells); it then answers as Redis does. A connection
/// dropped with nothing lost resumes without a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slots_stream_gone_under_its_kept_epoch_marker_makes_the_mirror_rebuild() {
    if !redis_available("a_slots_stream_gone_under_its_kept_epoch_marker") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let (writer, mirror) = stores(&cluster).await;
        revoked_on_node(&cluster, &writer, &mirror, "carol", "g-1").await;
        let (node, stream) = stream_of(&cluster, "g-1");
        let redis = &cluster.nodes[node];
        reconnected(&cluster, &mirror, node).await;
        assert_eq!(mirror.status().rebuilds, 0, "{:?}", mirror.status());

        let entry = redis.cli(&["--scan", "--pattern", "vaulttoken:*:id:g-1"]);
        let feed = format!("{stream}:feed");
        assert_eq!(
            redis.cli(&["DEL", &stream, &feed, entry.trim()]).trim(),
            "3"
        );
        reconnected(&cluster, &mirror, node).await;
        assert_eq!(mirror.status().rebuilds, 1, "{:?}", mirror.status());
        let check = Check::token(Some("carol"), "g-1");
        assert_eq!(writer.check(&check).await, Ok(TokenState::Live), "lost");
        let answered = mirror.status().answered;
        assert_eq!(mirror.check(&check).await, Ok(TokenState::Live));
        assert_eq!(mirror.status().answered, answered + 1, "from memory");
    })
    .await
    .expect("bounded in time");
}

/// A primary restarted empty whose slots never had a change (the anonymous
/// subjects' slot, no write anywhere): no stream's `i` witnesses the loss,
/// only the slot's epoch marker, gone or written again, which the mirror
/// reads when it connects again. It rebuilds, and a token issued before the
/// loss stays refused, from memory too. A connection dropped with nothing
/// lost resumes without a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_restarted_empty_without_changes_is_told_by_its_epoch_markers() {
    if !redis_available("a_primary_restarted_empty_without_changes") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut cluster = RedisCluster::start();
        let (writer, mirror) = stores(&cluster).await;
        let node = node_serving(&cluster, "{anon}");
        let before = Check::token(None, "a-1").issued_at(SystemClock.now());
        assert_eq!(mirror.check(&before).await, Ok(TokenState::Live));
        reconnected(&cluster, &mirror, node).await;
        assert_eq!(mirror.status().rebuilds, 0, "{:?}", mirror.status());

        cluster.restart_node_empty(node);
        let restarted = Instant::now();
        loop {
            let answer = mirror.check(&before).await;
            assert_ne!(answer, Ok(TokenState::Live), "a token from before the loss");
            // The writer starts the new epoch when it next uses the slot.
            let _ = writer.check(&before).await;
            let status = mirror.status();
            if status.current && status.rebuilds > 0 {
                break;
            }
            assert!(
                restarted.elapsed() < Duration::from_secs(30),
                "the mirror did not recover: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let answered = mirror.status().answered;
        assert_eq!(
            mirror.check(&before).await,
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        assert_eq!(mirror.status().answered, answered + 1, "from memory");
        for node in &cluster.nodes {
            let streams = node.cli(&["--scan", "--pattern", "vaulttoken:*:changes"]);
            assert!(
                streams.trim().is_empty(),
                "no change was written: {streams}"
            );
        }
    })
    .await
    .expect("bounded in time");
}

/// A primary that loses its data in place (`FLUSHALL`: the mirror's
/// connections stay up, and no change is written after the loss) is told
/// by the epoch markers the feed reads every heartbeat: once the writer has
/// started the slot's new epoch, the mirror accepts a token from before the
/// loss for at most the bound, then rebuilds and refuses it from memory.
/// Before the heartbeat read markers (it sent `PING`) the mirror answered
/// `Live` from memory until its next reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_flushed_in_place_is_told_within_the_bound() {
    if !redis_available("a_primary_flushed_in_place") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let (writer, mirror) = stores(&cluster).await;
        let node = node_serving(&cluster, "{anon}");
        let before = Check::token(None, "p-1").issued_at(SystemClock.now());
        assert_eq!(mirror.check(&before).await, Ok(TokenState::Live));
        // A new epoch counts whole seconds: the loss comes a second later.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        cluster.nodes[node].cli(&["FLUSHALL"]);
        // The writer starts the new epoch when it next uses the slot.
        let flushed = Instant::now();
        while writer.check(&before).await != Ok(TokenState::IssuedBeforeStoreEpoch) {
            assert!(flushed.elapsed() < Duration::from_secs(10), "no new epoch");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let refused = Instant::now();
        loop {
            let answer = mirror.check(&before).await;
            if answer != Ok(TokenState::Live) {
                assert_eq!(answer, Ok(TokenState::IssuedBeforeStoreEpoch));
                break;
            }
            assert!(
                refused.elapsed() < STALENESS,
                "accepted past the bound: {:?}",
                mirror.status()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            mirror.wait_current(Duration::from_secs(10)).await,
            "{:?}",
            mirror.status()
        );
        let status = mirror.status();
        assert!(status.rebuilds > 0, "{status:?}");
        let answered = status.answered;
        assert_eq!(
            mirror.check(&before).await,
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        assert_eq!(mirror.status().answered, answered + 1, "from memory");
    })
    .await
    .expect("bounded in time");
}
