//! Two instances on one real Redis: shared revocation and refresh families,
//! and the shared key ring (rotation on one reaches the other by polling).
//!
//! Without `redis-server` the tests print `SKIPPED` and pass, unless
//! `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use server::{ADMIN, Answer, CLIENT, KeyFilePath, SECRET, from_peer, post, send};
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken_server::{Config, app, connect_store};

struct Instance {
    app: Router,
    _file: KeyFilePath,
}

async fn instance(redis_url: &str, poll_secs: &str, create: bool) -> Instance {
    instance_with(redis_url, poll_secs, create, &[]).await
}

async fn instance_with(
    redis_url: &str,
    poll_secs: &str,
    create: bool,
    extra: &[(&str, &str)],
) -> Instance {
    let file = KeyFilePath::new();
    let create = if create { "true" } else { "false" };
    let mut all = vec![
        ("REDIS_URL", redis_url),
        ("VAULTTOKEN_KEYS_POLL_SECS", poll_secs),
        ("VAULTTOKEN_KEYRING_CREATE", create),
    ];
    all.extend_from_slice(extra);
    let vars = server::vars(&file, &all);
    let config = Config::from_vars(&vars).unwrap();
    let store = connect_store(&config).await.unwrap();
    let app = app(config, store).await.unwrap();
    Instance { app, _file: file }
}

async fn call(instance: &Instance, path: &str, body: &Value) -> Answer {
    send(&instance.app, post(path, body)).await
}

fn auth(mut body: Value) -> Value {
    body["client_id"] = json!(CLIENT);
    body["client_secret"] = json!(SECRET);
    body
}

async fn keys(instance: &Instance) -> Value {
    send(&instance.app, server::get("/keys")).await.body
}

