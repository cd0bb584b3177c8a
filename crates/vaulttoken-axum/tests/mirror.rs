//! An `Authenticator` whose service checks tokens through a revocation
//! mirror (`vaulttoken_redis::MirroredStore`, issue 25), with a real
//! `redis-server`: a token revoked by another instance straight in Redis is
//! refused (401) within the staleness bound; with Redis stopped (`SIGSTOP`)
//! past the bound every request is answered 503 with `Retry-After`, never
//! 200; and once Redis runs again the mirror answers from memory by itself.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use vaulttoken::{Claims, LocalKey, LocalService};
use vaulttoken_axum::{Authenticator, Verified};
use vaulttoken_redis::{MirrorOptions, MirroredStore, RedisStore, StoreOptions};
use vaulttoken_test_redis::{RedisServer, redis_available};

use common::{Answer, bearer, bounded_by, send};

/// The mirror's staleness bound.
const STALENESS: Duration = Duration::from_millis(500);
/// How long a check that goes to Redis may take: short, so a stopped Redis
/// is answered 503 soon.
const DEADLINE: Duration = Duration::from_millis(200);
/// How often the requests are repeated while waiting.
const POLL: Duration = Duration::from_millis(5);

async fn me(user: Verified) -> String {
    user.token().claims().subject().unwrap().to_owned()
}

/// A token for `subject`, signed by `service`.
fn token(service: &LocalService, subject: &str) -> String {
    service
        .encode(&Claims::builder().subject(subject).build().unwrap())
        .unwrap()
}

/// `GET /me` with `token`.
async fn call(app: &Router, token: &str) -> Answer {
    send(app, bearer("/me", token), token).await
}

/// Asserts a 200 for `subject`.
fn assert_accepted(answer: &Answer, subject: &str) {
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, subject),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_elsewhere_refused_within_the_bound_stale_answered_503_then_recovered() {
    if !redis_available("revoked_elsewhere_refused_within_the_bound") {
        return;
    }
    bounded_by(Duration::from_secs(20), async {
        let server = RedisServer::start();
        let key = Arc::new(LocalKey::generate().unwrap());
        let options = StoreOptions::default().deadline(DEADLINE);
        let mirror = MirroredStore::connect(
            &server.url(),
            options,
            MirrorOptions::default().max_staleness(STALENESS),
        )
        .await
        .unwrap();
        assert!(mirror.status().current, "{:?}", mirror.status());
        let service = LocalService::builder(Arc::clone(&key))
            .key_id("k1")
            .store(Arc::new(mirror.clone()))
            .build();
        let auth = Authenticator::builder(Arc::new(service)).build().unwrap();
        let app = Router::new().route("/me", get(me)).with_state(auth);
        // Another instance: the same key, its store straight in Redis.
        let other = LocalService::builder(key)
            .key_id("k1")
            .store(Arc::new(
                RedisStore::connect(&server.url(), StoreOptions::default())
                    .await
                    .unwrap(),
            ))
            .build();
        let (alice, bob) = (token(&other, "alice"), token(&other, "bob"));

        // Both accepted, answered from memory.
        let answered = mirror.status().answered;
        assert_accepted(&call(&app, &alice).await, "alice");
        assert_accepted(&call(&app, &bob).await, "bob");
        assert_eq!(mirror.status().answered, answered + 2);

        // Alice's token revoked by the other instance: refused here within
        // the bound, from memory. A 200 only for a request that began
        // before the bound ran out since the revocation returned.
        other
            .revoke(&other.decode_async(&alice).await.unwrap())
            .await
            .unwrap();
        let revoked = Instant::now();
        loop {
            let began = Instant::now();
            let answered = mirror.status().answered;
            let answer = call(&app, &alice).await;
            if answer.status == StatusCode::OK {
                let late = began - revoked;
                assert!(late < STALENESS, "accepted {late:?} after its revocation");
                tokio::time::sleep(POLL).await;
                continue;
            }
            answer.assert_unauthorized("invalid_token");
            assert_eq!(mirror.status().answered, answered + 1, "from memory");
            eprintln!("refused {:?} after the revocation", revoked.elapsed());
            break;
        }

        // Redis stopped: the mirror stops hearing from it. Past the bound
        // every request is 503 (the check goes to Redis, which does not
        // answer), never 200; Alice's token is never accepted.
        server.pause();
        let paused = Instant::now();
        let mut unavailable = 0;
        while paused.elapsed() < STALENESS + 4 * DEADLINE {
            let began = Instant::now();
            let answer = call(&app, &alice).await;
            if answer.status == StatusCode::UNAUTHORIZED {
                answer.assert_unauthorized("invalid_token");
            } else {
                answer.assert_unavailable("5");
            }
            let answer = call(&app, &bob).await;
            if answer.status == StatusCode::OK {
                let late = began - paused;
                assert!(late < STALENESS, "accepted {late:?} after Redis stopped");
            } else {
                answer.assert_unavailable("5");
                unavailable += 1;
            }
            tokio::time::sleep(POLL).await;
        }
        assert!(unavailable > 0, "no 503 with Redis stopped");
        assert!(!mirror.status().current, "{:?}", mirror.status());

        // Redis runs again: the mirror is current again by itself, and
        // answers from memory.
        server.resume();
        assert!(
            mirror.wait_current(Duration::from_secs(5)).await,
            "current again: {:?}",
            mirror.status()
        );
        let answered = mirror.status().answered;
        assert_accepted(&call(&app, &bob).await, "bob");
        call(&app, &alice)
            .await
            .assert_unauthorized("invalid_token");
        assert_eq!(mirror.status().answered, answered + 2);
    })
    .await;
}
