//! A Redis that loses its data under running server processes: the server
//! says so in its log, `/readyz` reports it, refresh tokens from before are
//! refused, new sign-ins work; and `/readyz` answers 503 while Redis is down
//! (`/healthz` stays 200: the process is alive).
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vaulttoken_test_redis::{RedisServer, redis_available};

use process::{ServerProcess, decided, post};

/// `GET /readyz` until it answers 200 (at most 20 s).
fn ready(server: &ServerProcess) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = server.request("GET", "/readyz", &[], None);
        if status == 200 {
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert!(started.elapsed() < Duration::from_secs(20), "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_redis_that_lost_its_data_is_logged_reported_by_readyz_and_refuses_old_tokens() {
    if !redis_available(
        "a_redis_that_lost_its_data_is_logged_reported_by_readyz_and_refuses_old_tokens",
    ) {
        return;
    }
    let mut redis = RedisServer::start();
    let server = ServerProcess::start(&redis.url());
    let fresh = ready(&server);
    assert_eq!(fresh["status"], "ready");
    assert_eq!(fresh["store_data_lost"], Value::Null);
    let (status, before) = post(&server, "/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200, "{before}");

    // Down: not ready (503, Retry-After), yet alive.
    redis.kill();
    let (status, down) = server.request("GET", "/readyz", &[], None);
    assert_eq!(
        (status, down["status"].as_str()),
        (503, Some("unavailable"))
    );
    assert_eq!(server.request("GET", "/healthz", &[], None).0, 200);

    // Back, empty: the readiness check finds the loss with no token used.
    redis.restart();
    let after = ready(&server);
    assert_eq!(after["store_data_lost"]["times"], 1, "{after}");
    assert!(after["store_data_lost"]["last_at"].is_string(), "{after}");
    let log = server.log();
    assert!(
        log.lines().any(|line| line.contains("\"level\":\"ERROR\"")
            && line.contains("Redis lost the token store's data")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|line| line.contains("\"event\":\"store_data_lost\"")),
        "{log}"
    );

    // What the store can no longer vouch for is refused; a new sign-in works.
    let refresh = json!({"refresh_token": before["refresh_token"]});
    let (status, refused) = decided(|| post(&server, "/token/refresh", &refresh));
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        server.log()
    );
    std::thread::sleep(Duration::from_millis(1_100));
    let (status, again) = post(&server, "/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200, "{again}");
    let (status, refreshed) = post(
        &server,
        "/token/refresh",
        &json!({"refresh_token": again["refresh_token"]}),
    );
    assert_eq!(status, 200, "{refreshed}");
    // One loss, one report.
    assert_eq!(ready(&server)["store_data_lost"]["times"], 1);
}
