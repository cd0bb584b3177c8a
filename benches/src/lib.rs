//! Shared fixtures for the `compare` benchmark: the claims payload, footer and
//! fixed keys that every implementation is measured on.
//!
//! The benchmark itself lives in `benches/compare.rs`; run it with
//! `cargo bench -p vaulttoken-benches`. [`implementations`] holds the timed
//! operations, which `examples/profile.rs` also runs under callgrind.

pub mod extractor;
pub mod implementations;
pub mod mirror;
pub mod remote;

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

/// The default footer limits that [`footer_at_limits`] sits exactly on:
/// 8 KiB, depth 2 (a flat object is depth 1) and 512 keys counted at every depth.
pub const FOOTER_MAX_LEN: usize = 8192;
/// See [`FOOTER_MAX_LEN`].
pub const FOOTER_MAX_KEYS: usize = 512;

/// A JSON-claims footer exactly at the default limits: 8192 bytes, depth 2 and 512
/// keys (`kid`, an object `meta` holding one key, and 509 custom string claims),
/// every key unique. pasetors' footer limits default to the same 8192 bytes and
/// 512 keys, so it accepts the same footer.
#[must_use]
pub fn footer_at_limits() -> Vec<u8> {
    footer_with(FOOTER_MAX_KEYS, FOOTER_MAX_LEN, false)
}

/// [`footer_at_limits`] plus one trailing space: 8193 bytes, over the length
/// limit and otherwise valid JSON.
#[must_use]
pub fn footer_over_len() -> Vec<u8> {
    let mut footer = footer_at_limits();
    footer.push(b' ');
    footer
}

/// 513 keys within 8192 bytes: over the key limit, the 513th key last, so the
/// scanner reads the whole footer before it refuses it.
#[must_use]
pub fn footer_over_keys() -> Vec<u8> {
    footer_with(FOOTER_MAX_KEYS + 1, FOOTER_MAX_LEN, false)
}

/// 512 keys within 8192 bytes, with the last claim nested to depth 3: over the
/// depth limit at the very end, so the scanner reads the whole footer first.
#[must_use]
pub fn footer_over_depth() -> Vec<u8> {
    footer_with(FOOTER_MAX_KEYS, FOOTER_MAX_LEN, true)
}

/// `{"kid":"…","meta":{"region":"eu"},"c0001":"…",…}` with `keys` keys in all,
/// padded to exactly `len` bytes by lengthening the string values. With `deep`,
/// the last claim's value is `{"d":{}}`, which puts an object at depth 3.
fn footer_with(keys: usize, len: usize, deep: bool) -> Vec<u8> {
    let fixed =
        br#"{"kid":"k4.lid.bqltbNc4JLUAmc9Xtpok-fBuI0dQN5_m3CD9W_nbh559","meta":{"region":"eu"}"#;
    // `kid`, `meta` and `region`, plus `deep` and `d` in the deep variant.
    let custom = keys - 3 - 2 * usize::from(deep);
    // Each custom claim is `,"cNNNN":"` + value + `"`: 11 bytes of framing.
    let tail = if deep {
        r#","deep":{"d":{}}}"#.len()
    } else {
        1
    };
    let room = len - fixed.len() - tail - 11 * custom;
    let (each, extra) = (room / custom, room % custom);
    let mut footer = fixed.to_vec();
    for i in 0..custom {
        let value_len = each + usize::from(i < extra);
        footer.extend_from_slice(format!(r#","c{i:04}":""#).as_bytes());
        footer.extend(std::iter::repeat_n(b'v', value_len));
        footer.push(b'"');
    }
    if deep {
        footer.extend_from_slice(br#","deep":{"d":{}}"#);
    }
    footer.push(b'}');
    assert_eq!(footer.len(), len, "footer fixture length");
    footer
}

/// The `n`-th filler key of a key ring: distinct for every `n`, and never equal to
/// [`LOCAL_KEY`] (whose bytes are all at least 0x70, while these end in 0x00).
#[must_use]
pub fn filler_key(n: u32) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..4].copy_from_slice(&n.to_le_bytes());
    key
}

/// [`CLAIMS`] with `exp` in the past (same length): every high-level decoder must
/// refuse it.
#[must_use]
pub fn expired_claims() -> Vec<u8> {
    let text = std::str::from_utf8(CLAIMS).expect("the claims are UTF-8");
    let expired = text.replace(
        r#""exp":"2039-01-01T00:00:00Z""#,
        r#""exp":"2020-01-01T00:00:00Z""#,
    );
    assert_ne!(expired, text, "the claims have an exp to replace");
    expired.into_bytes()
}
