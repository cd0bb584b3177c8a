//! The revocation mirror under faults, with real processes (issue 25): Redis
//! killed, the feed's connection killed, Redis paused (`CLIENT PAUSE`,
//! `SIGSTOP`), the stream trimmed past a reader, Redis restarted without its
//! data, and every byte to Redis delayed. In every case no revoked token is
//! accepted later than `max_staleness` after its revocation returned, checks
//! past the bound go to Redis and fail as unavailable when Redis does not
//! answer (never `Live`), and the mirror recovers by itself.

#[path = "support/loss.rs"]
#[allow(dead_code)]
mod loss;

#[path = "support/mirror.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod mirror_support;

use std::cell::RefCell;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tracing::dispatcher::DefaultGuard;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::{Check, TokenState, TokenStore};
use vaulttoken_redis::{MIRROR_CLIENT_NAME, MirroredStore};
use vaulttoken_test_redis::{DelayProxy, EventRecorder, RedisServer, redis_available};

/// How long one test may take.
const TEST_BOUND: Duration = Duration::from_secs(15);
/// How often the probe checks.
const POLL: Duration = Duration::from_millis(5);
/// The change stream of a single server with the default prefix.
const STREAM: &str = "vaulttoken:{changes}";

use mirror_support::{
    STALENESS, feed_client_id, kill_feed_connection, later, mirror, mirror_waiting, writer,
};

/// Runs `test` within [`TEST_BOUND`].
async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_BOUND, test)
        .await
        .expect("the test finishes in time");
}

/// What a [`StalenessProbe`] saw.
#[derive(Debug, Default, Clone, Copy)]
struct Watched {
    /// How long after the revocation the mirror first refused the token.
    refused_after: Option<Duration>,
    /// Checks answered `Live` (all before the bound).
    live: usize,
    /// Checks that failed as unavailable.
    errors: usize,
    /// Checks answered with a refusal.
    refused: usize,
}

/// Watches one token whose revocation returned at `revoked`: checks it
/// through the mirror every [`POLL`], and fails on any `Ok(Live)` from a
/// check that began at or after `revoked + STALENESS`.
///
/// No tolerance is added to the bound: a check answers from memory only if
/// the feed heard back from a read it *sent* less than `max_staleness`
/// before the check began; a check that began at `revoked + STALENESS` or
/// later thus needs a read sent after `revoked`, which the revocation had
/// already committed before, so that read returned it. The probe takes
/// `revoked` after the revocation returned and each check's instant before
/// it began, both in the mirror's favour, never against it.
struct StalenessProbe<'a> {
    store: &'a MirroredStore,
    check: Check<'a>,
    revoked: Instant,
}

impl<'a> StalenessProbe<'a> {
    fn new(store: &'a MirroredStore, check: Check<'a>, revoked: Instant) -> Self {
        Self {
            store,
            check,
            revoked,
        }
    }

