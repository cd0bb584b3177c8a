//! Arbitrary text as a published key set. Nothing may panic; a set that
//! parses must write back to a document that parses to the same set, must
//! load into a verification ring (a public set) holding only keys it names,
//! and no error may carry more than a bounded field path.

#![no_main]

use libfuzzer_sys::fuzz_target;
use time::Duration;
use vaulttoken::Error;
use vaulttoken::keyring::{KeySet, KeySetPurpose, RingSettings};

fuzz_target!(|data: &[u8]| {
    let document = String::from_utf8_lossy(data);
    let set = match KeySet::parse(&document) {
        Ok(set) => set,
        Err(Error::KeySet(refused)) => {
            // A field path: `keys[63].` plus at most 32 characters of a name.
            assert!(refused.field.chars().count() <= 48, "{refused:?}");
            let _ = format!("{refused} {refused:?}");
            return;
        }
        Err(other) => panic!("not a key-set error: {other:?}"),
    };
    let again = KeySet::parse(&set.to_json()).expect("a written set parses");
    assert_eq!(again, set, "a round trip changed the set");
    if set.purpose() == KeySetPurpose::Public {
        let ring = set
            .public_ring(&RingSettings::new(), Duration::hours(1))
            .expect("a public set loads");
        for (id, _) in ring.keys() {
            assert!(
                set.key(id.as_str()).is_some(),
                "a key the set does not name"
            );
        }
    }
    let _ = format!("{set:?}");
});
