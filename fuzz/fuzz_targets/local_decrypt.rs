//! Arbitrary text as a `v4.local` token: decrypting must never panic, and must
//! agree with the format-only parser.
//!
//! Input: the token, optionally followed by `\n` and the implicit assertion
//! (tokens never contain a newline). The key is the one the official test
//! vectors use, so the seeds (vectors 4-E-*) reach the cryptographic checks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vaulttoken::{LocalKey, v4};

const KEY: [u8; 32] = [
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
];

fuzz_target!(|data: &[u8]| {
    let (token, implicit) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let token = String::from_utf8_lossy(token);
    let key = LocalKey::from_bytes(&KEY).expect("32-byte key");

    let opened = v4::local::decrypt(&key, &token, None, implicit);
    let parsed = token.parse::<v4::UntrustedToken<v4::Local>>();

    if let Ok(message) = &opened {
        // Whatever decrypts is well formed, and its footer is what the parser saw.
        let parsed = parsed.expect("a token that decrypts must parse");
        let footer = parsed.untrusted_footer();
        let again = v4::local::decrypt(&key, &token, Some(footer), implicit)
            .expect("decrypts with its own footer expected");
        assert_eq!(&again, message);
        // A footer other than its own is refused.
        let mut other = footer.to_vec();
        other.push(0);
        assert!(v4::local::decrypt(&key, &token, Some(&other), implicit).is_err());
        // So is any other implicit assertion.
        let mut other = implicit.to_vec();
        other.push(0);
        assert!(v4::local::decrypt(&key, &token, None, &other).is_err());
    } else if let Ok(parsed) = &parsed {
        // The expected-footer path must not panic either.
        let footer = parsed.untrusted_footer().to_vec();
        let _ = v4::local::decrypt(&key, &token, Some(&footer), implicit);
    }
});
