//! The revocation mirror against a real `redis-server`: it passes the
//! store conformance suite, answers checks from memory (no Redis call),
//! sees other instances' writes within its staleness bound, and agrees with
//! Redis's own check.

use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::StoreError;
use vaulttoken::store::{Check, NewFamily, Rotated, Rotation, TokenState, TokenStore, conformance};
use vaulttoken_redis::{MIRROR_CLIENT_NAME, MirroredStore, RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisCluster, RedisServer, command_calls, redis_available};

const BOUND: Duration = Duration::from_secs(120);

#[path = "support/mirror.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod mirror_support;

use mirror_support::{STALENESS, later, mirror, mirror_options, writer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirrored_store_passes_the_conformance_suite() {
    if !redis_available("a_mirrored_store_passes_the_conformance_suite") {
        return;
    }
    let server = RedisServer::start();
    passes_the_conformance_suite(&mirror(&server.url()).await, "mirror").await;
}

/// The store conformance suite over `store`, with answers from memory and
/// no rebuild.
async fn passes_the_conformance_suite(store: &MirroredStore, name: &str) {
    tokio::time::timeout(BOUND, conformance::run_all(store, name))
        .await
        .expect("the suite finishes in time");
    let status = store.status();
    assert!(status.answered > 0, "some checks from memory: {status:?}");
    assert_eq!(status.rebuilds, 0, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_answer_from_memory_and_see_another_instances_revocation() {
    if !redis_available("checks_answer_from_memory_and_see_another_instances_revocation") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "t-1").issued_at(now);

        let scripts_before = command_calls(&server, "evalsha");
        for _ in 0..100 {
            assert_eq!(store.check(&check).await, Ok(TokenState::Live));
        }
        assert_eq!(
            command_calls(&server, "evalsha"),
            scripts_before,
            "no check reached Redis"
        );
        assert!(store.status().answered >= 100);

        writer
            .revoke(Some("alice"), "t-1", later(10))
            .await
            .expect("revoke");
        let revoked = Instant::now();
        loop {
            let state = store.check(&check).await.expect("a check");
            if state == TokenState::Revoked {
                break;
            }
            assert!(revoked.elapsed() < STALENESS, "still live after the bound");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        eprintln!("seen revoked after {:?}", revoked.elapsed());

        // A cutoff, a latest token and a family, each seen.
        writer
            .revoke_issued_before("bob", now + time::Duration::SECOND, later(10))
            .await
            .expect("cutoff");
        writer
            .supersede(Some("carol"), "reset", "newest", later(10))
            .await
            .expect("supersede");
        let family = NewFamily::new("dave", "fam", now, later(60));
        writer.create_family(&family).await.expect("family");
        tokio::time::sleep(STALENESS).await;
        let answered = store.status().answered;
        let bob = Check::token(Some("bob"), "b").issued_at(now);
        assert_eq!(store.check(&bob).await, Ok(TokenState::IssuedBeforeCutoff));
        let old = Check::token(Some("carol"), "older").latest_of("reset");
        assert_eq!(store.check(&old).await, Ok(TokenState::Superseded));
        let newest = Check::token(Some("carol"), "newest").latest_of("reset");
        assert_eq!(store.check(&newest).await, Ok(TokenState::Live));
        let in_family = Check::token(Some("dave"), "d").issued_at(now).family("fam");
        assert_eq!(store.check(&in_family).await, Ok(TokenState::Live));
        assert_eq!(store.status().answered, answered + 4, "all from memory");
        writer
            .revoke_family(Some("dave"), "fam")
            .await
            .expect("revoke family");
        tokio::time::sleep(STALENESS).await;
        assert_eq!(store.check(&in_family).await, Ok(TokenState::FamilyRevoked));
        // A family the mirror never saw created goes to Redis, which knows
        // none: revoked.
        let unknown = Check::token(Some("dave"), "d").family("other");
        let asked = store.status().unknown;
        assert_eq!(store.check(&unknown).await, Ok(TokenState::FamilyRevoked));
        assert_eq!(store.status().unknown, asked + 1);
    })
    .await
    .expect("bounded in time");
}

/// A write through the mirror is read back at once; only the checks of the
/// written subject wait for the feed: another subject's checks still
/// answer from memory. (Before, every check went to Redis after any write
/// of this instance.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_the_mirror_is_read_back_at_once() {
    if !redis_available("a_write_through_the_mirror_is_read_back_at_once") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = mirror(&server.url()).await;
        let bob = Check::token(Some("bob"), "b-1");
        for n in 0..50 {
            let id = format!("t-{n}");
            store
                .revoke(Some("alice"), &id, later(10))
                .await
                .expect("revoke");
            let answered = store.status().answered;
            assert_eq!(store.check(&bob).await, Ok(TokenState::Live));
            assert_eq!(
                store.status().answered,
                answered + 1,
                "bob's check from memory after alice's revocation {n}"
            );
            assert_eq!(
                store.check(&Check::token(Some("alice"), &id)).await,
                Ok(TokenState::Revoked),
                "{id}"
            );
        }
    })
    .await
    .expect("bounded in time");
}

