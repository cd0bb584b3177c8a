//! The key set's behaviour: reading, refusing, publishing, loading.

use time::macros::datetime;

use super::*;
use crate::clock::FixedClock;
use crate::keyring::SigningKeyRing;
use crate::keys::SecretKey;
use serde_json::{Value, json};

fn public_key() -> PublicKey {
    SecretKey::generate().unwrap().public_key()
}

fn entry(status: &str) -> Value {
    let key = public_key();
    json!({
        "kid": key.paserk_id().unwrap().as_str(),
        "public_key": key.to_paserk(),
        "status": status,
    })
}

fn document(keys: Vec<Value>) -> Value {
    json!({
        "version": 1,
        "issuer": "https://auth.example",
        "purpose": "public",
        "cache_seconds": 300,
        "keys": keys,
    })
}

/// The field `parse` names for `document`.
fn refused_field(document: &Value) -> String {
    match KeySet::parse(&document.to_string()) {
        Err(Error::KeySet(refused)) => refused.field,
        other => panic!("not refused as a key set: {other:?}"),
    }
}

#[test]
fn a_document_round_trips_with_every_status() {
    let retiring = {
        let mut key = entry("retiring");
        key["signs_until"] = json!("2030-01-01T00:00:00Z");
        key["verifies_until"] = json!("2030-01-01T00:15:00Z");
        key
    };
    let next = {
        let mut key = entry("next");
        key["signs_from"] = json!("2030-01-01T00:20:00Z");
        key
    };
    let set = KeySet::parse(&document(vec![next, entry("active"), retiring]).to_string()).unwrap();
    assert_eq!(
        set.keys()[0].status(),
        PublishedStatus::Next {
            signs_from: Some(datetime!(2030-01-01 0:20 UTC))
        }
    );
    assert_eq!(
        set.keys()[2].status(),
        PublishedStatus::Retiring {
            signs_until: datetime!(2030-01-01 0:00 UTC),
            verifies_until: datetime!(2030-01-01 0:15 UTC),
        }
    );
    assert_eq!(set.cache_time(), Duration::minutes(5));
    assert_eq!(set.active(), Some(&set.keys()[1]));
    assert_eq!(KeySet::parse(&set.to_json()).unwrap(), set);
}

#[test]
fn each_fault_is_refused_naming_its_field() {
    let good = document(vec![entry("active")]);
    let with = |path: &[&str], value: Value| {
        let mut changed = good.clone();
        let mut at = &mut changed;
        for step in &path[..path.len() - 1] {
            at = match step.parse::<usize>() {
                Ok(index) => &mut at[index],
                Err(_) => &mut at[*step],
            };
        }
        let last = path[path.len() - 1];
        match last.parse::<usize>() {
            Ok(index) => at[index] = value,
            Err(_) => at[last] = value,
        }
        changed
    };
    let without = |name: &str| {
        let mut changed = good.clone();
        changed.as_object_mut().unwrap().remove(name);
        changed
    };
    let cases = [
        (with(&["version"], json!(2)), "version"),
        (with(&["version"], json!("1")), "version"),
        (without("version"), "version"),
        (with(&["issuer"], json!("")), "issuer"),
        (with(&["issuer"], json!("a\nb")), "issuer"),
        (with(&["issuer"], json!("i".repeat(513))), "issuer"),
        (with(&["issuer"], json!(7)), "issuer"),
        (with(&["purpose"], json!("secret")), "purpose"),
        (with(&["cache_seconds"], json!(86_401)), "cache_seconds"),
        (with(&["cache_seconds"], json!(-1)), "cache_seconds"),
        (with(&["cache_seconds"], json!(1.5)), "cache_seconds"),
        (without("cache_seconds"), "cache_seconds"),
        (with(&["keys"], json!({})), "keys"),
        (with(&["extra"], json!(1)), "extra"),
        (
            with(&["keys", "0", "kid"], json!("k4.pid.nope")),
            "keys[0].kid",
        ),
        (
            with(&["keys", "0", "public_key"], json!("k4.public.AAAA")),
            "keys[0].public_key",
        ),
        (
            with(
                &["keys", "0", "public_key"],
                json!(public_key().to_paserk()),
            ),
            "keys[0].kid",
        ),
        (
            with(&["keys", "0", "status"], json!("previous")),
            "keys[0].status",
        ),
        (
            with(&["keys", "0", "signs_until"], json!("2030-01-01T00:00:00Z")),
            "keys[0].status",
        ),
        (
            with(&["keys", "0", "signs_from"], json!("yesterday")),
            "keys[0].signs_from",
        ),
        (
            with(&["keys", "0", "colour"], json!("red")),
            "keys[0].colour",
        ),
        (with(&["keys", "0"], json!("k4.pid")), "keys[0]"),
    ];
    for (document, field) in cases {
        assert_eq!(refused_field(&document), field, "{document}");
    }
    // A local set carries no public key, and a public one needs them.
    let mut local = good.clone();
    local["purpose"] = json!("local");
    assert_eq!(refused_field(&local), "keys[0].kid");
    let lid = crate::LocalKey::generate().unwrap().paserk_id().unwrap();
    local["keys"] = json!([{"kid": lid.as_str(), "status": "active"}]);
    assert_eq!(KeySet::parse(&local.to_string()).unwrap().keys().len(), 1);
    let mut bare = good.clone();
    bare["keys"][0]
        .as_object_mut()
        .unwrap()
        .remove("public_key");
    assert_eq!(refused_field(&bare), "keys[0].public_key");
}

