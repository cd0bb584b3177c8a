//! Announced and scheduled rotation, with real server processes and
//! accelerated settings (a key set cached for 1 s, a poll every second,
//! access tokens of 2 s, so an announcement of 3 s): a new key is announced
//! before it signs, a fleet promotes it at one instant, the old key leaves
//! once its tokens expired, a schedule rotates once per period across
//! instances, and a schedule too short for the announcement is refused.
//!
//! The tests with Redis print `SKIPPED` and pass without `redis-server`,
//! unless `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::process::Command;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::{Value, json};
use server::ADMIN;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vaulttoken::clock::{Clock as _, SystemClock};

use process::{ServerProcess, decided, keys, post};

const BINARY: &str = env!("CARGO_BIN_EXE_vaulttoken-server");

/// Accelerated settings: announcement 1 + 1 + 1 = 3 s, tokens of 2 s.
const FAST: [(&str, &str); 5] = [
    ("VAULTTOKEN_KEYS_MAX_AGE_SECS", "1"),
    ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
    ("VAULTTOKEN_ACCESS_TTL_SECS", "2"),
    ("VAULTTOKEN_RATE_LIMIT_PER_IP", "100000"),
    ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "100000"),
];
/// The announcement period of [`FAST`].
const ANNOUNCEMENT: time::Duration = time::Duration::seconds(3);
/// The access-token lifetime of [`FAST`].
const ACCESS_TTL: time::Duration = time::Duration::seconds(2);
/// How far from an instant a token's key is not judged: the time one
/// request takes, and the rotation task's wake-up.
const SLACK: time::Duration = time::Duration::milliseconds(300);

fn now() -> OffsetDateTime {
    SystemClock.now()
}

fn start(extra: &[(&str, &str)]) -> ServerProcess {
    let mut settings = FAST.to_vec();
    settings.extend_from_slice(extra);
    ServerProcess::start_with(&settings)
}

/// An admin `POST /keys/rotate` with `body`.
fn rotate(server: &ServerProcess, body: Option<&Value>) -> (u16, Value) {
    let bearer = format!("Bearer {ADMIN}");
    decided(|| server.request("POST", "/keys/rotate", &[("Authorization", &bearer)], body))
}

/// A fresh access token; the instants just before and just after it was
/// asked for.
fn issue(server: &ServerProcess) -> (String, OffsetDateTime, OffsetDateTime) {
    let before = now();
    let (status, body) = decided(|| post(server, "/token", &json!({"subject": "alice"})));
    let after = now();
    assert_eq!(status, 200, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        before,
        after,
    )
}

/// The `kid` of a token's footer (read, not verified).
fn kid(token: &str) -> String {
    let footer = token.rsplit('.').next().unwrap();
    let footer: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(footer).unwrap()).unwrap();
    footer["kid"].as_str().unwrap().to_owned()
}

/// Whether introspection at `server` calls `token` active.
fn active(server: &ServerProcess, token: &str) -> bool {
    let (status, body) = decided(|| post(server, "/token/introspect", &json!({ "token": token })));
    assert_eq!(status, 200, "{body}");
    body["active"] == true
}

fn instant(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap()
}

