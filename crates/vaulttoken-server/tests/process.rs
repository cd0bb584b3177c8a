//! The `vaulttoken-server` binary as a process: configuration errors before
//! listening, two processes on one real Redis (shared families and key ring),
//! and a graceful stop on SIGTERM; a server on one core over HTTP/1.1 and
//! HTTP/2. Plain HTTP/1.1 over loopback, by hand, and HTTP/2 with the `h2`
//! crate.
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

use process::{
    ServerProcess, assert_reuse_refused, client_runtime, connect_h2, keys, post, post_h2,
};

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
            assert_eq!(line["span"]["method"], "GET", "{line}");
            assert_eq!(line["span"]["path"], "/healthz", "{line}");
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
    assert_reuse_refused(&b, &first["refresh_token"]);
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

/// `count` introspections of `token` at once, each on its own stream of
/// `connection`: their answers.
async fn introspect_at_once(
    connection: &h2::client::SendRequest<axum::body::Bytes>,
    token: &serde_json::Value,
    count: usize,
) -> Vec<(u16, serde_json::Value)> {
    let mut streams = tokio::task::JoinSet::new();
    for _ in 0..count {
        let connection = connection.clone();
        let body = json!({ "token": token });
        streams.spawn(async move { post_h2(&connection, "/token/introspect", &body).await });
    }
    streams.join_all().await
}

#[test]
fn a_server_on_one_core_serves_http1_and_http2_and_stops_within_its_drain() {
    if !redis_support::redis_available("a_server_on_one_core") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    // The mirror and the shared ring's poll: tasks of its own on Redis,
    // beside the requests, on the runtime a process on one core has.
    let server = ServerProcess::start_on_one_core(&[
        ("VAULTTOKEN_METRICS_LISTEN", "127.0.0.1:0"),
        ("REDIS_URL", &redis.url()),
        ("VAULTTOKEN_MIRROR_MAX_STALENESS_MS", "2000"),
        ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
        ("VAULTTOKEN_DRAIN_SECS", "1"),
    ]);
    let cores = server.allowed_cores();
    assert!(cores.parse::<usize>().is_ok(), "on cores {cores}");
    let metrics_port = server.metrics_port();

    let (status, pair) = post(&server, "/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200, "{pair}");
    let runtime = client_runtime();
    runtime.block_on(async {
        let connection = connect_h2(server.port()).await;
        // A scraper's connection to the metrics listener, held open too.
        let _scraper = connect_h2(metrics_port).await;
        for (status, answer) in introspect_at_once(&connection, &pair["access_token"], 16).await {
            assert_eq!((status, &answer["active"]), (200, &json!(true)), "{answer}");
            assert_eq!(answer["sub"], "alice");
        }
        let (status, next) = post_h2(
            &connection,
            "/token/refresh",
            &json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
        assert_eq!(status, 200, "{next}");
        // The first refresh token again, over HTTP/1.1: reuse, refused.
        assert_reuse_refused(&server, &pair["refresh_token"]);
    });
    // The HTTP/2 connections are still open, their client no longer read
    // (its runtime is idle): it never acknowledges the server's GOAWAY, and
    // kept the stopping server from exiting until the drain's bound, on
    // each listener.
    let log = server.log_after_exit();
    let messages: Vec<String> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|line| line["fields"]["message"].as_str().map(str::to_owned))
        .collect();
    for open in ["connections", "metrics connections"] {
        let message = format!("{open} still open at the end of the drain: stopping without them");
        assert!(messages.contains(&message), "{messages:?}");
    }
    drop(runtime);
}

#[test]
fn on_one_core_the_answers_of_streams_served_together_leave_in_fewer_writes() {
    // A memory store and warnings only: the server writes nothing but its
    // answers.
    let server = ServerProcess::start_on_one_core(&[("RUST_LOG", "warn")]);
    assert_eq!(server.runtime_workers(), 0, "not a current-thread runtime");
    let (status, pair) = post(&server, "/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200, "{pair}");
    let runtime = client_runtime();
    runtime.block_on(async {
        let connection = connect_h2(server.port()).await;
        // The connection's settings and windows, exchanged first.
        let (status, _) = post_h2(&connection, "/token/introspect", &json!({"token": "x"})).await;
        assert_eq!(status, 200);
        let before = server.write_calls();
        // Sixteen requests sent in one write of this (current-thread)
        // client: the connection's task flushes after the streams' tasks
        // queued their frames.
        let answers = introspect_at_once(&connection, &pair["access_token"], 16).await;
        let writes = server.write_calls() - before;
        assert!(
            answers
                .iter()
                .all(|(status, answer)| *status == 200 && answer["active"] == true)
        );
        // A multi-threaded runtime on one core wrote one answer a write
        // here (16 writes): its scheduler runs the connection's task as
        // soon as a stream's task wakes it.
        assert!(writes < 8, "{writes} writes for 16 answers");
    });
}

#[test]
fn a_server_on_several_cores_runs_a_worker_on_each() {
    let cores = std::thread::available_parallelism().unwrap().get();
    if cores < 2 {
        eprintln!("one core here: the multi-threaded runtime is not tried");
        return;
    }
    let server = ServerProcess::start_with(&[]);
    let (status, _) = post(&server, "/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200);
    assert_eq!(server.runtime_workers(), cores);
}
