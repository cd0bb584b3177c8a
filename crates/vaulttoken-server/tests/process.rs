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
    // The ERROR line is on stdout too, written before the exit.
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|line| line.contains("\"level\":\"ERROR\"")
                && line.contains("invalid configuration")),
        "{stdout}"
    );
    assert!(!stdout.contains("web:short"));
}

/// Each way of writing the logs: a request's lines reach stdout within a
/// second of its answer on an otherwise idle server (in `batched`, a worker
/// going idle or the 100 ms thread writes them), and the last line, after
/// SIGTERM, is there when the process has exited.
#[test]
fn log_lines_reach_stdout_soon_after_the_answer_and_the_last_before_the_exit() {
    for writes in ["batched", "line"] {
        let server = ServerProcess::start_with(&[("VAULTTOKEN_LOG_WRITES", writes)]);
        for n in 0..3 {
            let id = format!("log-probe-{writes}-{n}");
            let answer = server.raw_request("GET", "/healthz", &[("x-request-id", &id)]);
            assert_eq!(answer.status, 200);
            let line = server
                .log_line_within(&id, Duration::from_secs(1))
                .unwrap_or_else(|| {
                    panic!("{writes}: no line for {id} within 1 s: {}", server.log())
                });
            let line: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let log = ServerProcess::log_after_exit(server);
        let last = log.lines().last().unwrap_or_default();
        let last: serde_json::Value = serde_json::from_str(last).unwrap();
        assert_eq!(last["fields"]["message"], "stopped", "{writes}: {log}");
        assert!(
            log.lines()
                .all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()),
            "{writes}: a line was split or interleaved: {log}"
        );
    }
}

/// `line` writes each line with a `write` of its own; `batched` writes the
/// several lines of an issue together (when the worker goes idle after
/// it): counted by the server's `write` system calls (Linux), the same
/// requests and answers to each. `line` from the environment, and from the
/// configuration file (read after the logs started).
#[test]
fn line_writes_each_line_and_batched_writes_a_requests_lines_together() {
    const ISSUES: u64 = 10;
    let file = server::KeyFilePath::new();
    std::fs::write(&file.0, "VAULTTOKEN_LOG_WRITES=line\n").unwrap();
    let from_file = file.0.to_str().unwrap();
    let cases = [
        ("batched", ("VAULTTOKEN_LOG_WRITES", "batched")),
        ("line", ("VAULTTOKEN_LOG_WRITES", "line")),
        ("line in the file", ("VAULTTOKEN_CONFIG_FILE", from_file)),
    ];
    let mut counted = Vec::new();
    for (name, setting) in cases {
        let server = ServerProcess::start_with(&[setting]);
        assert_eq!(post(&server, "/token", &json!({"subject": "warm"})).0, 200);
        std::thread::sleep(Duration::from_millis(300));
        let (lines_before, calls_before) = (server.log().lines().count(), server.write_calls());
        for n in 0..ISSUES {
            let (status, _) = post(&server, "/token", &json!({"subject": format!("s{n}")}));
            assert_eq!(status, 200);
        }
        std::thread::sleep(Duration::from_millis(300));
        let lines = u64::try_from(server.log().lines().count() - lines_before).unwrap();
        let calls = server.write_calls() - calls_before;
        assert!(lines >= 2 * ISSUES, "{name}: {lines} lines");
        counted.push((name, lines, calls));
    }
    let (_, _, batched) = counted[0];
    for &(name, lines, calls) in &counted[1..] {
        // Each line its own write, besides the answers.
        assert!(calls >= lines + ISSUES, "{name}: {counted:?}");
        // At least one write less per issue when batched.
        assert!(batched + ISSUES <= calls, "{name}: {counted:?}");
    }
}

/// A start that fails (the listen port taken) exits 1 with the error
/// logged on stdout, after the lines logged before it.
#[test]
fn a_failed_start_logs_its_error_and_the_lines_before_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let file = server::KeyFilePath::new();
    let output = Command::new(BINARY)
        .env_clear()
        .envs(server::vars(&file, &[("VAULTTOKEN_LISTEN", &address)]))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "ERROR", "{stdout}");
    assert_eq!(last["fields"]["message"], "the server could not start");
    // The memory store's warning came first.
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .any(|line| line["level"] == "WARN"),
        "{stdout}"
    );
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
