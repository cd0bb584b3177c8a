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

/// Unpadded base64url, through the crate the library itself encodes with.
fn base64url(bytes: &[u8]) -> String {
    use base64ct::Encoding as _;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}
