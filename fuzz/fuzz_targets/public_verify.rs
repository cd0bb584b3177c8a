//! Arbitrary text as a `v4.public` token: verifying must never panic, and must
//! agree with the format-only parser.
//!
//! Input: the token, optionally followed by `\n` and the implicit assertion
//! (tokens never contain a newline). The key is the one the official test
//! vectors use, so the seeds (vectors 4-S-*) reach the signature check.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vaulttoken::{PublicKey, v4};

const PUBLIC_KEY: [u8; 32] = [
    0x1e, 0xb9, 0xdb, 0xbb, 0xbc, 0x04, 0x7c, 0x03, 0xfd, 0x70, 0x60, 0x4e, 0x00, 0x71, 0xf0, 0x98,
    0x7e, 0x16, 0xb2, 0x8b, 0x75, 0x72, 0x25, 0xc1, 0x1f, 0x00, 0x41, 0x5d, 0x0e, 0x20, 0xb1, 0xa2,
];

fuzz_target!(|data: &[u8]| {
    let (token, implicit) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let token = String::from_utf8_lossy(token);
    let key = PublicKey::from_bytes(&PUBLIC_KEY).expect("valid public key");

    let verified = v4::public::verify(&key, &token, None, implicit);
    let parsed = token.parse::<v4::UntrustedToken<v4::Public>>();

    if let Ok(message) = &verified {
        let parsed = parsed.expect("a token that verifies must parse");
        let footer = parsed.untrusted_footer();
        let again = v4::public::verify(&key, &token, Some(footer), implicit)
            .expect("verifies with its own footer expected");
        assert_eq!(&again, message);
        let mut other = footer.to_vec();
        other.push(0);
        assert!(v4::public::verify(&key, &token, Some(&other), implicit).is_err());
        let mut other = implicit.to_vec();
        other.push(0);
        assert!(v4::public::verify(&key, &token, None, &other).is_err());
    } else if let Ok(parsed) = &parsed {
        let footer = parsed.untrusted_footer().to_vec();
        let _ = v4::public::verify(&key, &token, Some(&footer), implicit);
    }
});
