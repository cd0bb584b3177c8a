//! A bounded load run on loopback, side by side in one process:
//!
//! - `decode`: the library's raw `v4.public` decode (`PublicService::decode`)
//!   on one thread per core, no HTTP at all: the ceiling;
//! - `extractor`: a minimal axum app whose handler takes
//!   `vaulttoken_axum::Verified<User>`, with the same token and verifier;
//! - `handler`: the control, a handler of the same app that reads the bearer
//!   token and calls the raw decode itself;
//! - `bare HTTP`: a handler of the same app that checks nothing;
//! - `introspect`: the token server (memory store, rate limits off),
//!   `POST /token/introspect` of one `v4.public` access token.
//!
//! Each HTTP path is `CLIENTS` keep-alive connections, each sending
//! `REQUESTS` requests one after another. The first four run `ROUNDS` times,
//! interleaved, so that a noisy moment hits all of them; ratios are the
//! medians of the rounds. Every phase is bounded in count and in time (two
//! minutes). Each line gives requests per second, p50/p99 latency, errors
//! (which must be 0), and requests per second of *server* CPU time: the CPU
//! time of the server's threads (of the decode threads for `decode`), read
//! from Linux's `/proc/self/task/*/schedstat`. The clients run on a runtime
//! of their own, so their CPU time is left out of that figure, though not
//! out of the wall clock they share with the server.
//!
//! Worker threads: one per core for the server and for the clients, or
//! `LOAD_SERVER_WORKERS` / `LOAD_CLIENT_WORKERS`. Measures; asserts nothing
//! about speed.
//!
//! ```sh
//! cargo run --release -p vaulttoken-server --example load -- 64 500 3
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "an example run fails loudly"
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use vaulttoken::rules::RuleSet;
use vaulttoken::store::MemoryStore;
use vaulttoken::{Claims, PublicService, SecretKey};
use vaulttoken_axum::{Authenticator, Verified};
use vaulttoken_server::{Config, app};

const SECRET: &str = "load-secret-0123456789";
/// No phase may run longer than this.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// Thread names (Linux keeps 15 bytes), to tell the sides' CPU time apart.
const SERVER_THREADS: &str = "load-server";
const CLIENT_THREADS: &str = "load-client";
const DECODE_THREADS: &str = "load-decode";

/// What one phase measured.
struct Outcome {
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// CPU time of the side under test: the server's threads, or the decode
    /// threads. `None` where `/proc` cannot tell.
    cpu: Option<Duration>,
    errors: usize,
}

impl Outcome {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn per_cpu_second(&self) -> Option<f64> {
        self.cpu
            .map(|cpu| self.latencies.len() as f64 / cpu.as_secs_f64())
    }

    fn report(&mut self, name: &str, shape: &str) {
        self.latencies.sort_unstable();
        let at = |percent: usize| self.latencies[(self.latencies.len() - 1) * percent / 100];
        let per_cpu = self
            .per_cpu_second()
            .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.0}"));
        println!(
            "{name:<11} {shape:<22} {:>8.0} req/s   p50 {:>9.1?}   p99 {:>9.1?}   errors {}   {per_cpu:>7} per server CPU second",
            self.per_second(),
            at(50),
            at(99),
            self.errors,
        );
    }
}

/// CPU time a thread has run, from one `schedstat` file (nanoseconds first).
fn schedstat(path: &std::path::Path) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    let nanos = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The CPU time, so far, of this process's threads named `name`.
fn cpu_of(name: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut found = false;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let task = task.ok()?.path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            total += schedstat(&task.join("schedstat"))?;
            found = true;
        }
    }
    found.then_some(total)
}

/// The claims the extractor's handler reads.
#[derive(Deserialize)]
struct User {
    sub: String,
}

/// The minimal app's state: the extractor's authenticator, and the same
/// verifier for a handler that decodes by hand.
#[derive(Clone)]
struct Protected {
    auth: Authenticator,
    verifier: Arc<PublicService>,
}

impl axum::extract::FromRef<Protected> for Authenticator {
    fn from_ref(state: &Protected) -> Self {
        state.auth.clone()
    }
}

/// `/whoami`: the extractor.
async fn whoami(user: Verified<User>) -> String {
    user.claims().sub.clone()
}

/// `/decode`: the control, a handler that reads the bearer token and calls
/// the library's raw decode itself (no typed claims, no store, no binding).
async fn decode_in_handler(
    axum::extract::State(state): axum::extract::State<Protected>,
    headers: axum::http::HeaderMap,
) -> Result<String, axum::http::StatusCode> {
    let unauthorized = axum::http::StatusCode::UNAUTHORIZED;
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(unauthorized)?;
    let verified = state.verifier.decode(token).map_err(|_| unauthorized)?;
    verified
        .claims()
        .subject()
        .map(str::to_owned)
        .ok_or(unauthorized)
}

