//! The fixture of the `axum` bench and of the `axum-*` callgrind operations:
//! a `v4.public` token, the service that decodes it, and a `Router` whose
//! handler takes `Verified<User>` for it.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, StatusCode};
use serde::Deserialize;
use time::OffsetDateTime;
use tower::ServiceExt as _;
use vaulttoken::rules::RuleSet;
use vaulttoken::service::VerifiedToken;
use vaulttoken::{Claims, PublicService, SecretKey};
use vaulttoken_axum::{Authenticator, Verified};

/// The claims the handler reads.
#[derive(Deserialize)]
pub struct User {
    /// `sub`.
    pub sub: String,
    /// A custom claim.
    pub scope: String,
}

async fn handler(user: Verified<User>) -> StatusCode {
    black_box(&user);
    StatusCode::NO_CONTENT
}

/// Polls a future that never waits (no I/O anywhere here) to completion.
///
/// # Panics
///
/// If the future is still pending after 1,000 polls.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(future);
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("the request waited on something");
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).expect("in range")
}

/// A token, its verifier, and a router that checks it.
pub struct Fixture {
    /// The token every request carries.
    pub token: String,
    /// `PublicService::decode` of it is the raw decode.
    pub verifier: Arc<PublicService>,
    app: Router,
    header: HeaderValue,
}

impl Fixture {
    /// A fixed key, a token for `alice@example.com` (fixed times too, so
    /// that every process signs the same bytes and counts the same
    /// instructions), and the router.
    ///
    /// # Panics
    ///
    /// If the fixture cannot be built, or a request through the router does
    /// not succeed (the timed paths must not time a rejection).
    #[must_use]
    pub fn new() -> Self {
        let secret = SecretKey::from_seed_array(&crate::ED25519_SEED);
        let public = secret.public_key();
        let rules = RuleSet::default()
            .issued_by("auth.example.com")
            .for_audience("api.example.com");
        let issuer = PublicService::builder(secret)
            .key_id("k1")
            .rules(rules.clone())
            .build();
        let verifier = Arc::new(
            PublicService::verifier(public)
                .key_id("k1")
                .rules(rules)
                .build(),
        );
        let claims = Claims::builder()
            .subject("alice@example.com")
            .issuer("auth.example.com")
            .audience("api.example.com")
            .claim("scope", "orders:read orders:write profile")
            .issued_at(at(1_704_067_200)) // 2024-01-01
            .expires_at(at(2_177_452_800)) // 2039-01-01
            .build()
            .expect("claims");
        let token = issuer.encode(&claims).expect("a token");
        let header = HeaderValue::try_from(format!("Bearer {token}")).expect("a header");
        let app = Router::new()
            .route("/", get(handler))
            .with_state(Authenticator::new(Arc::clone(&verifier)));
        let fixture = Self {
            token,
            verifier,
            app,
            header,
        };
        assert_eq!(fixture.through_router().status(), StatusCode::NO_CONTENT);
        fixture
    }

    /// The library's raw decode.
    ///
    /// # Panics
    ///
    /// If the token does not verify.
    #[must_use]
    pub fn decode(&self) -> VerifiedToken {
        self.verifier.decode(black_box(&self.token)).expect("valid")
    }

    /// The raw decode, then the claims as the handler's type.
    ///
    /// # Panics
    ///
    /// If the token does not verify or its claims do not fit.
    #[must_use]
    pub fn decode_typed(&self) -> User {
        self.decode().deserialize_claims().expect("fits")
    }

    /// One whole request through the router (`oneshot`): building the
    /// request, routing, reading the header, decoding, deserializing the
    /// claims, the handler and its response.
    ///
    /// # Panics
    ///
    /// Never: the router's error type is `Infallible`.
    #[must_use]
    pub fn through_router(&self) -> Response {
        let request = Request::get("/")
            .header(AUTHORIZATION, self.header.clone())
            .body(Body::empty())
            .expect("a request");
        ready(self.app.clone().oneshot(request)).expect("infallible")
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}
