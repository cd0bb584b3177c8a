//! Arbitrary bytes as a token payload: `Claims::from_payload` never panics, and
//! whatever it accepts writes back out (`to_payload`) and parses to equal claims
//! (floats up to `serde_json`'s last-place rounding; see `common/json.rs`), twice.
//!
//! Also checked against `serde_json`: accepted payloads are JSON objects, and the
//! typed accessors agree with the JSON they came from.

#![no_main]

#[path = "common/json.rs"]
mod json;

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use vaulttoken::Claims;
use vaulttoken::claims::REGISTERED_CLAIMS;

fuzz_target!(|data: &[u8]| {
    let claims = match Claims::from_payload(data) {
        Ok(claims) => claims,
        Err(error) => {
            let _ = format!("{error} {error:?}");
            return;
        }
    };

    let object = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(object)) => object,
        other => panic!("accepted a payload serde_json reads as {other:?}"),
    };
    check_against_json(&claims, &object);

    let payload = claims
        .to_payload()
        .expect("parsed claims can be written back out");
    let again = Claims::from_payload(&payload).expect("written claims parse again");
    assert_same(&claims, &again, &payload);
    let payload = again.to_payload().expect("writes again");
    let third = Claims::from_payload(&payload).expect("parses a third time");
    // Floats may drift a little on each round, so compare neighbours.
    assert_same(&again, &third, &payload);
    let _ = format!("{claims:?}");
});

fn assert_same(a: &Claims, b: &Claims, payload: &[u8]) {
    let payload = String::from_utf8_lossy(payload);
    assert_eq!(a.issuer(), b.issuer(), "{payload}");
    assert_eq!(a.subject(), b.subject(), "{payload}");
    assert_eq!(a.audience(), b.audience(), "{payload}");
    assert_eq!(a.token_id(), b.token_id(), "{payload}");
    assert_eq!(a.expiration(), b.expiration(), "{payload}");
    assert_eq!(a.not_before(), b.not_before(), "{payload}");
    assert_eq!(a.issued_at(), b.issued_at(), "{payload}");
    assert!(
        json::maps_approx_eq(a.custom_claims(), b.custom_claims()),
        "custom claims changed on a round trip: {:?} became {:?} via {payload}",
        a.custom_claims(),
        b.custom_claims()
    );
}

fn check_against_json(claims: &Claims, object: &Map<String, Value>) {
    let string = |name: &str| object.get(name).and_then(Value::as_str);
    assert_eq!(claims.issuer(), string("iss"));
    assert_eq!(claims.subject(), string("sub"));
    assert_eq!(claims.audience(), string("aud"));
    assert_eq!(claims.token_id(), string("jti"));
    let times = [
        ("exp", claims.expiration()),
        ("nbf", claims.not_before()),
        ("iat", claims.issued_at()),
    ];
    for (name, time) in times {
        assert_eq!(
            time.is_some(),
            object.contains_key(name),
            "{name} present in JSON iff parsed"
        );
        if time.is_some() {
            assert!(object[name].is_string(), "{name} is an RFC 3339 string");
        }
    }
    // Custom claims are exactly the unregistered ones, unchanged.
    let custom = claims.custom_claims();
    for name in REGISTERED_CLAIMS {
        assert!(!custom.contains_key(name), "{name} is not custom");
    }
    let unregistered = object
        .iter()
        .filter(|(name, _)| !REGISTERED_CLAIMS.contains(&name.as_str()));
    assert_eq!(custom.len(), unregistered.clone().count());
    for (name, value) in unregistered {
        assert_eq!(claims.custom(name), Some(value), "custom claim {name:?}");
    }
}
