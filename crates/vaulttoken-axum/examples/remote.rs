//! A resource server that follows its issuer's published key set: the
//! issuer rotates its signing key (announced, then in an emergency) and the
//! resource server keeps accepting its tokens, without a restart.
//!
//! The issuer here is a small in-process axum app serving its key set at
//! `GET /keys` on a loopback port, as the token server does; the resource
//! server is built with `Authenticator::remote` (feature `remote`). It
//! sends itself a few requests and checks each answer, then exits.
//!
//! Run with `cargo run -p vaulttoken-axum --example remote` (the examples are
//! built with the `remote` feature on).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use tower::ServiceExt;
use vaulttoken::keyring::{KeySet, SigningKeyRing};
use vaulttoken::rules::RuleSet;
use vaulttoken::{Claims, PublicService, SecretKey};
use vaulttoken_axum::{Authenticator, Verified};
use vaulttoken_keyset::RemoteKeySet;

const ISSUER: &str = "https://auth.example";
/// The key set's cache time: short, so that the example is quick.
const CACHE_SECONDS: i64 = 1;

/// The issuer's `GET /keys`: its ring as a key set.
async fn keys(
    State(ring): State<Arc<SigningKeyRing>>,
) -> ([(http::HeaderName, String); 1], String) {
    let set = KeySet::of_ring(ISSUER, time::Duration::seconds(CACHE_SECONDS), &*ring)
        .expect("a ring of a few keys publishes");
    (
        [(CACHE_CONTROL, format!("max-age={CACHE_SECONDS}"))],
        set.to_json(),
    )
}

/// The claims the resource server reads.
#[derive(Deserialize)]
struct User {
    sub: String,
}

async fn me(user: Verified<User>) -> String {
    format!("you are {}", user.sub)
}

async fn call(app: &Router, token: &str) -> (StatusCode, String) {
    let request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("a valid request");
    let response = app
        .clone()
        .oneshot(request)
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

fn token(issuer: &PublicService) -> Result<String, vaulttoken::Error> {
    issuer.encode(&Claims::builder().subject("alice").issuer(ISSUER).build()?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The issuer: a signing ring, served at GET /keys.
    let ring = Arc::new(SigningKeyRing::new(time::Duration::minutes(15))?);
    ring.promote(&ring.add(SecretKey::generate()?)?)?;
    let issuer = PublicService::from_ring(Arc::clone(&ring)).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/keys", listener.local_addr()?);
    let keys_app = Router::new()
        .route("/keys", get(keys))
        .with_state(Arc::clone(&ring));
    tokio::spawn(async move { axum::serve(listener, keys_app).await });

    // The resource server: one call follows the key set.
    let auth = Authenticator::remote(
        RemoteKeySet::builder(url)
            .issuer(ISSUER)
            .max_token_lifetime(Duration::from_secs(15 * 60))
            .min_lookup_interval(Duration::from_millis(200)),
        RuleSet::default().issued_by(ISSUER),
    )
    .await?
    .realm("orders")
    .build()?;
    let app = Router::new().route("/me", get(me)).with_state(auth);

    let before = token(&issuer)?;
    assert_eq!(
        call(&app, &before).await,
        (StatusCode::OK, "you are alice".into())
    );
    println!("first key: accepted");

    // An announced rotation: the next key is published, the resource
    // server's background refresh reads it within the cache time, then the
    // issuer signs with it.
    let next = ring.add(SecretKey::generate()?)?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ring.promote(&next)?;
    let announced = token(&issuer)?;
    assert_eq!(call(&app, &announced).await.0, StatusCode::OK);
    println!("announced key: accepted");

    // An emergency: a new key signs at once and the leaked one is removed.
    // The unknown `kid` makes the resource server fetch the set once.
    let urgent = ring.add(SecretKey::generate()?)?;
    ring.promote(&urgent)?;
    ring.retire_immediately(&next)?;
    let after = token(&issuer)?;
    assert_eq!(call(&app, &after).await.0, StatusCode::OK);
    println!("emergency key: accepted");
    // The leaked key's tokens stop working once the set is read again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = call(&app, &announced).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    println!("retired key: {status} {body}");
    println!("every answer as expected");
    Ok(())
}
