//! The axum example `resource_server` with the token server's store
//! settings (`REDIS_URL` or `REDIS_CLUSTER_URLS`, `MIRROR_MAX_STALENESS_MS`),
//! as processes beside a token server on a real `redis-server` and on a real
//! Redis Cluster: a token the token server revoked
//! is refused at once through the store, and within the bound through the
//! mirror, which answers from memory; settings the token server would
//! refuse are refused, named, and no password is repeated.
//!
//! Without `redis-server` the Redis test prints `SKIPPED` and passes,
//! unless `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;
#[path = "support/resource_server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod resource_server;
#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

use std::time::{Duration, Instant};

use serde_json::json;
use vaulttoken_test_redis::{RedisCluster, RedisServer, redis_available};

use process::{ServerProcess, free_port, post};
use resource_server::{ResourceServer, refused};
use server::ISSUER;

/// The mirror's bound, in milliseconds.
const BOUND_MS: u64 = 500;

#[test]
fn a_revoked_token_is_refused_through_the_store_and_within_the_bound_through_the_mirror() {
    if !redis_available("a_revoked_token_is_refused_through_the_store_and_the_mirror") {
        return;
    }
    let redis = RedisServer::start();
    revoked_token_refused(&[("REDIS_URL", &redis.url())]);
}

#[test]
fn a_revoked_token_is_refused_the_same_way_on_a_redis_cluster() {
    if !redis_available("a_revoked_token_is_refused_the_same_way_on_a_redis_cluster") {
        return;
    }
    let cluster = RedisCluster::start();
    let urls = cluster.urls().join(",");
    revoked_token_refused(&[("REDIS_CLUSTER_URLS", &urls)]);
}

/// A token server and two resource servers on the Redis of `redis` (its
/// one setting): one checking through the store, one through a mirror.
fn revoked_token_refused(redis: &[(&str, &str); 1]) {
    let server = ServerProcess::start_with(redis);
    let keys = format!("http://127.0.0.1:{}/keys", server.port());
    let bound = BOUND_MS.to_string();
    let checked = ResourceServer::start(&keys, ISSUER, redis);
    let mirrored = ResourceServer::start(
        &keys,
        ISSUER,
        &[redis[0], ("MIRROR_MAX_STALENESS_MS", &bound)],
    );
    let (status, pair) = post(&server, "/token", &json!({"subject": "alice"}));
    assert_eq!(status, 200, "{pair}");
    let token = pair["access_token"].as_str().unwrap();
    for resource in [&checked, &mirrored] {
        let (status, _, body) = resource.get("/me", token);
        assert_eq!((status, body.as_str()), (200, "you are alice"));
    }
    let mirror = mirrored.json("/mirror/status");
    assert_eq!(mirror["current"], true, "{mirror}");
    assert!(mirror["answered"].as_u64().unwrap() >= 1, "{mirror}");
    // No mirror without the setting.
    assert_eq!(checked.get("/mirror/status", "none").0, 404);

    let (status, _) = post(&server, "/token/revoke", &json!({"token": token}));
    assert_eq!(status, 200);
    let revoked = Instant::now();
    let (status, _, body) = checked.get("/me", token);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_token"), "{body}");
    // Through the mirror: a 200 only for a request sent before the bound
    // ran out since the revocation returned.
    loop {
        let began = Instant::now();
        let (status, _, body) = mirrored.get("/me", token);
        if status == 200 {
            let late = began - revoked;
            assert!(
                late < Duration::from_millis(BOUND_MS),
                "accepted {late:?} after its revocation"
            );
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("invalid_token"), "{body}");
        break;
    }
    let after = mirrored.json("/mirror/status");
    assert!(
        after["answered"].as_u64() > mirror["answered"].as_u64(),
        "{after}"
    );
}

#[test]
fn store_settings_the_token_server_would_refuse_are_refused_without_a_password() {
    let unreachable = format!("redis://:hunter2@127.0.0.1:{}", free_port());
    let base = [
        ("KEY_SET_URL", "http://127.0.0.1:9/keys"),
        ("ISSUER", ISSUER),
    ];
    let cases: [(&[(&str, &str)], &str); 7] = [
        (
            &[
                ("REDIS_URL", &unreachable),
                ("MIRROR_MAX_STALENESS_MS", "159"),
            ],
            "MIRROR_MAX_STALENESS_MS must be from 160 to 60000 milliseconds",
        ),
        (
            &[
                ("REDIS_URL", &unreachable),
                ("MIRROR_MAX_STALENESS_MS", "60001"),
            ],
            "MIRROR_MAX_STALENESS_MS must be from 160 to 60000 milliseconds",
        ),
        (
            &[
                ("REDIS_URL", &unreachable),
                ("MIRROR_MAX_STALENESS_MS", "soon"),
            ],
            "MIRROR_MAX_STALENESS_MS must be a whole number",
        ),
        (
            &[("MIRROR_MAX_STALENESS_MS", "500")],
            "MIRROR_MAX_STALENESS_MS needs REDIS_URL or REDIS_CLUSTER_URLS",
        ),
        (
            &[
                ("REDIS_URL", &unreachable),
                ("REDIS_CLUSTER_URLS", &unreachable),
            ],
            "set either REDIS_URL or REDIS_CLUSTER_URLS, not both",
        ),
        (
            &[(
                "REDIS_CLUSTER_URLS",
                "redis://127.0.0.1:7000,,redis://127.0.0.1:7001",
            )],
            "REDIS_CLUSTER_URLS: an empty entry",
        ),
        // Redis does not answer: the store's error, never the URL.
        (&[("REDIS_URL", &unreachable)], "Unreachable"),
    ];
    for (settings, expected) in cases {
        let all: Vec<(&str, &str)> = base.iter().chain(settings).copied().collect();
        let stderr = refused(&all);
        assert!(stderr.contains(expected), "{settings:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{settings:?}: {stderr}");
    }
}
