//! The shared key ring of a fleet of server processes on one real Redis,
//! where Redis loses its data: a retired key never comes back, rotation
//! does not wedge, and a token from a key rotated in elsewhere is looked up
//! at once, at a bounded cost in Redis reads.
//!
//! Without `redis-server` the tests print `SKIPPED` and pass, unless
//! `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::{ADMIN, CLIENT, KeyFilePath};
use vaulttoken::footer::Footer;
use vaulttoken::keyring::{RingSettings, SigningKeyRing};
use vaulttoken::{Claims, LocalKey, PublicService, SecretKey};

use process::{ServerProcess, decided, keys, post};

/// Rate limits with room for every request of these tests (all from one
/// address).
const ROOMY_LIMITS: [(&str, &str); 2] = [
    ("VAULTTOKEN_RATE_LIMIT_PER_IP", "100000"),
    ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "100000"),
];

/// A server on the Redis at `redis_url` polling every `poll_secs`; only
/// the first of a fleet may create the key ring.
fn start(redis_url: &str, create: bool, poll_secs: &str) -> ServerProcess {
    let mut settings = vec![
        (
            "VAULTTOKEN_KEYRING_CREATE",
            if create { "true" } else { "false" },
        ),
        ("VAULTTOKEN_KEYS_POLL_SECS", poll_secs),
        ("REDIS_URL", redis_url),
    ];
    settings.extend_from_slice(&ROOMY_LIMITS);
    ServerProcess::start_with(&settings)
}

/// A server that starts from the key file at `file` (it may not create one).
fn start_on_file(redis_url: &str, file: &Path, poll_secs: &str) -> ServerProcess {
    let mut settings = vec![
        ("VAULTTOKEN_KEYRING_FILE", file.to_str().unwrap()),
        ("VAULTTOKEN_KEYRING_CREATE", "false"),
        ("VAULTTOKEN_KEYS_POLL_SECS", poll_secs),
        ("REDIS_URL", redis_url),
    ];
    settings.extend_from_slice(&ROOMY_LIMITS);
    ServerProcess::start_with(&settings)
}

