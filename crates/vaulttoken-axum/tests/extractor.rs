//! The extractors, driven through a router in-process: every way in, and
//! every way to be refused.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderValue, Request, StatusCode};
use serde::Deserialize;
use vaulttoken::binding::Binding;
use vaulttoken::clock::ManualClock;
use vaulttoken::footer::{Footer, FooterClaims};
use vaulttoken::rules::RuleSet;
use vaulttoken::service::VerifiedToken;
use vaulttoken::time::Duration;
use vaulttoken::{Claims, LocalKey, LocalService, PublicService, SecretKey};
use vaulttoken_axum::{
    AuthLayer, Authenticator, ClaimsCheck, TokenSource, UnreadableToken, Verified, has_scope,
};

use common::{Local, anonymous, bearer, bounded, send, start};
use vaulttoken::store::conformance::UnreachableStore;

#[derive(Deserialize)]
struct Session {
    sub: String,
}

#[derive(Deserialize)]
struct Tenant {
    tenant: String,
}

struct ReadOrders;

impl ClaimsCheck for ReadOrders {
    fn check(token: &VerifiedToken) -> bool {
        has_scope(token.claims(), "orders:read")
    }
}

async fn whoami(session: Verified<Session>) -> String {
    format!("{} {}", session.sub, session.key_id().unwrap_or("-"))
}

async fn maybe(session: Option<Verified<Session>>) -> String {
    session.map_or_else(|| "anonymous".to_owned(), |s| s.into_claims().sub)
}

async fn orders(session: Verified<Session, ReadOrders>) -> String {
    format!("orders of {}", session.sub)
}

async fn tenant(tenant: Verified<Tenant>) -> String {
    tenant.claims().tenant.clone()
}

async fn three(
    a: Verified<Session>,
    b: Verified,
    c: Option<Verified<Session, ReadOrders>>,
) -> String {
    let b = b.token().claims().subject().unwrap().to_owned();
    format!("{} {} {}", a.sub, b, c.is_some())
}

fn app(auth: Authenticator) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/maybe", get(maybe))
        .route("/orders", get(orders))
        .route("/tenant", get(tenant))
        .route("/three", get(three))
        .with_state(auth)
}

fn local_app(local: &Local) -> Router {
    app(Authenticator::new(Arc::clone(&local.service)))
}

#[tokio::test]
async fn a_bearer_local_token_reaches_the_handler_with_its_claims_and_key_id() {
    let local = Local::new();
    let token = local.token("alice");
    let answer = send(&local_app(&local), bearer("/whoami", &token), &token).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "alice k1");
    assert_eq!(local.store.checks(), 1, "the token store was asked");
}

#[tokio::test]
async fn a_bearer_public_token_reaches_the_handler_through_a_verifier() {
    let secret = SecretKey::generate().unwrap();
    let public = secret.public_key();
    let issuer = PublicService::builder(secret).key_id("p1").build();
    let verifier = PublicService::verifier(public).key_id("p1").build();
    let app = app(Authenticator::new(Arc::new(verifier)));
    let token = issuer
        .encode(&Claims::builder().subject("bob").build().unwrap())
        .unwrap();
    assert!(token.starts_with("v4.public."));
    let answer = send(&app, bearer("/whoami", &token), &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "bob p1")
    );
    // Another issuer's signature does not verify.
    let other = PublicService::builder(SecretKey::generate().unwrap())
        .key_id("p1")
        .build();
    let forged = other
        .encode(&Claims::builder().subject("bob").build().unwrap())
        .unwrap();
    send(&app, bearer("/whoami", &forged), &forged)
        .await
        .assert_unauthorized("invalid_token");
}

