//! `GET /metrics` of server processes on a real `redis-server`: the counters
//! move with real requests (issue, refresh, reuse, revoke, introspect, trust
//! tokens, a wrong secret, rate-limit refusals), each by the outcome the
//! client was answered, the store's calls are counted and timed, and the
//! gauges say how old the keys are and when the shared ring was read; on
//! its own listener when `VAULTTOKEN_METRICS_LISTEN` is set (and then not on
//! the main one); with a revocation mirror, its names, and only then. The
//! answers are read with the line reader of `support/prometheus.rs`.
//!
//! Without `redis-server` the Redis tests print `SKIPPED` and pass, unless
//! `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]
#![allow(clippy::float_cmp, reason = "counters are whole numbers, exact in f64")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

#[path = "support/prometheus.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod prometheus;

use serde_json::{Value, json};
use vaulttoken_test_redis::{RedisServer, redis_available};

use process::{ServerProcess, assert_reuse_refused, free_port, post, raw_request_at};
use prometheus::{Scrape, scrape, scrape_port};
use server::CLIENT;

/// A counter's value by its one `outcome`.
fn outcome(scrape: &Scrape, name: &str, outcome: &str) -> f64 {
    scrape.value(name, &[("outcome", outcome)])
}

fn trust(scrape: &Scrape, operation: &str, kind: &str, outcome: &str) -> f64 {
    scrape.value(
        "vaulttoken_trust_tokens_total",
        &[
            ("operation", operation),
            ("kind", kind),
            ("outcome", outcome),
        ],
    )
}

/// The calls of the store method `call`, whatever their outcome.
fn store_calls(scrape: &Scrape, call: &str) -> f64 {
    scrape.sum("vaulttoken_store_calls_total", &[("call", call)])
}

fn issue(server: &ServerProcess, subject: &str) -> Value {
    let (status, pair) = post(server, "/token", &json!({"subject": subject}));
    assert_eq!(status, 200, "{pair}");
    pair
}

