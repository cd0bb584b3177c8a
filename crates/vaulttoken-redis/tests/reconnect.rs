//! The reconnect pauses and retries are options: a store that lost its
//! server waits at least `reconnect_min_delay` before it tries again, one
//! with short pauses is back soon after the server is, and one without
//! retries tries again at its next call.

use std::time::{Duration, Instant};

use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

const DEADLINE: Duration = Duration::from_millis(300);

/// Kills the server under a connected store, makes one call (which starts
/// the reconnect attempts while the port is closed), restarts the server,
/// and returns how long after that call the store answered again.
async fn recovery_after_a_restart(pause: Duration, retries: usize) -> Duration {
    let mut server = RedisServer::start();
    let options = StoreOptions::default()
        .deadline(DEADLINE)
        .reconnect_retries(retries)
        .reconnect_min_delay(pause)
        .reconnect_max_delay(pause);
    let store = RedisStore::connect(&server.url(), options)
        .await
        .expect("connect");
    let check = Check::token(None, "reconnect");
    assert_eq!(store.check(&check).await, Ok(TokenState::Live));

    server.kill();
    let lost = Instant::now();
    assert!(store.check(&check).await.is_err(), "no server, no answer");
    // Let the first attempt meet the closed port.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.restart();
    loop {
        if store.check(&check).await == Ok(TokenState::Live) {
            return lost.elapsed();
        }
        assert!(lost.elapsed() < Duration::from_secs(20), "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconnect_pause_is_an_option() {
    if !redis_available("the_reconnect_pause_is_an_option") {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        // The second attempt comes no sooner than the first pause (jitter
        // only lengthens it), however soon the server is back. (The first
        // attempt may come a moment before the call, when the manager sees
        // the connection close: hence the 100 ms.)
        let slow = recovery_after_a_restart(Duration::from_secs(3), 6).await;
        assert!(slow >= Duration::from_millis(2_900), "{slow:?}");
        // Short pauses: back well before that.
        let fast = recovery_after_a_restart(Duration::from_millis(20), 6).await;
        assert!(fast < Duration::from_millis(2_500), "{fast:?}");
        // No retries: the attempt that failed is not retried after a pause;
        // the next call makes a new one.
        let unretried = recovery_after_a_restart(Duration::from_secs(3), 0).await;
        assert!(unretried < Duration::from_millis(2_500), "{unretried:?}");
        eprintln!(
            "recovered after {slow:?} (3 s pauses), {fast:?} (20 ms pauses), \
             {unretried:?} (3 s pauses, no retries)"
        );
    })
    .await
    .expect("bounded in time");
}
