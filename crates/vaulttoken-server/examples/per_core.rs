//! Per-core figures (issue 24): the token server on one core, everything
//! else on the other, and each path's requests per second of *server* CPU
//! time.
//!
//! Real processes, each pinned with `taskset` (util-linux):
//!
//! - on the **server core** (`PER_CORE_SERVER_CPU`, default 0): the
//!   release `vaulttoken-server` binary over Redis (so one tokio worker: it
//!   sizes its runtime by the cores it may use), then a bare axum server
//!   with one handler (this example, `bare` mode), then the raw library
//!   decode (this example, `decode` mode: `PublicService::decode` in a loop,
//!   built from the server's own `GET /keys`, on the server's own access
//!   token);
//! - on the **load core** (`PER_CORE_LOAD_CPU`, default 1): this process
//!   (the load generator, one thread) and `redis-server`.
//!
//! The server runs as deployed: JSON logs (one line per request at the
//! default `info`, to a file, in batches; `RUST_LOG` and
//! `VAULTTOKEN_LOG_WRITES` are passed on if set), rate limits on but set
//! high enough never to refuse (`1000000000` per IP and per client per
//! minute; `PER_CORE_RATE_LIMITS=off` turns them off instead),
//! `v4.public` access tokens. Only the Redis deadlines are raised (5 s for
//! each store call and each rate-limit count), so that a busy machine
//! starving the load core does not turn into refusals.
//!
//! One run of each, in this order, every phase `CLIENTS` clients sending
//! `REQUESTS` requests each, one after another:
//!
//! 1. `bare`: `GET /hello` to the bare axum server;
//! 2. `decode`: `CLIENTS x REQUESTS` raw decodes in one pinned process;
//!    then `bare-decode`: the bare axum server again, with a handler that
//!    decodes the token of each `POST /decode` as `decode` does and answers
//!    `{"active":true}`: the floor of an introspection over HTTP here (the
//!    exchange and the decode, nothing else);
//! 3. `introspect`: `POST /token/introspect` of one `v4.public` access token;
//! 4. `issue`: `POST /token`, each a new family, of a subject of its own
//!    (as many users' refreshes are);
//! 5. `refresh`: `POST /token/refresh`, each with a refresh token the issue
//!    phase handed out, used once (a distinct family every request: a full
//!    token check, rotation and a new pair; no grace replays);
//! 6. `introspect-mirror`: introspection again, by a second server on the
//!    same Redis and key ring with the revocation mirror on
//!    (`VAULTTOKEN_MIRROR_MAX_STALENESS_MS=2000`, issue 25): its checks
//!    answer from memory, not by a round trip. The first server is stopped
//!    first, so the server core runs one at a time; then `decode, in
//!    turns` and `introspect-mirror, in turns`: the raw decode and this
//!    introspection again, a quarter of each at a time, four times over,
//!    each summed (the machine's speed drifts between phases; slices a few
//!    seconds apart share the drift), the ratio of the goal;
//! 7. `issue-mirror` and `refresh-mirror`: issue and refresh as in 4 and 5,
//!    by the mirrored server. Its rotation is one script call in Redis; its
//!    token check answers from memory (after a write of its own, only the
//!    checks of that write's subject go to Redis until the mirror hears
//!    from a later read).
//!
//! `PER_CORE_HTTP=2` sends the load over HTTP/2 (cleartext, prior
//! knowledge), as a gateway may: each connection carries
//! `PER_CORE_HTTP2_STREAMS` clients' requests at once (16 if unset), so the
//! `CLIENTS` are that many streams on each of `CLIENTS / streams`
//! connections. The default, `1`, gives each client an HTTP/1.1 keep-alive
//! connection of its own.
//!
//! `PER_CORE_LOAD_POLL=spin` keeps the load generator's thread from
//! sleeping (a task that yields forever, so its runtime polls its sockets
//! without blocking): on loopback the server's core runs the receiving side
//! of every answer it sends, and wakes the load generator's thread if it
//! sleeps, which in this VM is an interrupt to the other core; with `spin`
//! the server is not charged for that wake-up (a client on another machine
//! never costs it one). The default, `sleep`, is a load generator as any
//! client is. The figures name the mode.
//!
//! The server's CPU time is the sum of `/proc/<pid>/task/*/schedstat` (its
//! threads, nanoseconds) before and after a phase; `/proc/<pid>/stat`
//! (utime + stime, which also keeps threads that ended) is shown as a check.
//! Each line also gives the share of the server core the server used, and
//! Redis's and the load generator's CPU per request (on the other core, not
//! counted in the figure). The load average is printed before each phase.
//!
//! Bounded: at most 1024 connections and 100,000 requests each, two
//! minutes per phase, 15 s for a process to start. Any answer that is not
//! the expected 200 fails the run (after printing the phase); it measures
//! and asserts nothing about speed.
//!
//! ```sh
//! cargo build --release -p vaulttoken-server --bins --example per_core
//! target/release/examples/per_core 64 500
//! # or: crates/vaulttoken-server/scripts/per-core.sh 64 500
//! ```
//!
//! The server binary is `target/release/vaulttoken-server` next to this
//! example, or `VAULTTOKEN_SERVER_BIN`. Linux only (`/proc`, `taskset`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "an example run fails loudly"
)]

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::Method;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use vaulttoken::PublicService;
use vaulttoken::keyring::{KeySet, RingSettings};
use vaulttoken::rules::RuleSet;

