//! Following a key set that changes: background refresh, conditional
//! requests, one fetch per unknown key id, a flood of made-up ids, and the
//! refresher's end.

#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/issuer.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod issuer;
#[path = "support/keyserver.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod keyserver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use vaulttoken::Error;
use vaulttoken_keyset::RemoteKeySet;

use self::issuer::{ISSUER, Issuer, bounded, until};
use self::keyserver::KeyServer;

#[tokio::test]
async fn a_background_refresh_picks_up_an_announced_key_before_it_signs() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(1)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .min_lookup_interval(Duration::from_millis(200))
            .build()
            .await
            .unwrap();
        let service = keys.service();
        service.decode(&issuer.token()).unwrap();

        let next = issuer.announce();
        server.publish(issuer.document(1));
        let announced = Instant::now();
        until(|| keys.ring().status(&next).is_some()).await;
        // Within the cache time (1 s, refreshed at 90%), plus scheduling slack.
        assert!(announced.elapsed() < Duration::from_millis(2500));
        let fetches_before_signing = server.requests();

        issuer.promote(&next);
        let token = issuer.token();
        // Known before it signs: even the synchronous decode, which never
        // looks up, accepts its tokens, and no request was needed for it.
        service.decode(&token).unwrap();
        service.decode_async(&token).await.unwrap();
        assert_eq!(server.requests(), fetches_before_signing);
        assert_eq!(keys.counts().failures, 0);
    })
    .await;
}

#[tokio::test]
async fn an_unchanged_set_is_answered_304_and_still_vouched_for() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(1)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .max_stale(Duration::from_millis(500))
            .min_lookup_interval(Duration::from_millis(200))
            .build()
            .await
            .unwrap();
        let service = keys.service();
        let token = issuer.token();
        // Past the first document's cache time plus the stale bound (1.5 s),
        // the keys are still vouched for: each 304 renews them.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        service.decode_async(&token).await.unwrap();
        assert!(server.not_modified() >= 2, "{}", server.not_modified());
        let counts = keys.counts();
        assert_eq!(counts.not_modified, server.not_modified() as u64);
        assert_eq!(counts.fetches, server.requests() as u64);
        assert_eq!(counts.failures, 0);
        // A changed document is fetched whole again, and its tag used next.
        let next = issuer.announce();
        server.publish(issuer.document(1));
        until(|| keys.ring().status(&next).is_some()).await;
        let not_modified = server.not_modified();
        until(|| server.not_modified() > not_modified).await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_kid_causes_one_fetch_and_its_token_then_verifies() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .build()
            .await
            .unwrap();
        let service = keys.service();
        assert_eq!(server.requests(), 1);

        // An emergency rotation: the new key signs at once.
        let urgent = issuer.announce();
        issuer.promote(&urgent);
        server.publish(issuer.document(300));
        let token = issuer.token();
        // The synchronous decode never waits for a lookup.
        assert!(matches!(service.decode(&token), Err(Error::UnknownKeyId)));
        assert_eq!(server.requests(), 1);
        let verified = service.decode_async(&token).await.unwrap();
        assert_eq!(verified.claims().subject(), Some("alice"));
        assert_eq!(server.requests(), 2);
        assert_eq!(keys.counts().fetches, 2);
        // Known now: no more requests.
        service.decode_async(&token).await.unwrap();
        service.decode(&token).unwrap();
        assert_eq!(server.requests(), 2);
    })
    .await;
}

