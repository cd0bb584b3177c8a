//! OAuth on the wire (issue 24): form bodies (RFC 6749 §3.2), client
//! authentication (`client_secret_basic`, `client_secret_post`), the
//! grants of `POST /token`, scopes, and the metadata document (RFC 8414).
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

use axum::http::StatusCode;
use serde_json::json;
use server::{CLIENT, SECRET, Server};

/// A form body reaches every endpoint as JSON does: a pair issued from a
/// form is introspected, refreshed and revoked with forms.
#[tokio::test]
async fn every_token_endpoint_reads_a_form_body() {
    let server = Server::new().await;
    let credentials = [("client_id", CLIENT), ("client_secret", SECRET)];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form = credentials.to_vec();
        form.extend_from_slice(extra);
        form
    };
    let issued = server
        .post_form("/token", &with(&[("subject", "alice smith+1")]), &[])
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    let access = issued.body["access_token"].as_str().unwrap().to_owned();
    let refresh = issued.body["refresh_token"].as_str().unwrap().to_owned();
    let mut form = with(&[]);
    form.push(("token", &access));
    let found = server.post_form("/token/introspect", &form, &[]).await;
    assert_eq!(found.body["active"], true, "{:?}", found.body);
    assert_eq!(found.body["sub"], "alice smith+1");
    let mut form = with(&[("grant_type", "refresh_token")]);
    form.push(("refresh_token", &refresh));
    let refreshed = server.post_form("/token/refresh", &form, &[]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    let next = refreshed.body["access_token"].as_str().unwrap().to_owned();
    let mut form = with(&[]);
    form.push(("token", &next));
    let revoked = server.post_form("/token/revoke", &form, &[]).await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.body);
    assert_eq!(server.introspect(&next).await["active"], false);
}

/// The trust routes read forms too: a token issued from a form is spent
/// from a form, bound to the same `state`.
#[tokio::test]
async fn the_trust_routes_read_a_form_body() {
    let server = Server::new().await;
    let issued = server
        .post_form(
            "/trust/magic_link",
            &[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("subject", "alice"),
                ("state", "s 1"),
            ],
            &[],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    let token = issued.body["token"].as_str().unwrap().to_owned();
    let consume = |state: &'static str| {
        let token = token.clone();
        let server = &server;
        async move {
            server
                .post_form(
                    "/trust/consume",
                    &[
                        ("client_id", CLIENT),
                        ("client_secret", SECRET),
                        ("token", &token),
                        ("kind", "magic_link"),
                        ("state", state),
                    ],
                    &[],
                )
                .await
        }
    };
    assert_eq!(consume("s 2").await.error(), "invalid_grant");
    let spent = consume("s 1").await;
    assert_eq!(spent.status, StatusCode::OK, "{:?}", spent.body);
    assert_eq!(spent.body["sub"], "alice");
}

/// A malformed form names its field and never echoes a value; the size
/// limit is the JSON one.
#[tokio::test]
async fn a_malformed_form_names_the_field_and_the_limit_holds() {
    let server = Server::new().await;
    let missing = server
        .post_form(
            "/token",
            &[("client_id", CLIENT), ("client_secret", SECRET)],
            &[],
        )
        .await;
    assert_eq!(
        (missing.status, missing.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(missing.body["error_description"], "subject: required");
    let repeated = server
        .post_form(
            "/token",
            &[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("subject", "alice"),
                ("subject", "hunter2-subject"),
            ],
            &[],
        )
        .await;
    assert_eq!(
        repeated.body["error_description"],
        "subject: given more than once"
    );
    assert!(!repeated.body.to_string().contains("hunter2"));
    let huge = "a".repeat(17 * 1024);
    let too_large = server
        .post_form(
            "/token/introspect",
            &[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("token", &huge),
            ],
            &[],
        )
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.error(), "invalid_request");
    let json_still = server
        .post(
            "/token",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"}),
        )
        .await;
    assert_eq!(json_still.status, StatusCode::OK);
}