    /// Checks until `revoked + span`.
    async fn watch(&self, span: Duration) -> Watched {
        let mut watched = Watched::default();
        let end = self.revoked + span;
        loop {
            let began = Instant::now();
            if began >= end {
                return watched;
            }
            match self.store.check(&self.check).await {
                Ok(TokenState::Live) => {
                    let late = began.saturating_duration_since(self.revoked);
                    assert!(
                        late < STALENESS,
                        "a revoked token was accepted {late:?} after its revocation returned \
                         (bound {STALENESS:?}); {:?}",
                        self.store.status()
                    );
                    watched.live += 1;
                }
                Ok(_) => {
                    watched.refused += 1;
                    watched.refused_after.get_or_insert(began - self.revoked);
                }
                Err(_) => watched.errors += 1,
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Waits, at most `within`, until `ready`.
async fn eventually(within: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let give_up = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < give_up, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The checks a mirror answered from memory so far.
fn answered(store: &MirroredStore) -> u64 {
    store.status().answered
}

/// Checks `check` through `store` until Redis answers (not a store error),
/// never accepting `Live`: a token from before a loss.
async fn refused_once_answered(store: &MirroredStore, check: &Check<'_>) -> TokenState {
    loop {
        match store.check(check).await {
            Ok(TokenState::Live) => panic!(
                "a token issued before the loss was accepted: {check:?}, {:?}",
                store.status()
            ),
            Ok(state) => return state,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_then_restarted_empty() {
    if !redis_available("redis_killed_then_restarted_empty") {
        return;
    }
    bounded(async {
        let mut server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        let before_loss = SystemClock.now();
        let revoked = Check::token(Some("alice"), "t-1").issued_at(before_loss);
        let live = Check::token(Some("alice"), "t-2").issued_at(before_loss);
        assert_eq!(store.check(&revoked).await, Ok(TokenState::Live));

        writer
            .revoke(Some("alice"), "t-1", later(10))
            .await
            .expect("revoke");
        let at = Instant::now();
        let seen = StalenessProbe::new(&store, revoked, at)
            .watch(STALENESS + Duration::from_millis(50))
            .await;
        assert!(seen.refused > 0, "refused: {seen:?}");

        // Killed: memory answers until the bound, then checks fail.
        assert!(store.wait_current(Duration::from_secs(1)).await);
        server.kill();
        let killed = Instant::now();
        let from_memory = answered(&store);
        assert_eq!(store.check(&live).await, Ok(TokenState::Live));
        assert_eq!(answered(&store), from_memory + 1, "from memory");
        let seen = StalenessProbe::new(&store, revoked, killed)
            .watch(STALENESS + Duration::from_millis(300))
            .await;
        assert_eq!(seen.live, 0, "{seen:?}");
        assert!(seen.refused > 0 && seen.errors > 0, "{seen:?}");
        let from_memory = answered(&store);
        for check in [&live, &revoked] {
            let state = store.check(check).await;
            assert!(state.is_err(), "past the bound, Redis down: {state:?}");
        }
        assert_eq!(answered(&store), from_memory, "nothing from memory");
        assert!(!store.status().current);

        // Back, empty: the mirror rebuilds by itself, refuses what was
        // issued before the loss, and answers from memory again.
        server.restart();
        eventually(Duration::from_secs(5), "a rebuild", || {
            store.status().rebuilds >= 1
        })
        .await;
        for check in [&live, &revoked] {
            assert_eq!(
                refused_once_answered(&store, check).await,
                TokenState::IssuedBeforeStoreEpoch,
                "{check:?}"
            );
        }
        loss::next_second().await;
        let after_loss = SystemClock.now();
        let fresh = Check::token(Some("alice"), "t-3").issued_at(after_loss);
        assert_eq!(store.check(&fresh).await, Ok(TokenState::Live));
        assert!(store.wait_current(Duration::from_secs(3)).await);
        let from_memory = answered(&store);
        assert_eq!(store.check(&fresh).await, Ok(TokenState::Live));
        assert_eq!(
            store.check(&live).await,
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        assert_eq!(answered(&store), from_memory + 2, "from memory again");
        eprintln!(
            "killed to rebuilt: {:?}; {:?}",
            killed.elapsed(),
            store.status()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_connection_killed() {
    if !redis_available("the_feed_connection_killed") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "t-1").issued_at(now);
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));

        let id = kill_feed_connection(&server);
        writer
            .revoke(Some("alice"), "t-1", later(10))
            .await
            .expect("revoke");
        let at = Instant::now();
        let seen = StalenessProbe::new(&store, check, at)
            .watch(STALENESS + Duration::from_millis(200))
            .await;
        let refused_after = seen.refused_after.expect("refused");
        assert!(refused_after < STALENESS, "{seen:?}");
        eprintln!("feed killed: refused after {refused_after:?}; {seen:?}");

        // Reconnected under its name, current, the revocation in memory.
        let again = feed_client_id(&server).expect("the feed reconnected");
        assert_ne!(again, id);
        assert!(store.wait_current(Duration::from_secs(2)).await);
        let from_memory = answered(&store);
        assert_eq!(store.check(&check).await, Ok(TokenState::Revoked));
        assert_eq!(answered(&store), from_memory + 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_paused_by_client_pause() {
    if !redis_available("redis_paused_by_client_pause") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "t-1").issued_at(now);
        let other = Check::token(Some("bob"), "t-2").issued_at(now);
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));

        // Writes paused: the feed still reads, so the mirror stays current
        // and answers from memory; the revocation waits for the pause and
        // is seen within the bound once it returned.
        let pause = Duration::from_millis(1_200);
        let pause_ms = pause.as_millis().to_string();
        assert_eq!(
            server.cli(&["CLIENT", "PAUSE", &pause_ms, "WRITE"]).trim(),
            "OK"
        );
        let paused = Instant::now();
        let revoke = writer.revoke(Some("alice"), "t-1", later(10));
        let (revoked, ()) = tokio::join!(revoke, async {
            tokio::time::sleep(STALENESS + Duration::from_millis(200)).await;
            let from_memory = answered(&store);
            assert_eq!(store.check(&other).await, Ok(TokenState::Live));
            assert_eq!(answered(&store), from_memory + 1, "reads go on");
        });
        let at = Instant::now();
        match revoked {
            Ok(()) => {
                assert!(paused.elapsed() >= pause - Duration::from_millis(50));
                let seen = StalenessProbe::new(&store, check, at)
                    .watch(STALENESS + Duration::from_millis(200))
                    .await;
                assert!(seen.refused_after.is_some(), "{seen:?}");
            }
            // Past its deadline the write refused and changed nothing.
            Err(error) => {
                tokio::time::sleep(STALENESS).await;
                assert_eq!(store.check(&check).await, Ok(TokenState::Live), "{error}");
            }
        }

        // Everything paused: no answer from memory past the bound.
        assert!(store.wait_current(Duration::from_secs(2)).await);
        assert_eq!(
            server.cli(&["CLIENT", "PAUSE", &pause_ms, "ALL"]).trim(),
            "OK"
        );
        let paused = Instant::now();
        tokio::time::sleep(STALENESS).await;
        let from_memory = answered(&store);
        let mut failed = 0;
        while paused.elapsed() < pause - Duration::from_millis(100) {
            // A round trip that outlives the pause gets Redis's answer.
            if store.check(&other).await.is_err() {
                failed += 1;
            }
            assert_eq!(answered(&store), from_memory, "nothing from memory");
        }
        assert!(failed > 0, "round trips into the pause fail");
        assert!(store.wait_current(Duration::from_secs(3)).await);
        assert_eq!(store.check(&other).await, Ok(TokenState::Live));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_by_sigstop() {
    if !redis_available("redis_stopped_by_sigstop") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "t-1").issued_at(now);
        let other = Check::token(Some("bob"), "t-2").issued_at(now);
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));

        // Revoked, and Redis stopped at once: the mirror may not have read
        // it, but it never accepts the token past the bound.
        writer
            .revoke(Some("alice"), "t-1", later(10))
            .await
            .expect("revoke");
        let at = Instant::now();
        server.pause();
        let stopped = Instant::now();
        let seen = StalenessProbe::new(&store, check, at)
            .watch(STALENESS + Duration::from_millis(700))
            .await;
        assert!(seen.refused + seen.errors > 0, "{seen:?}");
        let from_memory = answered(&store);
        let state = store.check(&other).await;
        assert!(state.is_err(), "stopped past the bound: {state:?}");
        assert_eq!(answered(&store), from_memory);
        assert!(!store.status().current);
        eprintln!("stopped {:?}: {seen:?}", stopped.elapsed());

        server.resume();
        assert!(
            store.wait_current(Duration::from_secs(5)).await,
            "current again by itself: {:?}",
            store.status()
        );
        let from_memory = answered(&store);
        assert_eq!(store.check(&check).await, Ok(TokenState::Revoked));
        assert_eq!(store.check(&other).await, Ok(TokenState::Live));
        assert_eq!(answered(&store), from_memory + 2);
    })
    .await;
}

thread_local! {
    /// A runtime thread's recording, for its whole life.
    static RECORDING: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// Runs `test` on a two-thread runtime whose threads (the feed task's
/// among them) all record their events in `recorder`:
/// [`EventRecorder::install`] only sees the installing thread.
fn run_recorded(recorder: &EventRecorder, test: impl Future<Output = ()>) {
    let dispatch = tracing::Dispatch::new(recorder.clone());
    let on_start = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&on_start);
            RECORDING.with(|slot| *slot.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| RECORDING.with(|slot| drop(slot.borrow_mut().take())))
        .build()
        .expect("a runtime");
    let _guard = tracing::dispatcher::set_default(&dispatch);
    // A callsite first met by another test of this binary, while no
    // recorder was alive, may have cached that nobody listens.
    tracing::callsite::rebuild_interest_cache();
    runtime.block_on(bounded(test));
}

/// The number of entries in the change stream.
fn stream_length(server: &RedisServer) -> u64 {
    server
        .cli(&["XLEN", STREAM])
        .trim()
        .parse()
        .expect("XLEN answers a number")
}

#[test]
fn a_stream_trimmed_by_hand_past_a_new_reader() {
    if !redis_available("a_stream_trimmed_by_hand_past_a_new_reader") {
        return;
    }
    let recorder = EventRecorder::default();
    run_recorded(&recorder, async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        for n in 0..5 {
            writer
                .revoke(Some("alice"), &format!("t-{n}"), later(10))
                .await
                .expect("revoke");
        }
        assert_eq!(stream_length(&server), 5);
        assert_eq!(server.cli(&["XTRIM", STREAM, "MAXLEN", "0"]).trim(), "5");

        // Under load, a connect may take a while: it waits this long.
        let store = mirror_waiting(&server.url(), Duration::from_secs(2)).await;
        let status = store.status();
        assert_eq!(status.unexplained_gaps, 1, "{status:?}");
        assert!(!status.current, "{status:?}");
        let stale = store.status().stale;
        let revoked = Check::token(Some("alice"), "t-3");
        assert_eq!(store.check(&revoked).await, Ok(TokenState::Revoked));
        let live = Check::token(Some("alice"), "t-9");
        assert_eq!(store.check(&live).await, Ok(TokenState::Live));
        assert_eq!(store.status().stale, stale + 2, "both from Redis");
        // Still not answering from memory a while later.
        tokio::time::sleep(STALENESS).await;
        assert!(!store.status().current);
        assert_eq!(store.status().unexplained_gaps, 1);
    });
    let errors: Vec<_> = recorder
        .events()
        .into_iter()
        .filter(|event| {
            event.target == "vaulttoken_redis"
                && event.level == tracing::Level::ERROR
                && event.fields["message"].contains("trimming does not explain")
        })
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", recorder.events());
}

/// The feed held back (a delaying proxy) while changes it has not read are
/// trimmed by hand: once it reads again it finds a change out of sequence,
/// rebuilds, and cannot explain the gap, so checks go to Redis; the
/// revocations it never read are refused within the bound all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_trimmed_by_hand_past_a_following_reader() {
    if !redis_available("a_stream_trimmed_by_hand_past_a_following_reader") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let proxy = DelayProxy::start(server.port());
        let writer = writer(&server).await;
        let store = mirror(&proxy.url()).await;
        writer
            .revoke(Some("alice"), "t-0", later(10))
            .await
            .expect("revoke");
        assert!(store.wait_current(Duration::from_secs(1)).await);
        let check = Check::token(Some("alice"), "t-1");
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));

        proxy.delay_all(Some(Duration::from_secs(1)));
        for id in ["t-1", "t-2"] {
            writer
                .revoke(Some("alice"), id, later(10))
                .await
                .expect("revoke");
        }
        let at = Instant::now();
        assert_eq!(server.cli(&["XTRIM", STREAM, "MAXLEN", "0"]).trim(), "3");
        writer
            .revoke(Some("alice"), "t-3", later(10))
            .await
            .expect("revoke");
        let seen = StalenessProbe::new(&store, check, at)
            .watch(Duration::from_millis(1_100))
            .await;
        proxy.delay_all(None);
        let seen_after = StalenessProbe::new(&store, check, at)
            .watch(Duration::from_millis(2_500))
            .await;
        eprintln!("trimmed past the reader: {seen:?}, then {seen_after:?}");
        eventually(Duration::from_secs(3), "a rebuild", || {
            store.status().rebuilds >= 1
        })
        .await;
        let status = store.status();
        assert_eq!(status.unexplained_gaps, 1, "{status:?}");
        assert!(!status.current, "{status:?}");
        for id in ["t-1", "t-2", "t-3"] {
            assert_eq!(
                store.check(&Check::token(Some("alice"), id)).await,
                Ok(TokenState::Revoked),
                "{id}"
            );
        }
        assert_eq!(store.status().answered, status.answered);
    })
    .await;
}