#[tokio::test]
async fn a_cookie_source_reads_the_named_cookie_only() {
    let local = Local::new();
    let auth = Authenticator::builder(Arc::clone(&local.service))
        .token_source(TokenSource::cookie("session"))
        .build()
        .unwrap();
    let app = app(auth);
    let token = local.token("carol");
    let request = Request::get("/whoami")
        .header("cookie", format!("theme=dark; session={token}; lang=en"))
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request, &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "carol k1")
    );
    // A bearer header is not where this authenticator looks.
    let answer = send(&app, bearer("/whoami", &token), &token).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.code(), "missing_token");
    // A second cookie of the same name is refused, never picked.
    let request = Request::get("/whoami")
        .header("cookie", format!("session={token}; session=x"))
        .body(Body::empty())
        .unwrap();
    send(&app, request, &token)
        .await
        .assert_unauthorized("malformed_token");
}

#[tokio::test]
async fn a_custom_source_reads_where_it_says() {
    let local = Local::new();
    let source = TokenSource::custom(|parts| match parts.headers.get("x-api-token") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.to_owned()))
            .map_err(|_| UnreadableToken),
    });
    let auth = Authenticator::builder(Arc::clone(&local.service))
        .token_source(source)
        .build()
        .unwrap();
    let app = app(auth);
    let token = local.token("dave");
    let request = Request::get("/whoami")
        .header("x-api-token", &token)
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request, &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "dave k1")
    );
    let unreadable = Request::get("/whoami")
        .header("x-api-token", HeaderValue::from_bytes(b"\xff").unwrap())
        .body(Body::empty())
        .unwrap();
    send(&app, unreadable, "")
        .await
        .assert_unauthorized("malformed_token");
    let answer = send(&app, anonymous("/whoami"), "").await;
    assert_eq!(answer.code(), "missing_token");
}

#[tokio::test]
async fn a_missing_token_gets_a_challenge_without_an_error_code() {
    let local = Local::new();
    let answer = send(&local_app(&local), anonymous("/whoami"), "").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    assert_eq!(answer.code(), "missing_token");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    // Another scheme is no bearer token either.
    let basic = Request::get("/whoami")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&local_app(&local), basic, "").await.code(),
        "missing_token"
    );
    assert_eq!(local.store.checks(), 0);
}

#[tokio::test]
async fn the_realm_goes_into_every_challenge() {
    let local = Local::new();
    let auth = Authenticator::builder(Arc::clone(&local.service))
        .realm("orders api")
        .build()
        .unwrap();
    let app = app(auth);
    let answer = send(&app, anonymous("/whoami"), "").await;
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer realm="orders api""#)
    );
    let answer = send(&app, bearer("/whoami", "v4.local.AAAA"), "").await;
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer realm="orders api", error="invalid_token""#)
    );
    let token = local.token("erin");
    let answer = send(&app, bearer("/orders", &token), &token).await;
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer realm="orders api", error="insufficient_scope""#)
    );
}

