//! Refresh-token families through the public API: rotation, reuse detection,
//! the grace window, lifetimes, and 64 tasks refreshing at once.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::clock::ManualClock;
use vaulttoken::error::Denial;
use vaulttoken::family::{RefreshFamilies, TokenPair};
use vaulttoken::footer::Footer;
use vaulttoken::rules::RuleSet;
use vaulttoken::store::{Grace, MemoryStore, TokenStore};
use vaulttoken::{Error, LocalKey, LocalService};

const RACERS: usize = 64;

fn key() -> Arc<LocalKey> {
    Arc::new(LocalKey::from_bytes(&[0x17; 32]).unwrap())
}

fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
}

fn families(
    store: Arc<dyn TokenStore>,
    clock: &ManualClock,
    grace: Option<Grace>,
) -> RefreshFamilies {
    let mut builder = RefreshFamilies::builder(key(), store).clock(clock.clone());
    if let Some(grace) = grace {
        builder = builder.grace(grace);
    }
    builder.build()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn denial<T: std::fmt::Debug>(result: Result<T, Error>) -> Denial {
    match result {
        Err(Error::Denied(denial)) => denial,
        other => panic!("expected a denial, got {other:?}"),
    }
}

/// The `jti` of a refresh token, read as its holder cannot: with the key.
fn refresh_id(token: &str, clock: &ManualClock) -> String {
    let reader = LocalService::builder(key()).clock(clock.clone()).build();
    let verified = reader
        .decode_with(token, None, b"vaulttoken.refresh.v1")
        .unwrap();
    verified.claims().token_id().unwrap().to_owned()
}

#[test]
fn each_refresh_spends_its_token_and_hands_out_the_next_generation() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = families(Arc::new(MemoryStore::new()), &clock, None);
    let mut pair = rt.block_on(families.issue("alice")).unwrap();
    assert_eq!(pair.generation, 0);
    for generation in 1..=3 {
        clock.advance(Duration::minutes(10));
        let next = rt.block_on(families.refresh(&pair.refresh)).unwrap();
        assert_eq!(
            (next.generation, &next.family_id),
            (generation, &pair.family_id)
        );
        rt.block_on(families.verify_access(&next.access)).unwrap();
        pair = next;
    }
}

#[test]
fn verify_refresh_reads_a_refresh_token_without_spending_it() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = families(Arc::new(MemoryStore::new()), &clock, None);
    let pair = rt.block_on(families.issue("alice")).unwrap();
    for _ in 0..3 {
        let seen = rt.block_on(families.verify_refresh(&pair.refresh)).unwrap();
        assert_eq!(seen.claims().subject(), Some("alice"));
        assert_eq!(
            seen.claims().custom_str(vaulttoken::store::FAMILY_CLAIM),
            Some(pair.family_id.as_str())
        );
    }
    // Still generation 0's token: the first refresh is no reuse.
    let next = rt.block_on(families.refresh(&pair.refresh)).unwrap();
    assert_eq!(next.generation, 1);
    assert!(matches!(
        rt.block_on(families.verify_refresh(&next.access)),
        Err(Error::Verification)
    ));
    // Past its lifetime it is refused like any token.
    clock.advance(Duration::days(15));
    assert!(matches!(
        rt.block_on(families.verify_refresh(&next.refresh)),
        Err(Error::Claims(_))
    ));
}

#[test]
fn verify_refresh_refuses_every_token_of_a_revoked_family() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = families(Arc::new(MemoryStore::new()), &clock, None);
    let first = rt.block_on(families.issue("alice")).unwrap();
    let second = rt.block_on(families.refresh(&first.refresh)).unwrap();
    rt.block_on(families.revoke("alice", &first.family_id))
        .unwrap();
    for refresh in [&first.refresh, &second.refresh] {
        assert_eq!(
            denial(rt.block_on(families.verify_refresh(refresh))),
            Denial::FamilyRevoked
        );
    }
}

#[test]
fn an_older_generation_revokes_the_whole_family() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = families(Arc::new(MemoryStore::new()), &clock, None);
    let first = rt.block_on(families.issue("alice")).unwrap();
    let second = rt.block_on(families.refresh(&first.refresh)).unwrap();
    let third = rt.block_on(families.refresh(&second.refresh)).unwrap();
    assert_eq!(
        denial(rt.block_on(families.refresh(&first.refresh))),
        Denial::ReuseDetected
    );
    // Every token of the family fails from then on, the newest too.
    assert_eq!(
        denial(rt.block_on(families.refresh(&third.refresh))),
        Denial::FamilyRevoked
    );
    for access in [&first.access, &second.access, &third.access] {
        assert_eq!(
            denial(rt.block_on(families.verify_access(access))),
            Denial::FamilyRevoked
        );
    }
    // Another family of the same subject is untouched.
    let other = rt.block_on(families.issue("alice")).unwrap();
    rt.block_on(families.refresh(&other.refresh)).unwrap();
}