#[test]
fn counters_move_with_real_requests_by_outcome() {
    if !redis_available("counters_move_with_real_requests_by_outcome") {
        return;
    }
    let redis = RedisServer::start();
    let server = ServerProcess::start_with(&[
        ("REDIS_URL", &redis.url()),
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "40"),
    ]);
    let fresh = scrape(&server);
    assert_eq!(
        fresh.types["vaulttoken_tokens_issued_total"], "counter",
        "{:?}",
        fresh.types
    );
    assert_eq!(
        fresh.types["vaulttoken_store_call_duration_seconds"],
        "histogram"
    );
    assert_eq!(fresh.types["vaulttoken_key_age_seconds"], "gauge");
    assert_eq!(outcome(&fresh, "vaulttoken_tokens_issued_total", "ok"), 0.0);
    assert_eq!(trust(&fresh, "consume", "magic_link", "ok"), 0.0);

    // Issue; a wrong secret; introspect; refresh; reuse; the family's newest.
    let pair = issue(&server, "alice");
    let (status, _) = server.request(
        "POST",
        "/token",
        &[],
        Some(&json!({"client_id": CLIENT, "client_secret": "wrong-secret-0123456789", "subject": "x"})),
    );
    assert_eq!(status, 401);
    let (_, found) = post(
        &server,
        "/token/introspect",
        &json!({"token": pair["access_token"]}),
    );
    assert_eq!(found["active"], true);
    let (status, next) = post(
        &server,
        "/token/refresh",
        &json!({"refresh_token": pair["refresh_token"]}),
    );
    assert_eq!(status, 200, "{next}");
    assert_reuse_refused(&server, &pair["refresh_token"]);
    let (status, _) = post(
        &server,
        "/token/refresh",
        &json!({"refresh_token": next["refresh_token"]}),
    );
    assert_eq!(status, 400);
    let (_, found) = post(
        &server,
        "/token/introspect",
        &json!({"token": next["access_token"]}),
    );
    assert_eq!(found, json!({"active": false}));
    // Revoke a fresh access token.
    let bob = issue(&server, "bob");
    let (status, _) = post(
        &server,
        "/token/revoke",
        &json!({"token": bob["access_token"]}),
    );
    assert_eq!(status, 200);
    // A trust token: issued, spent, spent again; a kind that does not exist.
    let (status, link) = post(&server, "/trust/magic_link", &json!({"subject": "carol"}));
    assert_eq!(status, 200, "{link}");
    let spend = json!({"token": link["token"], "kind": "magic_link"});
    assert_eq!(post(&server, "/trust/consume", &spend).0, 200);
    assert_eq!(post(&server, "/trust/consume", &spend).0, 400);
    assert_eq!(
        post(&server, "/trust/no_such_kind", &json!({"subject": "carol"})).0,
        400
    );

    let after = scrape(&server);
    let issued = "vaulttoken_tokens_issued_total";
    assert_eq!(outcome(&after, issued, "ok"), 2.0);
    assert_eq!(outcome(&after, issued, "invalid_client"), 1.0);
    let refreshed = "vaulttoken_tokens_refreshed_total";
    assert_eq!(outcome(&after, refreshed, "ok"), 1.0);
    assert_eq!(outcome(&after, refreshed, "invalid_grant"), 2.0);
    assert_eq!(
        after.value("vaulttoken_refresh_reuse_detected_total", &[]),
        1.0
    );
    assert_eq!(
        after.value("vaulttoken_refresh_grace_replays_total", &[]),
        0.0
    );
    let introspected = "vaulttoken_tokens_introspected_total";
    assert_eq!(outcome(&after, introspected, "active"), 1.0);
    assert_eq!(outcome(&after, introspected, "inactive"), 1.0);
    assert_eq!(
        outcome(&after, "vaulttoken_tokens_revoked_total", "ok"),
        1.0
    );
    assert_eq!(trust(&after, "issue", "magic_link", "ok"), 1.0);
    assert_eq!(trust(&after, "consume", "magic_link", "ok"), 1.0);
    assert_eq!(trust(&after, "consume", "magic_link", "invalid_grant"), 1.0);
    assert_eq!(trust(&after, "issue", "unknown", "invalid_request"), 1.0);
    assert_eq!(trust(&after, "issue", "password_reset", "ok"), 0.0);

    // The store: every family created, every rotation answered (the reuse
    // too; the revoked family's newest token was refused by its check,
    // before any rotation), each call timed.
    let rotations = after.value(
        "vaulttoken_store_calls_total",
        &[("call", "rotate_family"), ("outcome", "ok")],
    );
    assert_eq!(rotations, 2.0);
    assert_eq!(store_calls(&after, "create_family"), 2.0);
    for call in [
        "check",
        "rotate_family",
        "create_family",
        "consume",
        "health",
    ] {
        let timed = after.value(
            "vaulttoken_store_call_duration_seconds_count",
            &[("call", call)],
        );
        assert_eq!(timed, store_calls(&after, call), "{call}");
        assert!(timed > 0.0, "{call}");
        let bucketed = after.value(
            "vaulttoken_store_call_duration_seconds_bucket",
            &[("call", call), ("le", "+Inf")],
        );
        assert_eq!(bucketed, timed, "{call}");
    }
    assert_eq!(after.value("vaulttoken_store_up", &[]), 1.0);
    assert_eq!(after.value("vaulttoken_store_data_losses_total", &[]), 0.0);
    // Keys made at this start; the shared ring read within the poll (5 s).
    for ring in ["access", "refresh", "trust"] {
        let age = after.value("vaulttoken_key_age_seconds", &[("ring", ring)]);
        assert!((0.0..120.0).contains(&age), "{ring}: {age}");
    }
    let synced = after.value("vaulttoken_key_ring_sync_age_seconds", &[]);
    assert!((0.0..10.0).contains(&synced), "{synced}");
    // No label holds a client id, a subject or a token.
    let text = raw_request_at(server.port(), "GET", "/metrics", &[]).body;
    for secret in ["alice", "bob", "carol", CLIENT] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }
    assert!(!text.contains("v4.public."));

    // Past the per-IP limit: every refusal counted, as the client saw it.
    let mut refused = 0.0;
    for _ in 0..60 {
        let (status, _) = post(&server, "/token/introspect", &json!({"token": "x"}));
        if status == 429 {
            refused += 1.0;
            if refused == 3.0 {
                break;
            }
        }
    }
    assert_eq!(refused, 3.0);
    let limited = scrape(&server);
    assert_eq!(
        limited.value(
            "vaulttoken_rate_limit_refusals_total",
            &[("key", "ip"), ("reason", "limited")]
        ),
        refused
    );
    assert_eq!(outcome(&limited, introspected, "slow_down"), refused);
    assert_eq!(
        limited.value(
            "vaulttoken_rate_limit_refusals_total",
            &[("key", "client"), ("reason", "limited")]
        ),
        0.0
    );
}

/// The revocation mirror's names and their types.
const MIRROR_NAMES: [(&str, &str); 9] = [
    ("vaulttoken_mirror_checks_total", "counter"),
    ("vaulttoken_mirror_rebuilds_total", "counter"),
    ("vaulttoken_mirror_unexplained_gaps_total", "counter"),
    ("vaulttoken_mirror_staleness_seconds", "gauge"),
    ("vaulttoken_mirror_max_staleness_seconds", "gauge"),
    ("vaulttoken_mirror_current", "gauge"),
    ("vaulttoken_mirror_entries", "gauge"),
    ("vaulttoken_mirror_memory_bytes", "gauge"),
    ("vaulttoken_mirror_overflowed", "gauge"),
];