/// The rule a replay explains a gap by: the changes missing before the
/// entry numbered `n` are explained when trimming removed at least `n - 1`
/// entries (the feed record's `f`; trimming removes the oldest only). The
/// first change deleted by hand, and `f` set by hand to 1, or left at 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_explained_by_the_count_of_trimmed_entries() {
    if !redis_available("a_gap_is_explained_by_the_count_of_trimmed_entries") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        for id in ["t-1", "t-2"] {
            writer
                .revoke(Some("alice"), id, later(10))
                .await
                .expect("revoke");
        }
        let range = server.cli(&["XRANGE", STREAM, "-", "+"]);
        let first = range.lines().next().expect("an entry");
        assert_eq!(server.cli(&["XDEL", STREAM, first]).trim(), "1");
        let feed = format!("{STREAM}:feed");
        let revoked = Check::token(Some("alice"), "t-2");
        for (trimmed, explained) in [("0", false), ("1", true)] {
            server.cli(&["HSET", &feed, "f", trimmed]);
            let store = mirror_waiting(&server.url(), Duration::from_secs(2)).await;
            let status = store.status();
            assert_eq!(status.unexplained_gaps, u64::from(!explained), "{status:?}");
            assert_eq!(status.current, explained, "{status:?}");
            assert_eq!(store.check(&revoked).await, Ok(TokenState::Revoked));
            assert_eq!(store.status().answered, u64::from(explained));
        }
    })
    .await;
}

