//! Single-use trust tokens through the public API: kinds, lifetimes, peeking
//! without spending, spending exactly once, state binding and latest-wins.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::clock::ManualClock;
use vaulttoken::error::{Denial, RuleId};
use vaulttoken::store::MemoryStore;
use vaulttoken::trust::{TrustKind, TrustTokens};
use vaulttoken::{Error, LocalKey, LocalService};

const RACERS: usize = 64;

fn key() -> Arc<LocalKey> {
    Arc::new(LocalKey::from_bytes(&[0x33; 32]).unwrap())
}

fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn tokens(clock: &ManualClock) -> TrustTokens {
    TrustTokens::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .build()
}

fn expired<T: std::fmt::Debug>(result: Result<T, Error>) -> bool {
    matches!(result, Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired))
}

#[test]
fn each_kind_lives_its_own_default_lifetime() {
    let kinds = [
        (TrustKind::EmailVerification, Duration::hours(24)),
        (TrustKind::PasswordReset, Duration::hours(1)),
        (TrustKind::OrgInvitation, Duration::days(7)),
        (TrustKind::MagicLink, Duration::minutes(15)),
    ];
    for (kind, lifetime) in kinds {
        let clock = ManualClock::new(start());
        let tokens = tokens(&clock);
        let token = block_on(tokens.issue(tokens.request(kind.clone(), "alice"))).unwrap();
        clock.advance(lifetime - Duration::SECOND);
        block_on(tokens.verify(&token, &kind, None)).unwrap();
        clock.advance(Duration::SECOND);
        assert!(
            expired(block_on(tokens.verify(&token, &kind, None))),
            "{kind:?}"
        );
    }
}

#[test]
fn a_token_of_one_kind_never_verifies_as_another_even_under_one_key() {
    let clock = ManualClock::new(start());
    let tokens = tokens(&clock);
    let reset = block_on(tokens.issue(tokens.request(TrustKind::PasswordReset, "alice"))).unwrap();
    for other in [
        TrustKind::EmailVerification,
        TrustKind::MagicLink,
        TrustKind::OrgInvitation,
        TrustKind::custom("password_reset"),
    ] {
        assert!(matches!(
            block_on(tokens.verify(&reset, &other, None)),
            Err(Error::Verification)
        ));
    }
    // Nor as a session token of a service with the same key.
    let sessions = LocalService::builder(key()).clock(clock.clone()).build();
    assert!(matches!(sessions.decode(&reset), Err(Error::Verification)));
}

#[test]
fn verifying_spends_nothing_and_consuming_spends_exactly_once() {
    let clock = ManualClock::new(start());
    let tokens = tokens(&clock);
    let kind = TrustKind::MagicLink;
    let link = block_on(tokens.issue(tokens.request(kind.clone(), "alice"))).unwrap();
    // A mail scanner fetches the link, several times.
    for _ in 0..5 {
        block_on(tokens.verify(&link, &kind, None)).unwrap();
    }
    let first = block_on(tokens.consume(&link, &kind, None)).unwrap();
    assert_eq!(first.claims().subject(), Some("alice"));
    assert!(matches!(
        block_on(tokens.consume(&link, &kind, None)),
        Err(Error::Denied(Denial::AlreadyUsed))
    ));
    assert!(matches!(
        block_on(tokens.verify(&link, &kind, None)),
        Err(Error::Denied(Denial::AlreadyUsed))
    ));
}

