//! A store pointed at a replica (a URL left on the old primary after a
//! failover) refuses to answer: at connect, and on every call once its
//! server has been demoted, checks included, until it is a primary again.

use std::time::{Duration, Instant};

use time::OffsetDateTime;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::StoreError;
use vaulttoken::store::{Check, NewFamily, Rotation, TokenState, TokenStore};
use vaulttoken_redis::{ConnectError, RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

const BOUND: Duration = Duration::from_secs(60);

fn is_replica_error(answer: &StoreError) -> bool {
    matches!(
        answer,
        StoreError::Unreachable { reason } if reason.contains("read-only replica")
    )
}

/// Every call of the store, each answered `Err` by a demoted server.
async fn every_call_fails_closed(store: &RedisStore, until: OffsetDateTime) {
    let now = SystemClock.now();
    let live = Check::token(Some("alice"), "live");
    let family = NewFamily::new("alice", "f-1", now, until);
    let rotation = Rotation::new("alice", "f-1", 0, now);
    let answers: Vec<(&str, Result<(), StoreError>)> = vec![
        ("check", store.check(&live).await.map(drop)),
        ("revoke", store.revoke(Some("alice"), "r", until).await),
        (
            "consume",
            store.consume(Some("alice"), "c", until).await.map(drop),
        ),
        (
            "revoke_issued_before",
            store.revoke_issued_before("alice", now, until).await,
        ),
        (
            "supersede",
            store.supersede(Some("alice"), "slot", "s", until).await,
        ),
        (
            "create_family",
            store.create_family(&family).await.map(drop),
        ),
        (
            "rotate_family",
            store.rotate_family(&rotation).await.map(drop),
        ),
        (
            "revoke_family",
            store.revoke_family(Some("alice"), "f-0").await,
        ),
    ];
    for (call, answer) in answers {
        match answer {
            Err(error) => assert!(is_replica_error(&error), "{call}: {error:?}"),
            Ok(()) => panic!("{call} answered from a replica"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_refused_at_connect_without_its_url() {
    if !redis_available("a_replica_is_refused_at_connect_without_its_url") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let primary = RedisServer::start();
        let port = primary.port().to_string();
        let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
        let refused = RedisStore::connect(&replica.url(), StoreOptions::default()).await;
        let error = refused.expect_err("a replica is not a store");
        assert_eq!(error, ConnectError::NotPrimary);
        let message = error.to_string();
        assert!(message.contains("read-only replica"), "{message}");
        for shown in [message, format!("{error:?}")] {
            assert!(!shown.contains("127.0.0.1"), "{shown}");
            assert!(!shown.contains(&replica.port().to_string()), "{shown}");
        }
        // The primary itself is fine.
        RedisStore::connect(&primary.url(), StoreOptions::default())
            .await
            .expect("a primary is a store");
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_primary_fails_closed_until_it_is_primary_again() {
    if !redis_available("a_demoted_primary_fails_closed_until_it_is_primary_again") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let mut new_primary = RedisServer::start();
        let store = RedisStore::connect(&server.url(), StoreOptions::default())
            .await
            .expect("connect to the primary");
        let until = SystemClock.now() + time::Duration::hours(1);
        let live = Check::token(Some("alice"), "live");
        assert_eq!(store.check(&live).await, Ok(TokenState::Live));

        // A failover demotes the server under the store's feet: the
        // connection stays open, and reads would still answer.
        let port = new_primary.port().to_string();
        assert_eq!(
            server
                .command(&["REPLICAOF", "127.0.0.1", &port])
                .as_deref(),
            Some("+OK")
        );
        every_call_fails_closed(&store, until).await;

        // A replica that has lost its primary and serves no stale data
        // answers MASTERDOWN: still a replica, still refused.
        assert_eq!(
            server
                .command(&["CONFIG", "SET", "replica-serve-stale-data", "no"])
                .as_deref(),
            Some("+OK")
        );
        new_primary.kill();
        let down = Instant::now();
        while !server
            .cli(&["INFO", "replication"])
            .contains("master_link_status:down")
        {
            assert!(down.elapsed() < Duration::from_secs(10), "link never down");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let answer = store.check(&live).await;
        assert!(
            matches!(&answer, Err(error) if is_replica_error(error)),
            "{answer:?}"
        );

        // Promoted again: the same store answers, without reconnecting.
        assert_eq!(
            server.command(&["REPLICAOF", "NO", "ONE"]).as_deref(),
            Some("+OK")
        );
        assert_eq!(store.check(&live).await, Ok(TokenState::Live));
        store
            .revoke(Some("alice"), "live", until)
            .await
            .expect("writes again");
        assert_eq!(store.check(&live).await, Ok(TokenState::Revoked));
    })
    .await
    .expect("bounded in time");
}
