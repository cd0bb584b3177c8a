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
//! The groups:
//!
//! - `compare`: `v4.local` encrypt and decrypt, `v4.public` sign and verify, at
//!   248 bytes (the protocol operations: bytes in, bytes out).
//! - `scaling`: `v4.local` encrypt and decrypt at 100 B, 1 KiB, 16 KiB and 256 KiB.
//! - `high_level`: the high-level decode of each crate (authenticate, parse the
//!   claims, check the time rules); its floor is vaulttoken's protocol operation
//!   plus a serde parse into a borrowed typed struct and an RFC 3339 parse of
//!   `exp`, `nbf` and `iat`, compared with now (`decode::floor_claims`).
//! - `key_ring`: a `LocalService` over a `LocalKeyRing` of 1 and of 1000 keys, and
//!   the ring's `KeyProvider` lookup alone.
//! - `paserk_ids`: `k4.lid` and `k4.pid` ids (floor: the BLAKE2b-264 alone), and
//!   parsing a `k4.local` key.
//! - `footer_limits`: `Footer::parse` in Claims mode on an 8 KiB footer exactly at
//!   the default limits, and on footers just over each limit, which must be
//!   refused for less than the parse costs.
//!
//! The timed functions live in `vaulttoken_benches::implementations`, which
//! `examples/profile.rs` also runs under callgrind for instruction counts.
//!
//! Before anything is timed, `check_interoperability` decrypts and verifies every
//! peer's token with vaulttoken and every vaulttoken token with each peer, checks
//! that every high-level decoder reads the same claims and refuses an expired
//! token, that the rings find their key, that every crate computes the same
//! PASERK ids, and that each footer fixture is accepted or refused as intended,
//! so the numbers compare like with like.
//!
//! Run with `cargo bench -p vaulttoken-benches` (add `-- --quick` for a fast pass,
//! or a filter such as `-- "high-level"` for some groups only).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vaulttoken_benches::implementations::{
    Keys, LOCAL_PEERS, PUBLIC_PEERS, check_interoperability, decode, footer, local, opens, paserk,
    public, ring,
};
use vaulttoken_benches::{
    CLAIMS, footer_at_limits, footer_over_depth, footer_over_keys, footer_over_len, payload,
};

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

