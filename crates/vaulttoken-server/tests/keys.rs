//! `GET /keys`, `POST /keys/rotate`, `GET /healthz`, request ids.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use server::{ADMIN, Answer, ISSUER, Server, send};
use vaulttoken::PublicService;
use vaulttoken::keyring::{KeySet, KeySetPurpose, PublishedStatus, RingSettings};
use vaulttoken::rules::RuleSet;
use vaulttoken::store::MemoryStore;

async fn rotate(server: &Server, authorization: Option<&str>) -> Answer {
    let mut request = Request::post("/keys/rotate");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    // The emergency form: promoted at once (an announced rotation is
    // tested in rotation.rs).
    let body = Body::from(r#"{"immediately": true}"#);
    send(&server.app, request.body(body).unwrap()).await
}

/// A verifier built from `GET /keys` alone, as a resource server would.
fn verifier(keys: &Value) -> PublicService {
    server::verifier(keys, RuleSet::default())
}

#[tokio::test]
async fn keys_is_the_key_set_of_the_ring_and_may_be_cached() {
    let server = Server::new().await;
    let answer = server.get("/keys").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("cache-control"), "public, max-age=300");
    assert_eq!(answer.header("content-type"), "application/json");
    let set = KeySet::parse(&answer.body.to_string()).unwrap();
    assert_eq!(set.issuer(), ISSUER);
    assert_eq!(set.purpose(), KeySetPurpose::Public);
    assert_eq!(set.cache_time(), time::Duration::seconds(300));
    assert_eq!(set.keys().len(), 1);
    let active = set.active().unwrap();
    assert!(active.kid().as_str().starts_with("k4.pid."));
    assert_eq!(
        active.public_key().unwrap().paserk_id().unwrap(),
        *active.kid()
    );
    let text = answer.body.to_string();
    assert!(!text.contains("k4.secret") && !text.contains("wrap"));

    // The published key verifies the server's access tokens.
    let pair = server.issue("alice").await;
    let token = verifier(&answer.body)
        .decode(pair["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(token.claims().subject(), Some("alice"));
    assert_eq!(token.claims().issuer(), Some(ISSUER));
}

#[tokio::test]
async fn keys_of_local_access_tokens_publish_ids_only() {
    let server = Server::with(&[
        ("VAULTTOKEN_ACCESS_PURPOSE", "local"),
        ("VAULTTOKEN_KEYS_MAX_AGE_SECS", "60"),
    ])
    .await;
    let answer = server.get("/keys").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("cache-control"), "public, max-age=60");
    let kid = answer.body["keys"][0]["kid"].as_str().unwrap();
    assert!(kid.starts_with("k4.lid."), "{kid}");
    assert_eq!(
        answer.body,
        serde_json::json!({
            "version": 1,
            "issuer": ISSUER,
            "purpose": "local",
            "cache_seconds": 60,
            "keys": [{"kid": kid, "status": "active"}],
        })
    );
    let set = KeySet::parse(&answer.body.to_string()).unwrap();
    assert_eq!(set.purpose(), KeySetPurpose::Local);
}

#[tokio::test]
async fn rotate_needs_the_admin_bearer_secret() {
    let server = Server::new().await;
    let wrong = format!("Bearer {ADMIN}x");
    let client = format!("Basic {ADMIN}");
    for authorization in [
        None,
        Some("Bearer "),
        Some(wrong.as_str()),
        Some(client.as_str()),
    ] {
        let answer = rotate(&server, authorization).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(answer.error(), "invalid_token");
        assert!(answer.header("www-authenticate").starts_with("Bearer"));
    }
    assert_eq!(server::kids(&server.get("/keys").await.body).len(), 1);
}

#[tokio::test]
async fn rotate_is_off_without_an_admin_secret() {
    let file = server::KeyFilePath::new();
    let mut vars = server::vars(&file, &[]);
    vars.remove("VAULTTOKEN_ADMIN_SECRET");
    let config = vaulttoken_server::Config::from_vars(&vars).unwrap();
    let app = vaulttoken_server::app(config, Arc::new(MemoryStore::new()))
        .await
        .unwrap();
    let request = Request::post("/keys/rotate")
        .header("authorization", "Bearer ")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotate_promotes_a_new_key_keeps_the_old_one_and_saves_the_ring() {
    let server = Server::new().await;
    let before = server.get("/keys").await.body;
    let old_kid = server::active_kid(&before).unwrap().to_owned();
    let old_token = server.issue("alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let answer = rotate(&server, Some(&format!("Bearer {ADMIN}"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let new_kid = answer.body["active"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(answer.body["keys"].as_array().unwrap().len(), 2);

    let after = server.get("/keys").await.body;
    let set = KeySet::parse(&after.to_string()).unwrap();
    assert_eq!(set.active().unwrap().kid().as_str(), new_kid);
    let old = set.key(&old_kid).unwrap();
    assert!(matches!(old.status(), PublishedStatus::Retiring { .. }));
    assert!(old.public_key().is_some());
    // Old tokens still verify; new ones are signed with the new key.
    assert_eq!(server.introspect(&old_token).await["active"], true);
    let new_token = server.issue("bob").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let verifier = verifier(&after);
    assert_eq!(
        verifier.untrusted_key_id(&new_token).unwrap().as_deref(),
        Some(new_kid.as_str())
    );
    verifier.decode(&new_token).unwrap();

    // The ring was saved: a server started on the same file has both keys.
    let restarted = Server::over(
        &server.file,
        &[("VAULTTOKEN_KEYRING_CREATE", "false")],
        Arc::new(MemoryStore::new()),
    )
    .await;
    let reloaded = send(&restarted, server::get("/keys")).await.body;
    assert_eq!(reloaded, after);
}

#[tokio::test]
async fn healthz_answers_and_every_response_has_a_request_id() {
    let server = Server::new().await;
    let answer = server.get("/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "ok");
    let generated = answer.header("x-request-id").to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    // A caller's id is kept, on errors and unknown paths too.
    for path in ["/healthz", "/nowhere"] {
        let request = Request::get(path)
            .header("x-request-id", "trace-42")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&server.app, request).await.header("x-request-id"),
            "trace-42"
        );
    }
    let refused = rotate(&server, None).await;
    assert!(!refused.header("x-request-id").is_empty());
}

async fn retire(server: &Server, authorization: Option<&str>, kid: &str) -> Answer {
    let mut request = Request::post("/keys/retire").header("content-type", "application/json");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let body = Body::from(serde_json::json!({ "kid": kid }).to_string());
    send(&server.app, request.body(body).unwrap()).await
}

#[tokio::test]
async fn retire_removes_a_compromised_key_at_once_but_never_the_active_one() {
    let server = Server::new().await;
    let admin = format!("Bearer {ADMIN}");
    let old_kid = server::active_kid(&server.get("/keys").await.body)
        .unwrap()
        .to_owned();
    let old_token = server.issue("alice").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(
        retire(&server, None, &old_kid).await.status,
        StatusCode::UNAUTHORIZED
    );
    let active = retire(&server, Some(&admin), &old_kid).await;
    assert_eq!(active.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        active.body["error_description"],
        "the active key cannot be retired: rotate first"
    );
    let unknown = retire(&server, Some(&admin), "k4.pid.nothing").await;
    assert_eq!(unknown.error(), "invalid_request");

    let rotated = rotate(&server, Some(&admin)).await;
    let new_kid = rotated.body["active"].as_str().unwrap().to_owned();
    assert_eq!(server.introspect(&old_token).await["active"], true);
    let retired = retire(&server, Some(&admin), &old_kid).await;
    assert_eq!(retired.status, StatusCode::OK, "{:?}", retired.body);
    assert_eq!(retired.body["keys"], serde_json::json!([new_kid]));
    // Tokens of the retired key stop verifying at once; new ones do.
    assert_eq!(server.introspect(&old_token).await["active"], false);
    let fresh = server.issue("bob").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(server.introspect(&fresh).await["active"], true);
    // Saved: a restart knows only the new key.
    let restarted = Server::over(
        &server.file,
        &[("VAULTTOKEN_KEYRING_CREATE", "false")],
        Arc::new(MemoryStore::new()),
    )
    .await;
    let keys = send(&restarted, server::get("/keys")).await.body;
    assert_eq!(server::kids(&keys), [new_kid.as_str()]);
    assert_eq!(server::active_kid(&keys), Some(new_kid.as_str()));
}

/// `GET /keys` with `If-None-Match: <tag>`.
async fn keys_if_none_match(server: &Server, tag: &str) -> Answer {
    let request = Request::get("/keys")
        .header("if-none-match", tag)
        .body(Body::empty())
        .unwrap();
    send(&server.app, request).await
}

#[tokio::test]
async fn the_etag_names_the_ring_and_if_none_match_answers_304_without_a_body() {
    let server = Server::new().await;
    let first = server.get("/keys").await;
    let tag = first.header("etag").to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "{tag}"
    );
    assert_eq!(server.get("/keys").await.header("etag"), tag);

    let unchanged = keys_if_none_match(&server, &tag).await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.body, Value::Null);
    assert_eq!(unchanged.header("etag"), tag);
    assert_eq!(unchanged.header("cache-control"), "public, max-age=300");
    let listed = keys_if_none_match(&server, &format!("\"stale\", {tag}")).await;
    assert_eq!(listed.status, StatusCode::NOT_MODIFIED);
    let other = keys_if_none_match(&server, "\"stale\"").await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.body, first.body);

    let rotated = rotate(&server, Some(&format!("Bearer {ADMIN}"))).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let changed = keys_if_none_match(&server, &tag).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.header("etag"), tag);
    assert_eq!(server::kids(&changed.body).len(), 2);
}

