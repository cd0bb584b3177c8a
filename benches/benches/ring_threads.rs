//! Thread scaling of the key-ring decode path: a `LocalService` over a
//! `LocalKeyRing` (`LocalService::from_ring`) decodes the same `v4.local` token
//! (with a `{"kid":"k4.lid.…"}` footer) on 1 thread and then on 2 threads at once,
//! a fixed count per thread, and reports the ratio two/one; and, as a control,
//! the same with one ring per thread, which shares nothing.
//!
//! Every decode looks its key up in the shared ring, so the ratio shows whether
//! readers of one ring get in each other's way: close to 2.0 on two free cores
//! means they do not. It is a bounded load run, not a criterion benchmark:
//! criterion times one thread.
//!
//! Run with `cargo bench -p vaulttoken-benches --bench ring_threads`, optionally
//! followed by `-- <decodes per thread>` (default 20000). Each phase also stops
//! after 20 seconds, counting the decodes done by then.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use vaulttoken_benches::implementations::ring::{Ring, decode};

/// Decodes per thread unless the command line says otherwise.
const DEFAULT_DECODES: u64 = 20_000;
/// The longest a phase may run.
const TIME_LIMIT: Duration = Duration::from_secs(20);

fn main() {
    // `cargo bench` passes `--bench`; the first bare number is the count.
    let per_thread = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<u64>().ok())
        .unwrap_or(DEFAULT_DECODES)
        .max(1);
    let fixture = Ring::new(1).expect("ring fixture");
    // The control: one ring per thread, so the threads share nothing. It shows
    // how far two threads scale on this machine at all.
    let own = [
        Ring::new(1).expect("ring fixture"),
        Ring::new(1).expect("ring fixture"),
    ];
    // Warm up: caches, allocator, and one check that the token decodes.
    for _ in 0..per_thread.min(500) {
        decode(&fixture, &fixture.token);
    }

    // Alternate the runs, so a noisy moment hits both kinds alike.
    let (mut shared, mut control) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let one = run(&[&fixture], per_thread);
        shared.push(run(&[&fixture, &fixture], per_thread) / one);
        let one = run(&[&own[0]], per_thread);
        control.push(run(&[&own[0], &own[1]], per_thread) / one);
    }
    println!("ring decode, {per_thread} decodes per thread, {ROUNDS} rounds");
    println!(
        "  two threads / one, one shared ring:       median {:.2}",
        median(&mut shared)
    );
    println!(
        "  two threads / one, a ring per thread:     median {:.2}",
        median(&mut control)
    );
}

/// Rounds of 1-thread and 2-thread runs of each kind.
const ROUNDS: usize = 5;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Decodes on one thread per fixture at once, `per_thread` each (fewer if the
/// time limit is hit); returns the total decodes per second.
fn run(fixtures: &[&Ring], per_thread: u64) -> f64 {
    let threads = fixtures.len();
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let done: u64 = thread::scope(|scope| {
        let workers: Vec<_> = fixtures
            .iter()
            .map(|&fixture| {
                let stop = &stop;
                scope.spawn(move || {
                    let mut count = 0;
                    while count < per_thread && !stop.load(Ordering::Relaxed) {
                        std::hint::black_box(decode(fixture, std::hint::black_box(&fixture.token)));
                        count += 1;
                        if count % 1024 == 0 && start.elapsed() > TIME_LIMIT {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    count
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("decode thread"))
            .sum()
    });
    let elapsed = start.elapsed();
    if stop.load(Ordering::Relaxed) {
        println!("  ({threads} thread(s) hit the {TIME_LIMIT:?} limit after {done} decodes)");
    }
    #[expect(clippy::cast_precision_loss, reason = "a decode count far below 2^52")]
    let rate = done as f64 / elapsed.as_secs_f64();
    rate
}
