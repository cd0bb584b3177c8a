//! The token-store conformance suite of `vaulttoken`, against a real
//! `redis-server` and a real three-primary cluster.

use std::time::{Duration, Instant};

use vaulttoken::store::conformance;
use vaulttoken_redis::{EvictionPolicy, RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisCluster, RedisServer, redis_available};

/// The most one suite run may take.
const BOUND: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_passes_the_conformance_suite() {
    if !redis_available("single_server_passes_the_conformance_suite") {
        return;
    }
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url(), StoreOptions::default())
        .await
        .expect("connect");
    assert!(!store.is_cluster());
    assert_eq!(
        store.server_check().eviction_policy,
        EvictionPolicy::NoEviction
    );
    let started = Instant::now();
    tokio::time::timeout(BOUND, conformance::run_all(&store, "single"))
        .await
        .expect("the suite finishes in time");
    eprintln!("conformance, single server: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_passes_the_conformance_suite() {
    if !redis_available("cluster_passes_the_conformance_suite") {
        return;
    }
    let started = Instant::now();
    let cluster = RedisCluster::start();
    let formed = started.elapsed();
    let store = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
        .await
        .expect("connect to the cluster");
    assert!(store.is_cluster());
    assert_eq!(
        store.server_check().eviction_policy,
        EvictionPolicy::NoEviction
    );
    let suite = Instant::now();
    tokio::time::timeout(BOUND, conformance::run_all(&store, "cluster"))
        .await
        .expect("the suite finishes in time");
    eprintln!(
        "conformance, 3-primary cluster: {:?} to form it, {:?} for the suite",
        formed,
        suite.elapsed()
    );
    // The suite's subjects spread over the primaries: every node holds keys.
    let holding = cluster
        .nodes
        .iter()
        .filter(|node| node.command(&["DBSIZE"]).is_some_and(|size| size != ":0"))
        .count();
    assert!(holding >= 2, "keys on {holding} node(s) only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_prefix_is_a_separate_store() {
    if !redis_available("a_second_prefix_is_a_separate_store") {
        return;
    }
    let server = RedisServer::start();
    let other = StoreOptions::default().prefix("other-app");
    let store = RedisStore::connect(&server.url(), other)
        .await
        .expect("connect");
    assert_eq!(store.options().prefix, "other-app");
    tokio::time::timeout(BOUND, conformance::run_all(&store, "prefixed"))
        .await
        .expect("the suite finishes in time");
    let keys = server.cli(&["--scan"]);
    assert!(!keys.is_empty());
    assert!(
        keys.lines().all(|key| key.starts_with("other-app:{")),
        "{keys}"
    );
}