#[test]
fn the_grace_window_gives_the_previous_generation_the_same_successor_only() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let grace = Grace::new(Duration::seconds(30), 2);
    let families = families(Arc::new(MemoryStore::new()), &clock, Some(grace));
    let first = rt.block_on(families.issue("alice")).unwrap();
    let second = rt.block_on(families.refresh(&first.refresh)).unwrap();
    clock.advance(Duration::seconds(10));
    let retry = rt.block_on(families.refresh(&first.refresh)).unwrap();
    assert_eq!(retry.generation, second.generation);
    // Every pair of the family, the grace copy included, names its subject.
    for pair in [&first, &second, &retry] {
        assert_eq!(pair.subject, "alice");
    }
    assert_eq!(
        refresh_id(&retry.refresh, &clock),
        refresh_id(&second.refresh, &clock)
    );
    assert_eq!(retry.refresh_expires_at, second.refresh_expires_at);
    // Both copies of the successor are one generation: spending one spends it.
    let third = rt.block_on(families.refresh(&retry.refresh)).unwrap();
    assert_eq!(third.generation, 2);
    // Generation 0 is now two behind: no grace for it.
    assert_eq!(
        denial(rt.block_on(families.refresh(&first.refresh))),
        Denial::ReuseDetected
    );
}

#[test]
fn the_grace_window_closes_and_has_a_use_limit() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let grace = Grace::new(Duration::seconds(30), 1);
    let families = families(Arc::new(MemoryStore::new()), &clock, Some(grace));

    let late = rt.block_on(families.issue("alice")).unwrap();
    rt.block_on(families.refresh(&late.refresh)).unwrap();
    clock.advance(Duration::seconds(31));
    assert_eq!(
        denial(rt.block_on(families.refresh(&late.refresh))),
        Denial::ReuseDetected
    );

    let limited = rt.block_on(families.issue("bob")).unwrap();
    rt.block_on(families.refresh(&limited.refresh)).unwrap();
    rt.block_on(families.refresh(&limited.refresh)).unwrap();
    assert_eq!(
        denial(rt.block_on(families.refresh(&limited.refresh))),
        Denial::ReuseDetected
    );
}

#[test]
fn rotation_never_extends_a_family() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = RefreshFamilies::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .family_lifetime(Duration::days(2))
        .refresh_lifetime(Duration::days(1))
        .build();
    let mut pair = rt.block_on(families.issue("alice")).unwrap();
    let ends = start() + Duration::days(2);
    for _ in 0..3 {
        clock.advance(Duration::hours(20));
        match rt.block_on(families.refresh(&pair.refresh)) {
            Ok(next) => {
                assert!(next.refresh_expires_at <= ends && next.access_expires_at <= ends);
                pair = next;
            }
            Err(err) => {
                // At 60 hours the family is over: its last refresh token
                // expired with it.
                assert!(clock_past(&clock, ends), "{err:?}");
                assert!(matches!(err, Error::Claims(_)), "{err:?}");
                return;
            }
        }
    }
    panic!("the family outlived its absolute lifetime");
}

fn clock_past(clock: &ManualClock, at: OffsetDateTime) -> bool {
    vaulttoken::clock::Clock::now(clock) >= at
}

#[test]
fn access_and_refresh_tokens_are_never_taken_for_each_other() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = families(Arc::new(MemoryStore::new()), &clock, None);
    let pair = rt.block_on(families.issue("alice")).unwrap();
    assert!(matches!(
        rt.block_on(families.refresh(&pair.access)),
        Err(Error::Verification)
    ));
    assert!(matches!(
        rt.block_on(families.verify_access(&pair.refresh)),
        Err(Error::Verification)
    ));
    let debug = format!("{pair:?}");
    assert!(
        !debug.contains(&pair.access) && !debug.contains(&pair.refresh),
        "{debug}"
    );
    assert!(!debug.contains(&pair.subject), "{debug}");
    assert!(
        debug.contains(&pair.family_id) && debug.contains("generation: 0"),
        "{debug}"
    );
}