/// A rotation that moves a family on appends no change, so the subject's
/// checks keep answering from memory right after it (they used to wait
/// for the feed to hear from a later read, up to a heartbeat: 6 % of the
/// checks of a refreshing server went to Redis). One that finds reuse
/// revokes the family, and is read back at once, as any write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_that_moves_on_leaves_the_subject_to_the_mirror() {
    if !redis_available("a_rotation_that_moves_on_leaves_the_subject_to_the_mirror") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let store = mirror(&server.url()).await;
        let now = SystemClock.now();
        let family = NewFamily::new("alice", "f-1", now, later(60));
        store.create_family(&family).await.expect("create");
        let alice = Check::token(Some("alice"), "a-1").family("f-1");
        // The creation is read back once the feed hears from a later read.
        let created = Instant::now();
        loop {
            let answered = store.status().answered;
            assert_eq!(store.check(&alice).await, Ok(TokenState::Live));
            if store.status().answered > answered {
                break;
            }
            assert!(created.elapsed() < STALENESS * 4, "{:?}", store.status());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for generation in 0..20 {
            let rotated = store
                .rotate_family(&Rotation::new("alice", "f-1", generation, now))
                .await;
            assert!(
                matches!(rotated, Ok(Rotated::Advanced { .. })),
                "{rotated:?}"
            );
            let answered = store.status().answered;
            assert_eq!(store.check(&alice).await, Ok(TokenState::Live));
            assert_eq!(
                store.status().answered,
                answered + 1,
                "alice's check from memory after rotation {generation}"
            );
        }
        // Generation 0 again: reuse, the family revoked, and this process
        // sees it at once.
        let reused = store
            .rotate_family(&Rotation::new("alice", "f-1", 0, now))
            .await;
        assert_eq!(reused, Ok(Rotated::ReuseDetected));
        assert_eq!(store.check(&alice).await, Ok(TokenState::FamilyRevoked));
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_clone_stops_the_feed() {
    if !redis_available("dropping_the_last_clone_stops_the_feed") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let feeds = || {
            server
                .cli(&["CLIENT", "LIST"])
                .lines()
                .filter(|line| line.contains(&format!("name={MIRROR_CLIENT_NAME} ")))
                .count()
        };
        let store = mirror(&server.url()).await;
        let clone = store.clone();
        assert_eq!(feeds(), 1, "one feed connection, named");
        drop(store);
        tokio::time::sleep(STALENESS).await;
        assert_eq!(feeds(), 1, "a clone keeps the feed");
        assert!(clone.status().current);
        drop(clone);
        let dropped = Instant::now();
        while feeds() > 0 {
            assert!(
                dropped.elapsed() < Duration::from_secs(5),
                "the feed still runs"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_agrees_with_redis_on_random_operations() {
    if !redis_available("a_mirror_agrees_with_redis_on_random_operations") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        let now = SystemClock.now();
        let subjects = [Some("a"), Some("b"), Some("c"), None];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % below).expect("small")
        };
        for _ in 0..400 {
            let subject = subjects[next(4)];
            let id = format!("id-{}", next(40));
            match next(6) {
                0 | 1 => writer
                    .revoke(subject, &id, later(10))
                    .await
                    .expect("revoke"),
                2 => {
                    writer
                        .consume(subject, &id, later(10))
                        .await
                        .expect("consume");
                }
                3 => {
                    let cutoff =
                        now + time::Duration::seconds(i64::try_from(next(5)).expect("small") - 2);
                    writer
                        .revoke_issued_before(subject.unwrap_or("a"), cutoff, later(10))
                        .await
                        .expect("cutoff");
                }
                4 => writer
                    .supersede(subject, "slot", &id, later(10))
                    .await
                    .expect("supersede"),
                _ => {
                    let family = format!("fam-{}", next(8));
                    let created = NewFamily::new(subject.unwrap_or("a"), &family, now, later(60));
                    if next(2) == 0 {
                        // Created again: refused, which changes nothing.
                        match writer.create_family(&created).await {
                            Ok(_) | Err(StoreError::Protocol { .. }) => {}
                            Err(error) => panic!("create: {error:?}"),
                        }
                    } else {
                        writer
                            .revoke_family(subject, &family)
                            .await
                            .expect("revoke family");
                    }
                }
            }
        }
        tokio::time::sleep(STALENESS).await;
        let answered = store.status().answered;
        let mut compared = 0;
        for subject in subjects {
            for n in 0..40 {
                let id = format!("id-{n}");
                for issued in [
                    None,
                    Some(now - time::Duration::SECOND),
                    Some(now + time::Duration::seconds(5)),
                ] {
                    let mut check = Check::token(subject, &id).latest_of("slot");
                    if let Some(at) = issued {
                        check = check.issued_at(at);
                    }
                    let family = format!("fam-{}", n % 8);
                    let check = if n % 3 == 0 {
                        check.family(&family)
                    } else {
                        check
                    };
                    let expected = writer.check(&check).await.expect("Redis's answer");
                    assert_eq!(store.check(&check).await, Ok(expected), "{check:?}");
                    compared += 1;
                }
            }
        }
        let from_memory = store.status().answered - answered;
        eprintln!("{compared} checks compared, {from_memory} from memory");
        assert!(from_memory > compared / 2, "{from_memory} of {compared}");
    })
    .await
    .expect("bounded in time");
}