#[test]
fn duplicates_two_active_keys_and_backward_retirements_are_refused() {
    let one = entry("active");
    assert_eq!(
        refused_field(&document(vec![one.clone(), one.clone()])),
        "keys[1].kid"
    );
    assert_eq!(
        refused_field(&document(vec![entry("active"), entry("active")])),
        "keys[1].status"
    );
    let mut backward = entry("retiring");
    backward["signs_until"] = json!("2030-01-01T00:15:00Z");
    backward["verifies_until"] = json!("2030-01-01T00:00:00Z");
    assert_eq!(
        refused_field(&document(vec![backward])),
        "keys[0].verifies_until"
    );
}

#[test]
fn hostile_documents_are_refused_before_parsing() {
    let big = "x".repeat(MAX_KEY_SET_LEN + 1);
    assert_eq!(
        refused_field(&json!({ "version": 1, "issuer": big })),
        "(document)"
    );
    let deep = r#"{"version":1,"keys":[{"kid":{"a":1}}]}"#;
    assert!(matches!(
        KeySet::parse(deep),
        Err(Error::KeySet(KeySetError { ref field, .. })) if field == "(document)"
    ));
    let too_many: Vec<Value> = (0..=MAX_KEY_SET_KEYS).map(|_| json!({})).collect();
    assert_eq!(refused_field(&document(too_many)), "keys");
    assert_eq!(refused_field(&json!([1])), "(document)");
    let long_name = format!(r#"{{"{}":1}}"#, "n".repeat(100));
    match KeySet::parse(&long_name) {
        Err(Error::KeySet(refused)) => assert_eq!(refused.field.len(), 32),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_ring_is_published_with_its_statuses_and_a_reader_drops_expired_keys() {
    let start = datetime!(2030-01-01 0:00 UTC);
    let ring = SigningKeyRing::new(Duration::minutes(15))
        .unwrap()
        .with_clock(FixedClock::new(start));
    let old = ring.add(SecretKey::generate().unwrap()).unwrap();
    ring.promote(&old).unwrap();
    let new = ring.add(SecretKey::generate().unwrap()).unwrap();
    ring.promote(&new).unwrap();
    let next = ring.add(SecretKey::generate().unwrap()).unwrap();
    let set = KeySet::of_ring("https://auth.example", Duration::minutes(5), &ring).unwrap();
    assert_eq!(set.purpose(), KeySetPurpose::Public);
    assert_eq!(
        set.key(old.as_str()).unwrap().status(),
        PublishedStatus::Retiring {
            signs_until: start,
            verifies_until: start + Duration::minutes(15),
        }
    );
    assert_eq!(
        set.key(new.as_str()).unwrap().status(),
        PublishedStatus::Active { signs_from: None }
    );
    assert_eq!(
        set.key(next.as_str()).unwrap().status(),
        PublishedStatus::Next { signs_from: None }
    );
    let during = RingSettings::new().with_clock(FixedClock::new(start + Duration::minutes(14)));
    let verifying = set.public_ring(&during, Duration::minutes(15)).unwrap();
    assert_eq!(verifying.len(), 3);
    assert!(
        verifying
            .keys()
            .iter()
            .all(|(_, status)| *status == KeyStatus::Next)
    );
    // At verifies_until the retiring key is gone; the others stay.
    let after = RingSettings::new().with_clock(FixedClock::new(start + Duration::minutes(15)));
    let verifying = set.public_ring(&after, Duration::minutes(15)).unwrap();
    assert_eq!(verifying.len(), 2);
    assert!(verifying.status(&old).is_none());
    assert_eq!(
        verifying.settings().clock().now(),
        start + Duration::minutes(15)
    );
    assert!(matches!(
        set.public_ring(&after, -Duration::SECOND),
        Err(Error::KeyRing(KeyRingError::NegativeLifetime))
    ));
}

#[test]
fn a_local_set_names_ids_and_gives_no_ring() {
    let ring = crate::keyring::LocalKeyRing::new(Duration::hours(1)).unwrap();
    ring.add(crate::LocalKey::generate().unwrap()).unwrap();
    let set = KeySet::of_ring("i", Duration::ZERO, &ring).unwrap();
    let text = set.to_json();
    assert!(!text.contains("k4.local."), "{text}");
    assert_eq!(KeySet::parse(&text).unwrap(), set);
    assert!(matches!(
        set.public_ring(&RingSettings::new(), Duration::hours(1)),
        Err(Error::KeySet(KeySetError { ref field, .. })) if field == "purpose"
    ));
}

#[test]
fn the_documented_example_is_a_valid_key_set() {
    let page = include_str!("../../../docs/KEYSET.md");
    let start = page.find("```json\n").unwrap() + "```json\n".len();
    let end = start + page[start..].find("```").unwrap();
    let set = KeySet::parse(&page[start..end]).unwrap();
    assert_eq!(set.keys().len(), 3);
    assert_eq!(set.active(), Some(&set.keys()[1]));
}

#[test]
fn new_checks_what_parse_checks() {
    let key =
        PublishedKey::public(public_key(), PublishedStatus::Active { signs_from: None }).unwrap();
    let lid = crate::LocalKey::generate().unwrap().paserk_id().unwrap();
    let local = PublishedKey::id_only(lid, PublishedStatus::Next { signs_from: None });
    let five = Duration::minutes(5);
    assert!(KeySet::new("i", KeySetPurpose::Public, five, vec![key.clone()]).is_ok());
    assert!(KeySet::new("i", KeySetPurpose::Public, -five, vec![]).is_err());
    assert!(KeySet::new("i", KeySetPurpose::Public, Duration::days(2), vec![]).is_err());
    assert!(KeySet::new("i", KeySetPurpose::Public, Duration::days(1), vec![]).is_ok());
    assert!(KeySet::new("i", KeySetPurpose::Public, five, vec![local.clone()]).is_err());
    assert!(KeySet::new("i", KeySetPurpose::Local, five, vec![key]).is_err());
    assert!(KeySet::new("i", KeySetPurpose::Local, five, vec![local]).is_ok());
    assert!(KeySet::new("i".repeat(512), KeySetPurpose::Local, five, vec![]).is_ok());
}

/// The problem `parse` gives for `document`.
fn refused_problem(document: &Value) -> &'static str {
    match KeySet::parse(&document.to_string()) {
        Err(Error::KeySet(refused)) => refused.problem,
        other => panic!("not refused as a key set: {other:?}"),
    }
}

/// A retiring key with every field it can have.
fn full_entry() -> Value {
    let mut key = entry("retiring");
    key["signs_until"] = json!("2030-01-01T00:00:00.123456789Z");
    key["verifies_until"] = json!("2030-01-01T00:15:00.123456789Z");
    key
}

#[test]
fn the_largest_set_this_crate_writes_is_read_back() {
    let keys: Vec<Value> = (0..MAX_KEY_SET_KEYS).map(|_| full_entry()).collect();
    let mut largest = document(keys);
    largest["issuer"] = json!("i".repeat(MAX_ISSUER_LEN));
    let text = KeySet::parse(&largest.to_string()).unwrap().to_json();
    assert!(text.len() <= MAX_KEY_SET_LEN, "{}", text.len());
    assert_eq!(KeySet::parse(&text).unwrap().keys().len(), MAX_KEY_SET_KEYS);
    // Padded to exactly the limit with whitespace, still read.
    let padded = text.clone() + &" ".repeat(MAX_KEY_SET_LEN - text.len());
    assert_eq!(padded.len(), MAX_KEY_SET_LEN);
    assert!(KeySet::parse(&padded).is_ok());
    // One key more, each with every field: refused by the shape scan, before
    // any parsing.
    let keys: Vec<Value> = (0..=MAX_KEY_SET_KEYS)
        .map(|_| {
            let mut key = full_entry();
            key["signs_from"] = json!("2030-01-01T00:00:00Z");
            key
        })
        .collect();
    assert_eq!(refused_field(&document(keys)), "(document)");
}

#[test]
fn a_version_is_refused_as_unsupported_or_as_not_a_number() {
    let mut newer = document(vec![]);
    newer["version"] = json!(2);
    assert_eq!(
        refused_problem(&newer),
        "an unsupported version (this library reads 1)"
    );
    newer["version"] = json!(-1);
    assert_eq!(refused_problem(&newer), "not a whole number");
    newer["version"] = json!("1");
    assert_eq!(refused_problem(&newer), "not a whole number");
}

#[test]
fn a_published_key_shows_its_id_and_status_and_gives_its_public_key() {
    let key = public_key();
    let published =
        PublishedKey::public(key, PublishedStatus::Active { signs_from: None }).unwrap();
    assert_eq!(published.public_key(), Some(&key));
    let set = KeySet::parse(&document(vec![entry("next")]).to_string()).unwrap();
    assert!(set.keys()[0].public_key().is_some());
    let shown = format!("{published:?}");
    assert!(shown.contains(published.kid().as_str()), "{shown}");
    assert!(shown.contains("Active"), "{shown}");
}

#[test]
fn a_status_with_the_wrong_instants_is_refused_as_such() {
    let mut retiring_from = full_entry();
    retiring_from["signs_from"] = json!("2030-01-01T00:00:00Z");
    let mut next_until = entry("next");
    next_until["signs_until"] = json!("2030-01-01T00:00:00Z");
    let wrong_instants =
        "next and active take signs_from only; retiring takes signs_until and verifies_until";
    for key in [retiring_from, next_until, entry("retiring")] {
        let refused = document(vec![key]);
        assert_eq!(refused_field(&refused), "keys[0].status");
        assert_eq!(refused_problem(&refused), wrong_instants);
    }
    assert_eq!(
        refused_problem(&document(vec![entry("previous")])),
        "neither next, active nor retiring"
    );
    // A key that verifies no longer than it signed (a zero token lifetime).
    let mut at_once = full_entry();
    at_once["verifies_until"] = at_once["signs_until"].clone();
    assert!(KeySet::parse(&document(vec![at_once]).to_string()).is_ok());
}

#[test]
fn a_public_ring_is_published_with_its_keys() {
    let signing = SigningKeyRing::new(Duration::hours(1)).unwrap();
    let id = signing.add(SecretKey::generate().unwrap()).unwrap();
    let public = signing.public_ring();
    let set = KeySet::of_ring("i", Duration::ZERO, &public).unwrap();
    assert_eq!(set.purpose(), KeySetPurpose::Public);
    let key = set.key(id.as_str()).unwrap();
    assert_eq!(
        key.public_key().map(|key| key.paserk_id().unwrap()),
        Some(id)
    );
}

#[test]
fn a_ring_follows_the_set_it_reads_again_in_place() {
    let start = datetime!(2030-01-01 0:00 UTC);
    let signing = SigningKeyRing::new(Duration::minutes(15))
        .unwrap()
        .with_clock(FixedClock::new(start));
    let old = signing.add(SecretKey::generate().unwrap()).unwrap();
    signing.promote(&old).unwrap();
    let set = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing).unwrap();
    let ring = set
        .public_ring(
            &RingSettings::new().with_clock(FixedClock::new(start)),
            Duration::minutes(15),
        )
        .unwrap();
    // Unchanged: nothing added or removed, and the key is the same entry.
    assert_eq!(set.update_ring(&ring).unwrap(), RingChanges::default());
    assert_eq!(ring.len(), 1);

    // Rotation: a new active key, the old one retiring until start + 15 min,
    // and a next key.
    let new = signing.add(SecretKey::generate().unwrap()).unwrap();
    signing.promote(&new).unwrap();
    let next = signing.add(SecretKey::generate().unwrap()).unwrap();
    let rotated = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing).unwrap();
    let changes = rotated.update_ring(&ring).unwrap();
    let mut expected = vec![new.clone(), next.clone()];
    expected.sort_unstable();
    assert_eq!(changes.added, expected);
    assert!(changes.removed.is_empty());
    assert_eq!(ring.len(), 3);

    // Past verifies_until by the ring's clock, the retiring key leaves even
    // though the set still lists it.
    let later = rotated
        .public_ring(
            &RingSettings::new().with_clock(FixedClock::new(start + Duration::minutes(15))),
            Duration::minutes(15),
        )
        .unwrap();
    later.add(old_public(&signing, &old)).unwrap();
    let changes = rotated.update_ring(&later).unwrap();
    assert_eq!(
        (changes.added, changes.removed),
        (vec![], vec![old.clone()])
    );
    assert!(later.status(&old).is_none());

    // A key the set no longer lists leaves; a set with fewer keys shrinks the
    // ring to exactly its keys.
    signing.retire_immediately(&next).unwrap();
    let shrunk = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing).unwrap();
    let changes = shrunk.update_ring(&ring).unwrap();
    assert_eq!(
        (changes.added, changes.removed),
        (vec![], vec![next.clone()])
    );
    assert_eq!(ring.len(), 2);
    assert!(ring.status(&new).is_some() && ring.status(&old).is_some());
}

