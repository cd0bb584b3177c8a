//! The Redis deadlines, as processes on a real `redis-server`: with Redis
//! gone (its port closed) a request answers 503 at once, well under a long
//! deadline; with Redis paused (SIGSTOP) it answers 503 at about the
//! deadline, never later; and the same processes recover once Redis is back.
//!
//! Without `redis-server` the tests print `SKIPPED` and pass, unless
//! `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::time::{Duration, Instant};

use process::ServerProcess;
use serde_json::{Value, json};
use server::{CLIENT, SECRET};

/// A server on `redis_url` with every Redis deadline at `deadline_ms`, rate
/// limits on (counted in Redis first) or off (the token store first).
fn start(redis_url: &str, deadline_ms: &str, limits: bool) -> ServerProcess {
    let per_ip = if limits { "100000" } else { "0" };
    ServerProcess::start_with(&[
        ("REDIS_URL", redis_url),
        ("VAULTTOKEN_REDIS_DEADLINE_MS", deadline_ms),
        ("VAULTTOKEN_RATE_LIMIT_DEADLINE_MS", deadline_ms),
        ("VAULTTOKEN_KEYS_DEADLINE_MS", deadline_ms),
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", per_ip),
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", per_ip),
    ])
}

/// A client-authenticated `POST`: its status and body, and how long it took.
fn post(server: &ServerProcess, path: &str, body: &Value) -> (u16, Value, Duration) {
    let mut body = body.clone();
    body["client_id"] = json!(CLIENT);
    body["client_secret"] = json!(SECRET);
    let started = Instant::now();
    let (status, answer) = server.request("POST", path, &[], Some(&body));
    (status, answer, started.elapsed())
}

/// Introspects, refreshes and issues on `server`; each answer must be 503
/// `temporarily_unavailable`. The slowest answer.
fn all_unavailable(server: &ServerProcess, pair: &Value) -> Duration {
    let calls = [
        ("/token/introspect", json!({"token": pair["access_token"]})),
        (
            "/token/refresh",
            json!({"refresh_token": pair["refresh_token"]}),
        ),
        ("/token", json!({"subject": "alice"})),
        ("/token/revoke", json!({"token": pair["access_token"]})),
    ];
    let mut slowest = Duration::ZERO;
    for _ in 0..3 {
        for (path, body) in &calls {
            let (status, answer, took) = post(server, path, body);
            assert_eq!(status, 503, "{path}: {answer}");
            assert_eq!(answer["error"], "temporarily_unavailable", "{path}");
            slowest = slowest.max(took);
        }
    }
    slowest
}

fn issue(server: &ServerProcess, subject: &str) -> Value {
    let (status, pair, _) = post(server, "/token", &json!({"subject": subject}));
    assert_eq!(status, 200, "{pair}");
    pair
}

#[test]
fn a_closed_redis_port_answers_503_at_once_not_at_the_deadline() {
    if !redis_support::redis_available("a_closed_redis_port_answers_503_at_once") {
        return;
    }
    let mut redis = redis_support::RedisServer::start();
    // A 10 s deadline: waiting for it would be plain.
    let limited = start(&redis.url(), "10000", true);
    let unlimited = start(&redis.url(), "10000", false);
    let pairs = [issue(&limited, "alice"), issue(&unlimited, "alice")];

    redis.kill();
    for (server, pair) in [&limited, &unlimited].into_iter().zip(&pairs) {
        let slowest = all_unavailable(server, pair);
        eprintln!("slowest 503 with the Redis port closed: {slowest:?}");
        assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    }

    // Redis back (empty: it saved nothing): the same processes answer again.
    redis.restart();
    let back = Instant::now();
    for server in [&limited, &unlimited] {
        loop {
            let (status, answer, _) = post(server, "/token", &json!({"subject": "bob"}));
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "{answer}");
            assert!(back.elapsed() < Duration::from_secs(15), "no recovery");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!("answering again {:?} after Redis returned", back.elapsed());
}

#[test]
fn a_paused_redis_answers_503_at_the_deadline_never_later() {
    if !redis_support::redis_available("a_paused_redis_answers_503_at_the_deadline") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let deadline = Duration::from_millis(1500);
    let limited = start(&redis.url(), "1500", true);
    let unlimited = start(&redis.url(), "1500", false);
    let pairs = [issue(&limited, "alice"), issue(&unlimited, "alice")];

    redis.pause();
    let mut answers = Vec::new();
    for (server, pair) in [&limited, &unlimited].into_iter().zip(&pairs) {
        for (path, body) in [
            ("/token/introspect", json!({"token": pair["access_token"]})),
            (
                "/token/refresh",
                json!({"refresh_token": pair["refresh_token"]}),
            ),
        ] {
            answers.push((path, post(server, path, &body)));
        }
    }
    redis.resume();
    for (path, (status, answer, took)) in &answers {
        eprintln!("{path} with Redis paused: {status} after {took:?}");
        assert_eq!(*status, 503, "{path}: {answer}");
        // At the deadline (less a little: the clock starts before the
        // request is sent), and never much later.
        assert!(
            *took >= deadline - Duration::from_millis(100),
            "{path}: {took:?}"
        );
        assert!(
            *took < deadline + Duration::from_millis(700),
            "{path}: {took:?}"
        );
    }
    // Redis resumed: nothing was decided meanwhile, the refresh works now.
    let started = Instant::now();
    loop {
        let (status, answer, _) = post(
            &unlimited,
            "/token/refresh",
            &json!({"refresh_token": pairs[1]["refresh_token"]}),
        );
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{answer}");
        assert!(started.elapsed() < Duration::from_secs(10), "no recovery");
        std::thread::sleep(Duration::from_millis(20));
    }
}
