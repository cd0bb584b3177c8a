//! Audit events: every flow reports its stable event names on the
//! `vaulttoken::audit` target, and no event carries a token, a claim value,
//! a subject or key material.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use time::Duration;
use vaulttoken::audit::TARGET;
use vaulttoken::binding::{Binding, OBSERVED_CLAIM, Observer};
use vaulttoken::error::StoreError;
use vaulttoken::family::RefreshFamilies;
use vaulttoken::store::{Check, Grace, MemoryStore, StoreFuture, TokenState, TokenStore};
use vaulttoken::trust::{TrustKind, TrustTokens};
use vaulttoken::{Claims, Error, LocalKey, LocalService};
use vaulttoken_test_redis::EventRecorder;

/// One recorded event: its target and fields, as text.
/// One recorded event: its target and fields.
type Recorded = (String, BTreeMap<String, String>);

/// Every event recorded so far, as target and fields.
fn recorded(recorder: &EventRecorder) -> Vec<Recorded> {
    recorder
        .events()
        .into_iter()
        .map(|event| (event.target, event.fields))
        .collect()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// A store that cannot answer a check.
#[derive(Debug)]
struct Unreachable(MemoryStore);

impl TokenStore for Unreachable {
    fn check<'a>(&'a self, _: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        Box::pin(async {
            Err(StoreError::Unreachable {
                reason: "connection refused".into(),
            })
        })
    }
    fn revoke<'a>(
        &'a self,
        s: Option<&'a str>,
        id: &'a str,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.0.revoke(s, id, until)
    }
    fn consume<'a>(
        &'a self,
        s: Option<&'a str>,
        id: &'a str,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, vaulttoken::store::Consumption> {
        self.0.consume(s, id, until)
    }
    fn revoke_issued_before<'a>(
        &'a self,
        s: &'a str,
        cutoff: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.0.revoke_issued_before(s, cutoff, until)
    }
    fn supersede<'a>(
        &'a self,
        s: Option<&'a str>,
        slot: &'a str,
        id: &'a str,
        until: time::OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.0.supersede(s, slot, id, until)
    }
    fn create_family<'a>(
        &'a self,
        f: &'a vaulttoken::store::NewFamily<'a>,
    ) -> StoreFuture<'a, Vec<String>> {
        self.0.create_family(f)
    }
    fn rotate_family<'a>(
        &'a self,
        r: &'a vaulttoken::store::Rotation<'a>,
    ) -> StoreFuture<'a, vaulttoken::store::Rotated> {
        self.0.rotate_family(r)
    }
    fn revoke_family<'a>(&'a self, s: Option<&'a str>, f: &'a str) -> StoreFuture<'a, ()> {
        self.0.revoke_family(s, f)
    }
}

