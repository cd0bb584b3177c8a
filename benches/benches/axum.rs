//! The cost of the axum integration: a `v4.public` token decoded by the
//! service alone, and the same token sent through a `Router` whose handler
//! takes `Verified<User>` (one `oneshot` per request: building the request,
//! routing, reading the header, decoding, deserializing the claims, the
//! handler and its response), side by side in one run.
//!
//! - `decode`: `PublicService::decode`, the library's raw decode.
//! - `decode_typed`: the same plus `deserialize_claims::<User>()`, what the
//!   extractor adds on the vaulttoken side.
//! - `router_extractor`: the whole request through the router.
//!
//! The ratio `decode / router_extractor` is the share of the raw decode
//! throughput the extractor path keeps on one core.
//!
//! Run with `cargo bench -p vaulttoken-benches --bench axum`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, StatusCode};
use serde::Deserialize;
use tower::ServiceExt;
use vaulttoken::rules::RuleSet;
use vaulttoken::{Claims, PublicService, SecretKey};
use vaulttoken_axum::{Authenticator, Verified};

/// The claims the handler reads.
#[derive(Deserialize)]
struct User {
    #[expect(dead_code, reason = "deserialized as a handler would")]
    sub: String,
    #[expect(dead_code, reason = "deserialized as a handler would")]
    scope: String,
}

async fn handler(user: Verified<User>) -> StatusCode {
    black_box(&user);
    StatusCode::NO_CONTENT
}

/// Polls a future that never waits (no I/O anywhere here) to completion.
fn ready<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(future);
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("the request waited on something");
}

fn extractor(c: &mut Criterion) {
    let secret = SecretKey::generate().expect("a key");
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
        .build()
        .expect("claims");
    let token = issuer.encode(&claims).expect("a token");
    let header = HeaderValue::try_from(format!("Bearer {token}")).expect("a header");
    let app = Router::new()
        .route("/", get(handler))
        .with_state(Authenticator::new(Arc::clone(&verifier)));
    let request = || {
        Request::get("/")
            .header(AUTHORIZATION, header.clone())
            .body(Body::empty())
            .expect("a request")
    };
    // The timed paths succeed: anything else would time a rejection.
    let response = ready(app.clone().oneshot(request())).expect("infallible");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let mut group = c.benchmark_group("axum");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("decode", |b| {
        b.iter(|| verifier.decode(black_box(&token)).expect("valid"));
    });
    group.bench_function("decode_typed", |b| {
        b.iter(|| {
            let verified = verifier.decode(black_box(&token)).expect("valid");
            verified.deserialize_claims::<User>().expect("fits")
        });
    });
    group.bench_function("router_extractor", |b| {
        b.iter(|| ready(app.clone().oneshot(request())).expect("infallible"));
    });
    group.finish();
}

criterion_group!(benches, extractor);
criterion_main!(benches);