/// `token`'s body with a footer naming `kid`.
fn with_kid(token: &str, kid: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let footer = format!(r#"{{"kid":"{kid}"}}"#);
    let body = token.rsplit_once('.').unwrap().0;
    format!(
        "{body}.{}",
        Base64UrlUnpadded::encode_string(footer.as_bytes())
    )
}

/// A token whose footer names a well-formed id of no key (the `n`th), over
/// the body of `token`.
fn with_made_up_kid(token: &str, n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = *b"k4.pid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (place, digit) in id
        .iter_mut()
        .rev()
        .zip([n % 64, n / 64 % 64, n / 4096 % 64])
    {
        *place = ALPHABET[digit];
    }
    with_kid(token, std::str::from_utf8(&id).unwrap())
}

#[tokio::test]
async fn a_flood_of_made_up_kids_causes_one_fetch_per_interval_and_known_kids_never_wait() {
    bounded(async {
        let issuer = Issuer::new();
        let mut server = KeyServer::start(issuer.document(300)).await;
        let interval = Duration::from_secs(2);
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .min_lookup_interval(interval)
            .build()
            .await
            .unwrap();
        let service = Arc::new(keys.service());
        let known = issuer.token();
        // The answer to the fetch the flood causes takes 1 s.
        server.set_delay(Duration::from_secs(1));
        let flood_started = Instant::now();
        let flood: Vec<_> = (0..1000)
            .map(|n| {
                let service = Arc::clone(&service);
                let token = with_made_up_kid(&known, n);
                tokio::spawn(async move { service.decode_async(&token).await })
            })
            .collect();
        until(|| server.pending() == 1).await;
        // While that fetch is in flight, known-kid tokens decode at once.
        for _ in 0..20 {
            service.decode_async(&known).await.unwrap();
        }
        assert_eq!(server.pending(), 1, "a known kid waited for the fetch");
        for refused in flood {
            assert!(matches!(refused.await.unwrap(), Err(Error::UnknownKeyId)));
        }
        assert!(flood_started.elapsed() < Duration::from_secs(3));
        assert_eq!(server.requests(), 2, "one fetch for the whole flood");

        // Within the interval, a made-up kid is refused at once, with no request.
        server.set_delay(Duration::ZERO);
        let at_once = Instant::now();
        let second = with_made_up_kid(&known, 1001);
        assert!(matches!(
            service.decode_async(&second).await,
            Err(Error::UnknownKeyId)
        ));
        assert!(at_once.elapsed() < Duration::from_millis(500));
        assert_eq!(server.requests(), 2);

        // After the interval, one more.
        tokio::time::sleep(interval).await;
        let third = with_made_up_kid(&known, 1002);
        assert!(matches!(
            service.decode_async(&third).await,
            Err(Error::UnknownKeyId)
        ));
        assert_eq!(server.requests(), 3);
        assert_eq!(keys.counts().fetches, 3);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_refresher_stops_when_the_last_handle_drops() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(1)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .min_lookup_interval(Duration::from_millis(100))
            .build()
            .await
            .unwrap();
        let service = keys.service();
        drop(keys);
        // The service holds the key set: refreshes go on.
        until(|| server.requests() >= 2).await;
        drop(service);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = server.requests();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(server.requests(), after);
    })
    .await;
}

#[tokio::test]
async fn a_follower_dropped_between_refreshes_leaves_no_task_behind() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let alive = || {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
        };
        let before = alive();
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .build()
            .await
            .unwrap();
        let service = keys.service();
        // The refresher sleeps until 90% of 300 s: one task more.
        until(|| alive() == before + 1).await;
        drop((keys, service));
        // Stopped at once, not at its next wake.
        until(|| alive() == before).await;
    })
    .await;
}

#[tokio::test]
async fn only_a_well_formed_public_key_id_not_held_is_worth_a_request() {
    use vaulttoken::service::RemoteKeys;
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .min_lookup_interval(Duration::from_millis(50))
            .build()
            .await
            .unwrap();
        let held = issuer.ring.active_id().unwrap();
        let local_id = vaulttoken::LocalKey::generate()
            .unwrap()
            .paserk_id()
            .unwrap();
        for kid in ["garbage", "k4.pid.short", local_id.as_str(), held.as_str()] {
            tokio::time::sleep(Duration::from_millis(60)).await;
            keys.look_up(kid).await.unwrap();
        }
        assert_eq!(server.requests(), 1);
        // A well-formed id of a public key not held: one request.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let stranger = Issuer::new().ring.active_id().unwrap();
        keys.look_up(stranger.as_str()).await.unwrap();
        assert_eq!(server.requests(), 2);
        // Through a service, a kid that is no key id is refused at once.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let service = keys.service();
        let garbage = with_kid(&issuer.token(), "garbage");
        assert!(matches!(
            service.decode_async(&garbage).await,
            Err(Error::UnknownKeyId)
        ));
        assert_eq!(server.requests(), 2);
    })
    .await;
}

/// Runs `future` to completion on this thread, outside any runtime.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc as StdArc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: StdArc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(StdArc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

#[test]
fn a_service_decodes_and_looks_up_outside_the_runtime_that_built_it() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        outside_the_runtime();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("finished within 60 s, without a panic");
}

fn outside_the_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let issuer = Issuer::new();
    let (server, keys) = runtime.block_on(async {
        let server = KeyServer::start(issuer.document(300)).await;
        let keys = RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .min_lookup_interval(Duration::from_millis(1))
            .build()
            .await
            .unwrap();
        (server, keys)
    });
    let service = keys.service();
    block_on(service.decode_async(&issuer.token())).unwrap();
    let urgent = issuer.announce();
    issuer.promote(&urgent);
    server.publish(issuer.document(300));
    // The lookup's fetch runs in the follower's runtime; this thread waits.
    block_on(service.decode_async(&issuer.token())).unwrap();
    assert_eq!(server.requests(), 2);
    // Outside any runtime, a follower cannot be built: an error, no panic.
    let outside = block_on(RemoteKeySet::builder(server.url()).issuer(ISSUER).build());
    assert!(matches!(
        outside,
        Err(vaulttoken_keyset::BuildError::NoRuntime)
    ));

    // The runtime gone: known kids still decode, a lookup fails closed.
    runtime.block_on(async move { drop(server) });
    drop(runtime);
    std::thread::sleep(Duration::from_millis(5));
    block_on(service.decode_async(&issuer.token())).unwrap();
    let made_up = with_made_up_kid(&issuer.token(), 7);
    assert!(matches!(
        block_on(service.decode_async(&made_up)),
        Err(Error::KeysUnavailable)
    ));
}
