//! `POST /trust/{kind}`, `GET /trust/verify`, `POST /trust/consume`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

use axum::http::StatusCode;
use serde_json::{Value, json};
use server::{Answer, CLIENT, SECRET, Server};

async fn issue(server: &Server, kind: &str, extra: Value) -> Answer {
    let mut body = json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"});
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    server.post(&format!("/trust/{kind}"), &body).await
}

async fn consume(server: &Server, token: &str, kind: &str, state: Option<&str>) -> Answer {
    let mut body =
        json!({"client_id": CLIENT, "client_secret": SECRET, "token": token, "kind": kind});
    if let Some(state) = state {
        body["state"] = json!(state);
    }
    server.post("/trust/consume", &body).await
}

fn verify_path(token: &str, kind: &str) -> String {
    format!("/trust/verify?token={token}&kind={kind}")
}

#[tokio::test]
async fn a_trust_token_verifies_any_number_of_times_and_is_spent_once() {
    let server = Server::new().await;
    let issued = issue(&server, "password_reset", json!({})).await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    assert_eq!(issued.header("cache-control"), "no-store");
    assert_eq!(issued.body["kind"], "password_reset");
    assert_eq!(issued.body["expires_in"], 3600);
    let token = issued.body["token"].as_str().unwrap();

    for _ in 0..2 {
        let peek = server.get(&verify_path(token, "password_reset")).await;
        assert_eq!(peek.status, StatusCode::OK, "{:?}", peek.body);
        assert_eq!(peek.body["valid"], true);
        assert_eq!(peek.body["sub"], "alice");
    }
    let spent = consume(&server, token, "password_reset", None).await;
    assert_eq!(spent.status, StatusCode::OK);
    assert_eq!(spent.body["sub"], "alice");
    assert_eq!(spent.body["kind"], "password_reset");

    let again = consume(&server, token, "password_reset", None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error(), "invalid_grant");
    assert_eq!(
        again.body["error_description"],
        "the token was already used"
    );
    let peek = server.get(&verify_path(token, "password_reset")).await;
    assert_eq!(peek.error(), "invalid_grant");
}

#[tokio::test]
async fn a_trust_token_is_only_good_for_its_kind_and_its_state() {
    let server = Server::new().await;
    let issued = issue(&server, "magic_link", json!({"state": "browser-1"})).await;
    assert_eq!(issued.body["expires_in"], 900);
    let token = issued.body["token"].as_str().unwrap();
    for (kind, state) in [
        ("email_verification", Some("browser-1")),
        ("magic_link", Some("browser-2")),
        ("magic_link", None),
    ] {
        let refused = consume(&server, token, kind, state).await;
        assert_eq!(refused.error(), "invalid_grant", "{kind} {state:?}");
    }
    let spent = consume(&server, token, "magic_link", Some("browser-1")).await;
    assert_eq!(spent.status, StatusCode::OK);
}

#[tokio::test]
async fn trust_requests_are_checked() {
    let server = Server::new().await;
    let unknown = issue(&server, "launch_codes", json!({})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.error(), "invalid_request");
    let wrong = server
        .post(
            "/trust/org_invitation",
            &json!({"client_id": CLIENT, "client_secret": "nope", "subject": "a"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error(), "invalid_client");
    let long_state = issue(
        &server,
        "org_invitation",
        json!({"state": "s".repeat(1025)}),
    )
    .await;
    assert_eq!(long_state.error(), "invalid_request");
    // 1 KiB of state is the most, and enough.
    let longest = "s".repeat(1024);
    let issued = issue(&server, "org_invitation", json!({"state": longest})).await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    let token = issued.body["token"].as_str().unwrap();
    let spent = consume(&server, token, "org_invitation", Some(&longest)).await;
    assert_eq!(spent.status, StatusCode::OK, "{:?}", spent.body);
    for path in [
        "/trust/verify",
        "/trust/verify?token=x",
        "/trust/verify?token=x&kind=nope",
    ] {
        let answer = server.get(path).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(answer.error(), "invalid_request", "{path}");
    }
    let garbage = server.get(&verify_path("garbage", "magic_link")).await;
    assert_eq!(garbage.error(), "invalid_grant");
    let unauthenticated = server
        .post(
            "/trust/consume",
            &json!({"token": "x", "kind": "magic_link"}),
        )
        .await;
    assert_eq!(unauthenticated.error(), "invalid_request");
}