/// The mirror's checks with `outcome`.
fn mirror_checks(scrape: &Scrape, outcome_of: &str) -> f64 {
    outcome(scrape, "vaulttoken_mirror_checks_total", outcome_of)
}

/// Every check the mirror saw, whatever its outcome.
fn mirror_checks_seen(scrape: &Scrape) -> f64 {
    scrape.sum("vaulttoken_mirror_checks_total", &[])
}

#[test]
fn the_revocation_mirror_is_reported_with_it_on_only_and_counts_each_check() {
    if !redis_available("the_revocation_mirror_is_reported_with_it_on_only") {
        return;
    }
    let redis = RedisServer::start();
    let plain = ServerProcess::start(&redis.url());
    let without = scrape(&plain);
    assert!(
        without
            .samples
            .iter()
            .all(|sample| !sample.name.starts_with("vaulttoken_mirror_")),
        "{:?}",
        without.samples
    );
    assert!(
        without
            .types
            .keys()
            .all(|name| !name.starts_with("vaulttoken_mirror_"))
    );
    drop(plain);

    let server = ServerProcess::start_with(&[
        ("REDIS_URL", &redis.url()),
        ("VAULTTOKEN_MIRROR_MAX_STALENESS_MS", "500"),
    ]);
    let fresh = scrape(&server);
    for (name, kind) in MIRROR_NAMES {
        assert_eq!(
            fresh.types.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
    assert_eq!(
        fresh.value("vaulttoken_mirror_max_staleness_seconds", &[]),
        0.5
    );
    assert_eq!(
        fresh.value("vaulttoken_mirror_unexplained_gaps_total", &[]),
        0.0
    );
    assert_eq!(fresh.value("vaulttoken_mirror_rebuilds_total", &[]), 0.0);
    assert_eq!(fresh.value("vaulttoken_mirror_overflowed", &[]), 0.0);
    for outcome_of in ["answered", "stale", "unknown"] {
        assert_eq!(mirror_checks(&fresh, outcome_of), 0.0, "{outcome_of}");
    }

    // The issue's own writes (a family): until the mirror hears from a
    // later read, checks go to Redis. Each introspection is one check the
    // mirror sees, answered from memory once it is current again.
    let pair = issue(&server, "alice");
    let introspect = json!({"token": pair["access_token"]});
    let started = std::time::Instant::now();
    let mut seen = mirror_checks_seen(&scrape(&server));
    let current = loop {
        let (_, found) = post(&server, "/token/introspect", &introspect);
        assert_eq!(found["active"], true);
        let now = scrape(&server);
        assert_eq!(mirror_checks_seen(&now), seen + 1.0);
        seen += 1.0;
        if mirror_checks(&now, "answered") > 0.0 {
            break now;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "no check answered from memory: {:?}",
            now.samples
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(current.value("vaulttoken_mirror_current", &[]), 1.0);
    let staleness = current.value("vaulttoken_mirror_staleness_seconds", &[]);
    assert!((0.0..0.5).contains(&staleness), "{staleness}");
    // The family and its latest token at least.
    assert!(current.value("vaulttoken_mirror_entries", &[]) >= 1.0);
    assert!(current.value("vaulttoken_mirror_memory_bytes", &[]) > 0.0);
}

#[test]
fn a_refresh_token_grant_at_post_token_counts_as_a_refresh() {
    let server = ServerProcess::start_with(&[]);
    let pair = issue(&server, "alice");
    let grant = json!({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]});
    let (status, next) = post(&server, "/token", &grant);
    assert_eq!(status, 200, "{next}");
    let (status, _) = post(&server, "/token", &grant);
    assert_eq!(status, 400, "reuse");

    let after = scrape(&server);
    let issued = "vaulttoken_tokens_issued_total";
    assert_eq!(outcome(&after, issued, "ok"), 1.0, "only the subject grant");
    assert_eq!(after.get(issued, &[("outcome", "invalid_grant")]), None);
    let refreshed = "vaulttoken_tokens_refreshed_total";
    assert_eq!(outcome(&after, refreshed, "ok"), 1.0);
    assert_eq!(outcome(&after, refreshed, "invalid_grant"), 1.0);
}

#[test]
fn a_separate_listener_serves_the_metrics_and_the_main_one_does_not() {
    // The memory store: no Redis needed, and no shared ring to sync.
    let server = ServerProcess::start_with(&[
        ("VAULTTOKEN_METRICS_LISTEN", "127.0.0.1:0"),
        ("VAULTTOKEN_REFRESH_GRACE_SECS", "30"),
    ]);
    let port = server.metrics_port();
    assert_eq!(server.raw_request("GET", "/metrics", &[]).status, 404);
    // The metrics listener serves nothing else.
    assert_eq!(raw_request_at(port, "GET", "/healthz", &[]).status, 404);

    // A refresh token presented twice inside the grace window: a pair of
    // the same generation again, counted as a grace replay, not a reuse.
    let pair = issue(&server, "alice");
    let refresh = json!({"refresh_token": pair["refresh_token"]});
    let (first, again) = (
        post(&server, "/token/refresh", &refresh),
        post(&server, "/token/refresh", &refresh),
    );
    assert_eq!((first.0, again.0), (200, 200), "{first:?} {again:?}");

    let scraped = scrape_port(port);
    assert_eq!(
        scraped.value("vaulttoken_refresh_grace_replays_total", &[]),
        1.0
    );
    assert_eq!(
        scraped.value("vaulttoken_refresh_reuse_detected_total", &[]),
        0.0
    );
    assert_eq!(
        outcome(&scraped, "vaulttoken_tokens_refreshed_total", "ok"),
        2.0
    );
    assert_eq!(scraped.value("vaulttoken_store_up", &[]), 1.0);
    // No shared ring without Redis.
    assert!(
        scraped
            .value("vaulttoken_key_ring_sync_age_seconds", &[])
            .is_nan()
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_metrics_listener_must_differ_from_the_main_one() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let vars = server::vars(
        &server::KeyFilePath::new(),
        &[
            ("VAULTTOKEN_LISTEN", &listen),
            ("VAULTTOKEN_METRICS_LISTEN", &listen),
        ],
    );
    let err = vaulttoken_server::Config::from_vars(&vars).unwrap_err();
    assert_eq!(
        err.problems(),
        ["VAULTTOKEN_METRICS_LISTEN: must differ from VAULTTOKEN_LISTEN"]
    );
    let vars = server::vars(
        &server::KeyFilePath::new(),
        &[("VAULTTOKEN_METRICS_LISTEN", "localhost")],
    );
    let err = vaulttoken_server::Config::from_vars(&vars).unwrap_err();
    assert_eq!(
        err.problems(),
        ["VAULTTOKEN_METRICS_LISTEN: not an address:port such as 127.0.0.1:9090"]
    );
    let vars = server::vars(
        &server::KeyFilePath::new(),
        &[("VAULTTOKEN_METRICS_LISTEN", "")],
    );
    let config = vaulttoken_server::Config::from_vars(&vars).unwrap();
    assert_eq!(config.metrics_listen, None);
    // Port 0 on both: two ports the system picks, which always differ.
    let any = "127.0.0.1:0";
    let vars = server::vars(
        &server::KeyFilePath::new(),
        &[
            ("VAULTTOKEN_LISTEN", any),
            ("VAULTTOKEN_METRICS_LISTEN", any),
        ],
    );
    let config = vaulttoken_server::Config::from_vars(&vars).unwrap();
    assert_eq!(config.metrics_listen, Some(any.parse().unwrap()));
}

/// A key's age counts from when it began signing: after an announced
/// rotation (3 s here) the access key is as old as the time since its
/// promotion, while the refresh and trust keys, which rotate at once, are
/// as old as the time since the rotation, that is older by about the
/// announcement.
#[test]
fn an_announced_key_is_as_old_as_the_time_since_its_promotion() {
    // The memory store; an announcement of 1 + 1 + 1 = 3 s, access tokens of 2 s.
    let server = ServerProcess::start_with(&[
        ("VAULTTOKEN_KEYS_MAX_AGE_SECS", "1"),
        ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
        ("VAULTTOKEN_ACCESS_TTL_SECS", "2"),
    ]);
    let bearer = format!("Bearer {}", server::ADMIN);
    let (status, rotated) =
        server.request("POST", "/keys/rotate", &[("Authorization", &bearer)], None);
    assert_eq!(status, 200, "{rotated}");
    let next = rotated["next"].as_str().unwrap().to_owned();
    let started = std::time::Instant::now();
    while server::active_kid(&process::keys(&server)) != Some(next.as_str()) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the announced key was not promoted"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let scraped = scrape(&server);
    let age = |ring| scraped.value("vaulttoken_key_age_seconds", &[("ring", ring)]);
    let (access, refresh, trust) = (age("access"), age("refresh"), age("trust"));
    assert!((0.5..3.0).contains(&access), "access: {access}");
    for (ring, age) in [("refresh", refresh), ("trust", trust)] {
        assert!(
            (3.5..10.0).contains(&age) && age >= access + 2.0,
            "{ring}: {age}, access: {access}"
        );
    }
}
