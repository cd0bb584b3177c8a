//! The behaviour every [`TokenStore`] must show, as one suite any store's
//! tests can run: the memory store's in this crate, the Redis stores' (single
//! server and cluster) in `vaulttoken-redis`. Enabled by the `conformance`
//! feature, for tests only.
//!
//! The checks assert, so a failing store panics with the broken behaviour in
//! the message. They use the system clock and sleep for the expiry checks
//! (about two seconds in all). `namespace` keeps the subjects of one run apart
//! from another's on a shared server.
//!
//! (A mutant that empties one of these checks survives the tests: the suite is
//! the test, and nothing tests it but review.)

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::clock::{Clock, SystemClock};

use super::{
    Check, Consumption, Grace, NewFamily, Rotated, Rotation, StoreFuture, StoreHealth, TokenState,
    TokenStore,
};
use crate::error::StoreError;

/// How many callers the concurrency checks race.
pub const RACERS: usize = 64;

/// Runs every check in this module against `store`.
///
/// # Panics
///
/// On the first behaviour the store gets wrong, naming it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use vaulttoken::store::{MemoryStore, conformance};
///
/// conformance::run_all(&MemoryStore::new(), "doc").await;
/// # }
/// ```
pub async fn run_all(store: &dyn TokenStore, namespace: &str) {
    revocation(store, namespace).await;
    single_use(store, namespace).await;
    subject_cutoff(store, namespace).await;
    latest_wins(store, namespace).await;
    family_rotation(store, namespace).await;
    family_grace(store, namespace).await;
    family_lifetimes(store, namespace).await;
    family_cap(store, namespace).await;
    racing_consumers(store, namespace).await;
    racing_refreshes(store, namespace).await;
    expiry(store, namespace).await;
}

/// Now, in whole seconds (as a service passes it), by the system clock: a
/// Redis server expires entries by its own.
fn now() -> OffsetDateTime {
    let now = SystemClock.now();
    now.replace_nanosecond(0).unwrap_or(now)
}

fn subject(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

async fn state(store: &dyn TokenStore, check: Check<'_>) -> TokenState {
    store.check(&check).await.expect("check answers")
}

/// Revoked ids are refused, per subject; revoking again keeps them refused.
pub async fn revocation(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "revocation-alice");
    let bob = subject(namespace, "revocation-bob");
    let until = now() + Duration::hours(1);
    let id = "jti-revoked";
    assert_eq!(
        state(store, Check::token(Some(&alice), id)).await,
        TokenState::Live
    );
    store.revoke(Some(&alice), id, until).await.expect("revoke");
    assert_eq!(
        state(store, Check::token(Some(&alice), id)).await,
        TokenState::Revoked,
        "a revoked id is refused"
    );
    assert_eq!(
        state(store, Check::token(Some(&bob), id)).await,
        TokenState::Live,
        "the same id of another subject is not revoked"
    );
    store
        .revoke(Some(&alice), id, until)
        .await
        .expect("revoke again");
    assert_eq!(
        state(store, Check::token(Some(&alice), id)).await,
        TokenState::Revoked
    );

    let anonymous = format!("{namespace}/anonymous-jti");
    store
        .revoke(None, &anonymous, until)
        .await
        .expect("revoke without subject");
    assert_eq!(
        state(store, Check::token(None, &anonymous)).await,
        TokenState::Revoked
    );
    assert_eq!(
        state(store, Check::token(Some(&alice), &anonymous)).await,
        TokenState::Live,
        "no subject is a scope of its own"
    );
}

/// An id is spent exactly once; a revoked id cannot be spent.
pub async fn single_use(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "single-use");
    let until = now() + Duration::minutes(15);
    assert_eq!(
        store
            .consume(Some(&alice), "link", until)
            .await
            .expect("consume"),
        Consumption::Consumed
    );
    assert_eq!(
        store
            .consume(Some(&alice), "link", until)
            .await
            .expect("consume"),
        Consumption::AlreadyUsed,
        "a second use is refused"
    );
    assert_eq!(
        state(store, Check::token(Some(&alice), "link")).await,
        TokenState::Used
    );
    // With the token's `iat` (now), the same: spent once.
    let issued = Some(now());
    for expected in [Consumption::Consumed, Consumption::AlreadyUsed] {
        assert_eq!(
            store
                .consume_issued_at(Some(&alice), "link-with-iat", issued, until)
                .await
                .expect("consume"),
            expected,
            "a token with its iat is spent once"
        );
    }
    store
        .revoke(Some(&alice), "never-used", until)
        .await
        .expect("revoke");
    assert_eq!(
        store
            .consume(Some(&alice), "never-used", until)
            .await
            .expect("consume"),
        Consumption::Revoked,
        "an invalidated id cannot be spent"
    );
    store
        .revoke(Some(&alice), "link", until)
        .await
        .expect("revoke spent");
    assert_ne!(
        state(store, Check::token(Some(&alice), "link")).await,
        TokenState::Live,
        "revoking a spent id keeps it refused"
    );
}