fn race(families: &Arc<RefreshFamilies>, token: &str) -> Vec<Result<TokenPair, Error>> {
    let rt = runtime();
    rt.block_on(async {
        let gate = Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|_| {
                let (families, gate, token) =
                    (Arc::clone(families), Arc::clone(&gate), token.to_owned());
                tokio::spawn(async move {
                    gate.wait().await;
                    families.refresh(&token).await
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    })
}

#[test]
fn of_64_tasks_refreshing_at_once_one_wins_and_the_rest_detect_reuse() {
    let clock = ManualClock::new(start());
    let families = Arc::new(families(Arc::new(MemoryStore::new()), &clock, None));
    let first = runtime().block_on(families.issue("alice")).unwrap();
    let outcomes = race(&families, &first.refresh);
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let reused = outcomes
        .iter()
        .filter(|o| {
            matches!(
                o,
                Err(Error::Denied(Denial::ReuseDetected | Denial::FamilyRevoked))
            )
        })
        .count();
    assert_eq!((won, reused), (1, RACERS - 1));
}

#[test]
fn with_grace_64_tasks_refreshing_at_once_all_get_the_same_successor() {
    let clock = ManualClock::new(start());
    let grace = Grace::new(Duration::seconds(60), 64);
    let families = Arc::new(families(Arc::new(MemoryStore::new()), &clock, Some(grace)));
    let first = runtime().block_on(families.issue("alice")).unwrap();
    let outcomes = race(&families, &first.refresh);
    let pairs: Vec<TokenPair> = outcomes.into_iter().map(Result::unwrap).collect();
    let id = refresh_id(&pairs[0].refresh, &clock);
    assert!(
        pairs
            .iter()
            .all(|p| p.generation == 1 && refresh_id(&p.refresh, &clock) == id)
    );
}

#[test]
fn logging_out_everywhere_ends_refresh_families_too() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new().with_clock(clock.clone()));
    let families = families(store.clone(), &clock, None);
    let sessions = LocalService::builder(key())
        .clock(clock.clone())
        .store(store)
        .build();
    let pair = rt.block_on(families.issue("alice")).unwrap();
    clock.advance(Duration::minutes(1));
    rt.block_on(sessions.revoke_subject("alice")).unwrap();
    assert_eq!(
        denial(rt.block_on(families.refresh(&pair.refresh))),
        Denial::IssuedBeforeCutoff
    );
    assert_eq!(
        denial(rt.block_on(families.verify_access(&pair.access))),
        Denial::IssuedBeforeCutoff
    );
    // Signing in again afterwards works.
    clock.advance(Duration::seconds(1));
    let again = rt.block_on(families.issue("alice")).unwrap();
    rt.block_on(families.refresh(&again.refresh)).unwrap();
}

#[test]
fn access_tokens_live_their_own_lifetime_never_past_the_family() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = RefreshFamilies::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .access_lifetime(Duration::minutes(5))
        .build();
    let pair = rt.block_on(families.issue("alice")).unwrap();
    assert_eq!(pair.access_expires_at, start() + Duration::minutes(5));
    assert_eq!(pair.refresh_expires_at, start() + Duration::days(14));
    clock.advance(Duration::minutes(5));
    assert!(matches!(
        rt.block_on(families.verify_access(&pair.access)),
        Err(Error::Claims(_))
    ));

    let short = RefreshFamilies::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .access_lifetime(Duration::hours(2))
        .family_lifetime(Duration::hours(1))
        .build();
    let pair = rt.block_on(short.issue("alice")).unwrap();
    let ends = vaulttoken::clock::Clock::now(&clock) + Duration::hours(1);
    assert_eq!(
        (pair.access_expires_at, pair.refresh_expires_at),
        (ends, ends)
    );
}

#[test]
fn times_are_whole_seconds_even_on_a_clock_with_fractions() {
    let rt = runtime();
    let clock = ManualClock::new(start() + Duration::milliseconds(750));
    let families = families(Arc::new(MemoryStore::new()), &clock, None);
    let pair = rt.block_on(families.issue("alice")).unwrap();
    assert_eq!(pair.access_expires_at.nanosecond(), 0);
    assert_eq!(pair.refresh_expires_at, start() + Duration::days(14));
    let next = rt.block_on(families.refresh(&pair.refresh)).unwrap();
    assert_eq!(next.refresh_expires_at.nanosecond(), 0);
}

#[test]
fn an_idle_family_expires_and_stays_dead() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = RefreshFamilies::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .idle_timeout(Duration::days(2))
        .build();
    let pair = rt.block_on(families.issue("alice")).unwrap();
    clock.advance(Duration::days(1));
    let next = rt.block_on(families.refresh(&pair.refresh)).unwrap();
    clock.advance(Duration::days(2) + Duration::SECOND);
    assert_eq!(
        denial(rt.block_on(families.refresh(&next.refresh))),
        Denial::FamilyExpired
    );
    assert_eq!(
        denial(rt.block_on(families.refresh(&next.refresh))),
        Denial::FamilyRevoked
    );
}