const CLIENT: &str = "percore";
const SECRET: &str = "per-core-secret-0123456789";
const ISSUER: &str = "https://per-core.example";
/// No phase may run longer than this.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// No process may take longer than this to listen.
const START_LIMIT: Duration = Duration::from_secs(15);
/// Rate limits high enough never to refuse in a run.
const HIGH_LIMIT: &str = "1000000000";
/// Each use of Redis may wait this long (the defaults are 500 and 1000 ms).
const DEADLINE_MS: &str = "5000";

/// The revocation mirror's staleness bound in the `introspect-mirror` phase:
/// the default.
const MIRROR_STALENESS_MS: &str = "2000";
/// The slices of the phases run in turns (6b).
const SLICES: usize = 4;
const MAX_CLIENTS: usize = 1024;
const MAX_REQUESTS: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bare") => bare(args[1].parse().unwrap(), args.get(2).map(Path::new)),
        Some("decode") => decode(Path::new(&args[1]), Path::new(&args[2]), &args[3]),
        _ => {
            let clients: usize = args.first().map_or(64, |a| a.parse().unwrap());
            let requests: usize = args.get(1).map_or(500, |a| a.parse().unwrap());
            assert!(
                (1..=MAX_CLIENTS).contains(&clients) && (1..=MAX_REQUESTS).contains(&requests),
                "CLIENTS must be 1 to {MAX_CLIENTS}, REQUESTS 1 to {MAX_REQUESTS}"
            );
            run(clients, requests);
        }
    }
}

// ---------------------------------------------------------------------------
// Processes, cores and CPU time