/// The public half of `id` in `signing`, through its public ring.
fn old_public(signing: &SigningKeyRing, id: &KeyId) -> PublicKey {
    let public = signing.public_ring();
    let state = public.snapshot();
    *state.entries[id].decoding
}

#[test]
fn a_ring_full_of_strangers_is_bounded_to_the_set_and_a_local_set_changes_nothing() {
    let ring = PublicKeyRing::new(Duration::hours(1)).unwrap();
    for _ in 0..(MAX_KEY_SET_KEYS + 10) {
        ring.add(public_key()).unwrap();
    }
    let signing = SigningKeyRing::new(Duration::hours(1)).unwrap();
    let only = signing.add(SecretKey::generate().unwrap()).unwrap();
    let set = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing).unwrap();
    let changes = set.update_ring(&ring).unwrap();
    assert_eq!(changes.added, vec![only.clone()]);
    assert_eq!(changes.removed.len(), MAX_KEY_SET_KEYS + 10);
    assert!(changes.removed.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(
        ring.keys()
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>(),
        vec![only]
    );

    let local_ring = crate::keyring::LocalKeyRing::new(Duration::hours(1)).unwrap();
    local_ring
        .add(crate::keys::LocalKey::generate().unwrap())
        .unwrap();
    let local = KeySet::of_ring("https://auth.example", Duration::minutes(5), &local_ring).unwrap();
    match local.update_ring(&ring) {
        Err(Error::KeySet(refused)) => assert_eq!(refused.field, "purpose"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ring.len(), 1);
}
