//! The revocation mirror's measures (issue 25) against a real redis-server:
//!
//! ```sh
//! redis-server --port 6390 --save '' --daemonize no &
//! cargo run --release -p vaulttoken-benches --example mirror -- fill redis://127.0.0.1:6390 1000000
//! cargo run --release -p vaulttoken-benches --example mirror -- memory redis://127.0.0.1:6390 1000000
//! cargo run --release -p vaulttoken-benches --example mirror -- propagation redis://127.0.0.1:6390 1000 2000
//! ```
//!
//! - `fill URL COUNT`: revokes `COUNT` tokens through `RedisStore::revoke`
//!   (the store's script, so the change stream holds each) under the prefix
//!   `bench-mirror-COUNT`, 512 in flight on one multiplexed connection.
//! - `memory URL COUNT`: connects a `MirroredStore` to those revocations and
//!   prints the replay time, the table's own estimate (`status().table_bytes`)
//!   and what the process's resident set (`VmRSS`, and its peak `VmHWM`) grew
//!   by from just before the connection to after the replay.
//! - `propagation URL REVOCATIONS STALENESS_MS`: one writer `RedisStore` and
//!   three `MirroredStore`s (`max_staleness` STALENESS_MS); for each of
//!   REVOCATIONS sequential revocations, the time from `revoke()` returning
//!   until all three mirrors' `check()` answer `Revoked` (each polled every
//!   1 ms by a task of its own); prints p50, p99 and max of the slowest of
//!   the three (and of each mirror, and from the start of the `revoke()`
//!   call), and how many checks did not answer from memory (a check sent to
//!   Redis would see the revocation at once and flatter the figure).

use std::error::Error;
use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken_benches::mirror::{fill, prefix, rss_bytes, runtime, store_options};
use vaulttoken_redis::{MirrorOptions, MirroredStore, RedisStore, StoreOptions};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |n: usize, name: &str| -> Result<&str> {
        args.get(n)
            .map(String::as_str)
            .ok_or_else(|| format!("missing {name}; see the example's docs").into())
    };
    match arg(0, "the command")? {
        "fill" => run_fill(arg(1, "URL")?, arg(2, "COUNT")?.parse()?),
        "memory" => run_memory(arg(1, "URL")?, arg(2, "COUNT")?.parse()?),
        "propagation" => run_propagation(
            arg(1, "URL")?,
            arg(2, "REVOCATIONS")?.parse()?,
            Duration::from_millis(arg(3, "STALENESS_MS")?.parse()?),
        ),
        other => Err(format!("unknown command {other}: fill, memory or propagation").into()),
    }
}

fn run_fill(url: &str, count: usize) -> Result<()> {
    runtime(2).block_on(async {
        let store = RedisStore::connect(url, store_options(count)).await?;
        let start = Instant::now();
        fill(&store, 0..count, 512).await?;
        let elapsed = start.elapsed();
        println!(
            "filled {count} revocations under {} in {:.1} s ({:.0} per second)",
            prefix(count),
            elapsed.as_secs_f64(),
            count as f64 / elapsed.as_secs_f64()
        );
        Ok(())
    })
}

/// `VmHWM` (the peak resident set) from `/proc/self/status`, in bytes.
fn peak_rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse::<usize>().ok())
        .expect("a VmHWM line in kB")
        * 1024
}

fn run_memory(url: &str, count: usize) -> Result<()> {
    const MIB: f64 = 1024.0 * 1024.0;
    runtime(1).block_on(async {
        // A connection first, so the client's own allocations are not counted.
        let _plain = RedisStore::connect(url, store_options(count)).await?;
        let (rss_before, peak_before) = (rss_bytes(), peak_rss_bytes());
        let start = Instant::now();
        let store =
            MirroredStore::connect(url, store_options(count), MirrorOptions::default()).await?;
        if !store.wait_current(Duration::from_secs(600)).await {
            return Err(format!("not current after 10 minutes: {:?}", store.status()).into());
        }
        let replay = start.elapsed();
        let (rss_after, peak_after) = (rss_bytes(), peak_rss_bytes());
        let status = store.status();
        if status.entries < count || status.overflowed || status.rebuilds != 0 {
            return Err(format!("the mirror does not hold the {count}: {status:?}").into());
        }
        println!("revocations in Redis     {count}");
        println!("entries in the mirror    {}", status.entries);
        println!("replay (connect→current) {:.2} s", replay.as_secs_f64());
        println!(
            "table_bytes              {} ({:.1} MiB, {:.1} B an entry)",
            status.table_bytes,
            status.table_bytes as f64 / MIB,
            status.table_bytes as f64 / status.entries as f64
        );
        println!(
            "VmRSS delta              {:.1} MiB ({:.1} → {:.1})",
            (rss_after as f64 - rss_before as f64) / MIB,
            rss_before as f64 / MIB,
            rss_after as f64 / MIB
        );
        println!(
            "VmHWM (peak) delta       {:.1} MiB ({:.1} → {:.1})",
            (peak_after as f64 - peak_before as f64) / MIB,
            peak_before as f64 / MIB,
            peak_after as f64 / MIB
        );
        Ok(())
    })
}

