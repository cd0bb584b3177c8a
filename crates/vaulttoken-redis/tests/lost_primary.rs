//! A cluster with one primary down: the writes of the subjects the other
//! primaries serve go on (their deadlines come from their own primary's
//! clock), the writes and checks of the lost primary's subjects fail closed.

use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::StoreError;
use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisCluster, redis_available};

const BOUND: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_primary_stops_only_the_writes_of_its_own_slots() {
    if !redis_available("a_lost_primary_stops_only_the_writes_of_its_own_slots") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let mut cluster = RedisCluster::start();
        // A reading of Redis's clock is never reused: every write takes one.
        let options = StoreOptions::default()
            .deadline(Duration::from_millis(300))
            .clock_sample_interval(Duration::from_millis(1));
        let store = RedisStore::connect_cluster(cluster.urls(), options)
            .await
            .expect("connect");
        let until = SystemClock.now() + time::Duration::hours(1);
        // Which node serves each subject: where its first revocation landed.
        let subjects: Vec<String> = (0..12).map(|n| format!("user-{n}")).collect();
        let mut nodes = Vec::new();
        for subject in &subjects {
            store
                .revoke(Some(subject), subject, until)
                .await
                .expect("revoke");
            let node = cluster
                .node_holding(&format!("vaulttoken:{{s:*:id:{subject}"))
                .expect("a node holds the revocation");
            nodes.push(node);
        }
        let lost = nodes[0];
        assert!(nodes.iter().any(|&node| node != lost), "{nodes:?}");

        cluster.nodes[lost].kill();
        for (subject, &node) in subjects.iter().zip(&nodes) {
            let started = Instant::now();
            let revoked = store.revoke(Some(subject), "second", until).await;
            let check = Check::token(Some(subject), subject).issued_at(SystemClock.now());
            let state = store.check(&check).await;
            assert!(started.elapsed() < Duration::from_secs(2));
            if node == lost {
                assert!(
                    matches!(
                        revoked,
                        Err(StoreError::Unreachable { .. } | StoreError::Timeout { .. })
                    ),
                    "{subject}: {revoked:?}"
                );
                assert!(state.is_err(), "{subject}: {state:?}");
            } else {
                assert_eq!(revoked, Ok(()), "{subject}");
                assert_eq!(state, Ok(TokenState::Revoked), "{subject}");
            }
        }
    })
    .await
    .expect("bounded in time");
}
