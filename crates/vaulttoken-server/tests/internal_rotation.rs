//! The internal keys rotate with the access keys, with a real server
//! process: a refresh token and a trust token issued before a rotation
//! are still taken after it, new ones carry the new key's `kid`, and the
//! key file holds a refresh ring per client and a trust ring; a key file of
//! an earlier version (one refresh key per client) is read with that key as
//! a legacy key, which still opens the refresh tokens it sealed without a
//! `kid`.
//!
//! The test with Redis prints `SKIPPED` and passes without `redis-server`,
//! unless `VAULTTOKEN_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::{Value, json};
use server::ADMIN;

use process::{ServerProcess, decided, post};
use server::KeyFilePath;
use std::sync::Arc;
use vaulttoken::LocalKey;
use vaulttoken::family::RefreshFamilies;
use vaulttoken_redis::{RedisStore, StoreOptions};
use vaulttoken_test_redis as redis_support;

/// The `kid` of a token's footer (read, not verified).
fn kid(token: &Value) -> String {
    let footer = token.as_str().unwrap().rsplit('.').next().unwrap();
    let footer: Value =
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(footer).unwrap()).unwrap();
    footer["kid"].as_str().unwrap().to_owned()
}

/// An admin `POST /keys/rotate` with `body`; the answer.
fn rotate(server: &ServerProcess, body: &Value) -> Value {
    let bearer = format!("Bearer {ADMIN}");
    let (status, answer) = decided(|| {
        server.request(
            "POST",
            "/keys/rotate",
            &[("Authorization", &bearer)],
            Some(body),
        )
    });
    assert_eq!(status, 200, "{answer}");
    answer
}

fn refresh(server: &ServerProcess, token: &Value) -> Value {
    let (status, pair) =
        decided(|| post(server, "/token/refresh", &json!({ "refresh_token": token })));
    assert_eq!(status, 200, "{pair}");
    pair
}

fn trust(server: &ServerProcess) -> Value {
    let (status, issued) = decided(|| {
        post(
            server,
            "/trust/org_invitation",
            &json!({ "subject": "bob" }),
        )
    });
    assert_eq!(status, 200, "{issued}");
    issued["token"].clone()
}

/// The ids of the keys of each internal ring of the key file.
fn internal_rings(server: &ServerProcess) -> (Vec<String>, Vec<String>) {
    internal_rings_in(&server.key_file().0)
}

/// [`internal_rings`] of the key file at `path`.
fn internal_rings_in(path: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let ids = |ring: &Value| -> Vec<String> {
        let ring: Value = serde_json::from_str(ring.as_str().unwrap()).unwrap();
        ring["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    (
        ids(&document["refresh_rings"][server::CLIENT]),
        ids(&document["trust_ring"]),
    )
}

#[test]
fn refresh_and_trust_tokens_sealed_before_a_rotation_are_taken_after_it() {
    let server = ServerProcess::start_with(&[
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "100000"),
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "100000"),
    ]);
    let (status, pair) = decided(|| post(&server, "/token", &json!({ "subject": "alice" })));
    assert_eq!(status, 200, "{pair}");
    let first = kid(&pair["refresh_token"]);
    assert!(first.starts_with("k4.lid."), "{first}");
    let invite = trust(&server);
    let first_trust = kid(&invite);
    assert_eq!(
        internal_rings(&server),
        (vec![first.clone()], vec![first_trust.clone()])
    );

    // The emergency rotation: the internal keys rotate with it, at once.
    rotate(&server, &json!({ "immediately": true }));
    let next = refresh(&server, &pair["refresh_token"]);
    let second = kid(&next["refresh_token"]);
    assert_ne!(second, first);
    let (refresh_ids, trust_ids) = internal_rings(&server);
    assert!(refresh_ids.contains(&first) && refresh_ids.contains(&second));
    assert_eq!(refresh_ids.len(), 2);
    assert_eq!(trust_ids.len(), 2);
    assert!(trust_ids.contains(&first_trust));

    // An announced rotation: the access key waits, the internal keys do not.
    rotate(&server, &json!({}));
    let third_pair = refresh(&server, &next["refresh_token"]);
    let third = kid(&third_pair["refresh_token"]);
    assert!(third != first && third != second, "{third}");
    let fresh_invite = trust(&server);
    assert!(!trust_ids.contains(&kid(&fresh_invite)));

    // The invitation sent before both rotations is spent after them.
    let (status, spent) = decided(|| {
        post(
            &server,
            "/trust/consume",
            &json!({ "token": invite, "kind": "org_invitation" }),
        )
    });
    assert_eq!(status, 200, "{spent}");
    assert_eq!(spent["sub"], "bob", "{spent}");
}

