//! `StoreOptions::wait_for_replicas`: a write is acknowledged once enough
//! replicas have it, and fails (closed) when too few do.

use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::StoreError;
use vaulttoken::store::{Check, Consumption, TokenState, TokenStore};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_the_replicas_asked_for() {
    if !redis_available("writes_wait_for_the_replicas_asked_for") {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        // Diskless sync waits 5 s for more replicas unless told otherwise.
        let primary = RedisServer::start_with(&["--repl-diskless-sync-delay", "0"]);
        let port = primary.port().to_string();
        let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
        let linked = Instant::now();
        while !replica
            .cli(&["INFO", "replication"])
            .contains("master_link_status:up")
        {
            assert!(
                linked.elapsed() < Duration::from_secs(20),
                "replica never linked"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The primary must count the replica as online too before WAIT can
        // hear from it.
        while !primary
            .cli(&["INFO", "replication"])
            .contains("state=online")
        {
            assert!(
                linked.elapsed() < Duration::from_secs(20),
                "the primary never saw its replica online"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let until = SystemClock.now() + time::Duration::hours(1);

        // WAIT returns as soon as the replica acknowledges; the timeout only
        // bounds a slow machine.
        let one = StoreOptions::default()
            .deadline(Duration::from_secs(10))
            .wait_for_replicas(1, Duration::from_secs(5));
        let store = RedisStore::connect(&primary.url(), one)
            .await
            .expect("connect");
        store
            .revoke(Some("alice"), "a", until)
            .await
            .expect("one replica has it");
        assert_eq!(
            store.consume(Some("alice"), "b", until).await,
            Ok(Consumption::Consumed)
        );
        let replicated = replica.cli(&["--scan"]);
        assert!(
            replicated.contains(":id:a") && replicated.contains(":id:b"),
            "{replicated}"
        );

        let two = StoreOptions::default().wait_for_replicas(2, Duration::from_millis(100));
        let store = RedisStore::connect(&primary.url(), two)
            .await
            .expect("connect");
        assert_eq!(
            store.revoke(Some("alice"), "c", until).await,
            Err(StoreError::Unreachable {
                reason: "too few replicas acknowledged the write".into()
            })
        );
        // The primary has it all the same: refused, never let through.
        assert_eq!(
            store.check(&Check::token(Some("alice"), "c")).await,
            Ok(TokenState::Revoked)
        );
    })
    .await
    .expect("bounded in time");
}
