//! The memory store: the shared conformance suite, real threads racing on its
//! lock, its hard cap, and memory that follows the live tokens.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::sync::{Arc, Barrier};
use std::thread;

use time::{Duration, OffsetDateTime};
use vaulttoken::clock::ManualClock;
use vaulttoken::error::StoreError;
use vaulttoken::store::{
    Check, Consumption, MemoryStore, NewFamily, Rotated, Rotation, TokenState, TokenStore,
    conformance,
};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn the_memory_store_passes_the_conformance_suite() {
    block_on(conformance::run_all(&MemoryStore::new(), "memory"));
}

#[test]
fn threads_racing_on_one_family_never_fork_it() {
    let store = Arc::new(MemoryStore::new());
    let t = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let family = NewFamily::new("alice", "f", t, t + Duration::days(1));
    block_on(store.create_family(&family)).unwrap();
    let gate = Arc::new(Barrier::new(conformance::RACERS));
    let outcomes: Vec<Rotated> = (0..conformance::RACERS)
        .map(|_| {
            let (store, gate) = (Arc::clone(&store), Arc::clone(&gate));
            thread::spawn(move || {
                gate.wait();
                block_on(store.rotate_family(&Rotation::new("alice", "f", 0, t))).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    let advanced = outcomes
        .iter()
        .filter(|o| matches!(o, Rotated::Advanced { .. }))
        .count();
    assert_eq!(advanced, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(
        o,
        Rotated::Advanced { .. } | Rotated::ReuseDetected | Rotated::Revoked
    )));
}

#[test]
fn threads_racing_to_spend_one_id_let_exactly_one_through() {
    let store = Arc::new(MemoryStore::new());
    let until = vaulttoken::clock::Clock::now(&vaulttoken::clock::SystemClock) + Duration::hours(1);
    let gate = Arc::new(Barrier::new(conformance::RACERS));
    let handles: Vec<_> = (0..conformance::RACERS)
        .map(|_| {
            let (store, gate) = (Arc::clone(&store), Arc::clone(&gate));
            thread::spawn(move || {
                gate.wait();
                block_on(store.consume(None, "link", until)).unwrap()
            })
        })
        .collect();
    let firsts = handles
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .filter(|outcome| *outcome == Consumption::Consumed)
        .count();
    assert_eq!(firsts, 1);
}

#[test]
fn a_full_store_refuses_rather_than_forget_and_takes_entries_again_once_they_expire() {
    let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap());
    let store = MemoryStore::new()
        .with_clock(clock.clone())
        .with_capacity(3);
    let soon = clock_now(&clock) + Duration::minutes(5);
    let later = clock_now(&clock) + Duration::hours(5);
    block_on(store.revoke(None, "a", soon)).unwrap();
    block_on(store.revoke(None, "b", soon)).unwrap();
    block_on(store.revoke(None, "c", later)).unwrap();
    assert_eq!(
        block_on(store.revoke(None, "d", later)),
        Err(StoreError::Full { capacity: 3 })
    );
    // Nothing was dropped to make room.
    for id in ["a", "b", "c"] {
        assert_eq!(
            block_on(store.check(&Check::token(None, id))).unwrap(),
            TokenState::Revoked
        );
    }
    assert_eq!(
        block_on(store.revoke(None, "d", later)),
        Err(StoreError::Full { capacity: 3 })
    );
    // Revoking an id already held needs no room.
    block_on(store.revoke(None, "a", later)).unwrap();
    clock.advance(Duration::minutes(6));
    // "b" expired: a full store sweeps before refusing.
    block_on(store.revoke(None, "d", later)).unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(
        block_on(store.check(&Check::token(None, "b"))).unwrap(),
        TokenState::Live
    );
}

fn clock_now(clock: &ManualClock) -> OffsetDateTime {
    use vaulttoken::clock::Clock;
    clock.now()
}

#[test]
fn a_sweep_keeps_every_live_entry_and_drops_each_kind_the_moment_it_expires() {
    let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap());
    let store = MemoryStore::new().with_clock(clock.clone());
    let t = clock_now(&clock);
    let until = t + Duration::minutes(10);
    block_on(store.revoke(Some("alice"), "revoked", until)).unwrap();
    block_on(store.revoke_issued_before("alice", t, until)).unwrap();
    block_on(store.supersede(Some("alice"), "reset", "newest", until)).unwrap();
    let family = NewFamily::new("alice", "f", t, until);
    block_on(store.create_family(&family)).unwrap();
    assert_eq!(store.len(), 4);

    let states = |store: &MemoryStore| {
        let after_cutoff = t + Duration::seconds(1);
        [
            Check::token(Some("alice"), "revoked").issued_at(after_cutoff),
            Check::token(Some("alice"), "early").issued_at(t - Duration::seconds(1)),
            Check::token(Some("alice"), "older")
                .issued_at(after_cutoff)
                .latest_of("reset"),
            Check::token(Some("alice"), "access")
                .issued_at(after_cutoff)
                .family("f"),
        ]
        .map(|check| block_on(store.check(&check)).unwrap())
    };
    let live = [
        TokenState::Revoked,
        TokenState::IssuedBeforeCutoff,
        TokenState::Superseded,
        TokenState::Live,
    ];
    assert_eq!(states(&store), live);
    // Past the sweep interval, but before anything expires: a sweep (explicit,
    // or the periodic one a write triggers) keeps every entry.
    clock.advance(Duration::minutes(5));
    assert_eq!(store.purge_expired(), 0);
    block_on(store.revoke(Some("bob"), "other", until)).unwrap();
    assert_eq!(store.len(), 5);
    assert!(!store.is_empty());
    assert_eq!(states(&store), live);
    // At their expiry every kind goes at once.
    clock.advance(Duration::minutes(5));
    assert_eq!(store.purge_expired(), 5);
    assert!(store.is_empty());
}
