//! `GET /readyz` of server processes on a real `redis-server`: not ready
//! (503, a short JSON reason) while Redis is killed or paused (SIGSTOP),
//! ready again once it is back; not ready while the shared key ring cannot
//! be read for more than twice `VAULTTOKEN_KEYS_POLL_SECS`, though the store
//! answers; `/healthz` (liveness) stays 200 throughout, and `/metrics` keeps
//! answering with the store's state.
//!
//! Without `redis-server` the tests print `SKIPPED` and pass, unless
//! `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]
#![allow(clippy::float_cmp, reason = "counters are whole numbers, exact in f64")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

#[path = "support/prometheus.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod prometheus;

use std::time::{Duration, Instant};

use serde_json::Value;
use vaulttoken_server::SHARED_KEYS_KEY;
use vaulttoken_test_redis::{RedisServer, redis_available};

use process::ServerProcess;
use prometheus::scrape;

/// A server on `redis` polling the shared ring every second, each store
/// call within 500 ms.
fn start(redis: &RedisServer) -> ServerProcess {
    ServerProcess::start_with(&[
        ("REDIS_URL", &redis.url()),
        ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
        ("VAULTTOKEN_REDIS_DEADLINE_MS", "500"),
        ("VAULTTOKEN_KEYS_DEADLINE_MS", "500"),
    ])
}

/// `GET /readyz`: the status, the body, and how long it took.
fn readyz(server: &ServerProcess) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, body) = server.request("GET", "/readyz", &[], None);
    (status, body, started.elapsed())
}

/// `GET /readyz` until `wanted(status, body)` (at most 15 s); the last body.
fn until(server: &ServerProcess, wanted: impl Fn(u16, &Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (status, body, _) = readyz(server);
        if wanted(status, &body) {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ready(server: &ServerProcess) -> Value {
    until(server, |status, _| status == 200)
}

fn alive(server: &ServerProcess) {
    assert_eq!(server.request("GET", "/healthz", &[], None).0, 200);
}

#[test]
fn not_ready_while_redis_is_down_and_ready_again_after() {
    if !redis_available("not_ready_while_redis_is_down_and_ready_again_after") {
        return;
    }
    let mut redis = RedisServer::start();
    let server = start(&redis);
    let body = ready(&server);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["key_ring"], "ok");

    redis.kill();
    let (status, down, took) = readyz(&server);
    assert_eq!(status, 503, "{down}");
    assert_eq!(down["status"], "unavailable");
    assert_eq!(down["store"], "unavailable");
    assert_eq!(down["reason"], "the token store does not answer");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let answer = server.raw_request("GET", "/readyz", &[]);
    assert_eq!(answer.header("retry-after"), Some("1"));
    alive(&server);
    let scraped = scrape(&server);
    assert_eq!(scraped.value("vaulttoken_store_up", &[]), 0.0);
    // Past twice the poll interval without a read, the ring is stale too.
    let stale = until(&server, |_, body| body["key_ring"] == "stale");
    assert_eq!(stale["store"], "unavailable");
    let scraped = scrape(&server);
    assert!(
        scraped.value("vaulttoken_key_ring_sync_age_seconds", &[]) > 2.0,
        "{scraped:?}"
    );

    // Back, empty: ready again (the ring published again), and the loss
    // the readiness check found is counted.
    redis.restart();
    let back = ready(&server);
    assert_eq!(back["key_ring"], "ok");
    assert_eq!(back["store_data_lost"]["times"], 1, "{back}");
    let scraped = scrape(&server);
    assert_eq!(scraped.value("vaulttoken_store_up", &[]), 1.0);
    assert_eq!(
        scraped.value("vaulttoken_store_data_losses_total", &[]),
        1.0
    );
    assert!(scraped.value("vaulttoken_key_ring_sync_age_seconds", &[]) < 2.0);
    assert!(
        scraped.sum(
            "vaulttoken_store_calls_total",
            &[("call", "health"), ("outcome", "unreachable")]
        ) + scraped.sum(
            "vaulttoken_store_calls_total",
            &[("call", "health"), ("outcome", "timeout")]
        ) >= 2.0,
        "{scraped:?}"
    );
    alive(&server);
}

#[test]
fn a_paused_redis_is_not_ready_at_the_deadline_and_ready_once_resumed() {
    if !redis_available("a_paused_redis_is_not_ready_at_the_deadline") {
        return;
    }
    let redis = RedisServer::start();
    let server = start(&redis);
    ready(&server);

    redis.pause();
    let (status, paused, took) = readyz(&server);
    let (metrics_status, _, scrape_took) = {
        let started = Instant::now();
        let answer = server.raw_request("GET", "/metrics", &[]);
        (answer.status, (), started.elapsed())
    };
    alive(&server);
    redis.resume();
    assert_eq!(status, 503, "{paused}");
    assert_eq!(paused["store"], "unavailable");
    // At the store's deadline (500 ms), never much later.
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    assert_eq!(metrics_status, 200);
    assert!(
        scrape_took < Duration::from_millis(1_500),
        "{scrape_took:?}"
    );

    let back = ready(&server);
    assert_eq!(back["store"], "ok");
    assert_eq!(back["store_data_lost"], Value::Null, "{back}");
    let scraped = scrape(&server);
    assert_eq!(scraped.value("vaulttoken_store_up", &[]), 1.0);
    assert!(
        scraped.value(
            "vaulttoken_store_calls_total",
            &[("call", "health"), ("outcome", "timeout")]
        ) >= 1.0
    );
}

#[test]
fn an_unreadable_shared_ring_is_not_ready_though_the_store_answers() {
    if !redis_available("an_unreadable_shared_ring_is_not_ready") {
        return;
    }
    let redis = RedisServer::start();
    let server = start(&redis);
    ready(&server);

    // A shared ring this instance cannot open (another KEK wrote it, say):
    // its keys may be out of date, so it stops taking traffic once two
    // polls were missed.
    assert_eq!(
        redis.command(&["SET", SHARED_KEYS_KEY, "not a key document"]),
        Some("+OK".to_owned())
    );
    let stale = until(&server, |status, _| status == 503);
    assert_eq!(stale["store"], "ok", "{stale}");
    assert_eq!(stale["key_ring"], "stale", "{stale}");
    let reason = stale["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the shared key ring was last read ")
            && reason.ends_with(" s ago, more than twice VAULTTOKEN_KEYS_POLL_SECS"),
        "{reason}"
    );
    alive(&server);

    // Gone instead: the instance publishes its own again, and is ready.
    assert_eq!(
        redis.command(&["DEL", SHARED_KEYS_KEY]),
        Some(":1".to_owned())
    );
    let back = ready(&server);
    assert_eq!(back["key_ring"], "ok");
    let republished = redis.command(&["EXISTS", SHARED_KEYS_KEY]);
    assert_eq!(republished, Some(":1".to_owned()));
}
