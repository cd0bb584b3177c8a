//! Arbitrary input through every key loader: PEM (PKCS#8 secret, SPKI public),
//! hex and base64url for all three key types, and raw bytes. Nothing may panic,
//! and a key that loads must save and reload to the same key.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vaulttoken::{LocalKey, PublicKey, SecretKey};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // PEM.
    if let Ok(key) = SecretKey::from_pkcs8_pem(&text) {
        let pem = key.to_pkcs8_pem().expect("a loaded key saves");
        let again = SecretKey::from_pkcs8_pem(pem.as_str()).expect("a saved key reloads");
        assert!(again == key);
        assert_eq!(again.public_key(), key.public_key());
        check_secret(&key);
    }
    if let Ok(key) = PublicKey::from_public_key_pem(&text) {
        let again = PublicKey::from_public_key_pem(&key.to_public_key_pem()).expect("reloads");
        assert_eq!(again, key);
        check_public(&key);
    }

    // Hex and base64url.
    if let Ok(key) = LocalKey::from_hex(&text) {
        check_local(&key);
    }
    if let Ok(key) = LocalKey::from_base64url(&text) {
        check_local(&key);
    }
    if let Ok(key) = SecretKey::from_hex(&text) {
        check_secret(&key);
    }
    if let Ok(key) = SecretKey::from_base64url(&text) {
        check_secret(&key);
    }
    if let Ok(key) = PublicKey::from_hex(&text) {
        check_public(&key);
    }
    if let Ok(key) = PublicKey::from_base64url(&text) {
        check_public(&key);
    }

    // Raw bytes.
    if let Ok(key) = LocalKey::from_bytes(data) {
        assert_eq!(data.len(), LocalKey::LENGTH);
        check_local(&key);
    }
    if let Ok(key) = SecretKey::from_seed(data) {
        assert_eq!(data.len(), SecretKey::SEED_LENGTH);
        check_secret(&key);
    }
    if let Ok(key) = SecretKey::from_bytes(data) {
        // A keypair whose public half does not match its seed must be refused.
        assert_eq!(data.len(), SecretKey::KEYPAIR_LENGTH);
        assert_eq!(&data[32..], key.public_key().as_bytes());
        check_secret(&key);
    }
    if let Ok(key) = PublicKey::from_bytes(data) {
        assert_eq!(data, key.as_bytes());
        check_public(&key);
    }
});

fn check_local(key: &LocalKey) {
    let bytes = key.expose_secret_bytes().expect("persistent key");
    let hex = key.to_hex().expect("persistent key");
    let b64 = key.to_base64url().expect("persistent key");
    assert!(LocalKey::from_hex(hex.as_str()).expect("reloads") == *key);
    assert!(LocalKey::from_base64url(b64.as_str()).expect("reloads") == *key);
    assert!(LocalKey::from_bytes(bytes.as_bytes()).expect("reloads") == *key);
}

fn check_secret(key: &SecretKey) {
    let hex = key.to_hex().expect("persistent key");
    let b64 = key.to_base64url().expect("persistent key");
    let seed = key.expose_seed().expect("persistent key");
    let pair = key.expose_secret_bytes().expect("persistent key");
    assert!(SecretKey::from_hex(hex.as_str()).expect("reloads") == *key);
    assert!(SecretKey::from_base64url(b64.as_str()).expect("reloads") == *key);
    assert!(SecretKey::from_seed(seed.as_bytes()).expect("reloads") == *key);
    assert!(SecretKey::from_bytes(pair.as_bytes()).expect("reloads") == *key);
    assert_eq!(&pair.as_bytes()[..32], seed.as_bytes());
    assert_eq!(&pair.as_bytes()[32..], key.public_key().as_bytes());
    check_public(&key.public_key());
}

fn check_public(key: &PublicKey) {
    assert_eq!(PublicKey::from_hex(&key.to_hex()).expect("reloads"), *key);
    assert_eq!(
        PublicKey::from_base64url(&key.to_base64url()).expect("reloads"),
        *key
    );
    assert_eq!(
        PublicKey::from_bytes(key.as_bytes()).expect("reloads"),
        *key
    );
}