/// `v4.local` cost as the message grows, for every implementation and the floor.
fn scaling(c: &mut Criterion) {
    let k = Keys::new().expect("fixture keys");
    const SIZES: [usize; 4] = [100, 1024, 16 * 1024, 256 * 1024];

    let mut g = c.benchmark_group("v4.local encrypt scaling");
    for len in SIZES {
        let message = payload(len);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("vaulttoken", len), &message, |b, m| {
            b.iter(|| local::vaulttoken_encrypt(&k, black_box(m)))
        });
        for (name, encrypt, _) in LOCAL_PEERS {
            g.bench_with_input(BenchmarkId::new(name, len), &message, |b, m| {
                b.iter(|| encrypt(&k, black_box(m)))
            });
        }
        let mut floor = local::Floor::new(len);
        g.bench_with_input(BenchmarkId::new("floor", len), &message, |b, m| {
            b.iter(|| floor.encrypt(black_box(m)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("v4.local decrypt scaling");
    for len in SIZES {
        let message = payload(len);
        let token = local::vaulttoken_encrypt(&k, &message);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("vaulttoken", len), &token, |b, t| {
            b.iter(|| local::vaulttoken_decrypt(&k, black_box(t)))
        });
        for (name, _, decrypt) in LOCAL_PEERS {
            if !opens(&k, decrypt, &token, &message) {
                eprintln!("{name} refuses a v4.local token of a {len}-byte message: not timed");
                continue;
            }
            g.bench_with_input(BenchmarkId::new(name, len), &token, |b, t| {
                b.iter(|| decrypt(&k, black_box(t)))
            });
        }
        let mut floor = local::Floor::new(len);
        g.bench_with_input(BenchmarkId::new("floor", len), &message, |b, m| {
            b.iter(|| floor.decrypt(black_box(m)))
        });
    }
    g.finish();
}

/// The high-level decode (authenticate, parse the claims, check the time rules)
/// through each crate's own API; the floor is vaulttoken's protocol operation
/// plus a serde parse into a borrowed typed struct and the time checks. See
/// `implementations::decode` for what each implementation checks.
fn high_level(c: &mut Criterion) {
    let k = Keys::new().expect("fixture keys");
    let s = decode::Services::new().expect("services");
    let size = CLAIMS.len();

    {
        let token = local::vaulttoken_encrypt(&k, CLAIMS);
        let mut g = c.benchmark_group(format!("v4.local high-level decode {size}B"));
        g.bench_function("vaulttoken", |b| {
            b.iter(|| decode::vaulttoken_local(&s, black_box(&token)))
        });
        // The same decode, then a revocation check in a memory store.
        g.bench_function("vaulttoken + memory store", |b| {
            b.iter(|| decode::vaulttoken_local_checked(&s, black_box(&token)))
        });
        g.bench_function("pasetors", |b| {
            b.iter(|| decode::pasetors_local(&k, black_box(&token)))
        });
        g.bench_function("rusty_paseto", |b| {
            b.iter(|| decode::rusty_local(&k, black_box(&token)))
        });
        g.bench_function("paseto-v4", |b| {
            b.iter(|| decode::paseto_v4_local(&k, black_box(&token)))
        });
        g.bench_function("floor", |b| {
            b.iter(|| decode::floor_local(&k, black_box(&token)))
        });
        g.finish();
    }

    {
        let token = public::vaulttoken_sign(&k, CLAIMS);
        let mut g = c.benchmark_group(format!("v4.public high-level decode {size}B"));
        g.bench_function("vaulttoken", |b| {
            b.iter(|| decode::vaulttoken_public(&s, black_box(&token)))
        });
        g.bench_function("pasetors", |b| {
            b.iter(|| decode::pasetors_public(&k, black_box(&token)))
        });
        g.bench_function("rusty_paseto", |b| {
            b.iter(|| decode::rusty_public(&k, black_box(&token)))
        });
        g.bench_function("paseto-v4", |b| {
            b.iter(|| decode::paseto_v4_public(&k, black_box(&token)))
        });
        g.bench_function("floor", |b| {
            b.iter(|| decode::floor_public(&k, black_box(&token)))
        });
        g.finish();
    }
}

/// A `LocalService` over a `LocalKeyRing` of 1 and of 1000 keys: the whole decode,
/// and the `KeyProvider` lookup alone.
fn key_ring(c: &mut Criterion) {
    let rings = [1, 1000].map(|keys| ring::Ring::new(keys).expect("ring"));

    let mut g = c.benchmark_group("LocalKeyRing decode");
    for r in &rings {
        g.bench_with_input(BenchmarkId::from_parameter(r.ring.len()), r, |b, r| {
            b.iter(|| ring::decode(r, black_box(&r.token)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("LocalKeyRing lookup");
    for r in &rings {
        g.bench_with_input(BenchmarkId::from_parameter(r.ring.len()), r, |b, r| {
            b.iter(|| ring::lookup(r, black_box(&r.footer)))
        });
    }
    g.finish();
}

/// PASERK ids and parsing, with the floor of an id: its BLAKE2b-264 alone.
fn paserk_ids(c: &mut Criterion) {
    let k = Keys::new().expect("fixture keys");

    {
        let mut g = c.benchmark_group("PASERK k4.lid");
        g.bench_function("vaulttoken", |b| {
            b.iter(|| paserk::vaulttoken_lid(black_box(&k)))
        });
        g.bench_function("pasetors", |b| {
            b.iter(|| paserk::pasetors_lid(black_box(&k)))
        });
        g.bench_function("paseto-v4", |b| {
            b.iter(|| paserk::paseto_v4_lid(black_box(&k)))
        });
        let text = k.vt_local.to_paserk().expect("k4.local");
        let floor = paserk::IdFloor::new("k4.lid.", text.as_str());
        g.bench_function("floor", |b| b.iter(|| black_box(&floor).run()));
        g.finish();
    }

    {
        let mut g = c.benchmark_group("PASERK k4.pid");
        g.bench_function("vaulttoken", |b| {
            b.iter(|| paserk::vaulttoken_pid(black_box(&k)))
        });
        g.bench_function("pasetors", |b| {
            b.iter(|| paserk::pasetors_pid(black_box(&k)))
        });
        g.bench_function("paseto-v4", |b| {
            b.iter(|| paserk::paseto_v4_pid(black_box(&k)))
        });
        let floor = paserk::IdFloor::new("k4.pid.", &k.vt_public.to_paserk());
        g.bench_function("floor", |b| b.iter(|| black_box(&floor).run()));
        g.finish();
    }

    {
        let text = k.vt_local.to_paserk().expect("k4.local");
        let text = text.as_str();
        let mut g = c.benchmark_group("PASERK parse k4.local");
        g.bench_function("vaulttoken", |b| {
            b.iter(|| paserk::vaulttoken_parse_local(black_box(text)))
        });
        g.bench_function("pasetors", |b| {
            b.iter(|| paserk::pasetors_parse_local(black_box(text)))
        });
        g.bench_function("paseto-v4", |b| {
            b.iter(|| paserk::paseto_v4_parse_local(black_box(text)))
        });
        g.finish();
    }
}

/// `Footer::parse` in Claims mode at the default limits (8 KiB, depth 2, 512
/// keys): a footer exactly at them, and one just over each. The refusals must
/// cost less than the parse. pasetors' footer parsing has the same length and
/// key limits; the floor is a bare `serde_json::Value` parse.
fn footer_limits(c: &mut Criterion) {
    let at_limits = footer_at_limits();
    let over_len = footer_over_len();
    let over_keys = footer_over_keys();
    let over_depth = footer_over_depth();

    let mut g = c.benchmark_group("footer parse 8KiB");
    g.throughput(Throughput::Bytes(at_limits.len() as u64));
    let cases: [(&str, &[u8]); 4] = [
        ("at limits (parsed)", &at_limits),
        ("over length (refused)", &over_len),
        ("over keys (refused)", &over_keys),
        ("over depth (refused)", &over_depth),
    ];
    for (case, bytes) in cases {
        g.bench_with_input(BenchmarkId::new("vaulttoken", case), bytes, |b, f| {
            b.iter(|| footer::vaulttoken_parse(black_box(f)))
        });
    }
    for (case, bytes) in &cases[..3] {
        g.bench_with_input(BenchmarkId::new("pasetors", case), bytes, |b, f| {
            b.iter(|| footer::pasetors_parse(black_box(f)))
        });
    }
    g.bench_with_input(
        BenchmarkId::new("floor", "at limits (parsed)"),
        &at_limits,
        |b, f| b.iter(|| footer::floor(black_box(f))),
    );
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
    targets = compare, scaling, high_level, key_ring, paserk_ids, footer_limits
}
criterion_main!(benches);
