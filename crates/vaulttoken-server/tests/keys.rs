//! `GET /keys`, `POST /keys/rotate`, `GET /healthz`, request ids.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use server::{ADMIN, Answer, Server, send};
use vaulttoken::keyring::PublicKeyRing;
use vaulttoken::store::MemoryStore;
use vaulttoken::{PublicKey, PublicService};

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
    let ring = PublicKeyRing::new(time::Duration::hours(1)).unwrap();
    for (kid, paserk) in keys["keys"].as_object().unwrap() {
        let id = ring
            .add(PublicKey::from_paserk(paserk.as_str().unwrap()).unwrap())
            .unwrap();
        assert_eq!(id.as_str(), kid);
    }
    PublicService::from_ring(Arc::new(ring)).build()
}

#[tokio::test]
async fn keys_lists_the_public_keys_by_pid_and_may_be_cached() {
    let server = Server::new().await;
    let answer = server.get("/keys").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("cache-control"), "public, max-age=300");
    let keys = answer.body["keys"].as_object().unwrap();
    assert_eq!(keys.len(), 1);
    let (kid, key) = keys.iter().next().unwrap();
    assert!(kid.starts_with("k4.pid."));
    assert!(key.as_str().unwrap().starts_with("k4.public."));
    assert_eq!(answer.body["active"], kid.as_str());
    assert_eq!(answer.body["purpose"], "public");
    let text = answer.body.to_string();
    assert!(!text.contains("k4.secret") && !text.contains("wrap"));

    // The published key verifies the server's access tokens.
    let pair = server.issue("alice").await;
    let token = verifier(&answer.body)
        .decode(pair["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(token.claims().subject(), Some("alice"));
}

#[tokio::test]
async fn keys_of_local_access_tokens_publish_nothing() {
    let server = Server::with(&[
        ("VAULTTOKEN_ACCESS_PURPOSE", "local"),
        ("VAULTTOKEN_KEYS_MAX_AGE_SECS", "60"),
    ])
    .await;
    let answer = server.get("/keys").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("cache-control"), "public, max-age=60");
    assert_eq!(
        answer.body,
        serde_json::json!({"purpose": "local", "keys": {}})
    );
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
    assert_eq!(
        server.get("/keys").await.body["keys"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
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
    let old_kid = before["active"].as_str().unwrap().to_owned();
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
    assert_eq!(after["active"], new_kid.as_str());
    assert!(after["keys"][&old_kid].is_string() && after["keys"][&new_kid].is_string());
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
    let old_kid = server.get("/keys").await.body["active"]
        .as_str()
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
    assert_eq!(keys["keys"].as_object().unwrap().len(), 1);
    assert_eq!(keys["active"], new_kid.as_str());
}
