//! Redis killed mid-run: calls fail closed within the deadline, and the same
//! store (and the service holding it) recovers once Redis is back on its
//! port, without being rebuilt (refusing, after a restart that lost the
//! data, the tokens issued before it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::{Denial, StoreError};
use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken::{Claims, Error, LocalKey, LocalService};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

const DEADLINE: Duration = Duration::from_millis(300);
/// Scheduling slack on a busy two-core machine.
const MARGIN: Duration = Duration::from_millis(400);
/// The longest recovery may take once the server is back.
const RECOVERY: Duration = Duration::from_secs(15);

fn is_unavailable(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Timeout { .. } | StoreError::Unreachable { .. }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_closed_and_the_same_store_recovers() {
    if !redis_available("a_killed_server_fails_closed_and_the_same_store_recovers") {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut server = RedisServer::start();
        let options = StoreOptions::default().deadline(DEADLINE);
        let store = Arc::new(
            RedisStore::connect(&server.url(), options)
                .await
                .expect("connect"),
        );
        let service = LocalService::builder(LocalKey::generate().expect("key"))
            .store(store.clone())
            .build();
        let token = service
            .encode(&Claims::builder().subject("alice").build().expect("claims"))
            .expect("encode");
        service.decode_async(&token).await.expect("live token");
        let check = Check::token(Some("alice"), "jti-outage");
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));

        server.kill();
        for _ in 0..3 {
            let started = Instant::now();
            let failed = store.check(&check).await;
            let elapsed = started.elapsed();
            let error = failed.expect_err("no answer while Redis is down");
            assert!(is_unavailable(&error), "{error:?}");
            assert!(elapsed < DEADLINE + MARGIN, "check took {elapsed:?}");
            // No connection detail in the message.
            assert!(!error.to_string().contains("127.0.0.1"), "{error}");

            let started = Instant::now();
            let refused = service.decode_async(&token).await;
            let elapsed = started.elapsed();
            assert!(
                matches!(&refused, Err(Error::Store(error)) if is_unavailable(error)),
                "{refused:?}"
            );
            assert!(elapsed < DEADLINE + MARGIN, "decode took {elapsed:?}");
        }
        let until = SystemClock.now() + time::Duration::hours(1);
        assert!(store.revoke(Some("alice"), "x", until).await.is_err());

        // Back empty (it saves nothing): the store notices the lost data on
        // its first answer, and refuses what it can no longer vouch for.
        server.restart();
        let back = Instant::now();
        loop {
            match store.check(&check).await {
                Ok(state) => {
                    assert_eq!(state, TokenState::IssuedBeforeStoreEpoch);
                    break;
                }
                Err(error) => assert!(is_unavailable(&error), "{error:?}"),
            }
            assert!(back.elapsed() < RECOVERY, "the store never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("recovered {:?} after the restart", back.elapsed());
        assert!(matches!(
            service.decode_async(&token).await,
            Err(Error::Denied(Denial::IssuedBeforeStoreEpoch))
        ));
        // A token issued after the loss (in a later second) works as before.
        let lost_at = SystemClock.now();
        let wait = 1_020 - i64::from(lost_at.millisecond());
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
        let token = service
            .encode(&Claims::builder().subject("alice").build().expect("claims"))
            .expect("encode");
        service.decode_async(&token).await.expect("decodes");
        let verified = service.decode_async(&token).await.expect("decodes");
        service.revoke(&verified).await.expect("revokes again");
        let refused = service.decode_async(&token).await;
        assert!(matches!(refused, Err(Error::Denied(_))), "{refused:?}");
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_at_the_deadline() {
    if !redis_available("a_server_that_never_answers_times_out_at_the_deadline") {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let server = RedisServer::start_with(&["--enable-debug-command", "yes"]);
        let store = RedisStore::connect(&server.url(), StoreOptions::default().deadline(DEADLINE))
            .await
            .expect("connect");
        // DEBUG SLEEP blocks the server longer than the deadline.
        let sleeper = {
            let port = server.port();
            std::thread::spawn(move || {
                std::process::Command::new("redis-cli")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &port.to_string(),
                        "DEBUG",
                        "SLEEP",
                        "1.5",
                    ])
                    .output()
                    .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let answer = store.check(&Check::token(None, "slow")).await;
        let elapsed = started.elapsed();
        assert_eq!(
            answer,
            Err(StoreError::Timeout {
                deadline: time::Duration::milliseconds(300)
            })
        );
        assert!(
            elapsed >= DEADLINE && elapsed < DEADLINE + MARGIN,
            "{elapsed:?}"
        );
        let slept = sleeper
            .join()
            .expect("redis-cli ran")
            .expect("redis-cli ran");
        assert_eq!(slept.trim(), "OK");
        // Once the server is responsive again, so is the store.
        let recovered = Instant::now();
        loop {
            if store.check(&Check::token(None, "slow")).await == Ok(TokenState::Live) {
                break;
            }
            assert!(recovered.elapsed() < RECOVERY, "the store never recovered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("bounded in time");
}
