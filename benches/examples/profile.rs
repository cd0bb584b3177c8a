//! Runs one benchmarked operation in a loop, for `valgrind --tool=callgrind`.
//!
//! Callgrind counts instructions, which repeat exactly from run to run even on a
//! busy machine, where wall-clock timings do not. Collection is limited to
//! `timed_loop`, so key setup and the interoperability check are not counted:
//!
//! ```sh
//! cargo build --release -p vaulttoken-benches --example profile
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='profile::timed_loop*' \
//!     target/release/examples/profile local-decrypt 1000 248
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Arguments: the operation (see `OPERATIONS`), the iteration count (default
//! 1000) and the message length in bytes (default 248, the claims set). The
//! operation `time` instead prints the best wall-clock time of several rounds.

use std::hint::black_box;

use vaulttoken_benches::implementations::{Keys, check_interoperability, local, public};
use vaulttoken_benches::payload;

const OPERATIONS: &[&str] = &[
    "local-encrypt",
    "local-decrypt",
    "public-sign",
    "public-verify",
    "floor-local-encrypt",
    "floor-local-decrypt",
    "floor-public-sign",
    "floor-public-verify",
    "pasetors-local-decrypt",
    "rusty-local-decrypt",
    "paseto-v4-local-decrypt",
    "pasetors-public-verify",
    "rusty-public-verify",
    "paseto-v4-public-verify",
    "time",
];

/// One timed operation.
type Op<'a> = Box<dyn FnMut() + 'a>;

/// `profile time [iterations] [length]`: the best of 15 rounds of each operation
/// below, interleaved, in nanoseconds per call: a quick check on a noisy
/// machine, where the minimum is steadier than criterion's mean.
fn time_all(k: &Keys, message: &[u8], local_token: &str, public_token: &str, iterations: usize) {
    let mut local_floor = local::Floor::new(message.len());
    let mut encrypt_floor = local::Floor::new(message.len());
    let public_floor = public::Floor::new(k, message.len());
    let mut cases: Vec<(&str, Op<'_>)> = vec![
        (
            "local decrypt vaulttoken",
            Box::new(|| {
                black_box(local::vaulttoken_decrypt(k, black_box(local_token)));
            }),
        ),
        (
            "local decrypt paseto-v4",
            Box::new(|| {
                black_box(local::paseto_v4_decrypt(k, black_box(local_token)));
            }),
        ),
        (
            "local decrypt floor",
            Box::new(|| {
                black_box(local_floor.decrypt(black_box(message)));
            }),
        ),
        (
            "local encrypt vaulttoken",
            Box::new(|| {
                black_box(local::vaulttoken_encrypt(k, black_box(message)));
            }),
        ),
        (
            "local encrypt floor",
            Box::new(|| {
                black_box(encrypt_floor.encrypt(black_box(message)));
            }),
        ),
        (
            "public verify vaulttoken",
            Box::new(|| {
                black_box(public::vaulttoken_verify(k, black_box(public_token)));
            }),
        ),
        (
            "public verify floor",
            Box::new(|| {
                black_box(&public_floor).verify(k);
            }),
        ),
    ];
    let mut best = vec![f64::INFINITY; cases.len()];
    for _ in 0..15 {
        for ((_, op), best) in cases.iter_mut().zip(&mut best) {
            let start = std::time::Instant::now();
            timed_loop(iterations, &mut *op);
            let per_call = start.elapsed().as_secs_f64() * 1e9 / iterations as f64;
            *best = best.min(per_call);
        }
    }
    for ((name, _), best) in cases.iter().zip(&best) {
        println!("{name:<28} {best:>10.1} ns");
    }
}

/// The loop whose instructions are counted; never inlined, so that callgrind's
/// `--toggle-collect` can find it by name.
#[inline(never)]
fn timed_loop(iterations: usize, mut op: impl FnMut()) {
    for _ in 0..iterations {
        op();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let operation = args.next().unwrap_or_default();
    let iterations: usize = args.next().map_or(1000, |n| n.parse().expect("iterations"));
    let len: usize = args.next().map_or(248, |n| n.parse().expect("length"));

    let k = Keys::new().expect("fixture keys");
    check_interoperability(&k);
    let message = payload(len);
    let local_token = local::vaulttoken_encrypt(&k, &message);
    let public_token = public::vaulttoken_sign(&k, &message);
    let mut local_floor = local::Floor::new(len);
    let public_floor = public::Floor::new(&k, len);

    if operation == "time" {
        time_all(&k, &message, &local_token, &public_token, iterations);
        return;
    }

    match operation.as_str() {
        "local-encrypt" => timed_loop(iterations, || {
            black_box(local::vaulttoken_encrypt(&k, black_box(&message)));
        }),
        "local-decrypt" => timed_loop(iterations, || {
            black_box(local::vaulttoken_decrypt(&k, black_box(&local_token)));
        }),
        "public-sign" => timed_loop(iterations, || {
            black_box(public::vaulttoken_sign(&k, black_box(&message)));
        }),
        "public-verify" => timed_loop(iterations, || {
            black_box(public::vaulttoken_verify(&k, black_box(&public_token)));
        }),
        "floor-local-encrypt" => timed_loop(iterations, || {
            black_box(local_floor.encrypt(black_box(&message)));
        }),
        "floor-local-decrypt" => timed_loop(iterations, || {
            black_box(local_floor.decrypt(black_box(&message)));
        }),
        "floor-public-sign" => timed_loop(iterations, || {
            black_box(black_box(&public_floor).sign(&k));
        }),
        "floor-public-verify" => timed_loop(iterations, || {
            black_box(&public_floor).verify(&k);
        }),
        "pasetors-local-decrypt" => timed_loop(iterations, || {
            black_box(local::pasetors_decrypt(&k, black_box(&local_token)));
        }),
        "rusty-local-decrypt" => timed_loop(iterations, || {
            black_box(local::rusty_decrypt(&k, black_box(&local_token)));
        }),
        "paseto-v4-local-decrypt" => timed_loop(iterations, || {
            black_box(local::paseto_v4_decrypt(&k, black_box(&local_token)));
        }),
        "pasetors-public-verify" => timed_loop(iterations, || {
            black_box(public::pasetors_verify(&k, black_box(&public_token)));
        }),
        "rusty-public-verify" => timed_loop(iterations, || {
            black_box(public::rusty_verify(&k, black_box(&public_token)));
        }),
        "paseto-v4-public-verify" => timed_loop(iterations, || {
            black_box(public::paseto_v4_verify(&k, black_box(&public_token)));
        }),
        _ => {
            eprintln!("usage: profile <operation> [iterations] [length]; operations:");
            for name in OPERATIONS {
                eprintln!("  {name}");
            }
            std::process::exit(2);
        }
    }
}