/// A child process, killed when dropped (also when a phase fails).
struct Process {
    child: Child,
    name: &'static str,
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Panics, with `log`, if the process has exited.
    fn check_running(&mut self, log: &Path) {
        if let Some(status) = self.child.try_wait().unwrap() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let mut tail: Vec<&str> = text.lines().rev().take(20).collect();
            tail.reverse();
            panic!(
                "{} exited ({status}); its log ends:\n{}",
                self.name,
                tail.join("\n")
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `program` under `taskset -c core`: the process (same pid, `taskset`
/// execs it) and every thread it makes run on `core` only.
fn pinned(core: usize, program: &Path) -> Command {
    let mut command = Command::new("taskset");
    command.arg("-c").arg(core.to_string()).arg(program);
    command
}

/// Pins every thread of the running process `pid` to `core`.
fn pin(pid: u32, core: usize) {
    let status = Command::new("taskset")
        .args(["-a", "-c", "-p", &core.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("taskset (util-linux) must be installed");
    assert!(status.success(), "taskset could not pin {pid} to {core}");
}

/// The cores `pid` may run on, as `/proc/<pid>/status` says.
fn allowed(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or("?")
        .trim()
        .to_owned()
}

/// CPU time a thread has run, from one `schedstat` file (nanoseconds first).
fn schedstat(path: &Path) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// The CPU time of `pid` so far: the sum over its live threads'
/// `schedstat`, and utime and stime of `/proc/<pid>/stat` (every thread,
/// also those that ended; clock ticks of `tick`). And its `write` system
/// calls (`syscw` of `/proc/<pid>/io`: `write` and `writev`, not `send`):
/// for the server, its log writes to stdout.
#[derive(Clone, Copy)]
struct Cpu {
    threads: Duration,
    user: Duration,
    system: Duration,
    writes: u64,
}

impl Cpu {
    fn of(pid: u32, tick: Duration) -> Self {
        let mut threads = Duration::ZERO;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                threads += schedstat(&task.path().join("schedstat"));
            }
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The command name (field 2) may hold spaces: count after its `)`.
        let fields: Vec<u32> = stat
            .rsplit_once(')')
            .map(|(_, rest)| {
                rest.split_whitespace()
                    .skip(11)
                    .take(2)
                    .filter_map(|f| f.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let ticks = |i: usize| tick * fields.get(i).copied().unwrap_or(0);
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        let writes = io
            .lines()
            .find_map(|line| line.strip_prefix("syscw:"))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0);
        Self {
            threads,
            user: ticks(0),
            system: ticks(1),
            writes,
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            threads: self.threads.saturating_sub(before.threads),
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
            writes: self.writes.saturating_sub(before.writes),
        }
    }

    /// The share of the time in the kernel, by `/proc/<pid>/stat`.
    fn system_share(self) -> f64 {
        let stat = (self.user + self.system).as_secs_f64();
        if stat > 0.0 {
            self.system.as_secs_f64() * 100.0 / stat
        } else {
            0.0
        }
    }
}

/// The length of a clock tick (`getconf CLK_TCK`, 100 a second if unknown).
fn clock_tick() -> Duration {
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|hz| *hz > 0)
        .unwrap_or(100);
    Duration::from_secs(1) / hz
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `port` accepts a connection, at most [`START_LIMIT`].
fn wait_listening(process: &mut Process, port: u16, log: &Path) {
    let started = Instant::now();
    while StdStream::connect(("127.0.0.1", port)).is_err() {
        process.check_running(log);
        assert!(
            started.elapsed() < START_LIMIT,
            "{} did not listen",
            process.name
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// HTTP/1.1 on keep-alive connections, or HTTP/2 streams

/// One request: as HTTP/2 takes it, and as HTTP/1.1 bytes (made once, not
/// in the measured loop).
#[derive(Clone)]
struct Call {
    method: Method,
    path: String,
    body: Bytes,
    wire: Bytes,
}

fn post(path: &str, body: &str) -> Call {
    Call {
        method: Method::POST,
        path: path.to_owned(),
        body: Bytes::copy_from_slice(body.as_bytes()),
        wire: Bytes::from(format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
    }
}

fn get(path: &str) -> Call {
    Call {
        method: Method::GET,
        path: path.to_owned(),
        body: Bytes::new(),
        wire: Bytes::from(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")),
    }
}

/// The HTTP version of the load (`PER_CORE_HTTP`, `1` or `2`; 1 if unset),
/// and for HTTP/2 the streams a connection carries at once
/// (`PER_CORE_HTTP2_STREAMS`, 16 if unset): the `CLIENTS` of a phase are
/// that many streams on each of `CLIENTS / streams` connections (rounded
/// up), as a gateway sends its calls on a few connections.
#[derive(Clone, Copy)]
enum Http {
    One,
    Two { streams: usize },
}

impl Http {
    fn from_env() -> Self {
        match std::env::var("PER_CORE_HTTP").as_deref() {
            Ok("1") | Err(_) => Self::One,
            Ok("2") => Self::Two {
                streams: std::env::var("PER_CORE_HTTP2_STREAMS").map_or(16, |n| {
                    n.parse()
                        .ok()
                        .filter(|n| (1..=MAX_CLIENTS).contains(n))
                        .expect("PER_CORE_HTTP2_STREAMS: 1 to 1024")
                }),
            },
            Ok(other) => panic!("PER_CORE_HTTP must be 1 or 2, not {other}"),
        }
    }

    fn name(self) -> String {
        match self {
            Self::One => "HTTP/1.1, a connection each".to_owned(),
            Self::Two { streams } => {
                format!("HTTP/2 (prior knowledge), {streams} streams a connection")
            }
        }
    }
}

/// Where a client of a phase sends its requests: its own keep-alive
/// connection, or a stream of a shared HTTP/2 connection.
enum Link {
    One(BufReader<TcpStream>),
    Two(h2::client::SendRequest<Bytes>),
}

impl Link {
    async fn exchange(&mut self, call: &Call) -> std::io::Result<(u16, Vec<u8>)> {
        match self {
            Self::One(stream) => exchange(stream, &call.wire).await,
            Self::Two(connection) => exchange_h2(connection, call)
                .await
                .map_err(std::io::Error::other),
        }
    }
}

/// A new HTTP/2 connection (prior knowledge, no upgrade), driven by a task
/// of its own.
async fn connect_h2(address: SocketAddr) -> std::io::Result<h2::client::SendRequest<Bytes>> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (connection, driver) = h2::client::handshake(stream)
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = driver.await;
    });
    Ok(connection)
}

/// One request on a stream of `connection`: the status and the body.
async fn exchange_h2(
    connection: &mut h2::client::SendRequest<Bytes>,
    call: &Call,
) -> Result<(u16, Vec<u8>), h2::Error> {
    let mut ready = connection.clone().ready().await?;
    let request = axum::http::Request::builder()
        .method(call.method.clone())
        .uri(format!("http://127.0.0.1{}", call.path))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let no_body = call.body.is_empty();
    let (answer, mut stream) = ready.send_request(request, no_body)?;
    if !no_body {
        stream.send_data(call.body.clone(), true)?;
    }
    let answer = answer.await?;
    let status = answer.status().as_u16();
    let mut incoming = answer.into_body();
    let mut body = Vec::new();
    while let Some(chunk) = incoming.data().await {
        let chunk = chunk?;
        incoming.flow_control().release_capacity(chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// One request on a keep-alive connection: the status and the body.
async fn exchange(
    stream: &mut BufReader<TcpStream>,
    request: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    stream.get_mut().write_all(request).await?;
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok((status, body))
}

/// One request on a new connection, outside any phase: the body of a 200.
fn once(runtime: &Runtime, address: SocketAddr, call: &Call) -> Vec<u8> {
    runtime.block_on(async {
        let mut stream = BufReader::new(TcpStream::connect(address).await.unwrap());
        let (status, body) = exchange(&mut stream, &call.wire).await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        body
    })
}

/// What one phase measured.
struct Outcome {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
    first_error: Option<String>,
    /// The server's CPU time (of the decode process, for `decode`).
    server: Cpu,
    /// Redis's and the load generator's CPU time (`None` for `decode`).
    others: Option<(Duration, Duration)>,
    /// The 200 bodies, when the phase keeps them.
    bodies: Vec<Vec<u8>>,
}

impl Outcome {
    /// This and `other` as one phase: their requests, times and CPU summed.
    fn and(mut self, mut other: Self) -> Self {
        self.latencies.append(&mut other.latencies);
        self.elapsed += other.elapsed;
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self.server = Cpu {
            threads: self.server.threads + other.server.threads,
            user: self.server.user + other.server.user,
            system: self.server.system + other.server.system,
            writes: self.server.writes + other.server.writes,
        };
        self.others = match (self.others, other.others) {
            (Some((r1, l1)), Some((r2, l2))) => Some((r1 + r2, l1 + l2)),
            _ => None,
        };
        self.bodies.append(&mut other.bodies);
        self
    }

    fn count(&self) -> usize {
        self.latencies.len()
    }

    fn per_cpu_second(&self) -> f64 {
        self.count() as f64 / self.server.threads.as_secs_f64()
    }

    fn at(&self, percent: usize) -> Duration {
        self.latencies
            .get((self.latencies.len().saturating_sub(1)) * percent / 100)
            .copied()
            .unwrap_or_default()
    }

    fn report(&mut self, name: &str) {
        self.latencies.sort_unstable();
        let per_request = |cpu: Duration| cpu.as_secs_f64() * 1e6 / self.count().max(1) as f64;
        let others = self.others.map_or_else(String::new, |(redis, load)| {
            format!(
                "   redis {:>5.1} µs/req   load {:>5.1} µs/req",
                per_request(redis),
                per_request(load)
            )
        });
        println!(
            "{name:<11} {:>7} req {:>8.0} req/s   p50 {:>9.1?}   p99 {:>9.1?}   errors {}   {:>7.0} per server CPU second ({:.1} µs/req, {:.0} % in the kernel; stat {:.2} s vs {:.2} s; server core {:.0} % busy; {:.2} writes/req){others}",
            self.count(),
            self.count() as f64 / self.elapsed.as_secs_f64(),
            self.at(50),
            self.at(99),
            self.errors,
            self.per_cpu_second(),
            per_request(self.server.threads),
            self.server.system_share(),
            (self.server.user + self.server.system).as_secs_f64(),
            self.server.threads.as_secs_f64(),
            self.server.threads.as_secs_f64() * 100.0 / self.elapsed.as_secs_f64(),
            self.server.writes as f64 / self.count().max(1) as f64,
        );
        if let Some(error) = &self.first_error {
            println!("            first error: {error}");
        }
    }
}

/// The processes whose CPU a phase counts.
struct Watched {
    server: u32,
    redis: u32,
    tick: Duration,
}

/// One phase: connection `i` sends `requests[i]` in order and expects 200s
/// whose body contains `needle`. Bounded by [`PHASE_LIMIT`].
fn drive(
    runtime: &Runtime,
    address: SocketAddr,
    watched: &Watched,
    requests: Vec<Vec<Call>>,
    needle: &'static [u8],
    keep_bodies: bool,
) -> Outcome {
    let total: usize = requests.iter().map(Vec::len).sum();
    let http = Http::from_env();
    let run = async {
        // HTTP/2: the connections the clients share, opened before the
        // phase's clock starts counting requests.
        let shared = match http {
            Http::One => Vec::new(),
            Http::Two { streams } => {
                let mut shared = Vec::new();
                for _ in 0..requests.len().div_ceil(streams) {
                    shared.push(connect_h2(address).await.expect("an HTTP/2 connection"));
                }
                shared
            }
        };
        let spinner = spinning().then(|| {
            tokio::spawn(async {
                loop {
                    tokio::task::yield_now().await;
                }
            })
        });
        let mut tasks = Vec::with_capacity(requests.len());
        for (client, connection) in requests.into_iter().enumerate() {
            let link = shared.get(client % shared.len().max(1)).cloned();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(connection.len());
                let mut bodies = Vec::new();
                let mut errors = 0usize;
                let mut first_error = None;
                let mut link = match link {
                    Some(shared) => Link::Two(shared),
                    None => match TcpStream::connect(address).await {
                        Ok(stream) => Link::One(BufReader::new(stream)),
                        Err(err) => {
                            return (latencies, bodies, connection.len(), Some(err.to_string()));
                        }
                    },
                };
                for (i, request) in connection.iter().enumerate() {
                    let sent = Instant::now();
                    match link.exchange(request).await {
                        Ok((200, body)) if memchr(needle, &body) => {
                            latencies.push(sent.elapsed());
                            if keep_bodies {
                                bodies.push(body);
                            }
                        }
                        Ok((status, body)) => {
                            latencies.push(sent.elapsed());
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!("{status} {}", String::from_utf8_lossy(&body))
                            });
                        }
                        Err(err) => {
                            // The connection is gone: the rest fail too.
                            errors += connection.len() - i;
                            first_error.get_or_insert_with(|| err.to_string());
                            break;
                        }
                    }
                }
                (latencies, bodies, errors, first_error)
            }));
        }
        let mut outcome = (Vec::with_capacity(total), Vec::new(), 0, None);
        for task in tasks {
            let (mut latencies, mut bodies, errors, first_error) = task.await.unwrap();
            outcome.0.append(&mut latencies);
            outcome.1.append(&mut bodies);
            outcome.2 += errors;
            if outcome.3.is_none() {
                outcome.3 = first_error;
            }
        }
        if let Some(spinner) = spinner {
            spinner.abort();
        }
        outcome
    };
    let me = std::process::id();
    let (server_before, redis_before, load_before) = (
        Cpu::of(watched.server, watched.tick),
        Cpu::of(watched.redis, watched.tick),
        Cpu::of(me, watched.tick),
    );
    let started = Instant::now();
    let (latencies, bodies, errors, first_error) = runtime
        .block_on(async { tokio::time::timeout(PHASE_LIMIT, run).await })
        .expect("a phase ran past its time limit");
    let elapsed = started.elapsed();
    let server = Cpu::of(watched.server, watched.tick).since(server_before);
    let redis = Cpu::of(watched.redis, watched.tick).since(redis_before);
    let load = Cpu::of(me, watched.tick).since(load_before);
    Outcome {
        latencies,
        elapsed,
        errors,
        first_error,
        server,
        others: Some((redis.threads, load.threads)),
        bodies,
    }
}

/// Whether the load generator spins (`PER_CORE_LOAD_POLL=spin`) rather
/// than sleeps while it waits for answers.
fn spinning() -> bool {
    match std::env::var("PER_CORE_LOAD_POLL").as_deref() {
        Ok("spin") => true,
        Ok("sleep") | Err(_) => false,
        Ok(other) => panic!("PER_CORE_LOAD_POLL must be spin or sleep, not {other}"),
    }
}

/// Whether `needle` occurs in `haystack`.
fn memchr(needle: &[u8], haystack: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// `count` copies of `request` per client.
fn same(request: &Call, clients: usize, requests: usize) -> Vec<Vec<Call>> {
    vec![vec![request.clone(); requests]; clients]
}

/// Fails the run (after its line is printed) on any error answer.
fn finish(mut outcome: Outcome, name: &str) -> Outcome {
    outcome.report(name);
    assert_eq!(outcome.errors, 0, "{name}: every request must succeed");
    outcome
}

// ---------------------------------------------------------------------------
// The run

fn core_from(var: &str, default: usize) -> usize {
    std::env::var(var).map_or(default, |v| v.parse().expect("a core number"))
}

fn server_binary() -> PathBuf {
    std::env::var_os("VAULTTOKEN_SERVER_BIN").map_or_else(
        || {
            let me = std::env::current_exe().unwrap();
            // target/release/examples/per_core -> target/release/vaulttoken-server
            me.parent()
                .and_then(Path::parent)
                .unwrap()
                .join("vaulttoken-server")
        },
        PathBuf::from,
    )
}

fn run(clients: usize, requests: usize) {
    let server_core = core_from("PER_CORE_SERVER_CPU", 0);
    let load_core = core_from("PER_CORE_LOAD_CPU", 1);
    assert_ne!(server_core, load_core, "the two cores must differ");
    let binary = server_binary();
    assert!(
        binary.is_file(),
        "no server binary at {} (cargo build --release -p vaulttoken-server --bins, or set VAULTTOKEN_SERVER_BIN)",
        binary.display()
    );
    let me = std::env::current_exe().unwrap();
    let tick = clock_tick();
    let total = clients * requests;

    // This process (the load generator) on the load core, before it makes
    // any thread: its runtime has one, the one it is called on.
    pin(std::process::id(), load_core);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let dir =
        TempDir(std::env::temp_dir().join(format!("vaulttoken-per-core-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();

    // redis-server on the load core.
    let redis_port = free_port();
    let redis_log = dir.0.join("redis.log");
    let mut redis = Process {
        child: pinned(load_core, Path::new("redis-server"))
            .args(["--bind", "127.0.0.1", "--port", &redis_port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir.0)
            .stdout(std::fs::File::create(&redis_log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed"),
        name: "redis-server",
    };
    wait_listening(&mut redis, redis_port, &redis_log);

    // The token server, release build, on the server core.
    let kek = vaulttoken::LocalKey::generate()
        .unwrap()
        .to_paserk()
        .unwrap()
        .as_str()
        .to_owned();
    let limit = if std::env::var("PER_CORE_RATE_LIMITS").as_deref() == Ok("off") {
        "0"
    } else {
        HIGH_LIMIT
    };
    // The token server on the server core; `mirror`: with the revocation
    // mirror (a staleness bound in ms), so introspection checks from memory.
    let start_server = |mirror: Option<&str>, log: &Path| -> (Process, u16) {
        let port = free_port();
        let mut command = pinned(server_core, &binary);
        command
            .env_clear()
            .env("VAULTTOKEN_LISTEN", format!("127.0.0.1:{port}"))
            .env("VAULTTOKEN_KEYRING_FILE", dir.0.join("keys.json"))
            .env("VAULTTOKEN_KEYRING_CREATE", "true")
            .env("VAULTTOKEN_KEK", &kek)
            .env("VAULTTOKEN_CLIENTS", format!("{CLIENT}:{SECRET}"))
            .env("VAULTTOKEN_ISSUER", ISSUER)
            .env("VAULTTOKEN_ACCESS_PURPOSE", "public")
            .env("VAULTTOKEN_RATE_LIMIT_PER_IP", limit)
            .env("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", limit)
            // A development machine shared with other work can starve the
            // load core (Redis's) for longer than the default 500 ms: the
            // server then fails closed (503), correctly, but that is not
            // measured here.
            .env("VAULTTOKEN_REDIS_DEADLINE_MS", DEADLINE_MS)
            .env("VAULTTOKEN_RATE_LIMIT_DEADLINE_MS", DEADLINE_MS)
            .env("REDIS_URL", format!("redis://127.0.0.1:{redis_port}"))
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
        if let Some(bound) = mirror {
            command.env("VAULTTOKEN_MIRROR_MAX_STALENESS_MS", bound);
        }
        for passed in ["RUST_LOG", "VAULTTOKEN_LOG_WRITES"] {
            if let Ok(value) = std::env::var(passed) {
                command.env(passed, value);
            }
        }
        let mut server = Process {
            child: command
                .spawn()
                .expect("taskset (util-linux) must be installed"),
            name: "vaulttoken-server",
        };
        wait_listening(&mut server, port, log);
        (server, port)
    };
    let server_log = dir.0.join("server.log");
    let (mut server, server_port) = start_server(None, &server_log);
    let server_address = SocketAddr::from(([127, 0, 0, 1], server_port));

    println!(
        "per-core run: {clients} connections x {requests} requests a phase; rate limits {}; the load generator {}",
        if limit == "0" {
            "off"
        } else {
            "on (1e9 a minute)"
        },
        if spinning() { "spins" } else { "sleeps" }
    );
    println!("load over {}", Http::from_env().name());
    println!(
        "server core {server_core}: vaulttoken-server pid {} (cores {}), {}",
        server.pid(),
        allowed(server.pid()),
        binary.display()
    );
    println!(
        "load core {load_core}: load generator pid {} (cores {}), redis-server pid {} (cores {})",
        std::process::id(),
        allowed(std::process::id()),
        redis.pid(),
        allowed(redis.pid())
    );

    // Setup, not measured: one access token, the key set, a warm-up.
    let credentials = format!(r#""client_id":"{CLIENT}","client_secret":"{SECRET}""#);
    let issue_request = post("/token", &format!(r#"{{{credentials},"subject":"alice"}}"#));
    let pair: serde_json::Value =
        serde_json::from_slice(&once(&runtime, server_address, &issue_request)).unwrap();
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let keys = once(&runtime, server_address, &get("/keys"));
    let introspect_request = post(
        "/token/introspect",
        &format!(r#"{{{credentials},"token":"{access}"}}"#),
    );
    let watched_server = Watched {
        server: server.pid(),
        redis: redis.pid(),
        tick,
    };
    let warm = drive(
        &runtime,
        server_address,
        &watched_server,
        same(&introspect_request, clients, (requests / 10).max(1)),
        br#""active":true"#,
        false,
    );
    assert_eq!(warm.errors, 0, "warm-up: {:?}", warm.first_error);

    // A phase of the bare axum server on the server core (`keys`: with its
    // decoding handler): started, warmed up, driven with `request`, stopped.
    let bare_phase = |name: &str, keys: Option<&Path>, request: &Call, needle: &'static [u8]| {
        println!("load average before {name}: {}", load_average());
        let port = free_port();
        let log = dir.0.join(format!("{name}.log"));
        let mut command = pinned(server_core, &me);
        command.args(["bare", &port.to_string()]);
        if let Some(keys) = keys {
            command.arg(keys);
        }
        let mut bare_server = Process {
            child: command
                .stdout(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
            name: "bare axum server",
        };
        wait_listening(&mut bare_server, port, &log);
        let watched = Watched {
            server: bare_server.pid(),
            redis: redis.pid(),
            tick,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let warm = drive(
            &runtime,
            address,
            &watched,
            same(request, clients, (requests / 10).max(1)),
            needle,
            false,
        );
        assert_eq!(warm.errors, 0, "warm-up: {:?}", warm.first_error);
        finish(
            drive(
                &runtime,
                address,
                &watched,
                same(request, clients, requests),
                needle,
                false,
            ),
            name,
        )
    };

    // 1. The bare axum server.
    let bare_outcome = bare_phase("bare", None, &get("/hello"), b"hello");

    // 2. The raw decode, in a process on the server core.
    println!("load average before decode: {}", load_average());
    let keys_file = dir.0.join("keyset.json");
    let token_file = dir.0.join("access.txt");
    std::fs::write(&keys_file, &keys).unwrap();
    std::fs::write(&token_file, &access).unwrap();
    // `PER_CORE_SAVE=DIR` keeps the two in DIR too, for the raw decode
    // under callgrind (`scripts/introspect-instructions.sh`).
    if let Some(save) = std::env::var_os("PER_CORE_SAVE") {
        std::fs::copy(&keys_file, Path::new(&save).join("keyset.json")).unwrap();
        std::fs::copy(&token_file, Path::new(&save).join("access.txt")).unwrap();
    }
    let decoded = decode_pinned(server_core, &me, &keys_file, &token_file, total);
    let decoded = finish(decoded, "decode");

    // 2b. The floor of an introspection: the bare axum server decoding the
    //     token of each request.
    let decode_request = post("/decode", &access);
    let floor = bare_phase(
        "bare-decode",
        Some(&keys_file),
        &decode_request,
        br#""active":true"#,
    );

    // 3. Introspection.
    println!("load average before introspect: {}", load_average());
    let introspected = finish(
        drive(
            &runtime,
            server_address,
            &watched_server,
            same(&introspect_request, clients, requests),
            br#""active":true"#,
            false,
        ),
        "introspect",
    );

    // 4. Issue: each a new family; the refresh tokens are kept.
    println!("load average before issue: {}", load_average());
    let issued = finish(
        drive(
            &runtime,
            server_address,
            &watched_server,
            issue_requests(&credentials, clients, requests),
            br#""refresh_token":"#,
            true,
        ),
        "issue",
    );

    // 5. Refresh: each issued refresh token once.
    let refreshes = refresh_requests(&issued, &credentials, clients);
    println!("load average before refresh: {}", load_average());
    let refreshed = finish(
        drive(
            &runtime,
            server_address,
            &watched_server,
            refreshes,
            br#""refresh_token":"#,
            false,
        ),
        "refresh",
    );
    server.check_running(&server_log);
    drop(server);

    // 6. Introspection again, by a server with the revocation mirror (the
    //    same Redis, key ring and token): its checks answer from memory.
    let mirror_log = dir.0.join("server-mirror.log");
    let (mut mirrored, mirror_port) = start_server(Some(MIRROR_STALENESS_MS), &mirror_log);
    let mirror_address = SocketAddr::from(([127, 0, 0, 1], mirror_port));
    let watched_mirror = Watched {
        server: mirrored.pid(),
        redis: redis.pid(),
        tick,
    };
    let warm = drive(
        &runtime,
        mirror_address,
        &watched_mirror,
        same(&introspect_request, clients, (requests / 10).max(1)),
        br#""active":true"#,
        false,
    );
    assert_eq!(warm.errors, 0, "warm-up: {:?}", warm.first_error);
    println!("load average before introspect-mirror: {}", load_average());
    let mirror_introspected = finish(
        drive(
            &runtime,
            mirror_address,
            &watched_mirror,
            same(&introspect_request, clients, requests),
            br#""active":true"#,
            false,
        ),
        "introspect-mirror",
    );
    // 6b. The same two again, in turns: a slice of raw decodes, then a
    //     slice of introspections with the mirror, four times over, each
    //     summed. The machine's speed drifts by a quarter between phases
    //     half a minute apart (the raw decode took 33 to 43 µs in runs of
    //     one hour); slices a few seconds apart share the drift.
    println!("load average before interleaved: {}", load_average());
    let slice = requests.div_ceil(SLICES);
    let mut interleaved: Option<(Outcome, Outcome)> = None;
    for _ in 0..SLICES {
        let decoded = decode_pinned(server_core, &me, &keys_file, &token_file, clients * slice);
        let introspected = drive(
            &runtime,
            mirror_address,
            &watched_mirror,
            same(&introspect_request, clients, slice),
            br#""active":true"#,
            false,
        );
        interleaved = Some(match interleaved {
            None => (decoded, introspected),
            Some((d, i)) => (d.and(decoded), i.and(introspected)),
        });
    }
    let (turn_decoded, turn_introspected) = interleaved.unwrap();
    let turn_decoded = finish(turn_decoded, "decode, in turns");
    let turn_introspected = finish(turn_introspected, "introspect-mirror, in turns");
    // 7. Refresh by the mirrored server (the rotation decided in Redis;
    //    the check from memory). Its refresh tokens come from an issue
    //    phase on the same server.
    println!("load average before issue-mirror: {}", load_average());
    let mirror_issued = finish(
        drive(
            &runtime,
            mirror_address,
            &watched_mirror,
            issue_requests(&credentials, clients, requests),
            br#""refresh_token":"#,
            true,
        ),
        "issue-mirror",
    );
    println!("load average before refresh-mirror: {}", load_average());
    let mirror_refreshed = finish(
        drive(
            &runtime,
            mirror_address,
            &watched_mirror,
            refresh_requests(&mirror_issued, &credentials, clients),
            br#""refresh_token":"#,
            false,
        ),
        "refresh-mirror",
    );
    // Where the mirrored server's checks were answered, over every phase
    // it served (the server's own counters).
    let metrics = once(&runtime, mirror_address, &get("/metrics"));
    let checks: Vec<&str> = std::str::from_utf8(&metrics)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("vaulttoken_mirror_checks_total"))
        .collect();
    println!("the mirrored server's checks: {}", checks.join(", "));
    mirrored.check_running(&mirror_log);
    println!("load average after: {}", load_average());

    let ratio = introspected.per_cpu_second() / decoded.per_cpu_second();
    println!("introspect / raw decode, per server CPU second: {ratio:.2} (goal at least 0.7)");
    println!(
        "bare-decode (the HTTP exchange and the decode alone) / raw decode: {:.2}; introspect / bare-decode: {:.2}, with the mirror: {:.2}",
        floor.per_cpu_second() / decoded.per_cpu_second(),
        introspected.per_cpu_second() / floor.per_cpu_second(),
        mirror_introspected.per_cpu_second() / floor.per_cpu_second()
    );
    println!(
        "introspect with the mirror / raw decode: {:.2}; with the mirror / round trip: {:.2}",
        mirror_introspected.per_cpu_second() / decoded.per_cpu_second(),
        mirror_introspected.per_cpu_second() / introspected.per_cpu_second()
    );
    println!(
        "introspect with the mirror / raw decode, in turns ({SLICES} slices each): {:.2} (goal at least 0.7)",
        turn_introspected.per_cpu_second() / turn_decoded.per_cpu_second()
    );
    println!(
        "refresh per server CPU second: {:.0} (goal at least 10,000); with the mirror: {:.0}",
        refreshed.per_cpu_second(),
        mirror_refreshed.per_cpu_second()
    );
    println!(
        "issue per server CPU second: {:.0}; bare axum: {:.0}; introspect / bare: {:.2}",
        issued.per_cpu_second(),
        bare_outcome.per_cpu_second(),
        introspected.per_cpu_second() / bare_outcome.per_cpu_second()
    );
    let logged = std::fs::metadata(&server_log).map_or(0, |m| m.len());
    println!("server log: {logged} bytes");
}

/// A new family for each request, each of a subject of its own (as the
/// refreshes of many users are, not of one user's thousands of families).
fn issue_requests(credentials: &str, clients: usize, requests: usize) -> Vec<Vec<Call>> {
    (0..clients)
        .map(|client| {
            (0..requests)
                .map(|n| {
                    post(
                        "/token",
                        &format!(r#"{{{credentials},"subject":"user-{client}-{n}"}}"#),
                    )
                })
                .collect()
        })
        .collect()
}

/// One `POST /token/refresh` for each refresh token an issue phase handed
/// out, spread over `clients` connections: each used once.
fn refresh_requests(issued: &Outcome, credentials: &str, clients: usize) -> Vec<Vec<Call>> {
    let mut refreshes: Vec<Vec<Call>> = vec![Vec::new(); clients];
    for (i, body) in issued.bodies.iter().enumerate() {
        let pair: serde_json::Value = serde_json::from_slice(body).unwrap();
        let token = pair["refresh_token"].as_str().unwrap();
        refreshes[i % clients].push(post(
            "/token/refresh",
            &format!(r#"{{{credentials},"refresh_token":"{token}"}}"#),
        ));
    }
    refreshes
}

/// Runs `decode` mode pinned to `core` and reads its one line of figures.
fn decode_pinned(core: usize, me: &Path, keys: &Path, token: &Path, total: usize) -> Outcome {
    let started = Instant::now();
    let mut child = Process {
        child: pinned(core, me)
            .arg("decode")
            .arg(keys)
            .arg(token)
            .arg(total.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
        name: "decode",
    };
    let mut stdout = child.child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut line).unwrap();
    let status = child.child.wait().unwrap();
    assert!(status.success(), "the decode process failed: {status}");
    assert!(
        started.elapsed() < PHASE_LIMIT,
        "the decode phase ran past its limit"
    );
    let numbers: Vec<u64> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let [count, errors, cpu, wall, _, _] = numbers[..] else {
        panic!("unexpected decode output: {line}");
    };
    let (count, errors) = (
        usize::try_from(count).unwrap(),
        usize::try_from(errors).unwrap(),
    );
    // The latencies come back as their p50 and p99 only: spread them so
    // that `report` finds the same percentiles.
    let mut latencies = vec![Duration::from_nanos(numbers[4]); count];
    let from = (count.saturating_sub(1)) * 99 / 100;
    for latency in &mut latencies[from..] {
        *latency = Duration::from_nanos(numbers[5]);
    }
    let cpu = Duration::from_nanos(cpu);
    Outcome {
        latencies,
        elapsed: Duration::from_nanos(wall),
        errors,
        first_error: (errors > 0).then(|| "a decode failed".to_owned()),
        server: Cpu {
            threads: cpu,
            user: cpu,
            system: Duration::ZERO,
            writes: 0,
        },
        others: None,
        bodies: Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// The modes run on the server core

/// `decode KEYS TOKEN COUNT`: the server's key set (the JSON of `GET
/// /keys`), its access token, and how many decodes. Prints `count errors
/// cpu_ns wall_ns p50_ns p99_ns`.
/// The raw decode: a `PublicService` over the key set file `keys` (the
/// server's `GET /keys`), with the issuer rule.
fn verifier(keys: &Path) -> PublicService {
    let set = KeySet::parse(&std::fs::read_to_string(keys).unwrap()).unwrap();
    let ring = set
        .public_ring(&RingSettings::new(), time::Duration::hours(1))
        .unwrap();
    PublicService::from_ring(Arc::new(ring))
        .rules(RuleSet::default().issued_by(ISSUER))
        .build()
}

fn decode(keys: &Path, token: &Path, count: &str) {
    let count: usize = count.parse().unwrap();
    let verifier = verifier(keys);
    let token = std::fs::read_to_string(token).unwrap();
    let check = |verifier: &PublicService| {
        verifier
            .decode(std::hint::black_box(token.as_str()))
            .is_ok_and(|verified| verified.claims().subject() == Some("alice"))
    };
    assert!(
        check(&verifier),
        "the raw decode refuses the server's token"
    );
    let own_cpu = || schedstat(Path::new("/proc/thread-self/schedstat"));
    let mut latencies = Vec::with_capacity(count);
    let mut errors = 0u64;
    let cpu_before = own_cpu();
    let started = Instant::now();
    for _ in 0..count {
        let sent = Instant::now();
        if !check(&verifier) {
            errors += 1;
        }
        latencies.push(sent.elapsed());
        assert!(started.elapsed() < PHASE_LIMIT, "decode ran past its limit");
    }
    let wall = started.elapsed();
    let cpu = own_cpu() - cpu_before;
    latencies.sort_unstable();
    let at = |percent: usize| latencies[(latencies.len() - 1) * percent / 100].as_nanos();
    println!(
        "{count} {errors} {} {} {} {}",
        cpu.as_nanos(),
        wall.as_nanos(),
        at(50),
        at(99)
    );
}

/// `bare PORT [KEYS]`: an axum server with one handler, `GET /hello`, on the
/// runtime the token server uses (on one core, a current-thread runtime),
/// accepting connections as it does (HTTP/1.1 and HTTP/2, `TCP_NODELAY`);
/// with the key set file `KEYS`, a second one, `POST /decode`, which
/// decodes the token of its body as the `decode` mode does and answers
/// `{"active":true}`: the HTTP exchange and the decode, and nothing else.
fn bare(port: u16, keys: Option<&Path>) {
    let runtime = vaulttoken_server::runtime_builder()
        .enable_all()
        .build()
        .unwrap();
    let verifier = keys.map(|keys| Arc::new(verifier(keys)));
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let mut router =
            axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
        if let Some(verifier) = verifier {
            router = router.route(
                "/decode",
                axum::routing::post(move |token: String| async move {
                    match verifier.decode(&token) {
                        Ok(_) => (axum::http::StatusCode::OK, r#"{"active":true}"#),
                        Err(_) => (axum::http::StatusCode::BAD_REQUEST, r#"{"active":false}"#),
                    }
                }),
            );
        }
        let listener = axum::serve::ListenerExt::tap_io(listener, |connection| {
            connection.set_nodelay(true).unwrap();
        });
        axum::serve(listener, router).await.unwrap();
    });
}