#[test]
fn every_flow_reports_its_events_and_no_event_carries_a_secret() {
    const SUBJECT: &str = "alice@example.com";
    const CLAIM_VALUE: &str = "top-secret-role-value";
    let key_bytes = [0x61; 32];
    let recorder = EventRecorder::default();
    let mut secrets: Vec<String> = vec![SUBJECT.to_owned(), CLAIM_VALUE.to_owned()];

    tracing::subscriber::with_default(recorder.clone(), || {
        let key = Arc::new(LocalKey::from_bytes(&key_bytes).unwrap());
        secrets.push(key.to_paserk().unwrap().as_str().to_owned());
        let store = Arc::new(MemoryStore::new());
        let service = LocalService::builder(Arc::clone(&key))
            .store(store.clone())
            .build();
        let claims = Claims::builder()
            .subject(SUBJECT)
            .claim("role", CLAIM_VALUE)
            .build()
            .unwrap();
        let token = service.encode(&claims).unwrap();
        secrets.push(token.clone());
        let verified = block_on(service.decode_async(&token)).unwrap();
        block_on(service.revoke(&verified)).unwrap();
        assert!(block_on(service.decode_async(&token)).is_err());

        let families = RefreshFamilies::builder(Arc::clone(&key), store.clone())
            .grace(Grace::new(Duration::seconds(30), 1))
            .build();
        let first = block_on(families.issue(SUBJECT)).unwrap();
        secrets.extend([first.access.clone(), first.refresh.clone()]);
        let second = block_on(families.refresh(&first.refresh)).unwrap();
        block_on(families.refresh(&first.refresh)).unwrap();
        secrets.extend([second.access.clone(), second.refresh.clone()]);
        block_on(families.refresh(&second.refresh)).unwrap();
        assert!(block_on(families.refresh(&first.refresh)).is_err());

        let trust = TrustTokens::builder(Arc::clone(&key), store.clone()).build();
        let link = block_on(trust.issue(trust.request(TrustKind::MagicLink, SUBJECT))).unwrap();
        secrets.push(link.clone());
        block_on(trust.consume(&link, &TrustKind::MagicLink, None)).unwrap();
        let invite =
            block_on(trust.issue(trust.request(TrustKind::OrgInvitation, SUBJECT))).unwrap();
        secrets.push(invite.clone());
        block_on(trust.invalidate(&invite, &TrustKind::OrgInvitation, None)).unwrap();
        let ended = block_on(families.issue(SUBJECT)).unwrap();
        secrets.extend([ended.access.clone(), ended.refresh.clone()]);
        block_on(families.revoke(SUBJECT, &ended.family_id)).unwrap();
        block_on(service.revoke_subject(SUBJECT)).unwrap();

        let observer = Observer::from_bytes(&[9; 32]);
        let then = Binding::new().observe("ua", "Firefox/120.0");
        let observed = Claims::builder()
            .subject(SUBJECT)
            .claim(OBSERVED_CLAIM, observer.claim_for(&then).unwrap())
            .build()
            .unwrap();
        let now = Binding::new().observe("ua", "Chrome/999.0");
        assert_eq!(observer.drift(&observed, &now).unwrap().len(), 1);
        secrets.extend(["Firefox/120.0".to_owned(), "Chrome/999.0".to_owned()]);

        let down = LocalService::builder(Arc::clone(&key))
            .store(Arc::new(Unreachable(MemoryStore::new())))
            .build();
        let token = down.encode(&claims).unwrap();
        secrets.push(token.clone());
        assert!(matches!(
            block_on(down.decode_async(&token)),
            Err(Error::Store(_))
        ));
    });

    let events = recorded(&recorder);
    let audit: Vec<&BTreeMap<String, String>> = events
        .iter()
        .filter(|(target, _)| target == TARGET)
        .map(|(_, fields)| fields)
        .collect();
    let names: Vec<&str> = audit
        .iter()
        .filter_map(|fields| fields.get("event").map(String::as_str))
        .collect();
    for expected in [
        "token_issued",
        "token_rejected",
        "token_revoked",
        "subject_revoked",
        "family_created",
        "family_rotated",
        "grace_used",
        "family_reuse_detected",
        "trust_token_consumed",
        "store_unavailable",
        "binding_drift",
    ] {
        assert!(names.contains(&expected), "no {expected} in {names:?}");
    }
    // Each event carries the fields that identify what it is about.
    let carries = [
        ("token_issued", &["jti", "subject", "remaining_secs"][..]),
        ("token_rejected", &["reason"]),
        ("token_revoked", &["jti", "subject", "remaining_secs"]),
        ("subject_revoked", &["subject"]),
        (
            "family_created",
            &["family", "generation", "subject", "remaining_secs"],
        ),
        ("family_rotated", &["family", "generation", "subject"]),
        ("grace_used", &["family", "generation", "subject"]),
        (
            "family_reuse_detected",
            &["family", "generation", "subject"],
        ),
        ("trust_token_consumed", &["jti", "kind", "subject"]),
        ("store_unavailable", &["reason"]),
        ("binding_drift", &["subject", "context", "reason"]),
    ];
    for (name, fields) in carries {
        let event = audit
            .iter()
            .find(|event| event.get("event").map(String::as_str) == Some(name))
            .unwrap();
        for field in fields {
            assert!(
                event.contains_key(*field),
                "{name} has no {field}: {event:?}"
            );
        }
    }
    let subject_hash = vaulttoken::audit::subject_hash(SUBJECT);
    assert!(
        audit
            .iter()
            .filter_map(|event| event.get("subject"))
            .all(|subject| *subject == subject_hash)
    );
    let consumed = audit
        .iter()
        .find(|event| event.get("event").map(String::as_str) == Some("trust_token_consumed"))
        .unwrap();
    assert_eq!(consumed.get("kind").map(String::as_str), Some("magic_link"));
    let rotated = audit
        .iter()
        .find(|event| event.get("event").map(String::as_str) == Some("family_rotated"))
        .unwrap();
    assert_eq!(rotated.get("generation").map(String::as_str), Some("1"));
    let invalidated = audit
        .iter()
        .find(|event| event.get("kind").map(String::as_str) == Some("org_invitation"))
        .unwrap();
    assert_eq!(
        invalidated.get("event").map(String::as_str),
        Some("token_revoked")
    );
    assert!(invalidated.contains_key("jti") && invalidated.contains_key("subject"));
    let family_revoked = audit
        .iter()
        .find(|event| {
            event.get("event").map(String::as_str) == Some("family_revoked")
                && !event.contains_key("reason")
        })
        .unwrap();
    assert!(family_revoked.contains_key("family") && family_revoked.contains_key("subject"));
    let rejected = audit
        .iter()
        .find(|fields| fields.get("event").map(String::as_str) == Some("token_rejected"))
        .unwrap();
    assert_eq!(rejected.get("reason").map(String::as_str), Some("revoked"));
    let issued = audit
        .iter()
        .find(|fields| fields.get("event").map(String::as_str) == Some("token_issued"))
        .unwrap();
    assert!(issued.contains_key("jti") && issued.contains_key("subject"));
    assert!(issued.contains_key("remaining_secs"));

    // Nothing secret anywhere, in any event on any target.
    let key_hex: String = key_bytes.iter().map(|b| format!("{b:02x}")).collect();
    secrets.push(key_hex);
    for (_, fields) in &events {
        for value in fields.values() {
            for secret in &secrets {
                assert!(
                    !value.contains(secret.as_str()),
                    "an event carries a secret: {value}"
                );
            }
        }
    }
}

