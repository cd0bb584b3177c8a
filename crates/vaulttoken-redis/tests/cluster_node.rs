//! A single-server connect to a node of a real Redis Cluster is refused
//! with [`ConnectError::ClusterNode`], before anything is written to it; the
//! cluster connect to the same node works.

use std::time::Duration;

use vaulttoken_redis::{ConnectError, RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisCluster, RedisServer, redis_available};

const BOUND: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_server_connect_to_a_cluster_node_is_refused() {
    if !redis_available("a_single_server_connect_to_a_cluster_node_is_refused") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let cluster = RedisCluster::start();
        let url = &cluster.urls()[0];
        let error = RedisStore::connect(url, StoreOptions::default())
            .await
            .expect_err("a cluster node is refused");
        assert_eq!(error, ConnectError::ClusterNode);
        assert!(!error.to_string().contains(url.as_str()));
        for node in &cluster.nodes {
            assert_eq!(node.command(&["DBSIZE"]).as_deref(), Some(":0"));
        }
        let store = RedisStore::connect_cluster([url], StoreOptions::default())
            .await
            .expect("the cluster connect works");
        assert!(store.is_cluster());

        // A plain server is no cluster node.
        let server = RedisServer::start();
        let error = RedisStore::connect_cluster([server.url()], StoreOptions::default())
            .await
            .expect_err("a plain server is no cluster");
        assert!(
            matches!(error, ConnectError::Unreachable { .. }),
            "{error:?}"
        );
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("a plain server is accepted");
        assert!(!store.is_cluster());
    })
    .await
    .expect("bounded in time");
}