/// Counts the reads of the shared key ring (`GET vaulttoken:server:keys`,
/// from a client or a script) that Redis executes while `during` runs, by
/// `MONITOR`.
fn ring_reads(redis: &redis_support::RedisServer, during: impl FnOnce()) -> usize {
    let log = KeyFilePath::new();
    let mut monitor = Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &redis.port().to_string(),
            "MONITOR",
        ])
        .stdout(Stdio::from(std::fs::File::create(&log.0).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = |marker: &str| {
        redis.command(&["ECHO", marker]);
        std::fs::read_to_string(&log.0)
            .unwrap()
            .contains(&format!("\"ECHO\" \"{marker}\""))
    };
    wait_until(Duration::from_secs(5), "MONITOR listens", || {
        seen("ring-reads-start")
    });
    during();
    wait_until(Duration::from_secs(5), "MONITOR caught up", || {
        seen("ring-reads-end")
    });
    monitor.kill().unwrap();
    monitor.wait().unwrap();
    let text = std::fs::read_to_string(&log.0).unwrap();
    let (_, watched) = text.split_once("ring-reads-start").unwrap();
    let (watched, _) = watched.split_once("ring-reads-end").unwrap();
    watched
        .lines()
        .filter(|line| line.contains("\"GET\" \"vaulttoken:server:keys\""))
        .count()
}

/// An admin `POST`.
fn admin(server: &ServerProcess, path: &str, body: Option<&Value>) -> (u16, Value) {
    let bearer = format!("Bearer {ADMIN}");
    decided(|| server.request("POST", path, &[("Authorization", &bearer)], body))
}

/// The kids `GET /keys` lists.
fn kids(server: &ServerProcess) -> Vec<String> {
    server::kids(&keys(server))
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The kid of the key `GET /keys` calls active.
fn active_kid(server: &ServerProcess) -> Option<String> {
    server::active_kid(&keys(server)).map(str::to_owned)
}

/// Whether introspection calls `token` active.
fn active(server: &ServerProcess, token: &str) -> bool {
    let (status, body) = decided(|| post(server, "/token/introspect", &json!({ "token": token })));
    assert_eq!(status, 200, "{body}");
    body["active"] == true
}

/// Waits until `done` holds, at most `limit`; how long it took.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

fn kek() -> LocalKey {
    LocalKey::from_paserk(&server::kek()).unwrap()
}

/// The access ring of the key document `text`, opened.
fn access_ring(text: &str) -> SigningKeyRing {
    let document: Value = serde_json::from_str(text).unwrap();
    let ring = document["access_ring"].as_str().unwrap();
    SigningKeyRing::import_wrapped(ring, &kek(), &RingSettings::new()).unwrap()
}

/// A fresh access token of the client, signed by the active key of `ring`.
fn sign(ring: SigningKeyRing) -> String {
    let claims = Claims::builder()
        .subject("mallory")
        .claim("client_id", CLIENT)
        .random_token_id()
        .expires_in(time::Duration::minutes(10))
        .build()
        .unwrap();
    PublicService::from_ring(Arc::new(ring))
        .build()
        .encode_with(&claims, &Footer::None, b"")
        .unwrap()
}

/// A retired key is in the emergency: the fleet rotated and retired it;
/// then Redis lost its data and an instance started from a key file saved
/// before the rotation. The retired key must not verify again anywhere,
/// the running instance's file must keep the newer ring, and the fleet
/// (the late instance too) must converge on the newest ring.
#[test]
fn a_retired_key_never_comes_back_when_an_old_key_file_meets_an_emptied_redis() {
    if !redis_support::redis_available(
        "a_retired_key_never_comes_back_when_an_old_key_file_meets_an_emptied_redis",
    ) {
        return;
    }
    let mut redis = redis_support::RedisServer::start();
    let url = redis.url();
    let a = start(&url, true, "1");
    let b = start(&url, false, "1");
    let old_kid = active_kid(&a).unwrap();

    // The key file as it was before the rotation, kept somewhere.
    let older = KeyFilePath::new();
    std::fs::copy(&a.key_file().0, &older.0).unwrap();
    let older_text = std::fs::read_to_string(&older.0).unwrap();

    let (status, rotated) = admin(&a, "/keys/rotate", Some(&json!({"immediately": true})));
    assert_eq!(status, 200, "{rotated}");
    let new_kid = rotated["active"].as_str().unwrap().to_owned();
    let (status, retired) = admin(&a, "/keys/retire", Some(&json!({ "kid": old_kid })));
    assert_eq!(status, 200, "{retired}");
    wait_until(Duration::from_secs(5), "B takes up the retirement", || {
        kids(&b) == [new_kid.clone()]
    });
    // A token signed now by the retired key (the leak) verifies nowhere.
    let leaked = sign(access_ring(&older_text));
    assert!(!active(&a, &leaked) && !active(&b, &leaked));

    redis.restart();
    let c = start_on_file(&url, &older.0, "1");

    // Watch the fleet for a few polls: the retired key is never listed nor
    // verifies on A or B, and every instance ends on the newest ring.
    let watch = Instant::now();
    let mut converged = None;
    while watch.elapsed() < Duration::from_secs(4) {
        for (name, server) in [("A", &a), ("B", &b)] {
            assert!(
                !kids(server).contains(&old_kid),
                "{name} lists the retired key again after {:?}",
                watch.elapsed()
            );
            assert!(
                !active(server, &leaked),
                "the retired key verifies on {name} again after {:?}",
                watch.elapsed()
            );
        }
        if converged.is_none() && kids(&c) == [new_kid.clone()] {
            converged = Some(watch.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let converged = converged.expect("C never took up the newest ring");
    eprintln!("C converged on the newest ring after {converged:?}");
    assert!(!active(&c, &leaked), "the retired key verifies on C");
    for server in [&a, &b, &c] {
        assert_eq!(active_kid(server), Some(new_kid.clone()));
    }

    // A's key file still holds the newer ring, not C's older one.
    let file = std::fs::read_to_string(&a.key_file().0).unwrap();
    let ids: Vec<String> = access_ring(&file)
        .keys()
        .into_iter()
        .map(|(id, _)| id.as_str().to_owned())
        .collect();
    assert!(!ids.iter().any(|id| id == &old_kid), "A's file: {ids:?}");
    assert!(ids.contains(&new_kid), "A's file: {ids:?}");
    // And Redis holds the newest ring again.
    let shared = redis.cli(&["GET", "vaulttoken:server:keys"]);
    let shared_ids: Vec<String> = access_ring(shared.trim_end())
        .keys()
        .into_iter()
        .map(|(id, _)| id.as_str().to_owned())
        .collect();
    assert_eq!(shared_ids, std::slice::from_ref(&new_kid));
}

/// Redis restored from a snapshot taken before a rotation and a
/// retirement: an instance that starts with the newer key file publishes
/// it over the older shared ring, and keeps its file.
#[test]
fn a_start_replaces_a_shared_ring_older_than_its_key_file() {
    if !redis_support::redis_available("a_start_replaces_a_shared_ring_older_than_its_key_file") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let a = start(&url, true, "1");
    let old_kid = active_kid(&a).unwrap();
    let snapshot = redis.cli(&["GET", "vaulttoken:server:keys"]);
    let (status, rotated) = admin(&a, "/keys/rotate", Some(&json!({"immediately": true})));
    assert_eq!(status, 200, "{rotated}");
    let (status, retired) = admin(&a, "/keys/retire", Some(&json!({ "kid": old_kid })));
    assert_eq!(status, 200, "{retired}");
    let kept = KeyFilePath::new();
    std::fs::copy(&a.key_file().0, &kept.0).unwrap();
    let newer = std::fs::read_to_string(&kept.0).unwrap();
    assert!(a.terminate().success());

    assert_eq!(
        redis
            .command(&["SET", "vaulttoken:server:keys", snapshot.trim_end()])
            .as_deref(),
        Some("+OK")
    );
    let again = start_on_file(&url, &kept.0, "1");
    assert!(
        !kids(&again).contains(&old_kid),
        "the restored snapshot brought the retired key back"
    );
    assert_eq!(std::fs::read_to_string(&kept.0).unwrap(), newer);
    assert_eq!(
        redis.cli(&["GET", "vaulttoken:server:keys"]).trim_end(),
        newer
    );
}

/// Redis restarted empty under running instances: a rotation and a
/// retirement succeed at once (the instance republishes its ring), and the
/// other instance takes each up.
#[test]
fn rotation_and_retirement_do_not_wedge_when_redis_loses_the_ring() {
    if !redis_support::redis_available(
        "rotation_and_retirement_do_not_wedge_when_redis_loses_the_ring",
    ) {
        return;
    }
    let mut redis = redis_support::RedisServer::start();
    let url = redis.url();
    let a = start(&url, true, "1");
    let b = start(&url, false, "1");
    let old_kid = active_kid(&a).unwrap();

    redis.restart();
    let (status, rotated) = admin(&a, "/keys/rotate", Some(&json!({"immediately": true})));
    assert_eq!(status, 200, "rotation after the loss: {rotated}");
    let new_kid = rotated["active"].as_str().unwrap().to_owned();
    wait_until(Duration::from_secs(5), "B takes up the rotation", || {
        active_kid(&b) == Some(new_kid.clone())
    });

    redis.restart();
    let (status, retired) = admin(&a, "/keys/retire", Some(&json!({ "kid": old_kid })));
    assert_eq!(status, 200, "retirement after the loss: {retired}");
    wait_until(Duration::from_secs(5), "B takes up the retirement", || {
        kids(&b) == [new_kid.clone()]
    });
    assert_eq!(keys(&a), keys(&b));
}

/// After a rotation on A, B (polling only every 300 s) verifies a token of
/// the new key at once; a flood of tokens naming made-up kids costs at most
/// one Redis read per second.
#[test]
fn an_unknown_kid_is_looked_up_at_once_and_a_flood_of_them_is_rate_limited() {
    if !redis_support::redis_available(
        "an_unknown_kid_is_looked_up_at_once_and_a_flood_of_them_is_rate_limited",
    ) {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let a = start(&url, true, "300");
    let b = start(&url, false, "300");
    // D polls every second and serves `/keys` from what it polled: the
    // pick-up time without the lookup.
    let d = start(&url, false, "1");

    let (status, rotated) = admin(&a, "/keys/rotate", Some(&json!({"immediately": true})));
    let rotated_at = Instant::now();
    assert_eq!(status, 200, "{rotated}");
    let new_kid = rotated["active"].as_str().unwrap().to_owned();
    let (status, pair) = post(&a, "/token", &json!({ "subject": "alice" }));
    assert_eq!(status, 200, "{pair}");
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let looked_up = Instant::now();
    assert!(
        active(&b, &token),
        "B calls a token of the new key inactive"
    );
    let with_lookup = looked_up.elapsed();
    assert_eq!(active_kid(&b), Some(new_kid.clone()));
    let by_poll = wait_until(Duration::from_secs(5), "D polls the rotation", || {
        active_kid(&d) == Some(new_kid.clone())
    });
    eprintln!(
        "pick-up after a rotation elsewhere: {with_lookup:?} with the lookup (one introspection), \
         {by_poll:?} by a 1 s poll ({:?} after the rotation)",
        rotated_at.elapsed()
    );

    // D's polls would count below.
    drop(d);

    // 200 tokens naming kids no ring holds, from 8 clients at once.
    let made_up: Vec<String> = (0..200)
        .map(|_| {
            let ring = SigningKeyRing::new(time::Duration::minutes(15)).unwrap();
            ring.promote(&ring.add(SecretKey::generate().unwrap()).unwrap())
                .unwrap();
            sign(ring)
        })
        .collect();
    // The lookup above is more than an interval ago.
    std::thread::sleep(Duration::from_millis(1100));
    let mut took = Duration::ZERO;
    let reads = ring_reads(&redis, || {
        let flood = Instant::now();
        std::thread::scope(|scope| {
            for chunk in made_up.chunks(25) {
                let b = &b;
                scope.spawn(move || {
                    for token in chunk {
                        assert!(!active(b, token));
                    }
                });
            }
        });
        took = flood.elapsed();
    });
    eprintln!("a flood of 200 made-up kids over {took:?}: {reads} read(s) of the ring");
    // Looked up, and at most once per started second of the flood.
    let bound = usize::try_from(took.as_secs()).unwrap() + 1;
    assert!((1..=bound).contains(&reads), "{reads} reads over {took:?}");
    // The real token still verifies.
    assert!(active(&b, &token));

    // A revocation on B of a token from a key rotated in on A meanwhile is
    // looked up too: it revokes, it is not skipped as an unknown token.
    std::thread::sleep(Duration::from_millis(1100));
    let (status, rotated) = admin(&a, "/keys/rotate", Some(&json!({"immediately": true})));
    assert_eq!(status, 200, "{rotated}");
    let (status, pair) = post(&a, "/token", &json!({ "subject": "bob" }));
    assert_eq!(status, 200, "{pair}");
    let (status, _) = post(
        &b,
        "/token/revoke",
        &json!({ "token": pair["access_token"] }),
    );
    assert_eq!(status, 200);
    assert!(
        !active(&a, pair["access_token"].as_str().unwrap()),
        "the revocation on B was skipped"
    );
}

/// An admin `POST` to an in-process server.
async fn admin_in_process(server: &server::Server, path: &str, body: &Value) -> server::Answer {
    let request = axum::http::Request::post(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    server::send(&server.app, request).await
}

/// The recorded events at `level` whose message contains `text`.
fn logged(
    recorder: &vaulttoken_test_redis::EventRecorder,
    level: tracing::Level,
    text: &str,
) -> usize {
    recorder
        .events()
        .iter()
        .filter(|event| event.level == level)
        .filter(|event| {
            event
                .fields
                .get("message")
                .is_some_and(|m| m.contains(text))
        })
        .count()
}

/// Waits (letting the poll run) until `done` holds, at most 10 s.
async fn settle(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the poll logs, and repairs: a shared ring that brings a retired key
/// back (`ERROR`, then `WARN` and republished), and a missing one (`WARN`,
/// republished).
#[tokio::test]
async fn a_refused_or_missing_shared_ring_is_logged_and_republished() {
    if !redis_support::redis_available("a_refused_or_missing_shared_ring_is_logged_and_republished")
    {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let redis = redis_support::RedisServer::start();
        let url = redis.url();
        let a =
            server::Server::with(&[("REDIS_URL", &url), ("VAULTTOKEN_KEYS_POLL_SECS", "1")]).await;
        let shared = || redis.cli(&["GET", "vaulttoken:server:keys"]);
        let old_kid = server::active_kid(&a.get("/keys").await.body)
            .unwrap()
            .to_owned();
        let snapshot = shared();
        let rotated = admin_in_process(&a, "/keys/rotate", &json!({"immediately": true})).await;
        assert_eq!(rotated.status, 200, "{:?}", rotated.body);
        let retired = admin_in_process(&a, "/keys/retire", &json!({ "kid": old_kid })).await;
        assert_eq!(retired.status, 200, "{:?}", retired.body);
        let newest = shared();

        let recorder = vaulttoken_test_redis::EventRecorder::default();
        let _guard = recorder.install();
        assert_eq!(
            redis
                .command(&["SET", "vaulttoken:server:keys", snapshot.trim_end()])
                .as_deref(),
            Some("+OK")
        );
        settle("the older ring is replaced", || shared() == newest).await;
        assert_eq!(
            logged(&recorder, tracing::Level::ERROR, "holds a retired key"),
            1,
            "{:?}",
            recorder.events()
        );
        assert_eq!(
            logged(&recorder, tracing::Level::WARN, "is not taken up"),
            1
        );
        assert_eq!(server::kids(&a.get("/keys").await.body).len(), 1);

        assert_eq!(
            redis.command(&["DEL", "vaulttoken:server:keys"]).as_deref(),
            Some(":1")
        );
        settle("the missing ring is republished", || shared() == newest).await;
        assert_eq!(
            logged(&recorder, tracing::Level::WARN, "missing from Redis"),
            1
        );
    })
    .await
    .unwrap();
}

/// Instances that start at once on an empty Redis, each allowed to create
/// keys, race to publish: the losers start over from the winner's ring, so
/// all serve one ring.
#[tokio::test]
async fn instances_that_start_at_once_on_an_empty_redis_agree_on_one_ring() {
    if !redis_support::redis_available(
        "instances_that_start_at_once_on_an_empty_redis_agree_on_one_ring",
    ) {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let redis = redis_support::RedisServer::start();
        let url = redis.url();
        let settings = [
            ("REDIS_URL", url.as_str()),
            ("VAULTTOKEN_KEYS_POLL_SECS", "300"),
        ];
        let (a, b, c, d) = tokio::join!(
            server::Server::with(&settings),
            server::Server::with(&settings),
            server::Server::with(&settings),
            server::Server::with(&settings),
        );
        let first = a.get("/keys").await.body;
        for other in [&b, &c, &d] {
            assert_eq!(other.get("/keys").await.body, first);
        }
        let shared = redis.cli(&["GET", "vaulttoken:server:keys"]);
        for file in [&a.file, &b.file, &c.file, &d.file] {
            assert_eq!(std::fs::read_to_string(&file.0).unwrap(), shared.trim_end());
        }
    })
    .await
    .unwrap();
}

/// A fresh access token of the client with `jti`, signed by the active key
/// of `ring`, its length as near `len` from below as the encoding allows.
fn sign_sized(ring: &Arc<SigningKeyRing>, jti: &str, len: usize) -> String {
    let service = PublicService::from_ring(Arc::clone(ring)).build();
    let mut best = String::new();
    // About 4 characters per 3 bytes: start a little below the size.
    for pad in (len * 3 / 4).saturating_sub(300)..len {
        let claims = Claims::builder()
            .subject("mallory")
            .claim("client_id", CLIENT)
            .claim("pad", "x".repeat(pad))
            .token_id(jti)
            .expires_in(time::Duration::minutes(10))
            .build()
            .unwrap();
        let token = service.encode_with(&claims, &Footer::None, b"").unwrap();
        if token.len() > len {
            break;
        }
        best = token;
    }
    best
}

/// Introspection and revocation take tokens up to 8 KiB: a valid token of
/// exactly 8192 bytes is active and revoked; one longer is neither decoded
/// nor revoked (its `jti` stays usable by a shorter token).
#[test]
fn tokens_up_to_8_kib_are_decoded_and_longer_ones_are_not() {
    if !redis_support::redis_available("tokens_up_to_8_kib_are_decoded_and_longer_ones_are_not") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let a = start(&redis.url(), true, "300");
    let ring = Arc::new(access_ring(
        &std::fs::read_to_string(&a.key_file().0).unwrap(),
    ));
    let limit = sign_sized(&ring, "jti-at-the-limit", 8192);
    assert_eq!(limit.len(), 8192);
    assert!(active(&a, &limit));
    let (status, _) = post(&a, "/token/revoke", &json!({ "token": limit }));
    assert_eq!(status, 200);
    assert!(!active(&a, &limit), "the 8192-byte token was not revoked");

    let long = sign_sized(&ring, "jti-too-long", 9000);
    assert!(long.len() > 8192);
    let short = sign_sized(&ring, "jti-too-long", 1000);
    assert!(!active(&a, &long));
    let (status, _) = post(&a, "/token/revoke", &json!({ "token": long }));
    assert_eq!(status, 200);
    assert!(active(&a, &short), "a token over 8192 bytes was revoked");
}
