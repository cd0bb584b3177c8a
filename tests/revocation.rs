//! Services with a token store: revocation by the authenticated `jti`, "log
//! out everywhere", family-bound access tokens, and failing closed.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::clock::ManualClock;
use vaulttoken::error::{Denial, ErrorKind, RuleId, StoreError};
use vaulttoken::rules::RuleSet;
use vaulttoken::store::conformance::UnreachableStore;
use vaulttoken::store::{MemoryStore, NewFamily, TokenStore};
use vaulttoken::{Claims, Error, LocalKey, LocalService};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
}

fn key() -> Arc<LocalKey> {
    Arc::new(LocalKey::from_bytes(&[0x42; 32]).unwrap())
}

fn service_with(store: Arc<dyn TokenStore>, clock: &ManualClock) -> LocalService {
    LocalService::builder(key())
        .clock(clock.clone())
        .store(store)
        .build()
}

fn alice() -> Claims {
    Claims::builder().subject("alice").build().unwrap()
}

#[test]
fn a_revoked_token_is_refused_under_any_encoding_of_its_id() {
    let clock = ManualClock::new(start());
    let service = service_with(
        Arc::new(MemoryStore::new().with_clock(clock.clone())),
        &clock,
    );
    let claims = Claims::builder()
        .subject("alice")
        .token_id("session-1")
        .build()
        .unwrap();
    // Two encodings of the same claims: different bytes, one identity.
    let first = service.encode(&claims).unwrap();
    let second = service.encode(&claims).unwrap();
    assert_ne!(first, second);
    let verified = block_on(service.decode_async(&first)).unwrap();
    block_on(service.revoke(&verified)).unwrap();
    for token in [&first, &second] {
        let refused = block_on(service.decode_async(token)).unwrap_err();
        assert!(matches!(refused, Error::Denied(Denial::Revoked)));
        assert_eq!(refused.kind(), ErrorKind::Rejected);
    }
    // Another token of the same subject is untouched.
    let other = service.encode(&alice()).unwrap();
    block_on(service.decode_async(&other)).unwrap();
}

#[test]
fn a_revocation_lasts_until_the_token_expires_plus_the_leeway() {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new().with_clock(clock.clone()));
    let service = LocalService::builder(key())
        .clock(clock.clone())
        .rules(RuleSet::default().leeway(Duration::minutes(2)))
        .default_validity(Duration::minutes(10))
        .store(store.clone())
        .build();
    let token = service.encode(&alice()).unwrap();
    let verified = block_on(service.decode_async(&token)).unwrap();
    block_on(service.revoke(&verified)).unwrap();
    // Still refused within the leeway after expiry, by the store, not the rules.
    clock.advance(Duration::minutes(11));
    assert!(matches!(
        block_on(service.decode_async(&token)),
        Err(Error::Denied(Denial::Revoked))
    ));
    // Once the leeway is over the rules refuse it, and the store forgets it.
    clock.advance(Duration::minutes(1));
    assert!(matches!(
        block_on(service.decode_async(&token)),
        Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired)
    ));
    assert_eq!(store.purge_expired(), 1);
    assert!(store.is_empty());
}

#[test]
fn every_issued_token_gets_an_id_and_a_token_without_one_is_refused() {
    let clock = ManualClock::new(start());
    let service = service_with(Arc::new(MemoryStore::new()), &clock);
    let token = service.encode(&alice()).unwrap();
    let verified = block_on(service.decode_async(&token)).unwrap();
    let id = verified.claims().token_id().unwrap();
    assert!(id.len() >= 22, "{id}");
    // A peer's token with no jti cannot be revoked, so it is refused.
    let plain = LocalService::builder(key()).clock(clock.clone()).build();
    let anonymous = plain.encode(&alice()).unwrap();
    assert!(matches!(
        block_on(service.decode_async(&anonymous)),
        Err(Error::Claims(v)) if v.iter().any(|v| v.claim() == Some("jti"))
    ));
}

#[test]
fn the_synchronous_decode_refuses_rather_than_skip_the_store() {
    let clock = ManualClock::new(start());
    let service = service_with(Arc::new(MemoryStore::new()), &clock);
    let token = service.encode(&alice()).unwrap();
    let err = service.decode(&token).unwrap_err();
    assert!(matches!(err, Error::StoreNeedsAsync));
    assert_eq!(err.kind(), ErrorKind::Misuse);
    // Without a store, the async decode is the plain decode.
    let plain = LocalService::builder(key()).clock(clock.clone()).build();
    let token = plain.encode(&alice()).unwrap();
    assert_eq!(
        block_on(plain.decode_async(&token)).unwrap(),
        plain.decode(&token).unwrap()
    );
    assert!(matches!(
        block_on(plain.revoke(&plain.decode(&token).unwrap())),
        Err(Error::StoreNeedsAsync)
    ));
}

#[test]
fn logging_out_everywhere_refuses_every_earlier_token_of_the_subject_only() {
    let clock = ManualClock::new(start());
    let service = service_with(
        Arc::new(MemoryStore::new().with_clock(clock.clone())),
        &clock,
    );
    let laptop = service.encode(&alice()).unwrap();
    clock.advance(Duration::seconds(30));
    let phone = service.encode(&alice()).unwrap();
    let bob = service
        .encode(&Claims::builder().subject("bob").build().unwrap())
        .unwrap();
    block_on(service.revoke_subject("alice")).unwrap();
    for token in [&laptop, &phone] {
        assert!(matches!(
            block_on(service.decode_async(token)),
            Err(Error::Denied(Denial::IssuedBeforeCutoff))
        ));
    }
    block_on(service.decode_async(&bob)).unwrap();
    // A token issued in a later second is live again.
    clock.advance(Duration::seconds(1));
    let fresh = service.encode(&alice()).unwrap();
    block_on(service.decode_async(&fresh)).unwrap();
}

#[test]
fn an_access_token_dies_with_its_family() {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new().with_clock(clock.clone()));
    let service = service_with(store.clone(), &clock);
    let family = NewFamily::new("alice", "fam-1", start(), start() + Duration::days(1));
    block_on(store.create_family(&family)).unwrap();
    let access = Claims::builder()
        .subject("alice")
        .claim("fam", "fam-1")
        .build()
        .unwrap();
    let token = service.encode(&access).unwrap();
    block_on(service.decode_async(&token)).unwrap();
    block_on(store.revoke_family(Some("alice"), "fam-1")).unwrap();
    assert!(matches!(
        block_on(service.decode_async(&token)),
        Err(Error::Denied(Denial::FamilyRevoked))
    ));
}

#[test]
fn a_store_that_cannot_answer_fails_closed() {
    let clock = ManualClock::new(start());
    let service = service_with(Arc::new(UnreachableStore), &clock);
    let token = service.encode(&alice()).unwrap();
    let err = block_on(service.decode_async(&token)).unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::Unreachable { .. })),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.to_string().contains(&token));
    // A forged token is still "invalid": the store is asked only after the
    // cryptography and the rules.
    let mut forged = token.clone().into_bytes();
    let middle = forged.len() / 2;
    forged[middle] = if forged[middle] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let err = block_on(service.decode_async(&forged)).unwrap_err();
    assert!(matches!(err, Error::Verification), "{err:?}");
}
