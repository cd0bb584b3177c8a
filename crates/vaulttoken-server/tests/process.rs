//! The `vaulttoken-server` binary as a process: configuration errors before
//! listening, two processes on one real Redis (shared families and key ring),
//! and a graceful stop on SIGTERM. Plain HTTP/1.1 over loopback, by hand.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::{ADMIN, CLIENT, KeyFilePath, SECRET};

const BINARY: &str = env!("CARGO_BIN_EXE_vaulttoken-server");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request with `Connection: close`; the status and the JSON body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(auth) = auth {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

struct Process {
    child: Child,
    port: u16,
    _file: KeyFilePath,
}

impl Process {
    fn start(redis_url: &str, create: bool) -> Self {
        let file = KeyFilePath::new();
        let port = free_port();
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let vars = server::vars(
            &file,
            &[
                ("VAULTTOKEN_LISTEN", &format!("127.0.0.1:{port}")),
                (
                    "VAULTTOKEN_KEYRING_CREATE",
                    if create { "true" } else { "false" },
                ),
                ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
                ("REDIS_URL", redis_url),
            ],
        );
        command.envs(vars);
        let child = command.spawn().unwrap();
        let process = Self {
            child,
            port,
            _file: file,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the server did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut body = body.clone();
        body["client_id"] = json!(CLIENT);
        body["client_secret"] = json!(SECRET);
        http(self.port, "POST", path, None, Some(&body))
    }

    fn keys(&self) -> Value {
        http(self.port, "GET", "/keys", None, None).1
    }

    /// SIGTERM, then the exit status within a few seconds.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let a = Process::start(&redis.url(), true);
    let b = Process::start(&redis.url(), false);

    let (status, first) = a.post("/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200, "{first}");
    let (status, second) = a.post(
        "/token/refresh",
        &json!({"refresh_token": first["refresh_token"]}),
    );
    assert_eq!(status, 200, "{second}");
    // The old refresh token on B: reuse, and the family is revoked on both.
    let (status, reuse) = b.post(
        "/token/refresh",
        &json!({"refresh_token": first["refresh_token"]}),
    );
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (_, newest) = a.post(
        "/token/refresh",
        &json!({"refresh_token": second["refresh_token"]}),
    );
    assert_eq!(newest["error"], "invalid_grant");
    let (_, found) = b.post(
        "/token/introspect",
        &json!({"token": second["access_token"]}),
    );
    assert_eq!(found, json!({"active": false}));

    // Rotate on A: B serves the new key within the poll bound (1 s here).
    let admin = format!("Bearer {ADMIN}");
    let (status, rotated) = http(a.port, "POST", "/keys/rotate", Some(&admin), None);
    assert_eq!(status, 200, "{rotated}");
    let started = Instant::now();
    while b.keys()["active"] != rotated["active"] {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B did not take up the rotation"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(a.keys(), b.keys());

    assert!(a.terminate().success());
    assert!(b.terminate().success());
}
