//! Shared fixtures for the `compare` benchmark: the claims payload, footer and
//! fixed keys that every implementation is measured on.
//!
//! The benchmark itself lives in `benches/compare.rs`; run it with
//! `cargo bench -p vaulttoken-benches`. [`implementations`] holds the timed
//! operations, which `examples/profile.rs` also runs under callgrind.

pub mod implementations;

/// A fixed 32-byte `v4.local` key (the same bytes for every implementation).
pub const LOCAL_KEY: [u8; 32] = [
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
];

/// A fixed 32-byte Ed25519 seed for `v4.public`.
pub const ED25519_SEED: [u8; 32] = [
    0xb4, 0xcb, 0xfb, 0x43, 0xdf, 0x4c, 0xe2, 0x10, 0x72, 0x7d, 0x95, 0x3e, 0x4a, 0x71, 0x33, 0x07,
    0xfa, 0x19, 0xbb, 0x7d, 0x9f, 0x85, 0x04, 0x14, 0x38, 0xd9, 0xe1, 0x1b, 0x94, 0x2a, 0x37, 0x74,
];

/// A `{"kid":"k4.lid.…"}`-style footer, as a key-rotating service would send.
pub const FOOTER: &[u8] = br#"{"kid":"k4.lid.bqltbNc4JLUAmc9Xtpok-fBuI0dQN5_m3CD9W_nbh559"}"#;

/// No implicit assertion: not every peer crate supports one on every operation,
/// and the comparison must be like for like.
pub const IMPLICIT: &[u8] = b"";

/// A realistic claims set of 248 bytes: registered claims with RFC 3339
/// times, plus two custom claims.
pub const CLAIMS: &[u8] = br#"{"iss":"https://auth.example.com","sub":"user:8f14e45f-ceea","aud":"api.example.com","exp":"2039-01-01T00:00:00Z","nbf":"2024-01-01T00:00:00Z","iat":"2024-01-01T00:00:00Z","jti":"c2a7d5e1-93b4-4f0a-8e61-0d9b2f7c4a38","role":"admin","tenant":"acme"}"#;

/// A payload of exactly `len` bytes for the scaling benchmarks: the claims set
/// repeated and cut to length (its content does not affect the timing).
#[must_use]
pub fn payload(len: usize) -> Vec<u8> {
    CLAIMS.iter().copied().cycle().take(len).collect()
}