/// A stream longer than one page of a replay (1,000 entries) is replayed
/// whole: a mirror that read only the first page would miss the last
/// revocation (and find the record counting more changes than it read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_longer_than_a_page_is_replayed_whole() {
    if !redis_available("a_stream_longer_than_a_page_is_replayed_whole") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let until = later(10);
        for n in 0..1_001 {
            writer
                .revoke(Some("alice"), &format!("t-{n}"), until)
                .await
                .expect("revoke");
        }
        let store = mirror(&server.url()).await;
        let status = store.status();
        assert_eq!(status.unexplained_gaps, 0, "{status:?}");
        assert_eq!(status.entries, 1_001, "{status:?}");
        for id in ["t-0", "t-999", "t-1000"] {
            let check = Check::token(Some("alice"), id);
            assert_eq!(store.check(&check).await, Ok(TokenState::Revoked), "{id}");
        }
        assert_eq!(store.status().answered, 3, "from memory");
    })
    .await;
}

/// A backlog longer than one page of a follow read (1,000 entries): the
/// feed cut off (its connection killed, every attempt to connect again held
/// past its deadline) while 1,100 changes are written, then every byte it
/// sends held 250 ms, so that it reads the backlog in two pages 250 ms
/// apart. A full page is not all there was: the mirror says it is current
/// again only once it holds the last revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_longer_than_a_page_is_heard_only_once_read_whole() {
    if !redis_available("a_backlog_longer_than_a_page_is_heard_only_once_read_whole") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let proxy = DelayProxy::start(server.port());
        let writer = writer(&server).await;
        let store = mirror(&proxy.url()).await;
        writer
            .revoke(Some("alice"), "t-0", later(10))
            .await
            .expect("revoke");
        eventually(Duration::from_secs(2), "the revocation read", || {
            store.status().entries == 1
        })
        .await;

        proxy.delay_all(Some(Duration::from_secs(2)));
        kill_feed_connection(&server);
        let until = later(10);
        for n in 1..=1_100 {
            writer
                .revoke(Some("alice"), &format!("t-{n}"), until)
                .await
                .expect("revoke");
        }
        let revoked = Instant::now();
        proxy.delay_all(Some(Duration::from_millis(250)));
        let last = Check::token(Some("alice"), "t-1100");
        // Whenever it answers from memory after the bound, it refuses.
        loop {
            let began = Instant::now();
            assert!(
                began < revoked + Duration::from_secs(8),
                "never current again: {:?}",
                store.status()
            );
            if store.status().current {
                let from_memory = answered(&store);
                let state = store.check(&last).await;
                if answered(&store) > from_memory {
                    if state == Ok(TokenState::Revoked) {
                        break;
                    }
                    assert!(
                        began < revoked + STALENESS,
                        "{state:?} from memory {:?} after the revocation; {:?}",
                        began - revoked,
                        store.status()
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(store.status().entries, 1_101, "{:?}", store.status());
        assert_eq!(store.status().rebuilds, 0, "{:?}", store.status());
        proxy.delay_all(None);
    })
    .await;
}

/// A mirror connected over RESP3 (`protocol=resp3` in its URL): the
/// blocking read answers a map, which the feed reads as the array of RESP2;
/// it follows changes with no fault (the feed logs no warning or error).
#[test]
fn a_mirror_over_resp3_follows_without_a_fault() {
    if !redis_available("a_mirror_over_resp3_follows_without_a_fault") {
        return;
    }
    let recorder = EventRecorder::default();
    run_recorded(&recorder, async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&format!("{}/?protocol=resp3", server.url())).await;
        for n in 0..3 {
            let id = format!("t-{n}");
            writer
                .revoke(Some("alice"), &id, later(10))
                .await
                .expect("revoke");
            let revoked = Instant::now();
            let check = Check::token(Some("alice"), &id);
            loop {
                let from_memory = answered(&store);
                let state = store.check(&check).await;
                if state == Ok(TokenState::Revoked) && answered(&store) > from_memory {
                    break;
                }
                assert!(
                    revoked.elapsed() < STALENESS,
                    "{state:?}, {:?}",
                    store.status()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let status = store.status();
        assert_eq!((status.entries, status.rebuilds), (3, 0), "{status:?}");
    });
    let faults: Vec<_> = recorder
        .events()
        .into_iter()
        .filter(|event| {
            event.target == "vaulttoken_redis"
                && event.level <= tracing::Level::WARN
                && event.fields["message"].starts_with("revocation mirror")
        })
        .collect();
    assert!(faults.is_empty(), "{faults:?}");
}

/// The change stream and its record deleted by hand while a mirror follows
/// and nobody writes (the epoch markers stay): the record's `i` is gone, so
/// the mirror rebuilds from what is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_stream_deleted_under_a_following_mirror() {
    if !redis_available("the_change_stream_deleted_under_a_following_mirror") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        writer
            .revoke(Some("alice"), "t-0", later(10))
            .await
            .expect("revoke");
        eventually(Duration::from_secs(2), "the revocation read", || {
            store.status().entries == 1
        })
        .await;
        let feed = format!("{STREAM}:feed");
        assert_eq!(server.cli(&["DEL", STREAM, &feed]).trim(), "2");
        eventually(Duration::from_secs(2), "a rebuild", || {
            store.status().rebuilds >= 1
        })
        .await;
        assert!(store.wait_current(Duration::from_secs(1)).await);
        assert_eq!(store.status().entries, 0, "{:?}", store.status());
    })
    .await;
}