/// The `q` quantile of sorted `values` (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn run_propagation(url: &str, revocations: usize, staleness: Duration) -> Result<()> {
    runtime(2).block_on(async {
        let options = StoreOptions::default().prefix("bench-propagation");
        let writer = RedisStore::connect(url, options.clone()).await?;
        let mut mirrors = Vec::new();
        for _ in 0..3 {
            let mirror = MirroredStore::connect(
                url,
                options.clone(),
                MirrorOptions::default().max_staleness(staleness),
            )
            .await?;
            mirrors.push(mirror);
        }
        // Ids of this run only, so runs against one server do not collide.
        let run = SystemClock.now().unix_timestamp_nanos();
        let until = SystemClock.now() + time::Duration::hours(1);
        let counts = |mirrors: &[MirroredStore]| -> Vec<(u64, u64, u64)> {
            mirrors
                .iter()
                .map(|m| {
                    let s = m.status();
                    (s.answered, s.stale, s.unknown)
                })
                .collect()
        };
        let before = counts(&mirrors);
        let mut slowest = Vec::with_capacity(revocations);
        let mut every = Vec::with_capacity(revocations * 3);
        // How long each revoke() took, for the time from the call.
        let mut round_trips = Vec::with_capacity(revocations);
        let mut from_call = Vec::with_capacity(revocations);
        for n in 0..revocations {
            let id = format!("prop-{run}-{n}");
            for mirror in &mirrors {
                let state = mirror.check(&Check::token(Some("alice"), &id)).await?;
                assert_eq!(state, TokenState::Live, "{id} live before its revocation");
            }
            let sent = Instant::now();
            writer.revoke(Some("alice"), &id, until).await?;
            let returned = Instant::now();
            round_trips.push(returned - sent);
            let mut waits = tokio::task::JoinSet::new();
            for mirror in &mirrors {
                let (mirror, id) = (mirror.clone(), id.clone());
                waits.spawn(async move {
                    let check = Check::token(Some("alice"), &id);
                    loop {
                        if mirror.check(&check).await? == TokenState::Revoked {
                            return Ok::<_, vaulttoken::error::StoreError>(returned.elapsed());
                        }
                        if returned.elapsed() > Duration::from_secs(30) {
                            panic!("{id} not revoked after 30 s: {:?}", mirror.status());
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                });
            }
            let mut max = Duration::ZERO;
            while let Some(seen) = waits.join_next().await {
                let seen = seen??;
                every.push(seen);
                max = max.max(seen);
            }
            slowest.push(max);
            from_call.push(max + round_trips[n]);
        }
        let after = counts(&mirrors);
        slowest.sort_unstable();
        every.sort_unstable();
        from_call.sort_unstable();
        round_trips.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{revocations} revocations, 3 mirrors, max_staleness {} ms",
            staleness.as_millis()
        );
        println!(
            "slowest of three: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(quantile(&slowest, 0.5)),
            ms(quantile(&slowest, 0.99)),
            ms(quantile(&slowest, 1.0))
        );
        println!(
            "each mirror:      p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(quantile(&every, 0.5)),
            ms(quantile(&every, 0.99)),
            ms(quantile(&every, 1.0))
        );
        println!(
            "from the call:    p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (revoke() itself: p50 {:.2} ms, p99 {:.2} ms)",
            ms(quantile(&from_call, 0.5)),
            ms(quantile(&from_call, 0.99)),
            ms(quantile(&from_call, 1.0)),
            ms(quantile(&round_trips, 0.5)),
            ms(quantile(&round_trips, 0.99))
        );
        for (m, ((a0, s0, u0), (a1, s1, u1))) in before.iter().zip(&after).enumerate() {
            println!(
                "mirror {m}: {} checks from memory, {} to Redis as stale, {} as unknown",
                a1 - a0,
                s1 - s0,
                u1 - u0
            );
        }
        Ok(())
    })
}