async fn cluster_mirror(cluster: &RedisCluster) -> MirroredStore {
    let store =
        MirroredStore::connect_cluster(cluster.urls(), StoreOptions::default(), mirror_options())
            .await
            .expect("connect the cluster's mirror");
    assert!(
        store.status().current,
        "current after connect: {:?}",
        store.status()
    );
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_mirror_passes_the_conformance_suite() {
    if !redis_available("a_cluster_mirror_passes_the_conformance_suite") {
        return;
    }
    let cluster = RedisCluster::start();
    passes_the_conformance_suite(&cluster_mirror(&cluster).await, "cluster mirror").await;
}

/// Each heartbeat is one read of 16 epoch markers per primary (and one
/// `CLUSTER SLOTS`): at rest a cluster mirror sends about one a heartbeat,
/// not a stream of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_mirror_at_rest_reads_each_primary_once_a_heartbeat() {
    if !redis_available("a_cluster_mirror_at_rest_reads_each_primary_once_a_heartbeat") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let store = cluster_mirror(&cluster).await;
        for node in &cluster.nodes {
            node.cli(&["CONFIG", "RESETSTAT"]);
        }
        let heartbeat = mirror_options().heartbeat();
        let span = Duration::from_secs(1);
        tokio::time::sleep(span).await;
        let most = u64::try_from(span.as_millis() / heartbeat.as_millis()).expect("small") + 3;
        // The markers a heartbeat reads on each primary (`PROBED`).
        let probed = 16;
        for node in &cluster.nodes {
            let reads = command_calls(node, "get");
            assert!(
                (most / 3 * probed..=most * probed).contains(&reads),
                "{reads} GETs in {span:?}"
            );
        }
        assert!(store.status().current);
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_mirror_sees_revocations_on_every_primary_within_its_bound() {
    if !redis_available("a_cluster_mirror_sees_revocations_on_every_primary_within_its_bound") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let writer = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
            .await
            .expect("connect the writer");
        let store = cluster_mirror(&cluster).await;
        let now = SystemClock.now();
        // Subjects spread over the three primaries.
        let subjects: Vec<String> = (0..12).map(|n| format!("user-{n}")).collect();
        for subject in &subjects {
            let check = Check::token(Some(subject), "t").issued_at(now);
            assert_eq!(store.check(&check).await, Ok(TokenState::Live));
        }
        let answered = store.status().answered;
        assert!(answered >= 12, "{:?}", store.status());
        for subject in &subjects {
            writer
                .revoke(Some(subject), "t", later(10))
                .await
                .expect("revoke");
            let revoked = Instant::now();
            let check = Check::token(Some(subject), "t").issued_at(now);
            loop {
                if store.check(&check).await == Ok(TokenState::Revoked) {
                    break;
                }
                assert!(
                    revoked.elapsed() < STALENESS,
                    "{subject} live past the bound"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let status = store.status();
        assert!(status.answered > answered, "{status:?}");
        assert_eq!(status.rebuilds, 0, "{status:?}");
        // Every primary holds some of the subjects' streams.
        let holding = cluster
            .nodes
            .iter()
            .filter(|node| {
                !node
                    .cli(&["--scan", "--pattern", "vaulttoken:{e*}:changes"])
                    .trim()
                    .is_empty()
            })
            .count();
        assert_eq!(holding, 3);
    })
    .await
    .expect("bounded in time");
}