/// "Log out everywhere": tokens issued before the cutoff are refused.
pub async fn subject_cutoff(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "cutoff");
    let t = now();
    let until = t + Duration::hours(2);
    store
        .revoke_issued_before(&alice, t, until)
        .await
        .expect("cutoff");
    let before = Check::token(Some(&alice), "a").issued_at(t - Duration::SECOND);
    let at = Check::token(Some(&alice), "b").issued_at(t);
    assert_eq!(state(store, before).await, TokenState::IssuedBeforeCutoff);
    assert_eq!(state(store, at).await, TokenState::Live);
    assert_eq!(
        state(store, Check::token(Some(&alice), "c")).await,
        TokenState::IssuedBeforeCutoff,
        "a token with no iat is refused while a cutoff is set"
    );
    // An earlier cutoff never moves it back; a later one moves it on.
    store
        .revoke_issued_before(&alice, t - Duration::hours(1), until)
        .await
        .expect("earlier cutoff");
    assert_eq!(state(store, before).await, TokenState::IssuedBeforeCutoff);
    store
        .revoke_issued_before(&alice, t + Duration::SECOND, until)
        .await
        .expect("later cutoff");
    assert_eq!(state(store, at).await, TokenState::IssuedBeforeCutoff);
    // Another subject's token issued before alice's cutoff (at `t`, not
    // before: a store's state may have begun in the second before `t`).
    let other = subject(namespace, "cutoff-other");
    assert_eq!(
        state(store, Check::token(Some(&other), "a").issued_at(t)).await,
        TokenState::Live
    );
}

/// Only the latest token of a slot is live.
pub async fn latest_wins(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "latest");
    let until = now() + Duration::hours(1);
    store
        .supersede(Some(&alice), "password_reset", "first", until)
        .await
        .expect("supersede");
    let first = Check::token(Some(&alice), "first").latest_of("password_reset");
    assert_eq!(state(store, first).await, TokenState::Live);
    store
        .supersede(Some(&alice), "password_reset", "second", until)
        .await
        .expect("supersede");
    assert_eq!(state(store, first).await, TokenState::Superseded);
    let second = Check::token(Some(&alice), "second").latest_of("password_reset");
    assert_eq!(state(store, second).await, TokenState::Live);
    let other_slot = Check::token(Some(&alice), "first").latest_of("email_verification");
    assert_eq!(state(store, other_slot).await, TokenState::Live);
}

async fn rotate(store: &dyn TokenStore, rotation: Rotation<'_>) -> Rotated {
    store.rotate_family(&rotation).await.expect("rotate")
}

