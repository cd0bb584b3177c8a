//! Encrypt/decrypt and sign/verify round-trip for any message, footer and
//! implicit assertion; and a token with any single bit flipped is refused.
//!
//! Input layout: bytes 0-1 pick the bit to flip (little-endian position in the
//! token, taken modulo its length), byte 2 the bit within that byte, byte 3 the
//! footer length and byte 4 the implicit-assertion length (each capped by what
//! is left); then the footer, the implicit assertion, and the message. Missing
//! header bytes count as zero. The `v4.local` nonce comes from the input too, so
//! every run replays exactly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vaulttoken::{LocalKey, SecretKey, danger, v4};

const LOCAL_KEY: [u8; 32] = [
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
];
const SEED: [u8; 32] = [
    0xb4, 0xcb, 0xfb, 0x43, 0xdf, 0x4c, 0xe2, 0x10, 0x72, 0x7d, 0x95, 0x3e, 0x4a, 0x71, 0x33, 0x07,
    0xfa, 0x19, 0xbb, 0x7d, 0x9f, 0x85, 0x04, 0x14, 0x38, 0xd9, 0xe1, 0x1b, 0x94, 0x2a, 0x37, 0x74,
];

struct Input<'a> {
    flip_position: usize,
    flip_mask: u8,
    nonce: [u8; 32],
    footer: &'a [u8],
    implicit: &'a [u8],
    message: &'a [u8],
}

impl<'a> Input<'a> {
    fn split(data: &'a [u8]) -> Self {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let mut rest = data.get(5..).unwrap_or(&[]);
        let mut take = |len: usize| {
            let (head, tail) = rest.split_at(len.min(rest.len()));
            rest = tail;
            head
        };
        let footer = take(usize::from(byte(3)));
        let implicit = take(usize::from(byte(4)));
        let message = rest;
        // Any nonce will do; deriving it from the header keeps runs reproducible.
        let mut nonce = [0u8; 32];
        for (i, n) in nonce.iter_mut().enumerate() {
            *n = byte(i % 5).wrapping_add(u8::try_from(i).unwrap_or(0));
        }
        Self {
            flip_position: usize::from(u16::from_le_bytes([byte(0), byte(1)])),
            flip_mask: 1 << (byte(2) % 8),
            nonce,
            footer,
            implicit,
            message,
        }
    }
}

/// `token` with one bit flipped, as text (an invalid byte becomes U+FFFD).
fn flipped(token: &str, input: &Input<'_>) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = input.flip_position % bytes.len();
    bytes[at] ^= input.flip_mask;
    String::from_utf8_lossy(&bytes).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let input = Input::split(data);
    let (footer, implicit, message) = (input.footer, input.implicit, input.message);

    // v4.local
    let key = LocalKey::from_bytes(&LOCAL_KEY).expect("32-byte key");
    let token = danger::dangerous_encrypt_with_nonce(&key, message, footer, implicit, &input.nonce)
        .expect("encrypt");
    assert!(token.starts_with("v4.local."));
    assert_eq!(
        v4::local::decrypt(&key, &token, None, implicit).expect("decrypts"),
        message
    );
    assert_eq!(
        v4::local::decrypt(&key, &token, Some(footer), implicit).expect("decrypts"),
        message
    );
    let parsed: v4::UntrustedToken<v4::Local> = token.parse().expect("parses");
    assert_eq!(parsed.untrusted_footer(), footer);
    let tampered = flipped(&token, &input);
    assert!(
        v4::local::decrypt(&key, &tampered, None, implicit).is_err(),
        "v4.local accepted a flipped bit: {token} -> {tampered}"
    );

    // v4.public
    let secret = SecretKey::from_seed(&SEED).expect("32-byte seed");
    let public = secret.public_key();
    let token = v4::public::sign(&secret, message, footer, implicit).expect("sign");
    assert!(token.starts_with("v4.public."));
    assert_eq!(
        v4::public::verify(&public, &token, None, implicit).expect("verifies"),
        message
    );
    assert_eq!(
        v4::public::verify(&public, &token, Some(footer), implicit).expect("verifies"),
        message
    );
    let parsed: v4::UntrustedToken<v4::Public> = token.parse().expect("parses");
    assert_eq!(parsed.untrusted_footer(), footer);
    let tampered = flipped(&token, &input);
    assert!(
        v4::public::verify(&public, &tampered, None, implicit).is_err(),
        "v4.public accepted a flipped bit: {token} -> {tampered}"
    );
});
