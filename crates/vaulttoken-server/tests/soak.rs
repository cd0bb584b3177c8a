//! The soak test of issue 23: one token server rotating its access keys
//! every few seconds (announced), three resource servers built from the
//! axum example `resource_server` following its key set, and bounded load
//! over at least ten rotations. Then a flood of tokens naming made-up key
//! ids at one resource server. Real processes on loopback ports.
//!
//! It checks that no valid token is refused, that each resource server
//! fetched the key set no more than its schedule needs plus one per
//! rotation, and that the flood caused at most one fetch per lookup
//! interval. It prints the figures (run with `--nocapture` to see them);
//! latency during the flood is reported, not asserted tightly: the machine
//! is shared with the load.

#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/process.rs"]
#[allow(dead_code, unreachable_pub)]
mod process;
#[path = "support/resource_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod resource_server;
#[path = "support/server.rs"]
#[allow(dead_code, unreachable_pub)]
mod server;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use vaulttoken::{Claims, PublicService, SecretKey};

use process::{ServerProcess, keys, post};
use resource_server::ResourceServer;

/// The key set's cache time and the instances' poll interval, in seconds:
/// an announcement period of 1 + 1 + 1 = 3 s.
const CACHE_SECS: &str = "1";
const POLL_SECS: &str = "1";
/// Access tokens live 2 s, so a rotation must be more than 5 s apart.
const ACCESS_TTL_SECS: &str = "2";
const ROTATE_EVERY_SECS: u64 = 6;
/// The resource servers' shortest interval between two lookups of unknown
/// key ids.
const LOOKUP_INTERVAL: Duration = Duration::from_secs(1);
const ROTATIONS: usize = 10;
/// Each phase of the flood.
const FLOOD_WINDOW: Duration = Duration::from_secs(5);

/// A fresh access token from the server.
fn access_token(server: &ServerProcess) -> String {
    let (status, pair) = post(server, "/token", &json!({"subject": "soak"}));
    assert_eq!(status, 200, "{pair}");
    pair["access_token"].as_str().unwrap().to_owned()
}

/// The `kid` the server's key set marks active.
fn active_kid(server: &ServerProcess) -> Option<String> {
    let set = keys(server);
    set["keys"].as_array()?.iter().find_map(|key| {
        (key["status"] == "active").then(|| key["kid"].as_str().unwrap_or_default().to_owned())
    })
}

/// The `per_mille`-th per-mille latency (nearest rank).
fn percentile(latencies: &mut [Duration], per_mille: usize) -> Duration {
    latencies.sort_unstable();
    let rank = (latencies.len() * per_mille).div_ceil(1000);
    latencies[rank.clamp(1, latencies.len()) - 1]
}

/// Requests to `server` with fresh tokens for `window`, one at a time: the
/// latencies. Every one must be accepted.
fn known_kid_latencies(
    issuer: &ServerProcess,
    server: &ResourceServer,
    window: Duration,
) -> Vec<Duration> {
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut token = access_token(issuer);
    let mut token_at = Instant::now();
    while started.elapsed() < window {
        if token_at.elapsed() > Duration::from_millis(500) {
            token = access_token(issuer);
            token_at = Instant::now();
        }
        let (status, took, body) = server.get("/me", &token);
        assert_eq!(status, 200, "a valid token was refused: {body}");
        latencies.push(took);
    }
    latencies
}

