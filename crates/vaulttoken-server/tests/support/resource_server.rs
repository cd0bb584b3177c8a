//! The axum example `resource_server` (of vaulttoken-axum) as a process,
//! built by `cargo test` of this package as `soak_resource_server`
//! (declared in its Cargo.toml), and plain requests to it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A resource server process, killed when dropped.
pub(crate) struct ResourceServer {
    child: Child,
    addr: String,
}

impl ResourceServer {
    /// One following the key set at `key_set_url` of `issuer`, with
    /// `settings` on top, once it listens (at most 15 s).
    pub(crate) fn start(key_set_url: &str, issuer: &str, settings: &[(&str, &str)]) -> Self {
        let binary = example_binary();
        let mut child = Command::new(&binary)
            .env_clear()
            .env("KEY_SET_URL", key_set_url)
            .env("ISSUER", issuer)
            .envs(settings.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("{}: {err}", binary.display()));
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = sender.send(addr.to_owned());
                }
            }
        });
        let addr = receiver
            .recv_timeout(Duration::from_secs(15))
            .expect("the resource server did not listen within 15 s");
        Self { child, addr }
    }

    /// `GET path` with `Connection: close`: the status, and how long the
    /// answer took.
    pub(crate) fn get(&self, path: &str, bearer: &str) -> (u16, Duration, String) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: rs\r\nConnection: close\r\nAuthorization: Bearer {bearer}\r\n\r\n"
        );
        let started = Instant::now();
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // One write: a request in pieces waits on Nagle and delayed ACKs.
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let took = started.elapsed();
        let status = answer[9..12].parse().unwrap();
        let body = answer
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, took, body)
    }

    /// `GET path`, a JSON answer that must be 200.
    pub(crate) fn json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path, "none");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The follower's counters: fetches made.
    pub(crate) fn fetches(&self) -> u64 {
        let counts = self.json("/key-set/counts");
        assert_eq!(counts["failures"], 0, "a key set fetch failed: {counts}");
        counts["fetches"].as_u64().unwrap()
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a resource server with `settings` only, which it must refuse: it
/// exits unsuccessfully within 15 s; what it wrote to stderr.
pub(crate) fn refused(settings: &[(&str, &str)]) -> String {
    let binary = example_binary();
    let mut child = Command::new(&binary)
        .env_clear()
        .envs(settings.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{}: {err}", binary.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the resource server did not exit within 15 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "started: {stderr}");
    stderr
}

/// `target/<profile>/examples/soak_resource_server`, built by `cargo test`
/// with the tests of this package (declared in its Cargo.toml).
fn example_binary() -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile = deps.parent().unwrap().parent().unwrap();
    let binary = profile.join("examples").join("soak_resource_server");
    assert!(
        binary.exists(),
        "{} is missing: build the examples too (cargo test -p vaulttoken-server --examples --test <name>)",
        binary.display()
    );
    binary
}
