//! "Unavailable" means nothing was decided: a write that reaches Redis
//! after its caller's deadline (held back by a proxy) changes nothing, so a
//! refresh that answered `StoreError::Timeout` and is retried with the same
//! refresh token is a normal refresh, not reuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::StoreError;
use vaulttoken::family::RefreshFamilies;
use vaulttoken::store::{
    Check, Consumption, NewFamily, Rotated, Rotation, StoreFuture, TokenState, TokenStore,
};
use vaulttoken::{Error, LocalKey};
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis::{DelayProxy, RedisServer, command_calls, redis_available};

const DEADLINE: Duration = Duration::from_millis(300);
/// How long the proxy holds a call back: well past the deadline.
const HOLD: Duration = Duration::from_millis(900);
const BOUND: Duration = Duration::from_secs(60);

fn is_timeout<T: std::fmt::Debug>(answer: &Result<T, StoreError>) -> bool {
    matches!(answer, Err(StoreError::Timeout { .. }))
}

/// Waits until the proxy has passed on `count` held calls, and a moment
/// more for Redis to run them.
async fn delivered(proxy: &DelayProxy, count: usize) {
    let started = Instant::now();
    while proxy.delayed_deliveries() < count {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn connect_through(proxy: &DelayProxy) -> RedisStore {
    RedisStore::connect(&proxy.url(), StoreOptions::default().deadline(DEADLINE))
        .await
        .expect("connect through the proxy")
}

/// The Redis store, with the proxy holding back the next rotation once.
#[derive(Debug)]
struct LateRotation {
    inner: RedisStore,
    proxy: Arc<DelayProxy>,
    armed: AtomicBool,
}

impl TokenStore for LateRotation {
    fn check<'a>(&'a self, check: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        self.inner.check(check)
    }
    fn revoke<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.inner.revoke(subject, token_id, until)
    }
    fn consume<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        self.inner.consume(subject, token_id, until)
    }
    fn revoke_issued_before<'a>(
        &'a self,
        subject: &'a str,
        cutoff: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.inner.revoke_issued_before(subject, cutoff, until)
    }
    fn supersede<'a>(
        &'a self,
        subject: Option<&'a str>,
        slot: &'a str,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.inner.supersede(subject, slot, token_id, until)
    }
    fn create_family<'a>(&'a self, family: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
        self.inner.create_family(family)
    }
    fn rotate_family<'a>(&'a self, rotation: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.proxy.delay_next(HOLD);
        }
        self.inner.rotate_family(rotation)
    }
    fn revoke_family<'a>(
        &'a self,
        subject: Option<&'a str>,
        family_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        self.inner.revoke_family(subject, family_id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_retried_after_a_late_rotation_is_a_normal_refresh() {
    if !redis_available("a_refresh_retried_after_a_late_rotation_is_a_normal_refresh") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let proxy = Arc::new(DelayProxy::start(server.port()));
        let store = Arc::new(LateRotation {
            inner: connect_through(&proxy).await,
            proxy: Arc::clone(&proxy),
            armed: AtomicBool::new(false),
        });
        let families =
            RefreshFamilies::builder(LocalKey::generate().expect("key"), store.clone()).build();
        // One refresh first: Redis has the rotation script, as it would in
        // service (a held EVALSHA of an unknown script would just fail).
        let issued = families.issue("alice").await.expect("issue");
        let first = families.refresh(&issued.refresh).await.expect("refresh");
        assert_eq!(first.generation, 1);

        store.armed.store(true, Ordering::SeqCst);
        let late = families.refresh(&first.refresh).await;
        assert!(
            matches!(late, Err(Error::Store(StoreError::Timeout { .. }))),
            "{late:?}"
        );
        // The held rotation reaches Redis after its deadline.
        delivered(&proxy, 1).await;

        let retried = families
            .refresh(&first.refresh)
            .await
            .expect("the retry is a normal refresh, not reuse");
        assert_eq!(retried.generation, 2);
        assert_eq!(retried.family_id, first.family_id);
        families
            .verify_access(&retried.access)
            .await
            .expect("the family is alive");
        let next = families.refresh(&retried.refresh).await.expect("refresh");
        assert_eq!(next.generation, 3);
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_past_its_deadline_changes_nothing() {
    if !redis_available("every_write_past_its_deadline_changes_nothing") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let proxy = DelayProxy::start(server.port());
        let store = connect_through(&proxy).await;
        let now = SystemClock.now();
        let until = now + time::Duration::hours(1);
        let mut held = 0;
        // Every script once, so that Redis has them all, as it would in
        // service (a held EVALSHA of an unknown script would just fail).
        let warm = NewFamily::new("warm", "f-warm", now, until);
        store
            .consume(Some("warm"), "c", until)
            .await
            .expect("consume");
        store
            .revoke(Some("warm"), "r", until)
            .await
            .expect("revoke");
        store
            .revoke_issued_before("warm", now, until)
            .await
            .expect("cutoff");
        store.create_family(&warm).await.expect("create");
        let warm_rotation = Rotation::new("warm", "f-warm", 0, now);
        store.rotate_family(&warm_rotation).await.expect("rotate");
        store
            .revoke_family(Some("warm"), "f-warm")
            .await
            .expect("revoke");
        store
            .check(&Check::token(Some("warm"), "x"))
            .await
            .expect("check");

        // consume
        proxy.delay_next(HOLD);
        assert!(is_timeout(&store.consume(Some("alice"), "c", until).await));
        held += 1;
        delivered(&proxy, held).await;
        assert_eq!(
            store.consume(Some("alice"), "c", until).await,
            Ok(Consumption::Consumed),
            "a late consume spent the id"
        );

        // revoke
        proxy.delay_next(HOLD);
        assert!(is_timeout(&store.revoke(Some("alice"), "r", until).await));
        held += 1;
        delivered(&proxy, held).await;
        let revoked = Check::token(Some("alice"), "r");
        assert_eq!(store.check(&revoked).await, Ok(TokenState::Live));

        // revoke_issued_before
        proxy.delay_next(HOLD);
        // A cutoff in two seconds, held back: had it been written, a token
        // issued now (after the store's epoch began) would be refused.
        let later = now + time::Duration::seconds(2);
        let cutoff = store.revoke_issued_before("alice", later, until).await;
        assert!(is_timeout(&cutoff));
        held += 1;
        delivered(&proxy, held).await;
        let older = Check::token(Some("alice"), "old").issued_at(now);
        assert_eq!(store.check(&older).await, Ok(TokenState::Live));

        // supersede
        store
            .supersede(Some("alice"), "reset", "a", until)
            .await
            .expect("supersede");
        proxy.delay_next(HOLD);
        let later = store.supersede(Some("alice"), "reset", "b", until).await;
        assert!(is_timeout(&later));
        held += 1;
        delivered(&proxy, held).await;
        let latest = Check::token(Some("alice"), "a").latest_of("reset");
        assert_eq!(store.check(&latest).await, Ok(TokenState::Live));

        // create_family
        let family = NewFamily::new("alice", "f-late", now, until);
        proxy.delay_next(HOLD);
        assert!(is_timeout(&store.create_family(&family).await));
        held += 1;
        delivered(&proxy, held).await;
        let of_family = Check::token(Some("alice"), "t").family("f-late");
        assert_eq!(store.check(&of_family).await, Ok(TokenState::FamilyRevoked));
        store
            .create_family(&family)
            .await
            .expect("created now, as if for the first time");
        assert_eq!(store.check(&of_family).await, Ok(TokenState::Live));

        // rotate_family
        proxy.delay_next(HOLD);
        let rotation = Rotation::new("alice", "f-late", 0, now);
        assert!(is_timeout(&store.rotate_family(&rotation).await));
        held += 1;
        delivered(&proxy, held).await;
        assert!(matches!(
            store.rotate_family(&rotation).await,
            Ok(Rotated::Advanced { generation: 1, .. })
        ));

        // revoke_family
        proxy.delay_next(HOLD);
        let revoked = store.revoke_family(Some("alice"), "f-late").await;
        assert!(is_timeout(&revoked));
        held += 1;
        delivered(&proxy, held).await;
        assert_eq!(store.check(&of_family).await, Ok(TokenState::Live));
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_refused_by_its_deadline_answers_timeout_early() {
    if !redis_available("a_write_refused_by_its_deadline_answers_timeout_early") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let server = RedisServer::start();
        let proxy = DelayProxy::start(server.port());
        // The script may start up to 500 ms (less the clock reading's round
        // trip) after the call; held 750 ms, it refuses itself, and its
        // answer comes back before the caller's own 1 s pass.
        let deadline = Duration::from_secs(1);
        let options = StoreOptions::default()
            .deadline(deadline)
            .reply_margin(Duration::from_millis(500));
        let store = RedisStore::connect(&proxy.url(), options)
            .await
            .expect("connect through the proxy");
        let until = SystemClock.now() + time::Duration::hours(1);
        store
            .revoke(Some("alice"), "warm", until)
            .await
            .expect("the script is loaded");
        let clock_reads = command_calls(&server, "time");

        proxy.delay_next(Duration::from_millis(750));
        let started = Instant::now();
        let refused = store.revoke(Some("alice"), "r", until).await;
        let elapsed = started.elapsed();
        assert_eq!(
            refused,
            Err(StoreError::Timeout {
                deadline: time::Duration::seconds(1)
            })
        );
        assert!(elapsed < deadline, "the script's refusal, at {elapsed:?}");
        let revoked = Check::token(Some("alice"), "r");
        assert_eq!(store.check(&revoked).await, Ok(TokenState::Live));
        // The script read TIME once; the refusal put the store's reading of
        // Redis's clock in doubt, so the next write reads it again first.
        assert_eq!(command_calls(&server, "time"), clock_reads + 1);
        store
            .revoke(Some("alice"), "r", until)
            .await
            .expect("revoke");
        assert_eq!(command_calls(&server, "time"), clock_reads + 3);
        assert_eq!(store.check(&revoked).await, Ok(TokenState::Revoked));
    })
    .await
    .expect("bounded in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_is_read_again_once_its_reading_is_old() {
    if !redis_available("the_clock_is_read_again_once_its_reading_is_old") {
        return;
    }
    tokio::time::timeout(BOUND, async {
        let until = SystemClock.now() + time::Duration::hours(1);
        for (interval, reads_per_write) in
            [(Duration::from_secs(60), 1), (Duration::from_nanos(1), 2)]
        {
            let server = RedisServer::start();
            let options = StoreOptions::default().clock_sample_interval(interval);
            let store = RedisStore::connect(&server.url(), options)
                .await
                .expect("connect");
            // Two readings at connect: the store's reading of Redis's clock,
            // and the epoch the missing markers begin at.
            assert_eq!(command_calls(&server, "time"), 2);
            for id in ["a", "b", "c"] {
                store
                    .revoke(Some("alice"), id, until)
                    .await
                    .expect("revoke");
            }
            // Each write's script reads TIME; with an old reading, the store
            // reads it first too. The first write's script reads it once more,
            // to mark when the change stream began.
            assert_eq!(
                command_calls(&server, "time"),
                2 + 3 * reads_per_write + 1,
                "{interval:?}"
            );
        }
    })
    .await
    .expect("bounded in time");
}
