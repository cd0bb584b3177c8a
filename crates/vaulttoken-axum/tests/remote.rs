//! `Authenticator::remote` (feature `remote`) against a key-set server on a
//! loopback port: the issuer's tokens accepted, a key rotated in an
//! emergency accepted after one fetch, a made-up key id refused with 401,
//! and keys too stale to vouch for answered 503 with `Retry-After`, never
//! 401.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "../../vaulttoken-keyset/tests/support/issuer.rs"]
#[allow(dead_code, reason = "the key-set crate's test support, shared")]
mod issuer;
#[path = "../../vaulttoken-keyset/tests/support/keyserver.rs"]
#[allow(dead_code, reason = "the key-set crate's test support, shared")]
mod keyserver;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use tower::ServiceExt;
use vaulttoken::rules::RuleSet;
use vaulttoken_axum::{Authenticator, Verified};
use vaulttoken_keyset::RemoteKeySet;

use self::issuer::{ISSUER, Issuer, bounded};
use self::keyserver::KeyServer;

#[derive(Deserialize)]
struct User {
    sub: String,
}

async fn me(user: Verified<User>) -> String {
    user.sub.clone()
}

async fn app(server: &KeyServer) -> Router {
    let auth = Authenticator::remote(
        RemoteKeySet::builder(server.url())
            .issuer(ISSUER)
            .max_stale(Duration::from_secs(1))
            .min_lookup_interval(Duration::from_millis(100)),
        RuleSet::default(),
    )
    .await
    .unwrap()
    .realm("orders")
    .build()
    .unwrap();
    Router::new().route("/me", get(me)).with_state(auth)
}

/// The status, `Retry-After` and body of one request with `token`.
async fn call(app: &Router, token: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn tokens_of_announced_and_rotated_keys_are_accepted_and_made_up_ones_refused() {
    bounded(async {
        let issuer = Issuer::new();
        let server = KeyServer::start(issuer.document(300)).await;
        let app = app(&server).await;
        let (status, _, body) = call(&app, &issuer.token()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));

        let urgent = issuer.announce();
        issuer.promote(&urgent);
        server.publish(issuer.document(300));
        let (status, _, body) = call(&app, &issuer.token()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));
        assert_eq!(server.requests(), 2);

        // A key the issuer never published: 401, after at most one fetch.
        let stranger = Issuer::new().token();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (status, _, body) = call(&app, &stranger).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("invalid_token"), "{body}");
        assert_eq!(server.requests(), 3);
    })
    .await;
}

#[tokio::test]
async fn keys_too_stale_to_vouch_for_are_answered_503_never_401() {
    bounded(async {
        let issuer = Issuer::new();
        let mut server = KeyServer::start(issuer.document(1)).await;
        let app = app(&server).await;
        let token = issuer.token();
        server.stop().await;
        // Cache time 1 s plus stale bound 1 s: 200 until then, then 503.
        let (retry_after, body) = loop {
            let (status, retry_after, body) = call(&app, &token).await;
            match status {
                StatusCode::OK => tokio::time::sleep(Duration::from_millis(20)).await,
                StatusCode::SERVICE_UNAVAILABLE => break (retry_after, body),
                other => panic!("neither valid nor unavailable: {other} {body}"),
            }
        };
        assert_eq!(retry_after.as_deref(), Some("5"));
        assert!(body.contains("temporarily_unavailable"), "{body}");
        assert!(!body.contains(&token));
    })
    .await;
}
