//! Real Redis servers for the tests: one server, or a three-primary cluster,
//! on free loopback ports, in a temporary directory, killed on drop.
//!
//! Without `redis-server` each test prints `SKIPPED: redis-server not
//! installed ...` to stderr and passes, unless `VAULTTOKEN_REQUIRE_REDIS=1`
//! (which CI sets): then it fails.
//!
//! Shared by the tests of `vaulttoken-redis` and `vaulttoken-cli`; not
//! published. Servers bind 127.0.0.1 only.
//!
//! ```
//! use vaulttoken_test_redis::{RedisServer, redis_available};
//!
//! if redis_available("doc example") {
//!     let server = RedisServer::start();
//!     assert_eq!(server.command(&["PING"]).as_deref(), Some("+PONG"));
//!     assert!(server.url().starts_with("redis://127.0.0.1:"));
//! }
//! ```

mod durable_cluster;
mod events;
mod restart;

pub use crate::events::{EventRecorder, RecordedEvent};

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod proxy;
pub use crate::proxy::DelayProxy;

const REQUIRE_ENV: &str = "VAULTTOKEN_REQUIRE_REDIS";

/// How long a server may take to answer PING, or a cluster to be ok.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether `redis-server` can be run; prints the skip line (or fails under
/// `VAULTTOKEN_REQUIRE_REDIS=1`) when it cannot.
pub fn redis_available(test: &str) -> bool {
    let found = ["redis-server", "redis-cli"].iter().all(|program| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found {
        return true;
    }
    let reason = "redis-server not installed (apt-get install redis-server)";
    if std::env::var_os(REQUIRE_ENV).is_some_and(|value| value == "1") {
        panic!("{test}: Redis is required ({REQUIRE_ENV}=1) but {reason}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}; {test} did not run");
    false
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "vaulttoken-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `redis-server` on 127.0.0.1.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    extra: Vec<String>,
    dir: TempDir,
}

impl RedisServer {
    /// A plain server.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server with extra arguments (such as `--maxmemory-policy allkeys-lru`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_on(free_port(false), extra)
    }

    fn start_on(port: u16, extra: &[&str]) -> Self {
        let mut server = Self {
            child: None,
            port,
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            dir: TempDir::new(),
        };
        // Another process may take the port between its pick and the bind.
        for _ in 0..5 {
            if server.try_spawn() {
                return server;
            }
            server.port = free_port(false);
        }
        panic!("redis-server did not start");
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        assert!(
            self.try_spawn(),
            "redis-server on port {} did not start",
            self.port
        );
    }

    /// Starts the process and waits until it answers PING (or asks for a
    /// password) and is the one started: still running, and the process id
    /// `INFO` reports where it answers. False if it exited or never answered.
    fn try_spawn(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start redis-server");
        let pid = format!("process_id:{}", child.id());
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return false;
            }
            let answered = self
                .command(&["PING"])
                .is_some_and(|reply| reply == "+PONG" || reply.starts_with("-NOAUTH"));
            if answered {
                std::thread::sleep(Duration::from_millis(50));
                let ours = child.try_wait().ok().flatten().is_none()
                    && self
                        .raw_command(&["INFO", "server"])
                        .is_none_or(|info| info.starts_with('-') || info.contains(&pid));
                if ours {
                    self.child = Some(child);
                    return true;
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Kills the server (its data is gone: it saves nothing).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with `SIGSTOP`: it keeps its connections open and
    /// answers nothing until [`RedisServer::resume`] (a hung server, not a
    /// dead one).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused process run again (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("redis-server is running");
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal} redis-server");
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// One command over a raw connection; the first line of the reply, or
    /// `None` if the server does not answer.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let reply = self.raw_command(args)?;
        Some(reply.lines().next().unwrap_or_default().to_owned())
    }

    /// One command over a raw connection; the whole reply (RESP).
    pub fn raw_command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut buffer = [0_u8; 65536];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    reply.extend_from_slice(&buffer[..n]);
                    if complete(&reply) {
                        break;
                    }
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        (!reply.is_empty()).then(|| String::from_utf8_lossy(&reply).into_owned())
    }

    /// `redis-cli -p <port> args…`, its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// Whether a RESP reply is whole: a simple line, a bulk string with its
/// announced length, or an array of `n` short bulk strings (enough for PING,
/// INFO, TTL and CONFIG GET).
fn complete(reply: &[u8]) -> bool {
    let Some(end) = reply.windows(2).position(|pair| pair == b"\r\n") else {
        return false;
    };
    if reply.first() == Some(&b'*') {
        let items = std::str::from_utf8(&reply[1..end])
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        let lines = reply.windows(2).filter(|pair| *pair == b"\r\n").count();
        return lines > 2 * items;
    }
    if reply.first() != Some(&b'$') {
        return true;
    }
    let Ok(len) = std::str::from_utf8(&reply[1..end])
        .unwrap_or("x")
        .parse::<i64>()
    else {
        return true;
    };
    len < 0 || reply.len() >= end + 2 + usize::try_from(len).unwrap_or(0) + 2
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port; for a cluster node, one whose bus port (+10000) is
/// free too.
fn free_port(with_bus: bool) -> u16 {
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
        let port = listener.local_addr().expect("local address").port();
        if !with_bus {
            return port;
        }
        if port < 55_535 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
        // Ephemeral ports are often too high for a bus port: try a low one.
        let low = 20_000 + (port % 20_000);
        if TcpListener::bind(("127.0.0.1", low)).is_ok()
            && TcpListener::bind(("127.0.0.1", low + 10_000)).is_ok()
        {
            return low;
        }
    }
    panic!("no free port pair");
}

/// A cluster of three primaries, no replicas.
#[derive(Debug)]
pub struct RedisCluster {
    /// The three nodes, in the order they were started.
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three nodes and joins them (`redis-cli --cluster create`).
    pub fn start() -> Self {
        Self::start_with_args(&[])
    }

    /// Starts three nodes, each with `extra` arguments besides the cluster
    /// ones, joins them (`redis-cli --cluster create`), and waits until
    /// every node reports `cluster_state:ok`.
    pub fn start_with_args(extra: &[&str]) -> Self {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                let dir = TempDir::new();
                let config = dir.0.join("nodes.conf");
                let mut args: Vec<String> = vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    config.to_string_lossy().into_owned(),
                ];
                args.extend(extra.iter().map(|arg| (*arg).to_owned()));
                let mut server = RedisServer {
                    child: None,
                    port: free_port(true),
                    extra: args,
                    dir,
                };
                for _ in 0..5 {
                    if server.try_spawn() {
                        return server;
                    }
                    server.port = free_port(true);
                }
                panic!("a cluster node did not start")
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_until_ok();
        cluster
    }

    /// Waits until every node reports `cluster_state:ok`.
    pub(crate) fn wait_until_ok(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        for node in &self.nodes {
            while !node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                assert!(Instant::now() < deadline, "cluster_state never became ok");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// Sums `calls=` of the `cmdstat_<name>` lines of `INFO commandstats`.
pub fn command_calls(server: &RedisServer, name: &str) -> u64 {
    let info = server.cli(&["INFO", "commandstats"]);
    let prefix = format!("cmdstat_{name}:calls=");
    info.lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| rest.split(',').next())
        .filter_map(|calls| calls.parse::<u64>().ok())
        .sum()
}

/// Every `cmdstat_*` calls count of `INFO commandstats`, summed, but the
/// `info` calls themselves.
pub fn all_calls_but_info(server: &RedisServer) -> u64 {
    let info = server.cli(&["INFO", "commandstats"]);
    info.lines()
        .filter(|line| line.starts_with("cmdstat_") && !line.starts_with("cmdstat_info:"))
        .filter_map(|line| line.split("calls=").nth(1))
        .filter_map(|rest| rest.split(',').next())
        .filter_map(|calls| calls.parse::<u64>().ok())
        .sum()
}
