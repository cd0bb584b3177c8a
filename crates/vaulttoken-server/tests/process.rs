//! The `vaulttoken-server` binary as a process: configuration errors before
//! listening, two processes on one real Redis (shared families and key ring),
//! and a graceful stop on SIGTERM. Plain HTTP/1.1 over loopback, by hand.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use server::ADMIN;

use process::{ServerProcess, keys, post};

const BINARY: &str = env!("CARGO_BIN_EXE_vaulttoken-server");

/// A server on the Redis at `redis_url` that polls the shared ring every
/// second; only the first of a fleet may create the key ring.
fn start(redis_url: &str, create: bool) -> ServerProcess {
    ServerProcess::start_with(&[
        (
            "VAULTTOKEN_KEYRING_CREATE",
            if create { "true" } else { "false" },
        ),
        ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
        ("REDIS_URL", redis_url),
    ])
}

#[test]
fn a_bad_configuration_is_refused_before_listening_with_every_problem_named() {
    let output = Command::new(BINARY)
        .env_clear()
        .env("VAULTTOKEN_LISTEN", "nowhere")
        .env("VAULTTOKEN_CLIENTS", "web:short")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    for name in [
        "VAULTTOKEN_LISTEN",
        "VAULTTOKEN_KEYRING_FILE",
        "VAULTTOKEN_KEK",
        "VAULTTOKEN_CLIENTS",
    ] {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
    assert!(!stderr.contains("web:short"));
}

#[test]
fn two_processes_on_one_redis_share_families_and_rotations_and_stop_gracefully() {
    if !redis_support::redis_available("two_processes_on_one_redis") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let a = start(&redis.url(), true);
    let b = start(&redis.url(), false);

    let (status, first) = post(&a, "/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200, "{first}");
    let (status, second) = post(
        &a,
        "/token/refresh",
        &json!({"refresh_token": first["refresh_token"]}),
    );
    assert_eq!(status, 200, "{second}");
    // The old refresh token on B: reuse, and the family is revoked on both.
    let (status, reuse) = post(
        &b,
        "/token/refresh",
        &json!({"refresh_token": first["refresh_token"]}),
    );
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (_, newest) = post(
        &a,
        "/token/refresh",
        &json!({"refresh_token": second["refresh_token"]}),
    );
    assert_eq!(newest["error"], "invalid_grant");
    let (_, found) = post(
        &b,
        "/token/introspect",
        &json!({"token": second["access_token"]}),
    );
    assert_eq!(found, json!({"active": false}));

    // Rotate on A: B serves the new key within the poll bound (1 s here).
    let admin = format!("Bearer {ADMIN}");
    let authorization = [("Authorization", admin.as_str())];
    let (status, rotated) = a.request(
        "POST",
        "/keys/rotate",
        &authorization,
        Some(&json!({"immediately": true})),
    );
    assert_eq!(status, 200, "{rotated}");
    let started = Instant::now();
    while server::active_kid(&keys(&b)) != rotated["active"].as_str() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B did not take up the rotation"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(keys(&a), keys(&b));

    assert!(a.terminate().success());
    assert!(b.terminate().success());
}