#[test]
fn resource_servers_follow_ten_announced_rotations_without_refusing_a_valid_token() {
    let issuer = server::ISSUER;
    let every = ROTATE_EVERY_SECS.to_string();
    let server = ServerProcess::start_with(&[
        ("VAULTTOKEN_KEYS_MAX_AGE_SECS", CACHE_SECS),
        ("VAULTTOKEN_KEYS_POLL_SECS", POLL_SECS),
        ("VAULTTOKEN_ACCESS_TTL_SECS", ACCESS_TTL_SECS),
        ("VAULTTOKEN_ROTATE_EVERY", every.as_str()),
        // The load asks for a token per round: no rate limit in the way.
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "100000000"),
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "100000000"),
    ]);
    let url = format!("http://127.0.0.1:{}/keys", server.port());
    let lookup_ms = LOOKUP_INTERVAL.as_millis().to_string();
    let resource_servers: Vec<ResourceServer> = (0..3)
        .map(|_| {
            ResourceServer::start(
                &url,
                issuer,
                &[
                    ("MIN_LOOKUP_INTERVAL_MS", &lookup_ms),
                    ("MAX_TOKEN_LIFETIME_SECS", "60"),
                ],
            )
        })
        .collect();
    let server = Arc::new(server);
    let resource_servers = Arc::new(resource_servers);
    let fetches_before: Vec<u64> = resource_servers
        .iter()
        .map(ResourceServer::fetches)
        .collect();

    // Load: three clients, each asking for a token and presenting it at
    // every resource server, until ten rotations were seen (bounded).
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (server, resource_servers) = (Arc::clone(&server), Arc::clone(&resource_servers));
            let (stop, accepted, refused) = (
                Arc::clone(&stop),
                Arc::clone(&accepted),
                Arc::clone(&refused),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let token = access_token(&server);
                    for (n, resource) in resource_servers.iter().enumerate() {
                        let (status, _, body) = resource.get("/me", &token);
                        if status == 200 {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        } else {
                            refused.lock().unwrap().push(format!(
                                "{:?} resource server {n}: {status} {body}",
                                started.elapsed()
                            ));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    let mut actives = BTreeSet::new();
    let limit = Duration::from_secs(ROTATE_EVERY_SECS * (ROTATIONS as u64 + 3));
    while actives.len() <= ROTATIONS && started.elapsed() < limit {
        if let Some(kid) = active_kid(&server) {
            actives.insert(kid);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let elapsed = started.elapsed();
    let rotations = actives.len() - 1;
    assert!(
        rotations >= ROTATIONS,
        "only {rotations} rotations in {elapsed:?}"
    );
    let refused = refused.lock().unwrap();
    let accepted = accepted.load(Ordering::Relaxed);
    println!(
        "{rotations} rotations in {elapsed:.1?}: {accepted} requests accepted, {} valid tokens refused",
        refused.len()
    );
    assert!(refused.is_empty(), "valid tokens refused: {refused:#?}");
    assert!(accepted > 1000, "too little load: {accepted} requests");

    // The schedule: one fetch per cache time (the background refresh), and
    // at most one more per rotation.
    let scheduled = elapsed.as_secs() + 1;
    for (n, resource) in resource_servers.iter().enumerate() {
        let fetches = resource.fetches() - fetches_before[n];
        println!(
            "resource server {n}: {fetches} key set fetches; the schedule needs {scheduled}, plus at most {rotations}"
        );
        assert!(
            fetches <= scheduled + rotations as u64,
            "resource server {n}: {fetches} fetches"
        );
    }

    // A flood of tokens signed by keys the issuer never published, each
    // naming its own made-up key id, at one resource server: the latency of
    // known-kid requests without it and during it, and the fetches it caused.
    let target = &resource_servers[0];
    let fetches_before_quiet = target.fetches();
    let mut quiet = known_kid_latencies(&server, target, FLOOD_WINDOW);
    let fetches_quiet = target.fetches() - fetches_before_quiet;
    let fetches_before_flood = target.fetches();
    let flooding = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let flooded = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..2)
        .map(|_| {
            let (resource_servers, stop, flooded) = (
                Arc::clone(&resource_servers),
                Arc::clone(&stop),
                Arc::clone(&flooded),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let key = SecretKey::generate().unwrap();
                    let kid = key.public_key().paserk_id().unwrap().to_string();
                    let forger = PublicService::builder(key).key_id(kid).build();
                    let claims = Claims::builder()
                        .subject("mallory")
                        .issuer(server::ISSUER)
                        .build()
                        .unwrap();
                    let forged = forger.encode(&claims).unwrap();
                    let (status, _, body) = resource_servers[0].get("/me", &forged);
                    assert_eq!(status, 401, "a forged token: {body}");
                    flooded.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let mut loud = known_kid_latencies(&server, target, FLOOD_WINDOW);
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.join().unwrap();
    }
    let flood_time = flooding.elapsed();
    let fetches_loud = target.fetches() - fetches_before_flood;
    let flooded = flooded.load(Ordering::Relaxed);
    // Background refreshes go on during the flood as before it (one per
    // cache time); the lookups it causes add at most one per interval.
    let caused = fetches_loud.saturating_sub(fetches_quiet);
    let allowed = flood_time.as_secs() / LOOKUP_INTERVAL.as_secs() + 1;
    let (quiet_p99, loud_p99) = (percentile(&mut quiet, 990), percentile(&mut loud, 990));
    let (quiet_p50, loud_p50) = (percentile(&mut quiet, 500), percentile(&mut loud, 500));
    println!(
        "flood: {flooded} made-up key ids in {flood_time:.1?} caused {caused} fetches beyond the background refresh ({fetches_loud} against {fetches_quiet} in as long without it; allowed {allowed}); \
         known-kid p50 {quiet_p50:?} -> {loud_p50:?}, p99 {quiet_p99:?} -> {loud_p99:?} (ratio {:.2})",
        loud_p99.as_secs_f64() / quiet_p99.as_secs_f64()
    );
    // A flood means far more made-up ids than lookups allowed; an absolute
    // floor failed on a loaded machine (348 in 5 s) with the limit holding.
    assert!(
        flooded > 20 * allowed,
        "too small a flood: {flooded} for {allowed} lookups"
    );
    assert!(caused <= allowed, "the flood caused {caused} fetches");
}