/// Rotation advances one generation at a time; an old generation revokes the
/// family; a revoked family stays revoked.
pub async fn family_rotation(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "family");
    let t = now();
    let family = NewFamily::new(&alice, "f-rotation", t, t + Duration::days(1));
    assert!(
        store
            .create_family(&family)
            .await
            .expect("create")
            .is_empty()
    );
    let access = Check::token(Some(&alice), "access").family("f-rotation");
    assert_eq!(state(store, access).await, TokenState::Live);
    assert_eq!(
        state(store, Check::token(Some(&alice), "x").family("unknown")).await,
        TokenState::FamilyRevoked,
        "an unknown family is refused"
    );

    let step = rotate(
        store,
        Rotation::new(&alice, "f-rotation", 0, t + Duration::SECOND),
    )
    .await;
    assert_eq!(
        step,
        Rotated::Advanced {
            generation: 1,
            rotated_at: t + Duration::SECOND
        }
    );
    let step = rotate(
        store,
        Rotation::new(&alice, "f-rotation", 1, t + Duration::seconds(2)),
    )
    .await;
    assert_eq!(step.successor().map(|(generation, _)| generation), Some(2));
    // Generation 0 again: reuse. The family is revoked, with its access tokens.
    let reuse = rotate(
        store,
        Rotation::new(&alice, "f-rotation", 0, t + Duration::seconds(3)),
    )
    .await;
    assert_eq!(reuse, Rotated::ReuseDetected);
    assert_eq!(state(store, access).await, TokenState::FamilyRevoked);
    let current = rotate(
        store,
        Rotation::new(&alice, "f-rotation", 2, t + Duration::seconds(4)),
    )
    .await;
    assert_eq!(
        current,
        Rotated::Revoked,
        "nothing rotates a revoked family"
    );
    assert_eq!(
        rotate(store, Rotation::new(&alice, "never-created", 0, t)).await,
        Rotated::Revoked
    );

    let revoked = NewFamily::new(&alice, "f-revoked", t, t + Duration::days(1));
    store.create_family(&revoked).await.expect("create");
    store
        .revoke_family(Some(&alice), "f-revoked")
        .await
        .expect("revoke family");
    assert_eq!(
        state(store, Check::token(Some(&alice), "a").family("f-revoked")).await,
        TokenState::FamilyRevoked
    );
    assert_eq!(
        rotate(store, Rotation::new(&alice, "f-revoked", 0, t)).await,
        Rotated::Revoked
    );
    assert!(
        store.create_family(&revoked).await.is_err(),
        "a family id is never reused"
    );
}

/// Inside the grace window, the previous generation gets the same successor,
/// a limited number of times; never older generations, never after the window.
pub async fn family_grace(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "grace");
    let t = now();
    let grace = Grace::new(Duration::seconds(30), 2);
    for id in ["f-grace", "f-grace-late", "f-grace-old"] {
        let family = NewFamily::new(&alice, id, t, t + Duration::days(1));
        store.create_family(&family).await.expect("create");
    }
    let first = rotate(store, Rotation::new(&alice, "f-grace", 0, t).grace(grace)).await;
    let later = t + Duration::seconds(10);
    for _ in 0..2 {
        let again = rotate(
            store,
            Rotation::new(&alice, "f-grace", 0, later).grace(grace),
        )
        .await;
        assert_eq!(again.successor(), first.successor(), "the same successor");
        assert!(matches!(again, Rotated::GraceReplay { .. }));
    }
    let over = rotate(
        store,
        Rotation::new(&alice, "f-grace", 0, later).grace(grace),
    )
    .await;
    assert_eq!(over, Rotated::ReuseDetected, "grace has a use limit");

    rotate(
        store,
        Rotation::new(&alice, "f-grace-late", 0, t).grace(grace),
    )
    .await;
    let late = t + Duration::seconds(31);
    assert_eq!(
        rotate(
            store,
            Rotation::new(&alice, "f-grace-late", 0, late).grace(grace)
        )
        .await,
        Rotated::ReuseDetected,
        "grace ends with its window"
    );

    rotate(
        store,
        Rotation::new(&alice, "f-grace-old", 0, t).grace(grace),
    )
    .await;
    rotate(
        store,
        Rotation::new(&alice, "f-grace-old", 1, t).grace(grace),
    )
    .await;
    assert_eq!(
        rotate(
            store,
            Rotation::new(&alice, "f-grace-old", 0, t).grace(grace)
        )
        .await,
        Rotated::ReuseDetected,
        "grace never covers an older generation"
    );
}

