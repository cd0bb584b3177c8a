//! `POST /token`, `/token/refresh`, `/token/revoke`, `/token/introspect`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

use axum::http::StatusCode;
use serde_json::json;
use server::{CLIENT, OTHER_CLIENT, OTHER_SECRET, SECRET, Server};

#[tokio::test]
async fn issue_answers_a_bearer_pair_that_is_not_cached() {
    let server = Server::new().await;
    let answer = server
        .post(
            "/token",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("cache-control"), "no-store");
    assert!(!answer.header("x-request-id").is_empty());
    let body = answer.body;
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("v4.public.")
    );
    assert!(
        body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("v4.local.")
    );
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((899..=900).contains(&expires_in), "{expires_in}");
    let refresh_in = body["refresh_expires_in"].as_i64().unwrap();
    assert!(
        (14 * 86400 - 2..=14 * 86400).contains(&refresh_in),
        "{refresh_in}"
    );
}

#[tokio::test]
async fn introspect_describes_a_live_access_token() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    let found = server
        .introspect(pair["access_token"].as_str().unwrap())
        .await;
    assert_eq!(found["active"], true);
    assert_eq!(found["sub"], "alice");
    assert_eq!(found["client_id"], CLIENT);
    assert_eq!(found["token_type"], "Bearer");
    assert!(found["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    let (iat, exp) = (
        found["iat"].as_i64().unwrap(),
        found["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 900);
    // RFC 7662 §2.2: what the token does not have is left out (no `scope`
    // or `aud` here), and so is `binding_drift` without a drift.
    let members: Vec<&str> = found
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        [
            "active",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "sub",
            "token_type"
        ],
        "{found}"
    );
}

#[tokio::test]
async fn introspect_answers_inactive_for_anything_not_a_valid_access_token() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    let access = pair["access_token"].as_str().unwrap();
    let mut tampered = access.to_owned();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    let long = "v4.public.".to_owned() + &"A".repeat(10_000);
    for token in [
        "garbage",
        "",
        "v4.public.AAAA",
        pair["refresh_token"].as_str().unwrap(),
        tampered.as_str(),
        long.as_str(),
    ] {
        let found = server.introspect(token).await;
        assert_eq!(found, json!({"active": false}), "{token:.20}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let server = Server::new().await;
    let first = server.issue("alice").await;
    let first_refresh = first["refresh_token"].as_str().unwrap();
    let second = server.refresh(first_refresh).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    assert_eq!(second.header("cache-control"), "no-store");
    let second = second.body;
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let second_access = second["access_token"].as_str().unwrap();
    assert_eq!(server.introspect(second_access).await["sub"], "alice");

    // The first refresh token, replayed: reuse.
    let reuse = server.refresh(first_refresh).await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST);
    assert_eq!(reuse.error(), "invalid_grant");
    assert_eq!(
        reuse.body["error_description"],
        "refresh token reused: its family is revoked"
    );
    // The whole family is gone: the newest refresh token and every access token.
    let newest = server
        .refresh(second["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(newest.error(), "invalid_grant");
    for access in [second_access, first["access_token"].as_str().unwrap()] {
        assert_eq!(server.introspect(access).await["active"], false);
    }
    // Another family of the same subject lives on.
    let other = server.issue("alice").await;
    let fresh = server
        .refresh(other["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(fresh.status, StatusCode::OK);
}

#[tokio::test]
async fn the_grace_window_gives_a_retried_refresh_the_same_generation() {
    let server = Server::with(&[("VAULTTOKEN_REFRESH_GRACE_SECS", "30")]).await;
    let first = server.issue("alice").await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let second = server.refresh(refresh).await;
    let retry = server.refresh(refresh).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    // The same successor: same generation, same times (a new encryption).
    assert_eq!(
        retry.body["refresh_expires_in"],
        second.body["refresh_expires_in"]
    );
    // One replay only (VAULTTOKEN_REFRESH_GRACE_USES=1): the next is reuse.
    let again = server.refresh(refresh).await;
    assert_eq!(again.error(), "invalid_grant");
}

#[tokio::test]
async fn a_refresh_token_only_refreshes_for_its_own_client_and_is_not_burnt_by_another() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    let refresh = pair["refresh_token"].as_str().unwrap();
    let stolen = server
        .post(
            "/token/refresh",
            &json!({"client_id": OTHER_CLIENT, "client_secret": OTHER_SECRET, "refresh_token": refresh}),
        )
        .await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    assert_eq!(stolen.error(), "invalid_grant");
    let own = server.refresh(refresh).await;
    assert_eq!(own.status, StatusCode::OK, "{:?}", own.body);
}

#[tokio::test]
async fn refresh_refuses_garbage_an_access_token_and_another_grant_type() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    for token in ["garbage", pair["access_token"].as_str().unwrap()] {
        let answer = server.refresh(token).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.error(), "invalid_grant");
    }
    let answer = server
        .post(
            "/token/refresh",
            &json!({
                "client_id": CLIENT, "client_secret": SECRET,
                "refresh_token": pair["refresh_token"], "grant_type": "password",
            }),
        )
        .await;
    assert_eq!(answer.error(), "unsupported_grant_type");
    // It was not spent by the refused request.
    assert_eq!(
        server
            .refresh(pair["refresh_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoke_answers_200_for_unknown_and_invalid_tokens() {
    let server = Server::new().await;
    for token in ["garbage", "", "v4.public.AAAA", "v4.local.AAAA"] {
        let answer = server
            .post(
                "/token/revoke",
                &json!({"client_id": CLIENT, "client_secret": SECRET, "token": token}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{token}");
        assert_eq!(answer.header("cache-control"), "no-store");
    }
}

#[tokio::test]
async fn revoking_an_access_token_revokes_it_alone() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    let access = pair["access_token"].as_str().unwrap();
    let answer = server
        .post(
            "/token/revoke",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "token": access, "token_type_hint": "access_token"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(server.introspect(access).await["active"], false);
    // The family lives on: its refresh token still refreshes.
    let next = server
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(next.status, StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    let answer = server
        .post(
            "/token/revoke",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let refused = server
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refused.error(), "invalid_grant");
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(server.introspect(access).await["active"], false);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_tokens() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    let revoke = async |token: &serde_json::Value| {
        let body =
            json!({"client_id": OTHER_CLIENT, "client_secret": OTHER_SECRET, "token": token});
        server.post("/token/revoke", &body).await
    };
    // An access token names its client: refused.
    let answer = revoke(&pair["access_token"]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error(), "unauthorized_client");
    // Another client's refresh token does not even decode with this client's
    // key: unknown to it, so 200 (RFC 7009), and nothing is revoked.
    assert_eq!(revoke(&pair["refresh_token"]).await.status, StatusCode::OK);
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(server.introspect(access).await["active"], true);
    let next = server
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(next.status, StatusCode::OK);
}

#[tokio::test]
async fn local_access_tokens_are_v4_local_and_introspect() {
    let server = Server::with(&[("VAULTTOKEN_ACCESS_PURPOSE", "local")]).await;
    let pair = server.issue("alice").await;
    let access = pair["access_token"].as_str().unwrap();
    assert!(access.starts_with("v4.local."));
    assert_eq!(server.introspect(access).await["sub"], "alice");
    let next = server
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await;
    assert!(
        next.body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("v4.local.")
    );
}

#[tokio::test]
async fn a_subject_must_be_short_and_printable() {
    let server = Server::new().await;
    for subject in [String::new(), "a".repeat(257), "bad\nsubject".to_owned()] {
        let answer = server
            .post(
                "/token",
                &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": subject}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.error(), "invalid_request");
    }
    // A colon in a subject is fine: the client id never holds one.
    let pair = server.issue("tenant:alice").await;
    let found = server
        .introspect(pair["access_token"].as_str().unwrap())
        .await;
    assert_eq!(found["sub"], "tenant:alice");
    let next = server
        .refresh(pair["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(next.status, StatusCode::OK);
}
