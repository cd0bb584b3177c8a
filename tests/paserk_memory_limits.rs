//! Hostile password-wrapped PASERKs cannot make us allocate: their Argon2 costs
//! are checked against `PasswordLimits` before any memory is reserved.
//!
//! This binary runs under a capped global allocator (the `cap` crate; our own
//! code forbids `unsafe`, which a hand-written allocator would need). While the
//! hostile strings are parsed, the cap allows only 1 MiB beyond what is already
//! allocated: an allocation past it fails and aborts the test binary. One test
//! function only, so no other test allocates under the cap.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::alloc::System;

use cap::Cap;
use vaulttoken::error::PaserkError;
use vaulttoken::paserk::{PasswordLimits, PasswordParams};
use vaulttoken::{Error, LocalKey, SecretKey};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const HEADERS: [&str; 2] = ["k4.local-pw.", "k4.secret-pw."];
const SALT: usize = 16;

/// Rewrites the costs stored in a password-wrapped PASERK (they sit right after
/// the 16-byte salt: memory as 8 bytes, iterations and parallelism as 4 each).
fn with_costs(text: &str, header: &str, memory: u64, iterations: u32, lanes: u32) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    let mut data = Base64UrlUnpadded::decode_vec(&text[header.len()..]).unwrap();
    data[SALT..SALT + 8].copy_from_slice(&memory.to_be_bytes());
    data[SALT + 8..SALT + 12].copy_from_slice(&iterations.to_be_bytes());
    data[SALT + 12..SALT + 16].copy_from_slice(&lanes.to_be_bytes());
    format!("{header}{}", Base64UrlUnpadded::encode_string(&data))
}

#[test]
fn hostile_argon2_costs_are_refused_before_any_allocation() {
    let cheap = PasswordParams::new(8 * 1024, 1, 1).unwrap();
    let local = LocalKey::generate()
        .unwrap()
        .to_paserk_password(b"pw", &cheap)
        .unwrap();
    let secret = SecretKey::generate()
        .unwrap()
        .to_paserk_password(b"pw", &cheap)
        .unwrap();
    let limits = PasswordLimits::default();

    let hostile_costs: [(u64, u32, u32); 6] = [
        (1 << 40, 1, 1),  // 1 TiB of memory
        (u64::MAX, 1, 1), // beyond any address space
        (u64::MAX - u64::MAX % 1024, u32::MAX, u32::MAX),
        (256 << 20, u32::MAX, 1),    // minutes of work
        (256 << 20, 1, 0x00FF_FFFF), // the most lanes Argon2 allows
        ((256 << 20) + 1024, 4, 4),  // just over the memory limit
    ];
    let mut cases = Vec::new();
    for (memory, iterations, lanes) in hostile_costs {
        cases.push((0, with_costs(&local, HEADERS[0], memory, iterations, lanes)));
        cases.push((
            1,
            with_costs(&secret, HEADERS[1], memory, iterations, lanes),
        ));
    }

    // Everything is prepared; from here on only 1 MiB more may be allocated.
    let baseline = ALLOCATOR.allocated();
    ALLOCATOR.set_limit(baseline + (1 << 20)).unwrap();
    // The cap is live: a 2 MiB reservation is refused (without aborting).
    assert!(Vec::<u8>::new().try_reserve_exact(2 << 20).is_err());

    let mut results = Vec::with_capacity(cases.len());
    for (kind, text) in &cases {
        let refused = if *kind == 0 {
            LocalKey::from_paserk_password(text, b"pw", &limits).map(drop)
        } else {
            SecretKey::from_paserk_password(text, b"pw", &limits).map(drop)
        };
        results.push(refused);
    }
    ALLOCATOR.set_limit(usize::MAX).unwrap();

    for (result, (_, text)) in results.iter().zip(&cases) {
        assert!(
            matches!(
                result,
                Err(Error::Paserk(PaserkError::PasswordCostTooHigh { .. }))
            ),
            "{text}: {result:?}"
        );
    }
}
