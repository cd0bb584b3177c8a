//! The audit subject key: set once, before the first event, it keys every
//! subject hash; later calls change nothing. One test in its own binary, so
//! no other test draws the key first.

use blake2::Blake2bMac;
use blake2::digest::consts::U16;
use blake2::digest::{KeyInit, Mac};
use vaulttoken::audit;

#[test]
fn a_shared_subject_key_keys_every_subject_hash_and_stays() {
    assert!(audit::set_subject_key([7; 32]));
    let mut mac = <Blake2bMac<U16> as KeyInit>::new_from_slice(&[7; 32]).unwrap();
    Mac::update(&mut mac, b"vaulttoken.audit.subject");
    Mac::update(&mut mac, b"alice");
    let bytes = mac.finalize().into_bytes();
    let expected = base64url(&bytes);
    assert_eq!(audit::subject_hash("alice"), expected);
    assert!(!audit::set_subject_key([8; 32]));
    assert_eq!(audit::subject_hash("alice"), expected);
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}
