//! The change stream: every write that can make a token invalid appends
//! exactly one change, in the same script, and only when it changed
//! something, on a single server and on a cluster (where each change lies in
//! the slot of the keys it describes).

use std::time::Duration;

use time::OffsetDateTime;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::{Check, NewFamily, Rotation, TokenStore};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisCluster, RedisServer, redis_available};

const BOUND: Duration = Duration::from_secs(60);
const STREAM: &str = "vaulttoken:{changes}";

/// `minutes` from now, in whole milliseconds (as stored).
fn later(minutes: i64) -> OffsetDateTime {
    let now = SystemClock.now();
    let whole = now
        .replace_millisecond(now.millisecond())
        .expect("whole ms");
    whole + time::Duration::minutes(minutes)
}

/// The stream's change counter.
fn counter(server: &RedisServer, stream: &str) -> u64 {
    let feed = format!("{stream}:feed");
    server
        .cli(&["HGET", &feed, "n"])
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The last change's fields: kind, key, n, until, value.
fn last_change(server: &RedisServer, stream: &str) -> Vec<String> {
    let entry = server.cli(&["XREVRANGE", stream, "+", "-", "COUNT", "1"]);
    let body = entry.lines().last().expect("an entry");
    body.split(' ').map(str::to_owned).collect()
}

/// Runs `write` and returns the kinds of the changes it appended.
async fn appended<F: std::future::Future>(server: &RedisServer, write: F) -> String {
    let before = counter(server, STREAM);
    write.await;
    let after = counter(server, STREAM);
    let count = usize::try_from(after - before).expect("few");
    if count == 0 {
        return String::new();
    }
    let entries = server.cli(&["XREVRANGE", STREAM, "+", "-", "COUNT", &count.to_string()]);
    let mut kinds: Vec<&str> = entries
        .lines()
        .filter(|line| line.contains(' '))
        .map(|line| &line[..1])
        .collect();
    kinds.reverse();
    kinds.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_write_appends_one_change_and_only_when_it_changed_something() {
    if !redis_available("each_write_appends_one_change_and_only_when_it_changed_something") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        assert_eq!(counter(&server, STREAM), 0, "connecting appends nothing");
        let alice = Some("alice");
        let until = later(10);

        let revoke = store.revoke(alice, "a", until);
        assert_eq!(appended(&server, revoke).await, "r");
        let fields = last_change(&server, STREAM);
        assert_eq!(fields.len(), 5, "{fields:?}");
        assert_eq!(fields[0], "r");
        assert_eq!(fields[1].len(), 32, "a digest, not the id: {fields:?}");
        assert_eq!(fields[2], "1");
        assert_eq!(
            fields[3],
            (until.unix_timestamp_nanos() / 1_000_000).to_string()
        );
        assert_eq!(fields[4], "-");
        assert_eq!(appended(&server, store.revoke(alice, "a", until)).await, "");
        assert_eq!(
            appended(&server, store.revoke(alice, "a", later(20))).await,
            "r"
        );
        let other = last_change(&server, STREAM)[1].clone();
        assert_eq!(other, fields[1], "one id, one digest");
        store.revoke(Some("bob"), "a", until).await.expect("revoke");
        assert_ne!(
            last_change(&server, STREAM)[1],
            fields[1],
            "the subject counts"
        );

        assert_eq!(
            appended(&server, store.consume(alice, "b", until)).await,
            "u"
        );
        assert_eq!(
            appended(&server, store.consume(alice, "b", until)).await,
            ""
        );
        assert_eq!(
            appended(&server, store.consume(alice, "a", until)).await,
            "",
            "revoked"
        );
        assert_eq!(
            appended(&server, store.revoke(alice, "b", later(30))).await,
            "u"
        );

        let cutoff = store.revoke_issued_before("alice", later(0), later(15));
        assert_eq!(appended(&server, cutoff).await, "c");
        let fields = last_change(&server, STREAM);
        let cutoff_seconds = fields[4].parse::<i64>().expect("the cutoff");
        assert!(
            (cutoff_seconds - later(0).unix_timestamp()).abs() <= 2,
            "{fields:?}"
        );
        let earlier = store.revoke_issued_before("alice", later(-5), later(5));
        assert_eq!(appended(&server, earlier).await, "", "held later");

        let supersede = store.supersede(alice, "reset", "t1", until);
        assert_eq!(appended(&server, supersede).await, "l");
        let first = last_change(&server, STREAM)[4].clone();
        assert_eq!(first.len(), 32);
        store
            .supersede(alice, "reset", "t2", until)
            .await
            .expect("supersede");
        assert_ne!(
            last_change(&server, STREAM)[4],
            first,
            "the token id's digest"
        );

        let now = SystemClock.now();
        let family = NewFamily::new("alice", "f1", now, later(60)).max_per_subject(1);
        assert_eq!(appended(&server, store.create_family(&family)).await, "f");
        assert_eq!(
            appended(&server, store.create_family(&family)).await,
            "",
            "exists"
        );
        let second = NewFamily::new("alice", "f2", now, later(60)).max_per_subject(1);
        assert_eq!(
            appended(&server, store.create_family(&second)).await,
            "Rf",
            "the cap revokes f1, then f2 begins"
        );
        let reuse = Rotation::new("alice", "f2", 5, now);
        assert_eq!(appended(&server, store.rotate_family(&reuse)).await, "R");
        let third = NewFamily::new("alice", "f3", now, later(60));
        store.create_family(&third).await.expect("create");
        let step = Rotation::new("alice", "f3", 0, now);
        assert_eq!(appended(&server, store.rotate_family(&step)).await, "");
        assert_eq!(
            appended(&server, store.revoke_family(alice, "f3")).await,
            "R"
        );
        assert_eq!(
            appended(&server, store.revoke_family(alice, "nope")).await,
            ""
        );

        assert_eq!(
            appended(&server, store.check(&Check::token(alice, "a"))).await,
            ""
        );
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_each_change_lies_in_its_subjects_slot() {
    if !redis_available("on_a_cluster_each_change_lies_in_its_subjects_slot") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let store = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
            .await
            .expect("connect");
        for subject in ["alice", "bob", "carol", "dave"] {
            store
                .revoke(Some(subject), "a", later(10))
                .await
                .expect("revoke");
        }
        // Four subjects, four slots' streams, each beside its subject's keys.
        let mut streams = 0;
        for node in &cluster.nodes {
            let found = node.cli(&["--scan", "--pattern", "vaulttoken:{e*}:changes"]);
            for stream in found.lines() {
                streams += 1;
                assert_eq!(counter(node, stream), 1, "{stream}");
                assert_eq!(last_change(node, stream)[0], "r");
                let slot = node.cli(&["CLUSTER", "KEYSLOT", stream]);
                let ids = node.cli(&["CLUSTER", "COUNTKEYSINSLOT", slot.trim()]);
                // The stream, its feed, the epoch marker, the revoked id.
                assert!(ids.trim().parse::<u32>().expect("a count") >= 4, "{stream}");
            }
        }
        assert_eq!(streams, 4);
    })
    .await
    .expect("bounded in time");
}