/// The key file of `server`: each access key's status, and the retired ids.
fn key_file(server: &ServerProcess) -> (Vec<(String, String)>, Vec<String>, Value) {
    let text = std::fs::read_to_string(&server.key_file().0).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let ring: Value = serde_json::from_str(document["access_ring"].as_str().unwrap()).unwrap();
    let statuses = ring["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            (
                key["kid"].as_str().unwrap().to_owned(),
                key["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let retired = document["retired_kids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kid| kid.as_str().unwrap().to_owned())
        .collect();
    (statuses, retired, document)
}

fn status_of(server: &ServerProcess, kid: &str) -> Option<String> {
    key_file(server)
        .0
        .into_iter()
        .find(|(id, _)| id == kid)
        .map(|(_, status)| status)
}

/// Waits until `done` holds, at most `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Which key signed each token issued around `at` by `servers`: the old
/// one before it, the new one after it (within [`SLACK`]), until
/// `at + 1.5 s`. Every token verifies at every server throughout. Returns
/// the tokens issued before `at`, each with when it was asked for.
fn sample_promotion(
    servers: &[&ServerProcess],
    old: &str,
    new: &str,
    at: OffsetDateTime,
) -> Vec<(String, OffsetDateTime)> {
    let mut before = Vec::new();
    let mut after = 0;
    while now() < at + time::Duration::milliseconds(1500) {
        for issuer in servers {
            let (token, asked, answered) = issue(issuer);
            let signer = kid(&token);
            if answered < at - SLACK {
                assert_eq!(signer, old, "signed with the new key before {at}");
                before.push((token.clone(), asked));
            }
            if asked > at + SLACK {
                assert_eq!(signer, new, "signed with the old key after {at}");
                after += 1;
            }
            for verifier in servers {
                assert!(active(verifier, &token), "a fresh token was refused");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !before.is_empty() && after > 0,
        "{} before, {after} after",
        before.len()
    );
    before
}

/// (a) and (c) on one instance: after the rotation the new key is in the
/// ring as next but tokens are signed by the old one until the promotion
/// instant, then by the new one; a second rotation meanwhile is refused;
/// the old key verifies its tokens until they expired, then leaves the ring
/// and is remembered as retired.
#[test]
fn an_announced_key_signs_from_its_instant_and_the_old_one_leaves_after_its_tokens() {
    let a = start(&[]);
    let (first, _, _) = issue(&a);
    let old = kid(&first);

    let (status, rotated) = rotate(&a, None);
    let rotated_at = now();
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["active"], old.as_str());
    let new = rotated["next"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let at = instant(&rotated["promotes_at"]);
    assert!(
        at >= rotated_at + ANNOUNCEMENT - SLACK && at <= rotated_at + ANNOUNCEMENT,
        "{at}"
    );
    assert_eq!(rotated["keys"].as_array().unwrap().len(), 2);
    assert_eq!(status_of(&a, &new).as_deref(), Some("next"));
    assert_eq!(status_of(&a, &old).as_deref(), Some("active"));
    // The key set announces it, with the instant it signs from.
    let set = vaulttoken::keyring::KeySet::parse(&keys(&a).to_string()).unwrap();
    let announced = set.key(&new).expect("the next key is published");
    assert_eq!(
        announced.status(),
        vaulttoken::keyring::PublishedStatus::Next {
            signs_from: Some(at)
        }
    );

    // One announced at a time: refused, naming the one pending.
    let (status, refused) = rotate(&a, Some(&json!({})));
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["next"], new.as_str());
    assert_eq!(refused["promotes_at"], rotated["promotes_at"]);

    let before = sample_promotion(&[&a], &old, &new, at);

    // The promotion is recorded (old: previous since the instant itself).
    wait_until(Duration::from_secs(3), "the promotion is written", || {
        status_of(&a, &new).as_deref() == Some("active")
    });
    assert_eq!(status_of(&a, &old).as_deref(), Some("previous"));
    let (_, _, document) = key_file(&a);
    assert!(document.get("promotion").is_none(), "{document}");
    let since = key_file(&a).2["access_ring"].as_str().unwrap().to_owned();
    let ring: Value = serde_json::from_str(&since).unwrap();
    let old_since = ring["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == old.as_str())
        .map(|key| instant(&key["since"]))
        .unwrap();
    assert_eq!(old_since, at);

    // (c) The old key leaves once the tokens it signed expired, not before.
    let (last, issued) = before.last().unwrap();
    wait_until(Duration::from_secs(5), "the old key leaves", || {
        let (_, retired, _) = key_file(&a);
        if retired.contains(&old) {
            return true;
        }
        // Until its last token expired (whole seconds: at least a second
        // after it was issued), it verifies.
        if now() < *issued + ACCESS_TTL - time::Duration::seconds(1) {
            assert!(active(&a, last), "a token of the old key was refused early");
        }
        false
    });
    assert!(now() >= at + ACCESS_TTL, "retired early");
    assert_eq!(status_of(&a, &old), None);
    assert_eq!(status_of(&a, &new).as_deref(), Some("active"));
    // Promoted once, at its instant (not at the refused rotation before).
    let promoted: Vec<String> = a
        .log()
        .lines()
        .filter(|line| line.contains("\"key_promoted\""))
        .map(str::to_owned)
        .collect();
    assert_eq!(promoted.len(), 1, "{promoted:?}");
    let logged: Value = serde_json::from_str(&promoted[0]).unwrap();
    assert!(instant(&logged["timestamp"]) >= at, "{logged}");
}

/// Retiring the announced key drops the announcement: another rotation is
/// announced at once.
#[test]
fn retiring_the_announced_key_drops_its_announcement() {
    let a = start(&[]);
    let (status, announced) = rotate(&a, None);
    assert_eq!(status, 200, "{announced}");
    let next = announced["next"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {ADMIN}");
    let (status, retired) = decided(|| {
        a.request(
            "POST",
            "/keys/retire",
            &[("Authorization", &bearer)],
            Some(&json!({ "kid": next })),
        )
    });
    assert_eq!(status, 200, "{retired}");
    let (_, retired_kids, document) = key_file(&a);
    assert!(retired_kids.contains(&next));
    assert!(document.get("promotion").is_none(), "{document}");
    let (status, again) = rotate(&a, None);
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["next"], next.as_str());
}

/// An idle server's rotation task sleeps between its looks (a second
/// apart): it does not spin.
#[test]
fn an_idle_server_does_not_spin() {
    let a = start(&[]);
    std::thread::sleep(Duration::from_millis(500));
    let before = a.cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let used = a.cpu_ticks() - before;
    // A spinning task takes a whole core: some 200 ticks in 2 s.
    assert!(used < 50, "{used} ticks in 2 s idle");
}

/// (b) and (c) on two instances sharing Redis: the instance that did not
/// rotate publishes the next key, both sign with it from one instant, a
/// token from either verifies at the other throughout, and the old key
/// leaves both rings once its tokens expired.
#[test]
fn two_instances_promote_at_one_instant_and_verify_each_others_tokens_throughout() {
    if !redis_support::redis_available("two_instances_promote_at_one_instant") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let a = start(&[("REDIS_URL", &url)]);
    let b = start(&[("REDIS_URL", &url), ("VAULTTOKEN_KEYRING_CREATE", "false")]);
    let old = kid(&issue(&b).0);

    let (status, rotated) = rotate(&a, None);
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["next"].as_str().unwrap().to_owned();
    let at = instant(&rotated["promotes_at"]);
    // B learns of the next key by its poll, well before the instant.
    wait_until(Duration::from_secs(3), "B holds the next key", || {
        status_of(&b, &new).as_deref() == Some("next")
    });
    assert!(now() < at - SLACK);

    sample_promotion(&[&a, &b], &old, &new, at);

    for instance in [&a, &b] {
        wait_until(Duration::from_secs(6), "the old key leaves", || {
            key_file(instance).1.contains(&old)
        });
        assert_eq!(status_of(instance, &old), None);
        assert_eq!(status_of(instance, &new).as_deref(), Some("active"));
    }
    assert!(now() >= at + ACCESS_TTL, "retired early");
}

/// The emergency path: one call promotes a new key at once and removes the
/// leaked one; its tokens stop verifying at once, and an announced key is
/// dropped with its announcement.
#[test]
fn the_emergency_rotation_promotes_at_once_and_retires_the_leaked_key() {
    let a = start(&[]);
    let (leaked_token, _, _) = issue(&a);
    let leaked = kid(&leaked_token);
    let (status, announced) = rotate(&a, None);
    assert_eq!(status, 200, "{announced}");
    let announced = announced["next"].as_str().unwrap().to_owned();

    // `retire` alone is refused: it needs `immediately`.
    let (status, refused) = rotate(&a, Some(&json!({ "retire": leaked })));
    assert_eq!(status, 400, "{refused}");
    let (status, refused) = rotate(
        &a,
        Some(&json!({ "immediately": true, "retire": "k4.pid.nope" })),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(status_of(&a, &leaked).as_deref(), Some("active"));

    let (status, rotated) = rotate(&a, Some(&json!({ "immediately": true, "retire": leaked })));
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["active"].as_str().unwrap().to_owned();
    assert!(rotated.get("next").is_none(), "{rotated}");
    let retired: Vec<&str> = rotated["retired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kid| kid.as_str().unwrap())
        .collect();
    assert!(retired.contains(&leaked.as_str()) && retired.contains(&announced.as_str()));
    assert_eq!(rotated["keys"], json!([new]));
    assert!(
        !active(&a, &leaked_token),
        "a token of the leaked key still verifies"
    );
    assert_eq!(kid(&issue(&a).0), new);
    let (statuses, retired, document) = key_file(&a);
    assert_eq!(statuses, vec![(new, "active".to_owned())]);
    assert!(retired.contains(&leaked));
    assert!(document.get("promotion").is_none(), "{document}");
}

/// (d) A schedule across two instances: one rotation per period, each
/// announced before it signs; tokens of either instance verify at the
/// other throughout.
#[test]
fn a_scheduled_rotation_happens_once_per_period_across_two_instances() {
    if !redis_support::redis_available("a_scheduled_rotation_happens_once") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    // 1 + 1 + 1 s of announcement + 2 s tokens = 5 s: every 6 s is allowed.
    let fast = [
        ("REDIS_URL", url.as_str()),
        ("VAULTTOKEN_ROTATE_EVERY", "6"),
    ];
    let a = start(&fast);
    let mut later = fast.to_vec();
    later.push(("VAULTTOKEN_KEYRING_CREATE", "false"));
    let b = start(&later);

    let started = Instant::now();
    let mut rotations: Vec<OffsetDateTime> = Vec::new();
    let mut signers = std::collections::BTreeSet::new();
    while started.elapsed() < Duration::from_secs(15) {
        let (_, _, document) = key_file(&a);
        if let Some(at) = document.get("rotated_at") {
            let at = instant(at);
            if rotations.last() != Some(&at) {
                rotations.push(at);
            }
        }
        for (issuer, verifier) in [(&a, &b), (&b, &a)] {
            let (token, _, _) = issue(issuer);
            signers.insert(kid(&token));
            assert!(active(verifier, &token), "a fresh token was refused");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rotations.len() >= 2, "{rotations:?}");
    for pair in rotations.windows(2) {
        assert!(
            pair[1] - pair[0] >= time::Duration::seconds(6),
            "{rotations:?}"
        );
    }
    // Each rotation was made by one instance only.
    let made = |server: &ServerProcess| {
        server
            .log()
            .lines()
            .filter(|line| line.contains("keys_rotated") && line.contains("\"scheduled\":true"))
            .count()
    };
    let (made_a, made_b) = (made(&a), made(&b));
    assert!(
        made_a + made_b == rotations.len() || made_a + made_b == rotations.len() + 1,
        "{made_a} + {made_b} rotations for {rotations:?}"
    );
    // Announced keys went on to sign.
    assert!(signers.len() >= 2, "{signers:?}");
}

/// (e) A schedule no longer than the announcement period plus the token
/// lifetime is refused at start, naming the settings.
#[test]
fn a_schedule_shorter_than_announcement_and_token_lifetime_is_refused_at_start() {
    let file = server::KeyFilePath::new();
    // 1 + 1 + 1 s of announcement + 2 s tokens = 5 s: 5 is not enough.
    let output = Command::new(BINARY)
        .env_clear()
        .envs(server::vars(
            &file,
            &[
                ("VAULTTOKEN_KEYS_MAX_AGE_SECS", "1"),
                ("VAULTTOKEN_KEYS_POLL_SECS", "1"),
                ("VAULTTOKEN_ACCESS_TTL_SECS", "2"),
                ("VAULTTOKEN_ROTATE_EVERY", "5"),
            ],
        ))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    for name in [
        "VAULTTOKEN_ROTATE_EVERY",
        "VAULTTOKEN_KEYS_MAX_AGE_SECS",
        "VAULTTOKEN_KEYS_POLL_SECS",
        "VAULTTOKEN_ACCESS_TTL_SECS",
    ] {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
    assert!(stderr.contains("more than 5 s"), "{stderr}");
    assert!(!file.0.exists(), "no key file is made");
}