#[test]
fn a_binding_drift_event_names_the_value_and_how_it_drifted() {
    let recorder = EventRecorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let observer = Observer::from_bytes(&[9; 32]);
        let claims = Claims::builder()
            .claim(
                OBSERVED_CLAIM,
                observer
                    .claim_for(&Binding::new().observe("ua", "A"))
                    .unwrap(),
            )
            .build()
            .unwrap();
        observer
            .drift(&claims, &Binding::new().observe("ua", "B"))
            .unwrap();
    });
    let events = recorded(&recorder);
    let drift = events
        .iter()
        .map(|(_, fields)| fields)
        .find(|fields| fields.get("event").map(String::as_str) == Some("binding_drift"))
        .unwrap();
    assert_eq!(drift.get("context").map(String::as_str), Some("ua"));
    assert_eq!(drift.get("reason").map(String::as_str), Some("changed"));
}

#[test]
fn a_family_revoked_by_the_cap_is_reported_with_its_id_and_subject_hash() {
    let recorder = EventRecorder::default();
    let mut first_family = String::new();
    tracing::subscriber::with_default(recorder.clone(), || {
        let families = RefreshFamilies::builder(
            LocalKey::from_bytes(&[0x62; 32]).unwrap(),
            Arc::new(MemoryStore::new()),
        )
        .max_families_per_subject(1)
        .build();
        first_family = block_on(families.issue("carol")).unwrap().family_id;
        block_on(families.issue("carol")).unwrap();
    });
    let events = recorded(&recorder);
    let capped = events
        .iter()
        .map(|(_, fields)| fields)
        .find(|fields| fields.get("reason").map(String::as_str) == Some("family-cap"))
        .unwrap();
    assert_eq!(
        capped.get("event").map(String::as_str),
        Some("family_revoked")
    );
    assert_eq!(capped.get("family"), Some(&first_family));
    assert_eq!(
        capped.get("subject"),
        Some(&vaulttoken::audit::subject_hash("carol"))
    );
}

#[test]
fn every_flow_that_asks_a_store_reports_it_when_it_cannot_answer() {
    let recorder = EventRecorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let key = Arc::new(LocalKey::from_bytes(&[0x63; 32]).unwrap());
        // Issuing writes through to the memory store; checking fails.
        let down: Arc<Unreachable> = Arc::new(Unreachable(MemoryStore::new()));
        let families = RefreshFamilies::builder(Arc::clone(&key), down.clone()).build();
        let pair = block_on(families.issue("dave")).unwrap();
        assert!(matches!(
            block_on(families.refresh(&pair.refresh)),
            Err(Error::Store(StoreError::Unreachable { .. }))
        ));
        let trust = TrustTokens::builder(Arc::clone(&key), down).build();
        let link = block_on(trust.issue(trust.request(TrustKind::MagicLink, "dave"))).unwrap();
        assert!(matches!(
            block_on(trust.verify(&link, &TrustKind::MagicLink, None)),
            Err(Error::Store(StoreError::Unreachable { .. }))
        ));
    });
    let events = recorded(&recorder);
    let unavailable: Vec<_> = events
        .iter()
        .map(|(_, fields)| fields)
        .filter(|fields| fields.get("event").map(String::as_str) == Some("store_unavailable"))
        .collect();
    assert_eq!(unavailable.len(), 2, "{events:?}");
    assert!(
        unavailable
            .iter()
            .all(|fields| fields.get("reason").map(String::as_str) == Some("unreachable"))
    );
}

#[test]
fn an_issued_token_is_reported_with_the_key_id_its_footer_names() {
    let recorder = EventRecorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let key = Arc::new(LocalKey::from_bytes(&[0x64; 32]).unwrap());
        let named = LocalService::builder(Arc::clone(&key))
            .key_id("key-2026-11")
            .build();
        named.encode(&Claims::builder().build().unwrap()).unwrap();
        let unnamed = LocalService::builder(key).build();
        unnamed.encode(&Claims::builder().build().unwrap()).unwrap();
    });
    let events = recorded(&recorder);
    let kids: Vec<Option<&str>> = events
        .iter()
        .map(|(_, fields)| fields)
        .filter(|fields| fields.get("event").map(String::as_str) == Some("token_issued"))
        .map(|fields| fields.get("kid").map(String::as_str))
        .collect();
    assert_eq!(kids, [Some("key-2026-11"), None]);
}