/// A family ends at its absolute lifetime, whatever rotation does, and after
/// its idle timeout.
pub async fn family_lifetimes(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "lifetimes");
    let t = now();
    let short = NewFamily::new(&alice, "f-absolute", t, t + Duration::hours(1));
    store.create_family(&short).await.expect("create");
    let step = rotate(
        store,
        Rotation::new(&alice, "f-absolute", 0, t + Duration::minutes(59)),
    )
    .await;
    assert!(step.successor().is_some());
    assert_eq!(
        rotate(
            store,
            Rotation::new(&alice, "f-absolute", 1, t + Duration::hours(1))
        )
        .await,
        Rotated::Expired,
        "rotation never extends a family"
    );
    assert_eq!(
        rotate(
            store,
            Rotation::new(&alice, "f-absolute", 1, t + Duration::minutes(1))
        )
        .await,
        Rotated::Revoked,
        "an expired family is revoked"
    );

    let idle = NewFamily::new(&alice, "f-idle", t, t + Duration::days(30));
    store.create_family(&idle).await.expect("create");
    let day = Duration::days(1);
    let kept = Rotation::new(&alice, "f-idle", 0, t + Duration::hours(23)).idle_timeout(day);
    assert!(rotate(store, kept).await.successor().is_some());
    let lapsed = Rotation::new(&alice, "f-idle", 1, t + Duration::hours(48)).idle_timeout(day);
    assert_eq!(
        rotate(store, lapsed).await,
        Rotated::Expired,
        "idle timeout"
    );
}

/// At its cap, a subject's oldest live families are revoked.
pub async fn family_cap(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "cap");
    let t = now();
    let ids = ["f-cap-0", "f-cap-1", "f-cap-2"];
    for (i, id) in ids.iter().enumerate() {
        let created = t + Duration::seconds(i64::try_from(i).unwrap_or(0));
        let family = NewFamily::new(&alice, id, created, t + Duration::days(1)).max_per_subject(2);
        let revoked = store.create_family(&family).await.expect("create");
        let expected: Vec<String> = if i == 2 {
            vec![ids[0].to_owned()]
        } else {
            Vec::new()
        };
        assert_eq!(revoked, expected, "creating {id}");
    }
    let families = [
        (ids[0], TokenState::FamilyRevoked),
        (ids[1], TokenState::Live),
        (ids[2], TokenState::Live),
    ];
    for (id, expected) in families {
        assert_eq!(
            state(store, Check::token(Some(&alice), "a").family(id)).await,
            expected,
            "{id}"
        );
    }
}

/// Of many callers spending one id at once, exactly one succeeds.
pub async fn racing_consumers(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "race-consume");
    let until = now() + Duration::minutes(5);
    let outcomes = join_all(
        (0..RACERS)
            .map(|_| store.consume(Some(&alice), "contested", until))
            .collect(),
    )
    .await;
    let first = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(Consumption::Consumed)))
        .count();
    let later = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(Consumption::AlreadyUsed)))
        .count();
    assert_eq!((first, later), (1, RACERS - 1), "exactly one consumer wins");
}

/// Many callers refreshing with one token at once: without grace one wins and
/// the rest detect reuse; with grace they all get the same successor.
pub async fn racing_refreshes(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "race-refresh");
    let t = now();
    for id in ["f-race", "f-race-grace"] {
        let family = NewFamily::new(&alice, id, t, t + Duration::days(1));
        store.create_family(&family).await.expect("create");
    }
    let plain = Rotation::new(&alice, "f-race", 0, t);
    let outcomes = join_all((0..RACERS).map(|_| store.rotate_family(&plain)).collect()).await;
    let advanced = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(Rotated::Advanced { .. })))
        .count();
    let reused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(Rotated::ReuseDetected | Rotated::Revoked)))
        .count();
    assert_eq!((advanced, reused), (1, RACERS - 1), "one refresh wins");

    let max_uses = u32::try_from(RACERS).unwrap_or(u32::MAX);
    let graced = Rotation::new(&alice, "f-race-grace", 0, t)
        .grace(Grace::new(Duration::seconds(60), max_uses));
    let outcomes = join_all((0..RACERS).map(|_| store.rotate_family(&graced)).collect()).await;
    let successors: Vec<_> = outcomes
        .iter()
        .map(|outcome| outcome.as_ref().ok().and_then(|step| step.successor()))
        .collect();
    assert!(
        successors.iter().all(|s| *s == Some((1, t))),
        "every caller gets the same successor: {successors:?}"
    );
}

