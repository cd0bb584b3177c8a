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
//! Arguments: the operation (run with no arguments for the list), the iteration
//! count (default 1000) and the message length in bytes (default 248, the claims
//! set; it applies to the protocol operations only, since the high-level decode
//! needs the claims themselves). `profile time [iterations] [length] [filter]`
//! instead prints the best wall-clock time of 15 rounds of every operation whose
//! name contains `filter`.

use std::hint::black_box;

use vaulttoken_benches::implementations::{
    Keys, check_interoperability, decode, footer, local, paserk, public, ring,
};
use vaulttoken_benches::{
    CLAIMS, footer_at_limits, footer_over_depth, footer_over_keys, footer_over_len, payload,
};
use vaulttoken_benches::{extractor, mirror, remote};

/// One timed operation.
type Op<'a> = Box<dyn FnMut() + 'a>;

/// Wraps an operation so that its result is kept (`black_box`) and then dropped
/// inside the loop, as criterion does.
fn op<'a, T>(mut f: impl FnMut() -> T + 'a) -> Op<'a> {
    Box::new(move || {
        black_box(f());
    })
}

/// Everything the operations work on, built before the timed loop.
struct Fixtures {
    k: Keys,
    services: decode::Services,
    /// `payload(length)`, and the tokens vaulttoken makes of it.
    message: Vec<u8>,
    local_token: String,
    public_token: String,
    /// Tokens of the claims set itself, for the high-level decode.
    claims_local_token: String,
    /// The claims set with `iat` the current second (`mirror::claims_issued_now`):
    /// the token the mirror's operations decode, and `decode-local-now`, their
    /// base.
    claims_now_token: String,
    claims_public_token: String,
    rings: [ring::Ring; 2],
    local_paserk: String,
    public_paserk: String,
    footers: [(&'static str, Vec<u8>); 4],
    /// A `v4.public` token, its verifier, and a router with the extractor.
    extractor: extractor::Fixture,
    /// A token decoded through a ring alone and through a followed key set.
    remote: remote::Fixture,
    /// The mirror's operation, `decode-local-mirror` (1,000,000 revocations)
    /// or `decode-local-mirror-10000`: built only when it is the one run,
    /// against the Redis server of `VAULTTOKEN_BENCH_REDIS_URL`: its name,
    /// its token (the claims set issued now, since a Redis store refuses
    /// tokens issued before its epoch) and the mirrored service.
    mirror: Option<(String, String, mirror::Fixture)>,
}

/// The name of the mirror's operation holding `count` revocations.
fn mirror_op(count: usize) -> String {
    if count == mirror::COUNTS[0] {
        "decode-local-mirror".to_owned()
    } else {
        format!("decode-local-mirror-{count}")
    }
}

impl Fixtures {
    fn new(len: usize, operation: &str) -> Self {
        let k = Keys::new().expect("fixture keys");
        check_interoperability(&k);
        let message = payload(len);
        let local_paserk = k.vt_local.to_paserk().expect("k4.local");
        let mirror = mirror::COUNTS
            .into_iter()
            .find(|&count| mirror_op(count) == operation)
            .map(|count| {
                let Ok(url) = std::env::var(mirror::URL_VAR) else {
                    eprintln!(
                        "{operation} needs a Redis server filled by `examples/mirror.rs fill`: \
                         set {} (benches/mirror-callgrind.sh does)",
                        mirror::URL_VAR
                    );
                    std::process::exit(2);
                };
                let token = local::vaulttoken_encrypt(&k, &mirror::claims_issued_now());
                let fixture = mirror::Fixture::new(&url, count, &token);
                (operation.to_owned(), token, fixture)
            });
        Self {
            mirror,
            services: decode::Services::new().expect("services"),
            local_token: local::vaulttoken_encrypt(&k, &message),
            public_token: public::vaulttoken_sign(&k, &message),
            claims_local_token: local::vaulttoken_encrypt(&k, CLAIMS),
            claims_now_token: local::vaulttoken_encrypt(&k, &mirror::claims_issued_now()),
            claims_public_token: public::vaulttoken_sign(&k, CLAIMS),
            rings: [1, 1000].map(|keys| ring::Ring::new(keys).expect("ring")),
            local_paserk: local_paserk.as_str().to_owned(),
            public_paserk: k.vt_public.to_paserk(),
            footers: [
                ("at-limits", footer_at_limits()),
                ("over-len", footer_over_len()),
                ("over-keys", footer_over_keys()),
                ("over-depth", footer_over_depth()),
            ],
            extractor: extractor::Fixture::new(),
            remote: remote::Fixture::new(),
            message,
            k,
        }
    }
}

/// Every operation, by name.
fn operations(f: &Fixtures) -> Vec<(String, Op<'_>)> {
    let k = &f.k;
    let s = &f.services;
    let m = f.message.as_slice();
    let (lt, pt) = (f.local_token.as_str(), f.public_token.as_str());
    let (clt, cpt) = (
        f.claims_local_token.as_str(),
        f.claims_public_token.as_str(),
    );
    let mut local_floor = local::Floor::new(m.len());
    let mut decrypt_floor = local::Floor::new(m.len());
    let public_floor = public::Floor::new(k, m.len());
    let sign_floor = public::Floor::new(k, m.len());
    let lid_floor = paserk::IdFloor::new("k4.lid.", &f.local_paserk);
    let pid_floor = paserk::IdFloor::new("k4.pid.", &f.public_paserk);

    let mut ops: Vec<(&str, Op<'_>)> = vec![
        // The protocol operations, on `payload(length)`.
        (
            "local-encrypt",
            op(move || local::vaulttoken_encrypt(k, black_box(m))),
        ),
        (
            "local-decrypt",
            op(move || local::vaulttoken_decrypt(k, black_box(lt))),
        ),
        (
            "public-sign",
            op(move || public::vaulttoken_sign(k, black_box(m))),
        ),
        (
            "public-verify",
            op(move || public::vaulttoken_verify(k, black_box(pt))),
        ),
        (
            "floor-local-encrypt",
            op(move || local_floor.encrypt(black_box(m))),
        ),
        (
            "floor-local-decrypt",
            op(move || decrypt_floor.decrypt(black_box(m))),
        ),
        (
            "floor-public-sign",
            op(move || black_box(&sign_floor).sign(k)),
        ),
        (
            "floor-public-verify",
            op(move || black_box(&public_floor).verify(k)),
        ),
        (
            "pasetors-local-encrypt",
            op(move || local::pasetors_encrypt(k, black_box(m))),
        ),
        (
            "rusty-local-encrypt",
            op(move || local::rusty_encrypt(k, black_box(m))),
        ),
        (
            "paseto-v4-local-encrypt",
            op(move || local::paseto_v4_encrypt(k, black_box(m))),
        ),
        (
            "pasetors-local-decrypt",
            op(move || local::pasetors_decrypt(k, black_box(lt))),
        ),
        (
            "rusty-local-decrypt",
            op(move || local::rusty_decrypt(k, black_box(lt))),
        ),
        (
            "paseto-v4-local-decrypt",
            op(move || local::paseto_v4_decrypt(k, black_box(lt))),
        ),
        (
            "pasetors-public-sign",
            op(move || public::pasetors_sign(k, black_box(m))),
        ),
        (
            "rusty-public-sign",
            op(move || public::rusty_sign(k, black_box(m))),
        ),
        (
            "paseto-v4-public-sign",
            op(move || public::paseto_v4_sign(k, black_box(m))),
        ),
        (
            "pasetors-public-verify",
            op(move || public::pasetors_verify(k, black_box(pt))),
        ),
        (
            "rusty-public-verify",
            op(move || public::rusty_verify(k, black_box(pt))),
        ),
        (
            "paseto-v4-public-verify",
            op(move || public::paseto_v4_verify(k, black_box(pt))),
        ),
        // The high-level decode, on the claims set.
        (
            "decode-local",
            op(move || decode::vaulttoken_local(s, black_box(clt))),
        ),
        (
            "decode-local-store",
            op(move || decode::vaulttoken_local_checked(s, black_box(clt))),
        ),
        (
            "decode-public",
            op(move || decode::vaulttoken_public(s, black_box(cpt))),
        ),
        (
            "floor-decode-local",
            op(move || decode::floor_local(k, black_box(clt))),
        ),
        (
            "floor-decode-public",
            op(move || decode::floor_public(k, black_box(cpt))),
        ),
        (
            "pasetors-decode-local",
            op(move || decode::pasetors_local(k, black_box(clt))),
        ),
        (
            "rusty-decode-local",
            op(move || decode::rusty_local(k, black_box(clt))),
        ),
        (
            "paseto-v4-decode-local",
            op(move || decode::paseto_v4_local(k, black_box(clt))),
        ),
        (
            "pasetors-decode-public",
            op(move || decode::pasetors_public(k, black_box(cpt))),
        ),
        (
            "rusty-decode-public",
            op(move || decode::rusty_public(k, black_box(cpt))),
        ),
        (
            "paseto-v4-decode-public",
            op(move || decode::paseto_v4_public(k, black_box(cpt))),
        ),
        // PASERK.
        (
            "paserk-lid",
            op(move || paserk::vaulttoken_lid(black_box(k))),
        ),
        (
            "paserk-pid",
            op(move || paserk::vaulttoken_pid(black_box(k))),
        ),
        ("floor-paserk-lid", op(move || black_box(&lid_floor).run())),
        ("floor-paserk-pid", op(move || black_box(&pid_floor).run())),
        (
            "pasetors-paserk-lid",
            op(move || paserk::pasetors_lid(black_box(k))),
        ),
        (
            "paseto-v4-paserk-lid",
            op(move || paserk::paseto_v4_lid(black_box(k))),
        ),
        (
            "pasetors-paserk-pid",
            op(move || paserk::pasetors_pid(black_box(k))),
        ),
        (
            "paseto-v4-paserk-pid",
            op(move || paserk::paseto_v4_pid(black_box(k))),
        ),
    ];
    let text = f.local_paserk.as_str();
    ops.extend([
        (
            "paserk-parse-local",
            op(move || paserk::vaulttoken_parse_local(black_box(text))),
        ),
        (
            "pasetors-paserk-parse-local",
            op(move || paserk::pasetors_parse_local(black_box(text))),
        ),
        (
            "paseto-v4-paserk-parse-local",
            op(move || paserk::paseto_v4_parse_local(black_box(text))),
        ),
    ]);

    let mut ops: Vec<(String, Op<'_>)> = ops
        .into_iter()
        .map(|(name, op)| (name.to_owned(), op))
        .collect();
    // Key rings of 1 and 1000 keys: `ring-decode-1000`, `ring-lookup-1`, ...
    for r in &f.rings {
        let n = r.ring.len();
        ops.push((
            format!("ring-decode-{n}"),
            op(move || ring::decode(r, black_box(&r.token))),
        ));
        ops.push((
            format!("ring-lookup-{n}"),
            op(move || ring::lookup(r, black_box(&r.footer))),
        ));
    }
    // Footers: `footer-at-limits`, `footer-over-keys`, `pasetors-footer-at-limits`, ...
    for (case, bytes) in &f.footers {
        let bytes = bytes.as_slice();
        ops.push((
            format!("footer-{case}"),
            op(move || footer::vaulttoken_parse(black_box(bytes))),
        ));
        if *case != "over-depth" {
            ops.push((
                format!("pasetors-footer-{case}"),
                op(move || footer::pasetors_parse(black_box(bytes))),
            ));
        }
    }
    // The axum integration: `axum-decode` (the raw decode), `axum-decode-typed`
    // (plus the handler's claims type) and `axum-router-extractor` (a whole
    // request through a `Router` and `Verified<User>`).
    let x = &f.extractor;
    ops.push(("axum-decode".to_owned(), op(move || x.decode())));
    ops.push(("axum-decode-typed".to_owned(), op(move || x.decode_typed())));
    ops.push((
        "axum-router-extractor".to_owned(),
        op(move || x.through_router()),
    ));
    // Remote keys: `decode_async` of a known `kid` by a ring alone and by the
    // service of a `RemoteKeySet` following the same ring.
    let r = &f.remote;
    ops.push(("remote-ring-alone".to_owned(), op(move || r.ring_alone())));
    ops.push(("remote-following".to_owned(), op(move || r.following())));
    // The revocation mirror (issue 25): the `decode-local-store` decode
    // through a `MirroredStore`, when its fixture was built.
    if let Some((name, token, m)) = &f.mirror {
        ops.push((name.clone(), op(move || m.decode(black_box(token)))));
    }
    // Their base: the plain decode of a token of the same claims, `iat` now
    // (a Redis store refuses tokens issued before its epoch, which the
    // fixed claims set's 2024 `iat` is).
    let now_token = f.claims_now_token.as_str();
    ops.push((
        "decode-local-now".to_owned(),
        op(move || decode::vaulttoken_local(s, black_box(now_token))),
    ));
    let at_limits = f.footers[0].1.as_slice();
    ops.push((
        "floor-footer-at-limits".to_owned(),
        op(move || footer::floor(black_box(at_limits))),
    ));
    ops
}

/// `profile time [iterations] [length] [filter]`: the best of 15 rounds of each
/// operation whose name contains `filter`, interleaved, in nanoseconds per call: a
/// quick check on a noisy machine, where the minimum is steadier than criterion's
/// mean.
fn time_all(ops: &mut [(String, Op<'_>)], iterations: usize) {
    let mut best = vec![f64::INFINITY; ops.len()];
    for _ in 0..15 {
        for ((_, op), best) in ops.iter_mut().zip(&mut best) {
            let start = std::time::Instant::now();
            timed_loop(iterations, &mut *op);
            let per_call = start.elapsed().as_secs_f64() * 1e9 / iterations as f64;
            *best = best.min(per_call);
        }
    }
    for ((name, _), best) in ops.iter().zip(&best) {
        println!("{name:<30} {best:>12.1} ns");
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

    let fixtures = Fixtures::new(len, &operation);
    let mut ops = operations(&fixtures);

    if operation == "time" {
        let filter = args.next().unwrap_or_default();
        ops.retain(|(name, _)| name.contains(&filter));
        time_all(&mut ops, iterations);
        return;
    }

    if let Some((_, op)) = ops.iter_mut().find(|(name, _)| *name == operation) {
        let before = fixtures.mirror.as_ref().map(|(_, _, m)| m.status());
        timed_loop(iterations, op);
        if let (Some(before), Some((_, _, m))) = (before, &fixtures.mirror) {
            // Every check of the loop answered from memory: none went to Redis.
            let after = m.status();
            assert_eq!(
                (after.answered, after.stale, after.unknown),
                (
                    before.answered + iterations as u64,
                    before.stale,
                    before.unknown
                ),
                "every check answered from memory: {after:?}"
            );
            eprintln!("{operation}: {after:?}");
        }
        return;
    }
    eprintln!("usage: profile <operation> [iterations] [length]; operations:");
    for (name, _) in &ops {
        eprintln!("  {name}");
    }
    for count in mirror::COUNTS {
        eprintln!(
            "  {} (needs {}: benches/mirror-callgrind.sh)",
            mirror_op(count),
            mirror::URL_VAR
        );
    }
    eprintln!("  time [iterations] [length] [filter]");
    std::process::exit(2);
}
