//! vaulttoken against the other PASETO v4 crates and against the bare primitives.
//!
//! Every implementation works on the same keys, the same 248-byte JSON claims set
//! and the same `{"kid":"k4.lid.…"}` footer, with no implicit assertion. Each
//! criterion group is one operation; its functions are the implementations, plus a
//! `floor`: the cryptographic primitives alone, with no encoding, parsing or
//! allocation of a token. The `v4.public` floor verifies the token's own PAE and
//! signature, since the cost of a variable-time Ed25519 verification depends on
//! both.
//!
//! The timed functions live in `vaulttoken_benches::implementations`, which
//! `examples/profile.rs` also runs under callgrind for instruction counts.
//!
//! Before anything is timed, `check_interoperability` decrypts and verifies every
//! peer's token with vaulttoken and every vaulttoken token with each peer, so the
//! numbers compare like with like.
//!
//! Run with `cargo bench -p vaulttoken-benches` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vaulttoken_benches::implementations::{
    Keys, LOCAL_PEERS, PUBLIC_PEERS, check_interoperability, local, public,
};
use vaulttoken_benches::{CLAIMS, payload};

// ---------------------------------------------------------------------------
// The benchmarks.
// ---------------------------------------------------------------------------

fn compare(c: &mut Criterion) {
    let k = Keys::new().expect("fixture keys");
    check_interoperability(&k);

    let size = CLAIMS.len();

    {
        let mut g = c.benchmark_group(format!("v4.local encrypt {size}B"));
        g.bench_function("vaulttoken", |b| {
            b.iter(|| local::vaulttoken_encrypt(&k, black_box(CLAIMS)))
        });
        for (name, encrypt, _) in LOCAL_PEERS {
            g.bench_function(name, |b| b.iter(|| encrypt(&k, black_box(CLAIMS))));
        }
        let mut floor = local::Floor::new(size);
        g.bench_function("floor", |b| b.iter(|| floor.encrypt(black_box(CLAIMS))));
        g.finish();
    }

    {
        let token = local::vaulttoken_encrypt(&k, CLAIMS);
        let mut g = c.benchmark_group(format!("v4.local decrypt {size}B"));
        g.bench_function("vaulttoken", |b| {
            b.iter(|| local::vaulttoken_decrypt(&k, black_box(&token)))
        });
        for (name, _, decrypt) in LOCAL_PEERS {
            g.bench_function(name, |b| b.iter(|| decrypt(&k, black_box(&token))));
        }
        let mut floor = local::Floor::new(size);
        g.bench_function("floor", |b| b.iter(|| floor.decrypt(black_box(CLAIMS))));
        g.finish();
    }

    {
        let mut g = c.benchmark_group(format!("v4.public sign {size}B"));
        g.bench_function("vaulttoken", |b| {
            b.iter(|| public::vaulttoken_sign(&k, black_box(CLAIMS)))
        });
        for (name, sign, _) in PUBLIC_PEERS {
            g.bench_function(name, |b| b.iter(|| sign(&k, black_box(CLAIMS))));
        }
        let floor = public::Floor::new(&k, size);
        g.bench_function("floor", |b| b.iter(|| black_box(&floor).sign(&k)));
        g.finish();
    }

    {
        let token = public::vaulttoken_sign(&k, CLAIMS);
        let mut g = c.benchmark_group(format!("v4.public verify {size}B"));
        g.bench_function("vaulttoken", |b| {
            b.iter(|| public::vaulttoken_verify(&k, black_box(&token)))
        });
        for (name, _, verify) in PUBLIC_PEERS {
            g.bench_function(name, |b| b.iter(|| verify(&k, black_box(&token))));
        }
        let floor = public::Floor::new(&k, size);
        g.bench_function("floor", |b| b.iter(|| black_box(&floor).verify(&k)));
        g.finish();
    }
}

/// vaulttoken's `v4.local` cost as the message grows.
fn scaling(c: &mut Criterion) {
    let k = Keys::new().expect("fixture keys");
    const SIZES: [usize; 4] = [100, 1024, 16 * 1024, 256 * 1024];

    let mut g = c.benchmark_group("vaulttoken v4.local encrypt scaling");
    for len in SIZES {
        let message = payload(len);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::from_parameter(len), &message, |b, m| {
            b.iter(|| local::vaulttoken_encrypt(&k, black_box(m)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("vaulttoken v4.local decrypt scaling");
    for len in SIZES {
        let token = local::vaulttoken_encrypt(&k, &payload(len));
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::from_parameter(len), &token, |b, t| {
            b.iter(|| local::vaulttoken_decrypt(&k, black_box(t)))
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = compare, scaling
}
criterion_main!(benches);
