//! A decode's check is one round trip: one `EVALSHA`, and no other command
//! from the client, per check (counted by the server, `INFO commandstats`,
//! where the script's own `GET`s and `HGET`s count too), on a single server
//! and on a cluster. Timing is the `check_latency` example's job.

use std::time::Duration;

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{
    RedisCluster, RedisServer, all_calls_but_info, command_calls, redis_available,
};

const CHECKS: u64 = 50;

/// Runs `CHECKS` checks (id, cutoff and slot) of `subject` and returns how
/// many EVALSHA the servers saw, and how many commands other than EVALSHA
/// and the script's reads (`GET`, `HGET`).
async fn count_checks(store: &RedisStore, servers: &[&RedisServer], subject: &str) -> (u64, u64) {
    let until = SystemClock.now() + time::Duration::hours(1);
    store
        .supersede(Some(subject), "slot", "jti", until)
        .await
        .expect("supersede");
    let check = Check::token(Some(subject), "jti")
        .issued_at(SystemClock.now())
        .latest_of("slot");
    // Warm up: the first call may load the script.
    assert_eq!(store.check(&check).await, Ok(TokenState::Live));
    let evalsha = |servers: &[&RedisServer]| {
        servers
            .iter()
            .map(|server| command_calls(server, "evalsha"))
            .sum::<u64>()
    };
    let others = |servers: &[&RedisServer]| {
        servers
            .iter()
            .map(|server| {
                all_calls_but_info(server)
                    - command_calls(server, "evalsha")
                    - command_calls(server, "get")
                    - command_calls(server, "hget")
            })
            .sum::<u64>()
    };
    let (evalsha_before, others_before) = (evalsha(servers), others(servers));
    for _ in 0..CHECKS {
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));
    }
    (
        evalsha(servers) - evalsha_before,
        others(servers) - others_before,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_is_one_evalsha_on_a_single_server() {
    if !redis_available("a_check_is_one_evalsha_on_a_single_server") {
        return;
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect");
        let (evalsha, others) = count_checks(&store, &[&server], "alice").await;
        assert_eq!((evalsha, others), (CHECKS, 0));
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_is_one_evalsha_on_a_cluster() {
    if !redis_available("a_check_is_one_evalsha_on_a_cluster") {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let cluster = RedisCluster::start();
        let store = RedisStore::connect_cluster(cluster.urls(), StoreOptions::default())
            .await
            .expect("connect");
        let nodes: Vec<&RedisServer> = cluster.nodes.iter().collect();
        for subject in ["alice", "bob", "carol", "dave"] {
            let (evalsha, others) = count_checks(&store, &nodes, subject).await;
            assert_eq!((evalsha, others), (CHECKS, 0), "{subject}");
        }
    })
    .await
    .expect("bounded in time");
}