/// Each slot's epoch is its own: markers holding different epochs (slots
/// whose data began at different times) are no loss, and the feed watches
/// the anonymous subjects' one for its own value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_with_different_epochs_are_no_loss() {
    if !redis_available("slots_with_different_epochs_are_no_loss") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let writer = writer(&server).await;
        let spread = "local keys = redis.call('KEYS', 'vaulttoken:*:epoch') \
             for i, key in ipairs(keys) do \
               redis.call('SET', key, tonumber(redis.call('GET', key)) - i) \
             end return #keys";
        let markers: usize = server
            .cli(&["EVAL", spread, "0"])
            .trim()
            .parse()
            .expect("a count");
        assert!(markers > 1, "{markers} markers");
        let store = mirror(&server.url()).await;
        writer
            .revoke(Some("alice"), "t-1", later(10))
            .await
            .expect("revoke");
        tokio::time::sleep(STALENESS).await;
        let status = store.status();
        assert_eq!(status.rebuilds, 0, "{status:?}");
        assert!(status.current, "{status:?}");
        let check = Check::token(Some("alice"), "t-1");
        assert_eq!(store.check(&check).await, Ok(TokenState::Revoked));
        assert_eq!(store.status().answered, 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_trimmed_of_expired_changes() {
    if !redis_available("a_stream_trimmed_of_expired_changes") {
        return;
    }
    // Four entries a node, so `XADD … MINID ~` trims whole nodes soon. With
    // ten old entries the first node left holds two expired ones; with
    // eight, the first entry left is a new one (every old one trimmed): the
    // count of trimmed entries explains both.
    for old in [8, 10] {
        trimmed_of_expired_changes(old).await;
    }
}

async fn trimmed_of_expired_changes(old: usize) {
    bounded(async {
        let server = RedisServer::start_with(&["--stream-node-max-entries", "4"]);
        let writer = writer(&server).await;
        let soon = || SystemClock.now() + time::Duration::SECOND;
        for n in 0..old {
            writer
                .revoke(Some("alice"), &format!("old-{n}"), soon())
                .await
                .expect("revoke");
        }
        assert_eq!(stream_length(&server), u64::try_from(old).expect("few"));
        // Every one of them expired, and then more revocations.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        for n in 0..2 {
            writer
                .revoke(Some("alice"), &format!("new-{n}"), soon())
                .await
                .expect("revoke");
        }
        // One that lasts (it raises the horizon: nothing is trimmed after).
        writer
            .revoke(Some("alice"), "new-2", later(10))
            .await
            .expect("revoke");
        let length = stream_length(&server);
        assert!(length < 10, "trimmed: {length} left of {old}");

        let store = mirror(&server.url()).await;
        let status = store.status();
        assert_eq!(status.unexplained_gaps, 0, "{status:?}");
        assert!(status.current, "current at once: {status:?}");
        let from_memory = answered(&store);
        let new = Check::token(Some("alice"), "new-2");
        assert_eq!(store.check(&new).await, Ok(TokenState::Revoked));
        let old = Check::token(Some("alice"), "old-0");
        assert_eq!(store.check(&old).await, Ok(TokenState::Live));
        assert_eq!(answered(&store), from_memory + 2);
        // What expired leaves the mirror's memory too (its chores purge
        // every few heartbeats): only the lasting revocation stays.
        eventually(Duration::from_secs(3), "expired entries purged", || {
            store.status().entries == 1
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_while_no_one_writes() {
    if !redis_available("redis_restarted_empty_while_no_one_writes") {
        return;
    }
    bounded(async {
        let mut server = RedisServer::start();
        let writer = writer(&server).await;
        let store = mirror(&server.url()).await;
        writer
            .revoke(Some("alice"), "t-0", later(10))
            .await
            .expect("revoke");
        let before_loss = SystemClock.now();
        let old = Check::token(Some("bob"), "t-1").issued_at(before_loss);
        assert!(store.wait_current(Duration::from_secs(1)).await);
        assert_eq!(store.check(&old).await, Ok(TokenState::Live));

        server.restart();
        let restarted = Instant::now();
        eventually(Duration::from_secs(5), "a rebuild", || {
            store.status().rebuilds >= 1
        })
        .await;
        eprintln!("rebuilt {:?} after the restart", restarted.elapsed());
        // Once rebuilt, an old token is never accepted: its slot's epoch is
        // unknown (Redis asked) or the new one.
        let end = Instant::now() + STALENESS * 2;
        while Instant::now() < end {
            assert_eq!(
                refused_once_answered(&store, &old).await,
                TokenState::IssuedBeforeStoreEpoch
            );
            tokio::time::sleep(POLL).await;
        }
        assert!(store.wait_current(Duration::from_secs(3)).await);
        let from_memory = answered(&store);
        assert_eq!(
            store.check(&old).await,
            Ok(TokenState::IssuedBeforeStoreEpoch)
        );
        assert_eq!(answered(&store), from_memory + 1, "from memory");
    })
    .await;
}

/// The stream never began (no revocation yet): only the epoch markers
/// witness the data. Redis restarts empty, and another instance notices the
/// loss (new markers, a new epoch) before the feed reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_and_noticed_by_another_instance_first() {
    if !redis_available("redis_restarted_empty_and_noticed_by_another_instance_first") {
        return;
    }
    bounded(async {
        let mut server = RedisServer::start();
        let store = mirror(&server.url()).await;
        let before_loss = SystemClock.now();
        let old = Check::token(Some("bob"), "t-1").issued_at(before_loss);
        assert_eq!(store.check(&old).await, Ok(TokenState::Live));
        assert_eq!(stream_length(&server), 0, "no change yet");

        server.kill();
        // The feed's reconnection pauses grow to their longest (1 s), so
        // the restarted server sees another instance first.
        tokio::time::sleep(Duration::from_millis(1_700)).await;
        server.restart();
        let other = writer(&server).await;
        assert_eq!(
            other.check(&old).await,
            Ok(TokenState::IssuedBeforeStoreEpoch),
            "the other instance notices the loss"
        );
        let restarted = Instant::now();
        assert!(store.wait_current(Duration::from_secs(3)).await);
        let end = Instant::now() + STALENESS * 2;
        while Instant::now() < end {
            assert_eq!(
                refused_once_answered(&store, &old).await,
                TokenState::IssuedBeforeStoreEpoch,
                "{:?} after the restart: {:?}",
                restarted.elapsed(),
                store.status()
            );
            tokio::time::sleep(POLL).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_byte_to_redis_delayed_past_the_bound() {
    if !redis_available("every_byte_to_redis_delayed_past_the_bound") {
        return;
    }
    bounded(async {
        let server = RedisServer::start();
        let proxy = DelayProxy::start(server.port());
        let writer = writer(&server).await;
        let store = mirror(&proxy.url()).await;
        let now = SystemClock.now();
        let check = Check::token(Some("alice"), "t-1").issued_at(now);
        let other = Check::token(Some("bob"), "t-2").issued_at(now);
        assert_eq!(store.check(&check).await, Ok(TokenState::Live));

        let delay = STALENESS + Duration::from_millis(300);
        proxy.delay_all(Some(delay));
        let delayed = Instant::now();
        writer
            .revoke(Some("alice"), "t-1", later(10))
            .await
            .expect("revoke");
        let at = Instant::now();
        let seen = StalenessProbe::new(&store, check, at)
            .watch(STALENESS + Duration::from_millis(600))
            .await;
        eprintln!("delayed: {seen:?}");
        // Every read sent since the delay began comes back older than the
        // bound: nothing from memory from `delayed + STALENESS` on.
        let wait = (delayed + STALENESS).saturating_duration_since(Instant::now());
        tokio::time::sleep(wait).await;
        let from_memory = answered(&store);
        for _ in 0..3 {
            let state = store.check(&other).await;
            assert!(state.is_err(), "the round trip is late too: {state:?}");
        }
        assert_eq!(answered(&store), from_memory, "nothing from memory");

        proxy.delay_all(None);
        assert!(
            store.wait_current(Duration::from_secs(5)).await,
            "current again by itself: {:?}",
            store.status()
        );
        let from_memory = answered(&store);
        assert_eq!(store.check(&check).await, Ok(TokenState::Revoked));
        assert_eq!(answered(&store), from_memory + 1);
    })
    .await;
}

/// A stand-in for a Redis that is back but broken, on a port: it answers
/// `+OK` to every command and hangs up on the feed's `CLIENT SETNAME`
/// (its name is the only thing in the feed's handshake no other client
/// sends), so every feed connection attempt fails and is counted.
struct FeedAttempts {
    attempts: Arc<AtomicUsize>,
    closing: Arc<AtomicBool>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

impl FeedAttempts {
    fn listen(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the freed port");
        listener.set_nonblocking(true).expect("nonblocking");
        let attempts = Arc::new(AtomicUsize::new(0));
        let closing = Arc::new(AtomicBool::new(false));
        let (counted, stop) = (Arc::clone(&attempts), Arc::clone(&closing));
        let acceptor = std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let counted = Arc::clone(&counted);
                        std::thread::spawn(move || answer_until_setname(stream, &counted));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Self {
            attempts,
            closing,
            acceptor: Some(acceptor),
        }
    }

    fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

impl Drop for FeedAttempts {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn answer_until_setname(mut stream: TcpStream, attempts: &AtomicUsize) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buffer = [0_u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buffer) {
        let bytes = &buffer[..n];
        if bytes
            .windows(MIRROR_CLIENT_NAME.len())
            .any(|w| w == MIRROR_CLIENT_NAME.as_bytes())
        {
            attempts.fetch_add(1, Ordering::SeqCst);
            return;
        }
        // One `+OK` per command (each begins a line with `*`).
        let commands = bytes
            .iter()
            .enumerate()
            .filter(|&(at, &byte)| byte == b'*' && (at == 0 || bytes[at - 1] == b'\n'))
            .count();
        if stream.write_all(&b"+OK\r\n".repeat(commands)).is_err() {
            return;
        }
    }
}

/// While Redis is away the feed tries again after pauses that double from
/// `reconnect_min_delay` up to `reconnect_max_delay` (50 ms to 1 s here):
/// a handful of attempts in two seconds, not a storm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_backs_off_while_redis_is_away() {
    if !redis_available("the_feed_backs_off_while_redis_is_away") {
        return;
    }
    bounded(async {
        let mut server = RedisServer::start();
        let store = mirror(&server.url()).await;
        server.kill();
        let stand_in = FeedAttempts::listen(server.port());
        let watching = Duration::from_secs(2);
        tokio::time::sleep(watching).await;
        let attempts = stand_in.attempts();
        eprintln!("{attempts} feed connection attempts in {watching:?}");
        // Pauses of 50, 100, 200, 400, 800 ms: six attempts at most.
        assert!((2..=7).contains(&attempts), "{attempts} attempts");
        assert!(!store.status().current);
    })
    .await;
}