async fn rotate(instance: &Instance) -> Answer {
    let request = Request::post("/keys/rotate")
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::from(r#"{"immediately": true}"#))
        .unwrap();
    send(&instance.app, request).await
}

#[tokio::test]
async fn two_instances_share_families_revocations_and_the_key_ring() {
    if !redis_support::redis_available("two_instances_share_families_revocations_and_the_key_ring")
    {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let a = instance(&redis.url(), "1", true).await;
    // B has no key file and may not create one: its keys come from Redis.
    let b = instance(&redis.url(), "1", false).await;
    assert_eq!(keys(&a).await, keys(&b).await);

    // Refresh on A, present the old refresh token on B: reuse, family revoked on both.
    let first = call(&a, "/token", &auth(json!({"subject": "alice"})))
        .await
        .body;
    let second = call(
        &a,
        "/token/refresh",
        &auth(json!({"refresh_token": first["refresh_token"]})),
    )
    .await;
    assert_eq!(second.status, StatusCode::OK);
    let reuse = call(
        &b,
        "/token/refresh",
        &auth(json!({"refresh_token": first["refresh_token"]})),
    )
    .await;
    assert_eq!(reuse.error(), "invalid_grant");
    assert_eq!(
        reuse.body["error_description"],
        "refresh token reused: its family is revoked"
    );
    for instance in [&a, &b] {
        let newest = call(
            instance,
            "/token/refresh",
            &auth(json!({"refresh_token": second.body["refresh_token"]})),
        )
        .await;
        assert_eq!(newest.error(), "invalid_grant");
        let found = call(
            instance,
            "/token/introspect",
            &auth(json!({"token": second.body["access_token"]})),
        )
        .await;
        assert_eq!(found.body["active"], false);
    }

    // A revocation on B holds on A.
    let pair = call(&a, "/token", &auth(json!({"subject": "bob"})))
        .await
        .body;
    let revoked = call(
        &b,
        "/token/revoke",
        &auth(json!({"token": pair["access_token"]})),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let found = call(
        &a,
        "/token/introspect",
        &auth(json!({"token": pair["access_token"]})),
    )
    .await;
    assert_eq!(found.body["active"], false);

    // Rotate on A: B serves the new key from /keys within the poll bound.
    let rotated = rotate(&a).await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let new_kid = rotated.body["active"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        if server::active_kid(&keys(&b).await) == Some(new_kid.as_str()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B never took up the rotation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(keys(&a).await, keys(&b).await);
    // A token A signs with the new key verifies on B.
    let fresh = call(&a, "/token", &auth(json!({"subject": "carol"})))
        .await
        .body;
    let found = call(
        &b,
        "/token/introspect",
        &auth(json!({"token": fresh["access_token"]})),
    )
    .await;
    assert_eq!(found.body["sub"], "carol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_with_a_revocation_mirror_see_each_others_revocations_within_its_bound() {
    if !redis_support::redis_available(
        "instances_with_a_revocation_mirror_see_each_others_revocations_within_its_bound",
    ) {
        return;
    }
    const BOUND: Duration = Duration::from_millis(500);
    let redis = redis_support::RedisServer::start();
    let mirror = [("VAULTTOKEN_MIRROR_MAX_STALENESS_MS", "500")];
    let a = instance_with(&redis.url(), "1", true, &mirror).await;
    let b = instance_with(&redis.url(), "1", false, &mirror).await;
    let pair = call(&a, "/token", &auth(json!({"subject": "alice"})))
        .await
        .body;
    let introspect = auth(json!({"token": pair["access_token"]}));
    assert_eq!(
        call(&b, "/token/introspect", &introspect).await.body["active"],
        true
    );
    let revoked = call(
        &a,
        "/token/revoke",
        &auth(json!({"token": pair["access_token"]})),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    // A reads its own revocation at once; B within the bound.
    assert_eq!(
        call(&a, "/token/introspect", &introspect).await.body["active"],
        false
    );
    let since = Instant::now();
    loop {
        let found = call(&b, "/token/introspect", &introspect).await;
        if found.body["active"] == false {
            break;
        }
        assert!(since.elapsed() < BOUND, "B still active past the bound");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The refresh family's revocation (reuse on B) holds on A.
    let second = call(
        &a,
        "/token/refresh",
        &auth(json!({"refresh_token": pair["refresh_token"]})),
    )
    .await;
    assert_eq!(second.status, StatusCode::OK);
    let reuse = call(
        &b,
        "/token/refresh",
        &auth(json!({"refresh_token": pair["refresh_token"]})),
    )
    .await;
    assert_eq!(reuse.error(), "invalid_grant");
    tokio::time::sleep(BOUND).await;
    let found = call(
        &a,
        "/token/introspect",
        &auth(json!({"token": second.body["access_token"]})),
    )
    .await;
    assert_eq!(found.body["active"], false);
}

#[tokio::test]
async fn a_rotation_on_a_stale_instance_is_refused_and_takes_up_the_new_ring() {
    if !redis_support::redis_available(
        "a_rotation_on_a_stale_instance_is_refused_and_takes_up_the_new_ring",
    ) {
        return;
    }
    let redis = redis_support::RedisServer::start();
    // Polls too slow to matter here.
    let a = instance(&redis.url(), "300", true).await;
    let b = instance(&redis.url(), "300", false).await;
    let rotated = rotate(&a).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let stale = rotate(&b).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.error(), "conflict");
    // B took up A's ring at once, and now rotates from it.
    assert_eq!(keys(&b).await, keys(&a).await);
    let again = rotate(&b).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["keys"].as_array().unwrap().len(), 3);
}

async fn from(instance: &Instance, body: &Value, peer: &str) -> Answer {
    send(
        &instance.app,
        from_peer(post("/token/introspect", body), peer),
    )
    .await
}

#[tokio::test]
async fn rate_limits_hold_across_instances_and_fail_closed_without_redis() {
    if !redis_support::redis_available(
        "rate_limits_hold_across_instances_and_fail_closed_without_redis",
    ) {
        return;
    }
    let mut redis = redis_support::RedisServer::start();
    let limits = [
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "3"),
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "4"),
        ("VAULTTOKEN_RATE_LIMIT_WINDOW_SECS", "3600"),
    ];
    // Windows are aligned to the clock: all the counts below must fall
    // into one hour, so in the last half minute of one, wait for the next.
    let into_hour = SystemClock.now().unix_timestamp().rem_euclid(3600);
    if into_hour >= 3600 - 30 {
        tokio::time::sleep(Duration::from_secs(3601 - into_hour.unsigned_abs())).await;
    }
    let a = instance_with(&redis.url(), "300", true, &limits).await;
    let b = instance_with(&redis.url(), "300", false, &limits).await;
    let good = auth(json!({"token": "x"}));

    // Per IP: 3 between both instances.
    for instance in [&a, &b, &a] {
        assert_eq!(
            from(instance, &good, "192.0.2.1:1").await.status,
            StatusCode::OK
        );
    }
    let limited = from(&b, &good, "192.0.2.1:2").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");

    // Per client: 4, the client's 3 requests above included; a failed
    // secret would count twice, so a fresh client count is needed: the
    // other client.
    let other = json!({"client_id": server::OTHER_CLIENT, "client_secret": "wrong-secret-0123456789", "token": "x"});
    let other_good = json!({"client_id": server::OTHER_CLIENT, "client_secret": server::OTHER_SECRET, "token": "x"});
    assert_eq!(
        from(&a, &other, "192.0.2.10:1").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        from(&b, &other_good, "192.0.2.11:1").await.status,
        StatusCode::OK
    );
    assert_eq!(
        from(&a, &other_good, "192.0.2.12:1").await.status,
        StatusCode::OK
    );
    // 2 + 1 + 1 = 4.
    assert_eq!(
        from(&b, &other_good, "192.0.2.13:1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The main client had 3: one more passes, then it is limited too.
    assert_eq!(from(&a, &good, "192.0.2.14:1").await.status, StatusCode::OK);
    assert_eq!(
        from(&b, &good, "192.0.2.15:1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Redis gone: limited endpoints answer 503, they do not let everything through.
    redis.kill();
    let down = from(&a, &good, "192.0.2.20:1").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.header("retry-after"), "1");
}

/// With Redis, a start that may not create keys, with no key file and no
/// shared document, is refused rather than making a new ring.
#[tokio::test]
async fn an_instance_that_may_not_create_keys_refuses_an_empty_redis() {
    if !redis_support::redis_available(
        "an_instance_that_may_not_create_keys_refuses_an_empty_redis",
    ) {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let file = KeyFilePath::new();
    let url = redis.url();
    let vars = server::vars(
        &file,
        &[("REDIS_URL", &url), ("VAULTTOKEN_KEYRING_CREATE", "false")],
    );
    let config = Config::from_vars(&vars).unwrap();
    let store = connect_store(&config).await.unwrap();
    let refused = app(config, store).await.unwrap_err();
    assert!(
        refused.to_string().contains("the key file does not exist"),
        "{refused}"
    );
    assert_eq!(
        redis
            .command(&["EXISTS", "vaulttoken:server:keys"])
            .as_deref(),
        Some(":0")
    );
    assert!(!file.0.exists());
}

/// Redis lost the shared ring (a restart without persistence): the next
/// instance to start publishes the copy in its key file again, so the
/// others keep the same keys.
#[tokio::test]
async fn a_start_republishes_the_key_file_when_redis_lost_the_ring() {
    if !redis_support::redis_available("a_start_republishes_the_key_file_when_redis_lost_the_ring")
    {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let file = KeyFilePath::new();
    let start = async |create: &str| {
        let vars = server::vars(
            &file,
            &[("REDIS_URL", &url), ("VAULTTOKEN_KEYRING_CREATE", create)],
        );
        let config = Config::from_vars(&vars).unwrap();
        let store = connect_store(&config).await.unwrap();
        app(config, store).await.unwrap()
    };
    let first = start("true").await;
    let published = send(&first, server::get("/keys")).await.body;
    assert_eq!(
        redis.command(&["DEL", "vaulttoken:server:keys"]).as_deref(),
        Some(":1")
    );

    let again = start("false").await;
    assert_eq!(
        redis
            .command(&["EXISTS", "vaulttoken:server:keys"])
            .as_deref(),
        Some(":1")
    );
    assert_eq!(send(&again, server::get("/keys")).await.body, published);
    // An instance with no key file of its own gets the same ring from Redis.
    let other = instance(&url, "1", false).await;
    assert_eq!(keys(&other).await, published);
}