#[test]
fn an_internal_key_leaves_once_the_longest_family_it_sealed_has_ended() {
    let server = ServerProcess::start_with(&[
        ("VAULTTOKEN_ACCESS_TTL_SECS", "1"),
        ("VAULTTOKEN_REFRESH_TTL_SECS", "2"),
        ("VAULTTOKEN_FAMILY_TTL_SECS", "3"),
    ]);
    let (status, pair) = decided(|| post(&server, "/token", &json!({ "subject": "alice" })));
    assert_eq!(status, 200, "{pair}");
    let first = kid(&pair["refresh_token"]);
    rotate(&server, &json!({ "immediately": true }));
    let rotated_at = std::time::Instant::now();
    let (refresh_ids, trust_ids) = internal_rings(&server);
    assert_eq!(refresh_ids.len(), 2, "{refresh_ids:?}");
    assert!(refresh_ids.contains(&first));

    // The rotation task retires it within a tick of the family lifetime.
    loop {
        let (refresh_ids, now_trust) = internal_rings(&server);
        if refresh_ids.len() == 1 {
            // Not before its family could have ended (3 s, less a request).
            let waited = rotated_at.elapsed();
            assert!(
                waited >= std::time::Duration::from_millis(2_500),
                "retired too early: {waited:?}"
            );
            assert!(!refresh_ids.contains(&first), "{refresh_ids:?}");
            // Trust tokens live 7 days: that ring keeps both keys.
            assert_eq!(now_trust, trust_ids);
            break;
        }
        let waited = rotated_at.elapsed();
        assert!(
            waited < std::time::Duration::from_secs(10),
            "not retired after {waited:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (status, refused) = post(
        &server,
        "/token/refresh",
        &json!({ "refresh_token": pair["refresh_token"] }),
    );
    assert_eq!(status, 400, "{refused}");
}

/// A refresh token as an earlier version sealed it: with `key`, no `kid`,
/// its family recorded in the Redis at `url`.
fn sealed_before_rings(url: &str, key: LocalKey) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            let store = RedisStore::connect(url, StoreOptions::default())
                .await
                .unwrap();
            let families = RefreshFamilies::builder(key, Arc::new(store)).build();
            families.issue("alice").await.unwrap().refresh
        })
        .await
        .unwrap()
    })
}

#[test]
fn a_key_file_from_before_rings_keeps_opening_the_refresh_tokens_it_sealed() {
    if !redis_support::redis_available("a_key_file_from_before_rings") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    // A key document of this server, made into one of an earlier version:
    // one refresh key for the client, one trust key, no rings.
    let first = ServerProcess::start(&url);
    let text = std::fs::read_to_string(&first.key_file().0).unwrap();
    let _ = first.terminate();
    let kek = LocalKey::from_paserk(&server::kek()).unwrap();
    let old = LocalKey::generate().unwrap();
    let old_id = old.paserk_id().unwrap().as_str().to_owned();
    let mut document: Value = serde_json::from_str(&text).unwrap();
    let fields = document.as_object_mut().unwrap();
    fields.remove("refresh_rings");
    fields.remove("trust_ring");
    fields.insert(
        "refresh_keys".into(),
        json!({ server::CLIENT: old.to_paserk_wrapped(&kek).unwrap() }),
    );
    let trust = LocalKey::generate().unwrap();
    fields.insert(
        "trust_key".into(),
        json!(trust.to_paserk_wrapped(&kek).unwrap()),
    );
    let file = KeyFilePath::new();
    std::fs::write(&file.0, document.to_string()).unwrap();
    assert_eq!(
        redis.command(&["DEL", "vaulttoken:server:keys"]).as_deref(),
        Some(":1")
    );

    let path = file.0.to_str().unwrap().to_owned();
    let server = ServerProcess::start_with(&[
        ("REDIS_URL", url.as_str()),
        ("VAULTTOKEN_KEYRING_FILE", path.as_str()),
        ("VAULTTOKEN_KEYRING_CREATE", "false"),
    ]);
    let legacy_token = Value::from(sealed_before_rings(
        &url,
        LocalKey::from_paserk_wrapped(&old.to_paserk_wrapped(&kek).unwrap(), &kek).unwrap(),
    ));
    let stranger = Value::from(sealed_before_rings(&url, LocalKey::generate().unwrap()));

    // Kid-less, sealed by the old key: refreshed, into a token naming it.
    let next = refresh(&server, &legacy_token);
    assert_eq!(kid(&next["refresh_token"]), old_id);
    // Kid-less, sealed by another key: refused.
    let (status, refused) = post(
        &server,
        "/token/refresh",
        &json!({ "refresh_token": stranger }),
    );
    assert_eq!(status, 400, "{refused}");

    // A rotation: the old key stays in the ring, and with it the legacy key.
    rotate(&server, &json!({ "immediately": true }));
    let after = refresh(&server, &next["refresh_token"]);
    assert_ne!(kid(&after["refresh_token"]), old_id);
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&file.0).unwrap()).unwrap();
    assert!(
        document["refresh_rings"][server::CLIENT].is_string(),
        "{document}"
    );
    assert!(
        document["refresh_keys"][server::CLIENT].is_string(),
        "{document}"
    );
    let (refresh_ids, trust_ids) = internal_rings_in(&file.0);
    assert!(refresh_ids.contains(&old_id), "{refresh_ids:?}");
    assert!(trust_ids.contains(&trust.paserk_id().unwrap().as_str().to_owned()));
}
