//! Arbitrary text as a stored key ring, through every importer: local and signing
//! rings in clear and wrapped (under a fixed wrapping key), and public rings.
//! Nothing may panic, and a ring that imports must export and import again with
//! the same keys, statuses and token lifetime, in every form its type allows.
//!
//! The seeds in `fuzz/seeds/key_ring_import/` were made with the wrapping key
//! below, so the wrapped ones import.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use vaulttoken::LocalKey;
use vaulttoken::keyring::{
    KeyRing, KeyStatus, LocalKeyRing, PublicKeyRing, RingSettings, SigningKeyRing,
};

/// The wrapping key of the wrapped seeds.
const WRAPPING_KEY: [u8; 32] = [
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
];

static WRAPPING: LazyLock<LocalKey> =
    LazyLock::new(|| LocalKey::from_bytes(&WRAPPING_KEY).expect("32-byte key"));

fuzz_target!(|data: &[u8]| {
    let document = String::from_utf8_lossy(data);
    let wrapping = &*WRAPPING;

    for ring in [
        LocalKeyRing::import_secret(&document, &RingSettings::new()),
        LocalKeyRing::import_wrapped(&document, wrapping, &RingSettings::new()),
    ]
    .into_iter()
    .filter_map(ok_or_format)
    {
        check_issuing(&ring);
        let saved = ring.export_secret().expect("imported keys export");
        same(
            &ring,
            &LocalKeyRing::import_secret(saved.as_str(), &RingSettings::new()).expect("reimports"),
        );
        let saved = ring.export_wrapped(wrapping).expect("imported keys wrap");
        same(
            &ring,
            &LocalKeyRing::import_wrapped(&saved, wrapping, &RingSettings::new())
                .expect("reimports"),
        );
        // A document of one ring type is never another type's.
        assert!(SigningKeyRing::import_wrapped(&saved, wrapping, &RingSettings::new()).is_err());
        assert!(PublicKeyRing::import(&saved, &RingSettings::new()).is_err());
    }

    for ring in [
        SigningKeyRing::import_secret(&document, &RingSettings::new()),
        SigningKeyRing::import_wrapped(&document, wrapping, &RingSettings::new()),
    ]
    .into_iter()
    .filter_map(ok_or_format)
    {
        check_issuing(&ring);
        let saved = ring.export_secret().expect("imported keys export");
        same(
            &ring,
            &SigningKeyRing::import_secret(saved.as_str(), &RingSettings::new())
                .expect("reimports"),
        );
        assert!(LocalKeyRing::import_secret(saved.as_str(), &RingSettings::new()).is_err());
        let saved = ring.export_wrapped(wrapping).expect("imported keys wrap");
        same(
            &ring,
            &SigningKeyRing::import_wrapped(&saved, wrapping, &RingSettings::new())
                .expect("reimports"),
        );
        // The published half has the same ids, every one only trusted to verify.
        let published = ring.public_ring();
        let public = PublicKeyRing::import(&published.export(), &RingSettings::new())
            .expect("public half imports");
        let ids =
            |keys: Vec<(_, KeyStatus)>| keys.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(public.keys()), ids(ring.keys()));
        assert!(
            public
                .keys()
                .iter()
                .all(|(_, status)| *status == KeyStatus::Next)
        );
    }

    if let Some(ring) = ok_or_format(PublicKeyRing::import(&document, &RingSettings::new())) {
        assert!(
            ring.keys()
                .iter()
                .all(|(_, status)| *status == KeyStatus::Next),
            "a verification-only ring holds only next keys"
        );
        same(
            &ring,
            &PublicKeyRing::import(&ring.export(), &RingSettings::new()).expect("reimports"),
        );
        let _ = format!("{ring:?}");
    }
});

fn ok_or_format<T>(result: Result<T, vaulttoken::Error>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            let _ = format!("{error} {error:?}");
            None
        }
    }
}

/// At most one active key, and the ring's own view of it agrees.
fn check_issuing<K: vaulttoken::keyring::IssuingRingKey>(ring: &KeyRing<K>) {
    let keys = ring.keys();
    let active: Vec<_> = keys
        .iter()
        .filter(|(_, status)| *status == KeyStatus::Active)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(active.len() <= 1, "more than one active key");
    assert_eq!(active.first().cloned(), ring.active_id());
    for (id, status) in &keys {
        assert_eq!(ring.status(id), Some(*status));
    }
    assert_eq!(ring.len(), keys.len());
    let _ = format!("{ring:?}");
}

fn same<K: vaulttoken::keyring::RingKey>(a: &KeyRing<K>, b: &KeyRing<K>) {
    assert_eq!(a.keys(), b.keys(), "keys changed on a round trip");
    assert_eq!(a.max_token_lifetime(), b.max_token_lifetime());
}