#[tokio::test]
async fn malformed_tokens_and_headers_are_refused_before_any_store_lookup() {
    let local = Local::new();
    let app = local_app(&local);
    let token = local.token("frank");
    let public = PublicService::builder(SecretKey::generate().unwrap())
        .build()
        .encode(&Claims::builder().build().unwrap())
        .unwrap();
    for bad in [
        "v4.local.@@@",
        "v4.local",
        "v2.local.AAAA",
        "garbage",
        &public,
    ] {
        send(&app, bearer("/whoami", bad), bad)
            .await
            .assert_unauthorized("malformed_token");
    }
    // Two Authorization headers.
    let twice = Request::get("/whoami")
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    send(&app, twice, &token)
        .await
        .assert_unauthorized("malformed_token");
    // A header over the 8 KiB cap: refused before it is decoded.
    let long = format!("{token}{}", "A".repeat(8 * 1024));
    send(&app, bearer("/whoami", &long), &long)
        .await
        .assert_unauthorized("malformed_token");
    // Bytes that are not UTF-8.
    let raw = Request::get("/whoami")
        .header(
            "authorization",
            HeaderValue::from_bytes(b"Bearer v4.local.\xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    send(&app, raw, "")
        .await
        .assert_unauthorized("malformed_token");
    // "Bearer" with nothing after it.
    let empty = Request::get("/whoami")
        .header("authorization", "Bearer")
        .body(Body::empty())
        .unwrap();
    send(&app, empty, "")
        .await
        .assert_unauthorized("malformed_token");
    assert_eq!(local.store.checks(), 0);
    // The scheme is case-insensitive.
    let shouted = Request::get("/whoami")
        .header("authorization", format!("BEARER {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, shouted, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_from_another_key_or_key_id_is_invalid() {
    let local = Local::new();
    let app = local_app(&local);
    let wrong_key = LocalService::builder(LocalKey::generate().unwrap())
        .key_id("k1")
        .build()
        .encode(&Claims::builder().subject("mallory").build().unwrap())
        .unwrap();
    send(&app, bearer("/whoami", &wrong_key), &wrong_key)
        .await
        .assert_unauthorized("invalid_token");
    let unknown_kid = LocalService::builder(Arc::clone(&local.key))
        .key_id("k2")
        .build()
        .encode(&Claims::builder().subject("mallory").build().unwrap())
        .unwrap();
    send(&app, bearer("/whoami", &unknown_kid), &unknown_kid)
        .await
        .assert_unauthorized("invalid_token");
    assert_eq!(local.store.checks(), 0);
}

#[tokio::test]
async fn an_expired_token_is_invalid() {
    let local = Local::new();
    let app = local_app(&local);
    let token = local.token("grace");
    assert_eq!(
        send(&app, bearer("/whoami", &token), &token).await.status,
        StatusCode::OK
    );
    local.clock.advance(common::past_expiry());
    send(&app, bearer("/whoami", &token), &token)
        .await
        .assert_unauthorized("invalid_token");
}

#[tokio::test]
async fn a_token_not_yet_valid_is_invalid() {
    let local = Local::new();
    let app = local_app(&local);
    let future = LocalService::builder(Arc::clone(&local.key))
        .key_id("k1")
        .clock(ManualClock::new(start() + Duration::hours(1)))
        .build();
    let claims = Claims::builder()
        .subject("heidi")
        .token_id("t-1")
        .build()
        .unwrap();
    let token = future.encode(&claims).unwrap();
    send(&app, bearer("/whoami", &token), &token)
        .await
        .assert_unauthorized("invalid_token");
    local.clock.advance(Duration::hours(1));
    assert_eq!(
        send(&app, bearer("/whoami", &token), &token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_the_rules_refuse_is_invalid() {
    let local = Local::new();
    let for_api = LocalService::builder(Arc::clone(&local.key))
        .key_id("k1")
        .clock(local.clock.clone())
        .rules(RuleSet::default().for_audience("api"))
        .build();
    let app = app(Authenticator::new(Arc::new(for_api)));
    let elsewhere = local.token_with(
        Claims::builder()
            .subject("ivan")
            .audience("billing")
            .build()
            .unwrap(),
    );
    send(&app, bearer("/whoami", &elsewhere), &elsewhere)
        .await
        .assert_unauthorized("invalid_token");
    let here = local.token_with(
        Claims::builder()
            .subject("ivan")
            .audience("api")
            .build()
            .unwrap(),
    );
    assert_eq!(
        send(&app, bearer("/whoami", &here), &here).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_revoked_token_is_invalid() {
    let local = Local::new();
    let app = local_app(&local);
    let token = local.token("judy");
    assert_eq!(
        send(&app, bearer("/whoami", &token), &token).await.status,
        StatusCode::OK
    );
    let verified = local.service.decode_async(&token).await.unwrap();
    local.service.revoke(&verified).await.unwrap();
    send(&app, bearer("/whoami", &token), &token)
        .await
        .assert_unauthorized("invalid_token");
}

#[tokio::test]
async fn a_footer_other_than_the_expected_one_is_invalid() {
    let local = Local::new();
    let token = local.token("kim");
    let expecting = |footer| {
        app(Authenticator::builder(Arc::clone(&local.service))
            .expected_footer(footer)
            .build()
            .unwrap())
    };
    let same = expecting(Footer::Claims(FooterClaims::new().with_key_id("k1")));
    assert_eq!(
        send(&same, bearer("/whoami", &token), &token).await.status,
        StatusCode::OK
    );
    let other = expecting(Footer::Text("v2".into()));
    send(&other, bearer("/whoami", &token), &token)
        .await
        .assert_unauthorized("invalid_token");
}

#[tokio::test]
async fn a_store_that_is_down_gets_503_with_retry_after() {
    let key = LocalKey::generate().unwrap();
    let service = Arc::new(
        LocalService::builder(key)
            .store(Arc::new(UnreachableStore))
            .build(),
    );
    let token = service
        .encode(&Claims::builder().subject("leo").build().unwrap())
        .unwrap();
    for (auth, retry) in [
        (Authenticator::new(Arc::clone(&service)), "5"),
        (
            Authenticator::builder(Arc::clone(&service))
                .retry_after(StdDuration::from_secs(30))
                .build()
                .unwrap(),
            "30",
        ),
        // Whole seconds, rounded up; never 0.
        (
            Authenticator::builder(Arc::clone(&service))
                .retry_after(StdDuration::from_millis(1500))
                .build()
                .unwrap(),
            "2",
        ),
        (
            Authenticator::builder(Arc::clone(&service))
                .retry_after(StdDuration::ZERO)
                .build()
                .unwrap(),
            "1",
        ),
    ] {
        let answer = send(&app(auth), bearer("/whoami", &token), &token).await;
        answer.assert_unavailable(retry);
    }
    // Optional authentication fails closed too: never anonymous.
    let answer = send(
        &app(Authenticator::new(service)),
        bearer("/maybe", &token),
        &token,
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_failed_claims_check_is_403_insufficient_scope() {
    let local = Local::new();
    let app = local_app(&local);
    let reader = local.token_with(
        Claims::builder()
            .subject("mia")
            .claim("scope", "orders:read profile")
            .build()
            .unwrap(),
    );
    let answer = send(&app, bearer("/orders", &reader), &reader).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "orders of mia")
    );
    let writer = local.token_with(
        Claims::builder()
            .subject("mia")
            .claim("scope", "orders:write")
            .build()
            .unwrap(),
    );
    let answer = send(&app, bearer("/orders", &writer), &writer).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope""#)
    );
    assert_eq!(answer.code(), "insufficient_scope");
    // The check runs only on a valid token: no token is still 401.
    assert_eq!(
        send(&app, anonymous("/orders"), "").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn claims_that_do_not_fit_the_type_are_invalid() {
    let local = Local::new();
    let app = local_app(&local);
    let token = local.token("nick");
    send(&app, bearer("/tenant", &token), &token)
        .await
        .assert_unauthorized("invalid_token");
    let tenant = local.token_with(Claims::builder().claim("tenant", "acme").build().unwrap());
    let answer = send(&app, bearer("/tenant", &tenant), &tenant).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "acme")
    );
}

#[tokio::test]
async fn optional_auth_is_none_without_a_token_and_refuses_a_bad_one() {
    let local = Local::new();
    let app = local_app(&local);
    let answer = send(&app, anonymous("/maybe"), "").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "anonymous")
    );
    let token = local.token("olga");
    let answer = send(&app, bearer("/maybe", &token), &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "olga")
    );
    // A token that is sent must be valid: never downgraded to anonymous.
    send(&app, bearer("/maybe", "v4.local.AAAA"), "")
        .await
        .assert_unauthorized("malformed_token");
    local.clock.advance(common::past_expiry());
    send(&app, bearer("/maybe", &token), &token)
        .await
        .assert_unauthorized("invalid_token");
}

#[tokio::test]
async fn several_extractors_in_one_handler_share_one_decode() {
    let local = Local::new();
    let app = local_app(&local);
    let token = local.token_with(
        Claims::builder()
            .subject("pat")
            .claim("scope", "orders:read")
            .build()
            .unwrap(),
    );
    let answer = send(&app, bearer("/three", &token), &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "pat pat true")
    );
    assert_eq!(local.store.checks(), 1);
}

#[tokio::test]
async fn an_extractor_with_a_stricter_authenticator_than_the_layer_decodes_for_itself() {
    bounded(async {
        let local = Local::new();
        let general = Authenticator::new(local.service_for(&["api", "admin"]));
        let admin = Authenticator::new(local.service_for(&["admin"]));
        // The layer accepts both audiences; `/admin`'s extractor, `admin` only.
        let admin_routes = Router::new().route("/admin", get(whoami)).with_state(admin);
        let app = app(general.clone())
            .merge(admin_routes)
            .layer(AuthLayer::new(general));
        let api = local.token_for("eve", "api");
        let answer = send(&app, bearer("/whoami", &api), &api).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "eve k1")
        );
        send(&app, bearer("/admin", &api), &api)
            .await
            .assert_unauthorized("invalid_token");
        let admin_token = local.token_for("fay", "admin");
        let before = local.store.checks();
        let answer = send(&app, bearer("/admin", &admin_token), &admin_token).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "fay k1")
        );
        assert_eq!(
            local.store.checks() - before,
            2,
            "the layer and the stricter extractor each decode once"
        );
        // An extractor whose authenticator is the layer's (a clone) reuses
        // the layer's verdict.
        let before = local.store.checks();
        let answer = send(&app, bearer("/whoami", &admin_token), &admin_token).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "fay k1")
        );
        assert_eq!(local.store.checks() - before, 1, "one decode, the layer's");
    })
    .await;
}