#[test]
fn a_subject_at_its_cap_loses_its_oldest_family() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = RefreshFamilies::builder(key(), Arc::new(MemoryStore::new()))
        .clock(clock.clone())
        .max_families_per_subject(2)
        .build();
    let mut pairs = Vec::new();
    for _ in 0..3 {
        pairs.push(rt.block_on(families.issue("alice")).unwrap());
        clock.advance(Duration::SECOND);
    }
    assert_eq!(
        denial(rt.block_on(families.verify_access(&pairs[0].access))),
        Denial::FamilyRevoked
    );
    for pair in &pairs[1..] {
        rt.block_on(families.refresh(&pair.refresh)).unwrap();
    }
    // Another subject has a cap of its own.
    rt.block_on(families.issue("bob")).unwrap();
    rt.block_on(families.refresh(&pairs[2].refresh))
        .unwrap_err();
}

#[test]
fn revoking_a_family_ends_its_refresh_and_access_tokens() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let families = families(Arc::new(MemoryStore::new()), &clock, None);
    let pair = rt.block_on(families.issue("alice")).unwrap();
    let other = rt.block_on(families.issue("alice")).unwrap();
    rt.block_on(families.revoke("alice", &pair.family_id))
        .unwrap();
    assert_eq!(
        denial(rt.block_on(families.refresh(&pair.refresh))),
        Denial::FamilyRevoked
    );
    assert_eq!(
        denial(rt.block_on(families.verify_access(&pair.access))),
        Denial::FamilyRevoked
    );
    rt.block_on(families.verify_access(&other.access)).unwrap();
}

#[test]
fn logging_out_everywhere_outlasts_the_logging_out_services_own_tokens() {
    // Issue 21, defect 2: the cutoff was kept for the revoking service's
    // longest token (here 15 minutes) plus the leeway, and refresh tokens
    // issued before it refreshed again once it was forgotten.
    let rt = runtime();
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new().with_clock(clock.clone()));
    let families = families(store.clone(), &clock, None);
    let sessions = LocalService::builder(key())
        .clock(clock.clone())
        .rules(RuleSet::default().max_validity(Duration::minutes(15)))
        .store(store)
        .build();
    let pair = rt.block_on(families.issue("alice")).unwrap();
    clock.advance(Duration::minutes(1));
    rt.block_on(sessions.revoke_subject("alice")).unwrap();
    for later in [Duration::minutes(16), Duration::days(13)] {
        clock.advance(later);
        assert_eq!(
            denial(rt.block_on(families.refresh(&pair.refresh))),
            Denial::IssuedBeforeCutoff,
            "{later} later"
        );
    }
}

#[test]
fn a_cutoff_is_kept_for_the_retention_it_was_given_and_then_forgotten() {
    let rt = runtime();
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new().with_clock(clock.clone()));
    let sessions = LocalService::builder(key())
        .clock(clock.clone())
        .store(store.clone())
        .cutoff_retention(Duration::hours(2))
        .build();
    let long_lived = sessions
        .encode(
            &sessions
                .claims_builder()
                .subject("alice")
                .expires_in(Duration::days(1))
                .build()
                .unwrap(),
        )
        .unwrap();
    rt.block_on(sessions.revoke_subject("alice")).unwrap();
    clock.advance(Duration::hours(2));
    assert_eq!(
        denial(rt.block_on(sessions.decode_async(&long_lived))),
        Denial::IssuedBeforeCutoff
    );
    // The operator said no token lives longer than 2 hours: past that (and
    // the second the cutoff rounds up to), the store forgets it, so the one
    // token that broke that promise is accepted again.
    clock.advance(Duration::seconds(2));
    rt.block_on(sessions.decode_async(&long_lived)).unwrap();
}

#[test]
fn a_refresh_token_that_names_no_family_is_refused_even_under_the_families_key() {
    // Only someone holding the key can seal such a token; it must still not
    // pass as a refresh token, since no family answers for it.
    let rt = runtime();
    let clock = ManualClock::new(start());
    let store = Arc::new(MemoryStore::new().with_clock(clock.clone()));
    let families = families(store, &clock, None);
    let sealer = LocalService::builder(key()).clock(clock.clone()).build();
    let claims = sealer
        .claims_builder()
        .subject("alice")
        .random_token_id()
        .build()
        .unwrap();
    let familyless = sealer
        .encode_with(&claims, &Footer::None, b"vaulttoken.refresh.v1")
        .unwrap();
    assert!(matches!(
        rt.block_on(families.verify_refresh(&familyless)),
        Err(Error::Verification)
    ));
    assert!(matches!(
        rt.block_on(families.refresh(&familyless)),
        Err(Error::Verification)
    ));
}