/// The binary on a memory store, read over HTTP as a resource server reads
/// it: the document parses as a key set, its ring verifies the server's
/// token, its `ETag` holds until a rotation, and `If-None-Match` gets 304.
#[test]
fn a_server_process_publishes_a_key_set_that_verifies_its_tokens() {
    let server = process::ServerProcess::start_with(&[("VAULTTOKEN_KEYS_MAX_AGE_SECS", "120")]);
    let first = server.raw_request("GET", "/keys", &[]);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("cache-control"), Some("public, max-age=120"));
    assert_eq!(first.header("content-type"), Some("application/json"));
    let set = KeySet::parse(&first.body).unwrap();
    assert_eq!(set.issuer(), ISSUER);
    assert_eq!(set.cache_time(), time::Duration::seconds(120));
    let ring = set
        .public_ring(&RingSettings::new(), time::Duration::hours(1))
        .unwrap();
    let resource = PublicService::from_ring(Arc::new(ring))
        .rules(RuleSet::default().issued_by(ISSUER))
        .build();
    let (status, pair) = process::post(&server, "/token", &serde_json::json!({"subject": "alice"}));
    assert_eq!(status, 200, "{pair}");
    let token = resource
        .decode(pair["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(token.claims().subject(), Some("alice"));

    let tag = first.header("etag").unwrap().to_owned();
    let again = server.raw_request("GET", "/keys", &[]);
    assert_eq!(
        (again.header("etag"), again.body.as_str()),
        (Some(tag.as_str()), first.body.as_str())
    );
    let unchanged = server.raw_request("GET", "/keys", &[("If-None-Match", &tag)]);
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.body, "");
    assert_eq!(unchanged.header("etag"), Some(tag.as_str()));

    let bearer = format!("Bearer {ADMIN}");
    let (status, rotated) =
        server.request("POST", "/keys/rotate", &[("Authorization", &bearer)], None);
    assert_eq!(status, 200, "{rotated}");
    let changed = server.raw_request("GET", "/keys", &[("If-None-Match", &tag)]);
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(tag.as_str()));
    let set = KeySet::parse(&changed.body).unwrap();
    assert_eq!(set.active().unwrap().kid().as_str(), rotated["active"]);
    assert!(server.terminate().success());
}
