//! 64 tasks present one refresh token at once, through `RefreshFamilies` on a
//! real `redis-server` and a real three-primary cluster: without grace one
//! wins and the rest detect reuse; with grace they all get the same successor.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use time::Duration;
use vaulttoken::error::Denial;
use vaulttoken::family::{RefreshFamilies, TokenPair};
use vaulttoken::store::conformance::RACERS;
use vaulttoken::store::{Grace, TokenStore};
use vaulttoken::{Error, LocalKey};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisCluster, RedisServer, redis_available};

/// The most both races on one store may take.
const BOUND: StdDuration = StdDuration::from_secs(60);

async fn race(families: &Arc<RefreshFamilies>, token: &str) -> Vec<Result<TokenPair, Error>> {
    let gate = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (families, gate, token) =
                (Arc::clone(families), Arc::clone(&gate), token.to_owned());
            tokio::spawn(async move {
                gate.wait().await;
                families.refresh(&token).await
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(RACERS);
    for task in tasks {
        outcomes.push(task.await.expect("the task ran"));
    }
    outcomes
}

async fn both_races(store: Arc<dyn TokenStore>, subject: &str) {
    let key = Arc::new(LocalKey::generate().expect("key"));
    let plain = Arc::new(RefreshFamilies::builder(Arc::clone(&key), store.clone()).build());
    let first = plain.issue(subject).await.expect("issue");
    let outcomes = race(&plain, &first.refresh).await;
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let reused = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Err(Error::Denied(Denial::ReuseDetected | Denial::FamilyRevoked))
            )
        })
        .count();
    assert_eq!((won, reused), (1, RACERS - 1), "{outcomes:?}");
    // Reuse revoked the whole family: the winner's tokens are dead too.
    let winner = outcomes.into_iter().find_map(Result::ok).expect("a winner");
    assert!(matches!(
        plain.verify_access(&winner.access).await,
        Err(Error::Denied(Denial::FamilyRevoked))
    ));

    let max_uses = u32::try_from(RACERS).expect("racers fit");
    let graced = Arc::new(
        RefreshFamilies::builder(key, store)
            .grace(Grace::new(Duration::seconds(60), max_uses))
            .build(),
    );
    let first = graced.issue(subject).await.expect("issue");
    let pairs: Vec<TokenPair> = race(&graced, &first.refresh)
        .await
        .into_iter()
        .map(|outcome| outcome.expect("every racer is served in the grace window"))
        .collect();
    let mut successor_ids = Vec::with_capacity(pairs.len());
    for pair in &pairs {
        assert_eq!(pair.generation, 1);
        assert_eq!(pair.family_id, first.family_id);
        let seen = graced.verify_refresh(&pair.refresh).await.expect("live");
        successor_ids.push(seen.claims().token_id().expect("jti").to_owned());
    }
    successor_ids.dedup();
    assert_eq!(
        successor_ids.len(),
        1,
        "the family forked: {successor_ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_races_on_a_single_server() {
    if !redis_available("refresh_races_on_a_single_server") {
        return;
    }
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url(), StoreOptions::default())
        .await
        .expect("connect");
    tokio::time::timeout(BOUND, both_races(Arc::new(store), "race-single"))
        .await
        .expect("the races finish in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_races_on_a_cluster() {
    if !redis_available("refresh_races_on_a_cluster") {
        return;
    }
    let cluster = RedisCluster::start();
    let store = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
        .await
        .expect("connect to the cluster");
    tokio::time::timeout(BOUND, both_races(Arc::new(store), "race-cluster"))
        .await
        .expect("the races finish in time");
}