/// Entries go once the token they describe would have expired.
pub async fn expiry(store: &dyn TokenStore, namespace: &str) {
    let alice = subject(namespace, "expiry");
    let soon = SystemClock.now() + Duration::seconds(1);
    store
        .revoke(Some(&alice), "short", soon)
        .await
        .expect("revoke");
    store
        .consume(Some(&alice), "spent", soon)
        .await
        .expect("consume");
    store
        .supersede(Some(&alice), "slot", "newest", soon)
        .await
        .expect("supersede");
    store
        .revoke_issued_before(&alice, now(), soon)
        .await
        .expect("cutoff");
    assert_eq!(
        state(store, Check::token(Some(&alice), "short")).await,
        TokenState::Revoked
    );
    std::thread::sleep(StdDuration::from_millis(2100));
    assert_eq!(
        state(store, Check::token(Some(&alice), "short")).await,
        TokenState::Live,
        "an expired revocation is gone"
    );
    assert_eq!(
        store
            .consume(Some(&alice), "spent", soon + Duration::minutes(1))
            .await
            .expect("consume"),
        Consumption::Consumed,
        "an expired single-use entry is gone"
    );
    let older = Check::token(Some(&alice), "older").latest_of("slot");
    assert_eq!(
        state(store, older).await,
        TokenState::Live,
        "an expired slot is gone"
    );
    assert_eq!(
        state(store, Check::token(Some(&alice), "no-iat")).await,
        TokenState::Live,
        "an expired cutoff is gone"
    );
}

/// Polls every future until all are ready, interleaving them on this task, so
/// a store sees the calls in flight together. Outputs come in input order.
pub async fn join_all<'a, T>(futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>) -> Vec<T> {
    JoinAll {
        pending: futures.into_iter().map(Some).collect(),
        done: Vec::new(),
    }
    .await
}

struct JoinAll<'a, T> {
    pending: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + 'a>>>>,
    done: Vec<Option<T>>,
}

impl<T> Unpin for JoinAll<'_, T> {}

impl<T> Future for JoinAll<'_, T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = self.get_mut();
        if this.done.is_empty() {
            this.done.resize_with(this.pending.len(), || None);
        }
        for (slot, out) in this.pending.iter_mut().zip(this.done.iter_mut()) {
            if let Some(future) = slot
                && let Poll::Ready(value) = future.as_mut().poll(cx)
            {
                *out = Some(value);
                *slot = None;
            }
        }
        if this.pending.iter().all(Option::is_none) {
            Poll::Ready(this.done.drain(..).flatten().collect())
        } else {
            Poll::Pending
        }
    }
}

/// A store that cannot be reached: every call fails with
/// [`StoreError::Unreachable`], as a Redis store does while its server is
/// down. For the tests of what sits on a store (services, refresh families,
/// trust tokens, HTTP layers): they must fail closed, never give a verdict.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vaulttoken::Error> {
/// use std::sync::Arc;
/// use vaulttoken::error::StoreError;
/// use vaulttoken::store::conformance::UnreachableStore;
/// use vaulttoken::{Claims, Error, LocalKey, LocalService};
///
/// let service = LocalService::builder(LocalKey::generate()?)
///     .store(Arc::new(UnreachableStore))
///     .build();
/// let token = service.encode(&Claims::builder().subject("u").build()?)?;
/// let refused = service.decode_async(&token).await.unwrap_err();
/// assert!(matches!(refused, Error::Store(StoreError::Unreachable { .. })));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct UnreachableStore;

impl UnreachableStore {
    fn refuse<'a, T: Send + 'a>() -> StoreFuture<'a, T> {
        Box::pin(async {
            Err(StoreError::Unreachable {
                reason: "the test store is down".into(),
            })
        })
    }
}

impl TokenStore for UnreachableStore {
    fn check<'a>(&'a self, _: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        Self::refuse()
    }

    fn revoke<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
        _: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Self::refuse()
    }

    fn consume<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
        _: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        Self::refuse()
    }

    fn revoke_issued_before<'a>(
        &'a self,
        _: &'a str,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Self::refuse()
    }

    fn supersede<'a>(
        &'a self,
        _: Option<&'a str>,
        _: &'a str,
        _: &'a str,
        _: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        Self::refuse()
    }

    fn create_family<'a>(&'a self, _: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
        Self::refuse()
    }

    fn rotate_family<'a>(&'a self, _: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
        Self::refuse()
    }

    fn revoke_family<'a>(&'a self, _: Option<&'a str>, _: &'a str) -> StoreFuture<'a, ()> {
        Self::refuse()
    }

    fn health(&self) -> StoreFuture<'_, StoreHealth> {
        Self::refuse()
    }
}
