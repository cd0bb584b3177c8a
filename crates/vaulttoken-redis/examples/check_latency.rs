//! Measures one `check` (what a decode asks) against a Redis server, and
//! confirms it is one round trip: the server's `EVALSHA` count grows by one
//! per check.
//!
//! ```sh
//! redis-server --port 6379 --save "" &
//! cargo run --release -p vaulttoken-redis --example check_latency [redis://127.0.0.1:6379] [checks]
//! ```
//!
//! Bounded: 2,000 checks unless told otherwise, each with the store's
//! 500 ms deadline.

use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken_redis::{RedisStore, StoreOptions};

/// `EVALSHA` calls so far, from `INFO commandstats`.
async fn evalsha_calls(connection: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .unwrap_or_default();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let checks: usize = args.next().map_or(Ok(2_000), |n| n.parse())?;

    let store = RedisStore::connect(&url, StoreOptions::default().prefix("latency")).await?;
    let mut stats = redis::Client::open(url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let until = SystemClock.now() + time::Duration::minutes(5);
    store
        .supersede(Some("alice"), "password_reset", "jti-1", until)
        .await?;
    let check = Check::token(Some("alice"), "jti-1")
        .issued_at(SystemClock.now())
        .latest_of("password_reset");
    // Warm up (the first call loads the script).
    assert_eq!(store.check(&check).await?, TokenState::Live);

    let before = evalsha_calls(&mut stats).await;
    let mut times = Vec::with_capacity(checks);
    let started = Instant::now();
    for _ in 0..checks {
        let one = Instant::now();
        store.check(&check).await?;
        times.push(one.elapsed());
    }
    let total = started.elapsed();
    let evalsha = evalsha_calls(&mut stats).await - before;

    times.sort();
    // The check at `per_mille`/1000 of the sorted times.
    let at = |per_mille: usize| {
        let index = times.len().saturating_sub(1) * per_mille / 1000;
        times.get(index).copied().unwrap_or(Duration::ZERO)
    };
    println!("{store:?}");
    println!(
        "{checks} checks in {total:?}: mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        total / u32::try_from(checks.max(1))?,
        at(500),
        at(990),
        at(1000)
    );
    println!("EVALSHA calls on the server: {evalsha} for {checks} checks");
    Ok(())
}
