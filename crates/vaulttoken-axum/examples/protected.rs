//! An axum service that accepts `v4.public` access tokens: a route for any
//! signed-in user, one that needs a scope, one open to anonymous users, and an
//! admin router behind the layer. It sends itself a few requests in-process
//! and checks each answer, then exits.
//!
//! Run with `cargo run -p vaulttoken-axum --example protected`.

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use tower::ServiceExt;
use vaulttoken::service::VerifiedToken;
use vaulttoken::{Claims, PublicService, SecretKey};
use vaulttoken_axum::{AuthLayer, Authenticated, Authenticator, ClaimsCheck, Verified, has_scope};

/// The claims this service reads.
#[derive(Deserialize)]
struct User {
    sub: String,
}

/// Tokens whose `scope` includes `orders:read`.
struct ReadOrders;

impl ClaimsCheck for ReadOrders {
    fn check(token: &VerifiedToken) -> bool {
        has_scope(token.claims(), "orders:read")
    }
}

/// Tokens with the `admin` role.
struct Admin;

impl ClaimsCheck for Admin {
    fn check(token: &VerifiedToken) -> bool {
        token.claims().custom_str("role") == Some("admin")
    }
}

async fn me(user: Verified<User>) -> String {
    format!("you are {}", user.sub)
}

async fn orders(user: Verified<User, ReadOrders>) -> String {
    format!("orders of {}", user.sub)
}

async fn home(user: Option<Verified<User>>) -> String {
    user.map_or_else(
        || "welcome".to_owned(),
        |u| format!("welcome back {}", u.sub),
    )
}

async fn admin(Extension(auth): Extension<Authenticated>) -> String {
    format!("admin {}", auth.token().claims().subject().unwrap_or("?"))
}

/// The service: verifies with the issuer's public key, which the token
/// server publishes (`GET /keys`). The key id must match the token's `kid`.
fn app(verifier: PublicService) -> Router {
    let auth = Authenticator::builder(Arc::new(verifier))
        .realm("example")
        .build()
        .expect("a valid configuration");
    let admin_routes = Router::new()
        .route("/admin", get(admin))
        .layer(AuthLayer::new(auth.clone()).require::<Admin>());
    Router::new()
        .route("/", get(home))
        .route("/me", get(me))
        .route("/orders", get(orders))
        .merge(admin_routes)
        .with_state(auth)
}

async fn call(app: &Router, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("a valid request"))
        .await
        .expect("a router never fails");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), vaulttoken::Error> {
    // The token server's side, here only to make tokens.
    let secret = SecretKey::generate()?;
    let public = secret.public_key();
    let issuer = PublicService::builder(secret).key_id("2026-11").build();
    let alice = issuer.encode(
        &Claims::builder()
            .subject("alice")
            .claim("scope", "orders:read")
            .build()?,
    )?;
    let root = issuer.encode(
        &Claims::builder()
            .subject("root")
            .claim("role", "admin")
            .build()?,
    )?;

    let app = app(PublicService::verifier(public).key_id("2026-11").build());

    let answers = [
        (call(&app, "/", None).await, (StatusCode::OK, "welcome")),
        (
            call(&app, "/", Some(&alice)).await,
            (StatusCode::OK, "welcome back alice"),
        ),
        (
            call(&app, "/me", Some(&alice)).await,
            (StatusCode::OK, "you are alice"),
        ),
        (
            call(&app, "/orders", Some(&alice)).await,
            (StatusCode::OK, "orders of alice"),
        ),
        (
            call(&app, "/admin", Some(&root)).await,
            (StatusCode::OK, "admin root"),
        ),
    ];
    for ((got_status, got_body), (status, body)) in answers {
        assert_eq!((got_status, got_body.as_str()), (status, body));
    }

    for (path, token, status, code) in [
        ("/me", None, StatusCode::UNAUTHORIZED, "missing_token"),
        (
            "/me",
            Some("v4.public.bm90IGEgdG9rZW4"),
            StatusCode::UNAUTHORIZED,
            "malformed_token",
        ),
        (
            "/orders",
            Some(root.as_str()),
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
        (
            "/admin",
            Some(alice.as_str()),
            StatusCode::FORBIDDEN,
            "insufficient_scope",
        ),
    ] {
        let (got, body) = call(&app, path, token).await;
        assert_eq!(got, status, "{path}");
        assert!(body.contains(code), "{path}: {body}");
        println!("{path}: {got} {body}");
    }
    println!("every answer as expected");
    Ok(())
}