/// One request on a keep-alive connection: its status, or 0 when a 200
/// carried a body that does not start with `expected`.
async fn exchange(stream: &mut BufReader<TcpStream>, request: &[u8], expected: &[u8]) -> u16 {
    stream.get_mut().write_all(request).await.unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    let status = line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0;
    loop {
        line.clear();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    if status == 200 && !body.starts_with(expected) {
        return 0;
    }
    status
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `clients` connections to `address`, each sending `request` `requests`
/// times and expecting a 200 whose body starts with `expected`, all on the
/// clients' runtime; the CPU time counted is the server's.
fn drive(
    clients_runtime: &Runtime,
    address: SocketAddr,
    (clients, requests): (usize, usize),
    request: &Arc<Vec<u8>>,
    expected: &'static [u8],
) -> Outcome {
    let run = async {
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let request = Arc::clone(request);
            tasks.push(tokio::spawn(async move {
                let mut stream = BufReader::new(TcpStream::connect(address).await.unwrap());
                let mut latencies = Vec::with_capacity(requests);
                let mut errors = 0usize;
                for _ in 0..requests {
                    let sent = Instant::now();
                    if exchange(&mut stream, &request, expected).await != 200 {
                        errors += 1;
                    }
                    latencies.push(sent.elapsed());
                }
                (latencies, errors)
            }));
        }
        let mut latencies: Vec<Duration> = Vec::with_capacity(clients * requests);
        let mut errors = 0;
        for task in tasks {
            let (mut some, failed) = task.await.unwrap();
            latencies.append(&mut some);
            errors += failed;
        }
        (latencies, errors)
    };
    let cpu_before = cpu_of(SERVER_THREADS);
    let started = Instant::now();
    let (latencies, errors) = clients_runtime
        .block_on(async { tokio::time::timeout(PHASE_LIMIT, run).await })
        .expect("a phase ran past its time limit");
    let elapsed = started.elapsed();
    let cpu = cpu_before
        .zip(cpu_of(SERVER_THREADS))
        .map(|(before, after)| after - before);
    Outcome {
        latencies,
        elapsed,
        cpu,
        errors,
    }
}

/// `total` raw decodes of `token`, spread over one thread per core.
fn decode_on_every_core(verifier: &PublicService, token: &str, total: usize) -> Outcome {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let own_cpu = || schedstat(std::path::Path::new("/proc/thread-self/schedstat"));
    let started = Instant::now();
    let per_thread: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let share = total / threads + usize::from(i < total % threads);
                std::thread::Builder::new()
                    .name(DECODE_THREADS.to_owned())
                    .spawn_scoped(scope, move || {
                        let cpu_before = own_cpu();
                        let mut latencies = Vec::with_capacity(share);
                        let mut errors = 0;
                        for _ in 0..share {
                            let sent = Instant::now();
                            match verifier.decode(std::hint::black_box(token)) {
                                Ok(verified)
                                    if verified.claims().subject() == Some("alice@example.com") => {
                                }
                                _ => errors += 1,
                            }
                            latencies.push(sent.elapsed());
                        }
                        let cpu = cpu_before.zip(own_cpu()).map(|(b, a)| a - b);
                        (latencies, errors, cpu)
                    })
                    .unwrap()
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    assert!(elapsed < PHASE_LIMIT, "the decode phase ran past its limit");
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    let mut cpu = Some(Duration::ZERO);
    for (mut some, failed, spent) in per_thread {
        latencies.append(&mut some);
        errors += failed;
        cpu = cpu.zip(spent).map(|(sum, one)| sum + one);
    }
    Outcome {
        latencies,
        elapsed,
        cpu,
        errors,
    }
}

/// Serves `router` on a free loopback port, on the server's runtime.
fn serve(server_runtime: &Runtime, router: Router) -> SocketAddr {
    let listener = server_runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    server_runtime.spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    address
}

/// The token server's router (memory store, rate limits off).
async fn token_server(ring_file: &std::path::Path) -> Router {
    let kek = vaulttoken::LocalKey::generate()
        .unwrap()
        .to_paserk()
        .unwrap();
    let vars = BTreeMap::from([
        (
            "VAULTTOKEN_KEYRING_FILE".to_owned(),
            ring_file.to_str().unwrap().to_owned(),
        ),
        ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
        ("VAULTTOKEN_KEK".to_owned(), kek.as_str().to_owned()),
        ("VAULTTOKEN_CLIENTS".to_owned(), format!("load:{SECRET}")),
        (
            "VAULTTOKEN_ISSUER".to_owned(),
            "http://load.example".to_owned(),
        ),
        ("VAULTTOKEN_RATE_LIMIT_PER_IP".to_owned(), "0".to_owned()),
        (
            "VAULTTOKEN_RATE_LIMIT_PER_CLIENT".to_owned(),
            "0".to_owned(),
        ),
    ]);
    let config = Config::from_vars(&vars).unwrap();
    app(config, Arc::new(MemoryStore::new())).await.unwrap()
}

/// An access token from the token server at `address`.
async fn issue_access_token(address: SocketAddr) -> String {
    let mut setup = BufReader::new(TcpStream::connect(address).await.unwrap());
    let issue = post(
        "/token",
        &format!(r#"{{"client_id":"load","client_secret":"{SECRET}","subject":"alice"}}"#),
    );
    setup.get_mut().write_all(&issue).await.unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        setup.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    setup.read_exact(&mut body).await.unwrap();
    let pair: serde_json::Value = serde_json::from_slice(&body).unwrap();
    pair["access_token"].as_str().unwrap().to_owned()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn summary(name: &str, ratios: &[f64]) {
    if ratios.is_empty() {
        println!("{name}: n/a");
        return;
    }
    println!(
        "{name}: median {:.2} ({})",
        median(ratios.to_vec()),
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// A runtime of `workers` threads (`0`: one per core) named `name`.
fn runtime(name: &str, workers: usize) -> Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        builder.worker_threads(workers);
    }
    builder.thread_name(name).enable_all().build().unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().map_or(64, |a| a.parse().unwrap());
    let requests: usize = args.next().map_or(500, |a| a.parse().unwrap());
    let rounds: usize = args.next().map_or(3, |a| a.parse().unwrap());
    assert!(
        clients > 0 && requests > 0 && rounds > 0,
        "counts must be positive"
    );
    let total = clients * requests;
    let shape = format!("{clients} x {requests}");
    let workers = |name| std::env::var(name).map_or(0, |n| n.parse().unwrap());
    let server_runtime = runtime(SERVER_THREADS, workers("LOAD_SERVER_WORKERS"));
    let clients_runtime = runtime(CLIENT_THREADS, workers("LOAD_CLIENT_WORKERS"));

    // The extractor's app and the raw decode share one verifier and one token.
    let secret = SecretKey::generate().unwrap();
    let public = secret.public_key();
    let rules = RuleSet::default()
        .issued_by("auth.example.com")
        .for_audience("api.example.com");
    let issuer = PublicService::builder(secret)
        .key_id("k1")
        .rules(rules.clone())
        .build();
    let verifier = Arc::new(
        PublicService::verifier(public)
            .key_id("k1")
            .rules(rules)
            .build(),
    );
    let claims = Claims::builder()
        .subject("alice@example.com")
        .issuer("auth.example.com")
        .audience("api.example.com")
        .claim("scope", "orders:read orders:write profile")
        .build()
        .unwrap();
    let token = issuer.encode(&claims).unwrap();
    let protected = serve(
        &server_runtime,
        Router::new()
            .route("/whoami", get(whoami))
            .route("/decode", get(decode_in_handler))
            .route("/hello", get(|| async { "alice@example.com" }))
            .with_state(Protected {
                auth: Authenticator::new(Arc::clone(&verifier)),
                verifier: Arc::clone(&verifier),
            }),
    );
    let get = |path: &str| {
        Arc::new(
            format!(
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .into_bytes(),
        )
    };
    let paths = [
        ("extractor", get("/whoami")),
        ("handler", get("/decode")),
        ("bare HTTP", get("/hello")),
    ];

    let mut throughput = Vec::with_capacity(rounds);
    let mut per_cpu = Vec::with_capacity(rounds);
    let mut of_handler = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        println!("round {round}");
        let mut decoded = decode_on_every_core(&verifier, token.as_str(), total);
        decoded.report("decode", &format!("{total} on every core"));
        assert_eq!(decoded.errors, 0, "every decode must succeed");
        let mut outcomes = Vec::with_capacity(paths.len());
        for (name, request) in &paths {
            let mut outcome = drive(
                &clients_runtime,
                protected,
                (clients, requests),
                request,
                b"alice@example.com",
            );
            outcome.report(name, &shape);
            assert_eq!(outcome.errors, 0, "every request must succeed");
            outcomes.push(outcome);
        }
        let (extracted, handled) = (&outcomes[0], &outcomes[1]);
        throughput.push(extracted.per_second() / decoded.per_second());
        of_handler.push(extracted.per_second() / handled.per_second());
        if let Some((e, d)) = extracted.per_cpu_second().zip(decoded.per_cpu_second()) {
            per_cpu.push(e / d);
        }
    }
    summary("extractor / decode, throughput", &throughput);
    summary("extractor / decode, per server CPU second", &per_cpu);
    summary("extractor / handler, throughput", &of_handler);

    let ring_file =
        std::env::temp_dir().join(format!("vaulttoken-load-{}.json", std::process::id()));
    let router = server_runtime.block_on(token_server(&ring_file));
    let server = serve(&server_runtime, router);
    let access = clients_runtime.block_on(issue_access_token(server));
    let introspect = Arc::new(post(
        "/token/introspect",
        &format!(r#"{{"client_id":"load","client_secret":"{SECRET}","token":"{access}"}}"#),
    ));
    let mut introspected = drive(
        &clients_runtime,
        server,
        (clients, requests),
        &introspect,
        br#"{"active":true"#,
    );
    introspected.report("introspect", &shape);
    let _ = std::fs::remove_file(&ring_file);
    assert_eq!(introspected.errors, 0, "every request must succeed");
}