#[test]
fn of_64_tasks_consuming_one_token_only_one_gets_its_claims() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let clock = ManualClock::new(start());
    let tokens = Arc::new(tokens(&clock));
    let kind = TrustKind::OrgInvitation;
    let invite = rt
        .block_on(tokens.issue(tokens.request(kind.clone(), "bob").claim("org", "acme")))
        .unwrap();
    let outcomes = rt.block_on(async {
        let gate = Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|_| {
                let (tokens, gate, invite, kind) = (
                    Arc::clone(&tokens),
                    Arc::clone(&gate),
                    invite.clone(),
                    kind.clone(),
                );
                tokio::spawn(async move {
                    gate.wait().await;
                    tokens.consume(&invite, &kind, None).await
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    assert_eq!(winners[0].claims().custom_str("org"), Some("acme"));
    assert!(
        outcomes
            .iter()
            .filter(|o| o.is_err())
            .all(|o| matches!(o, Err(Error::Denied(Denial::AlreadyUsed))))
    );
}

#[test]
fn a_token_bound_to_state_dies_when_the_state_changes_and_never_shows_it() {
    let clock = ManualClock::new(start());
    let tokens = tokens(&clock);
    let kind = TrustKind::PasswordReset;
    let fingerprint = b"hash-of-the-current-password-hash";
    let token = block_on(tokens.issue(tokens.request(kind.clone(), "alice").bound_to(fingerprint)))
        .unwrap();
    assert!(matches!(
        block_on(tokens.verify(&token, &kind, None)),
        Err(Error::Verification)
    ));
    assert!(matches!(
        block_on(tokens.consume(&token, &kind, Some(b"hash-after-the-change"))),
        Err(Error::Verification)
    ));
    let verified = block_on(tokens.verify(&token, &kind, Some(fingerprint))).unwrap();
    // The fingerprint is in no claim.
    assert!(verified.claims().custom_claims().is_empty());
    block_on(tokens.consume(&token, &kind, Some(fingerprint))).unwrap();
}

#[test]
fn an_invalidated_token_can_be_neither_verified_nor_spent() {
    let clock = ManualClock::new(start());
    let tokens = tokens(&clock);
    let kind = TrustKind::EmailVerification;
    let token = block_on(tokens.issue(tokens.request(kind.clone(), "alice"))).unwrap();
    block_on(tokens.invalidate(&token, &kind, None)).unwrap();
    assert!(matches!(
        block_on(tokens.verify(&token, &kind, None)),
        Err(Error::Denied(Denial::Revoked))
    ));
    assert!(matches!(
        block_on(tokens.consume(&token, &kind, None)),
        Err(Error::Denied(Denial::Revoked))
    ));
}

#[test]
fn with_latest_wins_a_new_token_supersedes_the_subjects_older_ones_of_its_kind() {
    let clock = ManualClock::new(start());
    let tokens = TrustTokens::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .latest_wins()
        .build();
    let reset = TrustKind::PasswordReset;
    let older = block_on(tokens.issue(tokens.request(reset.clone(), "alice"))).unwrap();
    let email =
        block_on(tokens.issue(tokens.request(TrustKind::EmailVerification, "alice"))).unwrap();
    let bobs = block_on(tokens.issue(tokens.request(reset.clone(), "bob"))).unwrap();
    let newer = block_on(tokens.issue(tokens.request(reset.clone(), "alice"))).unwrap();
    assert!(matches!(
        block_on(tokens.consume(&older, &reset, None)),
        Err(Error::Denied(Denial::Superseded))
    ));
    block_on(tokens.consume(&newer, &reset, None)).unwrap();
    // Other kinds and other subjects keep theirs.
    block_on(tokens.consume(&email, &TrustKind::EmailVerification, None)).unwrap();
    block_on(tokens.consume(&bobs, &reset, None)).unwrap();
}

#[test]
fn a_configured_lifetime_replaces_the_default() {
    let clock = ManualClock::new(start());
    let tokens = TrustTokens::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .lifetime(TrustKind::custom("device_pairing"), Duration::minutes(2))
        .build();
    let kind = TrustKind::custom("device_pairing");
    let token = block_on(tokens.issue(tokens.request(kind.clone(), "tv-7"))).unwrap();
    clock.advance(Duration::minutes(2));
    assert!(expired(block_on(tokens.verify(&token, &kind, None))));
}

#[test]
fn without_latest_wins_issuing_writes_nothing_to_the_store() {
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new());
    let tokens = TrustTokens::builder(key(), store.clone())
        .clock(clock.clone())
        .build();
    let kind = TrustKind::MagicLink;
    let first = block_on(tokens.issue(tokens.request(kind.clone(), "alice"))).unwrap();
    block_on(tokens.issue(tokens.request(kind.clone(), "alice"))).unwrap();
    assert!(store.is_empty());
    // Both tokens stay valid.
    block_on(tokens.consume(&first, &kind, None)).unwrap();
}

#[test]
fn after_logging_out_everywhere_older_trust_tokens_are_refused_and_new_ones_work() {
    // Issue 21, defect 1: the trust check carried no `iat`, so a cutoff
    // refused every trust token of the subject, issued before it or after.
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new());
    let tokens = TrustTokens::builder(key(), store.clone())
        .clock(clock.clone())
        .build();
    let sessions = LocalService::builder(key())
        .clock(clock.clone())
        .store(store)
        .build();
    let kind = TrustKind::PasswordReset;
    let before = block_on(tokens.issue(tokens.request(kind.clone(), "alice"))).unwrap();
    clock.advance(Duration::minutes(1));
    block_on(sessions.revoke_subject("alice")).unwrap();
    assert!(matches!(
        block_on(tokens.consume(&before, &kind, None)),
        Err(Error::Denied(Denial::IssuedBeforeCutoff))
    ));
    clock.advance(Duration::SECOND);
    let after = block_on(tokens.issue(tokens.request(kind.clone(), "alice"))).unwrap();
    block_on(tokens.verify(&after, &kind, None)).unwrap();
    block_on(tokens.consume(&after, &kind, None)).unwrap();
}