#[tokio::test]
async fn an_invalid_binding_is_a_server_error_without_details() {
    let local = Local::new();
    let auth = Authenticator::builder(Arc::clone(&local.service))
        .binding(|_, _| Some(Binding::new().strict("not a valid name", "x")))
        .build()
        .unwrap();
    let token = local.token("quinn");
    let answer = send(&app(auth), bearer("/whoami", &token), &token).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.header("www-authenticate"), None);
    assert_eq!(answer.code(), "server_error");
    assert!(!answer.body.contains("name"), "{}", answer.body);
}

/// Headers built from a small deterministic generator over bytes that matter
/// to the parsers: every answer is a 401 (or a 200 for a real token), never a
/// panic or a 500.
#[tokio::test]
async fn hostile_headers_never_panic_or_reach_the_store() {
    let local = Local::new();
    let bearer_app = local_app(&local);
    let cookie_app = app(Authenticator::builder(Arc::clone(&local.service))
        .token_source(TokenSource::cookie("sid"))
        .build()
        .unwrap());
    let alphabet: &[&[u8]] = &[
        b"Bearer",
        b"bearer ",
        b" ",
        b"\t",
        b"=",
        b";",
        b",",
        b"\"",
        b"sid",
        b"sid=",
        b"v4.local.",
        b"v4.public.",
        b"AAAA",
        b"-_",
        b"\xff",
        b"\x80",
        b"\xc3\xa9",
        b"\\",
        b"%00",
        b"..",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..400 {
        let mut value = Vec::new();
        for _ in 0..(next() % 12) {
            let index = usize::try_from(next() % alphabet.len() as u64).unwrap();
            value.extend_from_slice(alphabet[index]);
        }
        let Ok(header) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        for (app, name) in [(&bearer_app, "authorization"), (&cookie_app, "cookie")] {
            let request = Request::get("/maybe")
                .header(name, header.clone())
                .body(Body::empty())
                .unwrap();
            let answer = send(app, request, "").await;
            assert!(
                answer.status == StatusCode::OK || answer.status == StatusCode::UNAUTHORIZED,
                "{value:?}: {answer:?}"
            );
        }
    }
    assert_eq!(local.store.checks(), 0);
}
