//! The memory store's size follows the live tokens: 100,000 short-lived
//! revocations take memory, and give it back once they have expired.
//!
//! This binary counts every allocation (the `cap` crate's allocator) and has
//! one test function, so nothing else allocates while it measures.

use std::alloc::System;

use cap::Cap;
use time::{Duration, OffsetDateTime};
use vaulttoken::clock::{Clock, ManualClock};
use vaulttoken::store::{Check, MemoryStore, TokenState, TokenStore};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const IDS: usize = 100_000;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
}

#[test]
fn memory_goes_back_once_100_000_revocations_expire() {
    let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap());
    let store = MemoryStore::new().with_clock(clock.clone());
    let ids: Vec<String> = (0..IDS).map(|i| format!("jti-{i:08}")).collect();
    let until = clock.now() + Duration::minutes(5);

    let baseline = ALLOCATOR.allocated();
    for (i, id) in ids.iter().enumerate() {
        let subject = format!("user-{}", i % 1000);
        block_on(store.revoke(Some(&subject), id, until)).unwrap();
    }
    let full = ALLOCATOR.allocated();
    assert_eq!(store.len(), IDS);
    let held = full - baseline;
    // At least a few bytes per id: the measurement sees the entries.
    assert!(held > IDS * 16, "{held} bytes for {IDS} ids");

    clock.advance(Duration::minutes(5));
    // An expired revocation no longer counts, even before the sweep...
    let probe = Check::token(Some("user-7"), &ids[7]);
    assert_eq!(block_on(store.check(&probe)).unwrap(), TokenState::Live);
    // ... and the next write after the sweep interval drops them all.
    clock.advance(Duration::minutes(1));
    block_on(store.revoke(Some("user-0"), "fresh", clock.now() + Duration::minutes(5))).unwrap();
    assert_eq!(store.len(), 1);
    let after = ALLOCATOR.allocated();
    let left = after.saturating_sub(baseline);
    assert!(
        left < held / 50,
        "{left} bytes still held of {held} once every id expired"
    );
}
