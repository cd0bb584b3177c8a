//! Configuration: what the builder refuses and how it says so, what the
//! authenticator and a verified request show of themselves. What is logged
//! is in `logging.rs`.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Router};
use http::StatusCode;
use vaulttoken::binding::Binding;
use vaulttoken_axum::{
    AuthLayer, Authenticated, Authenticator, ConfigError, TokenSource, TrustedProxies, Verified,
};

use common::{Local, bearer, bounded, send};

#[test]
fn the_builder_refuses_a_cookie_name_that_is_not_a_token() {
    let local = Local::new();
    for name in ["a b", "", "sid;", "s\u{e9}"] {
        let refused = Authenticator::builder(Arc::clone(&local.service))
            .token_source(TokenSource::cookie(name))
            .build()
            .unwrap_err();
        assert_eq!(refused, ConfigError::InvalidCookieName, "{name:?}");
    }
    Authenticator::builder(Arc::clone(&local.service))
        .token_source(TokenSource::cookie("__Host-session"))
        .build()
        .unwrap();
}

#[test]
fn config_errors_say_what_is_wrong() {
    assert_eq!(
        ConfigError::InvalidRealm.to_string(),
        "the realm must be visible ASCII or spaces, without `\"` or `\\`"
    );
    assert_eq!(
        ConfigError::InvalidCookieName.to_string(),
        "the cookie name is not an RFC 6265 token"
    );
    assert_eq!(
        ConfigError::InvalidProxy { index: 3 }.to_string(),
        "trusted proxy #3 is not an IP address or CIDR range"
    );
}

#[test]
fn the_authenticator_hands_back_its_trusted_proxies() {
    let local = Local::new();
    let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
    let auth = Authenticator::builder(Arc::clone(&local.service))
        .trusted_proxies(proxies.clone())
        .build()
        .unwrap();
    assert_eq!(auth.trusted_proxies(), &proxies);
    assert!(!auth.trusted_proxies().is_empty());
    let plain = Authenticator::new(Arc::clone(&local.service));
    assert!(plain.trusted_proxies().is_empty());
}

/// `Debug` shows the configuration that matters when reading a log, and no
/// key: the service prints as its own redacted self.
#[test]
fn debug_shows_the_configuration_and_no_key() {
    let local = Local::new();
    let key_bytes = format!("{:?}", local.key.to_paserk().unwrap().as_str());
    let builder = Authenticator::builder(Arc::clone(&local.service))
        .token_source(TokenSource::cookie("sid"))
        .binding(|_, _| Some(Binding::new()))
        .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap());
    let shown = format!("{builder:?}");
    assert!(shown.starts_with("AuthenticatorBuilder"), "{shown}");
    for part in [
        r#"TokenSource::Cookie("sid")"#,
        "binding: true",
        "10.0.0.0/8",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    let auth = builder.realm("api").build().unwrap();
    let shown = format!("{auth:?}");
    assert!(shown.starts_with("Authenticator"), "{shown}");
    for part in [
        r#"TokenSource::Cookie("sid")"#,
        "binding: true",
        "10.0.0.0/8",
        "realm: Some(\"api\")",
        "retry_after_secs: 5",
        "max_credential_len: 8192",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    assert!(!shown.contains(key_bytes.trim_matches('"')), "{shown}");
}

#[derive(Debug, serde::Deserialize)]
struct Who {
    #[expect(dead_code, reason = "read through Debug")]
    sub: String,
}

async fn shown(who: Verified<Who>) -> String {
    format!("{who:?}")
}

/// A handler's `Debug` of what it extracted: the claims and the key id, and
/// not the token.
#[tokio::test]
async fn debug_of_verified_claims_shows_claims_and_key_id_not_the_token() {
    let local = Local::new();
    let app = Router::new()
        .route("/", get(shown))
        .with_state(Authenticator::new(Arc::clone(&local.service)));
    let token = local.token("sam");
    let answer = send(&app, bearer("/", &token), &token).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        r#"Verified { claims: Who { sub: "sam" }, key_id: Some("k1"), .. }"#
    );
}

async fn shown_verdict(Extension(verdict): Extension<Authenticated>) -> String {
    format!("{verdict:?}")
}

/// A handler's `Debug` of the layer's verdict: the verified token, which
/// shows claim names and not their values (`send` checks that the token is
/// not there either), and not which authenticators checked the request.
#[tokio::test]
async fn debug_of_a_verdict_shows_the_verified_token_only() {
    bounded(async {
        let local = Local::new();
        let auth = Authenticator::new(Arc::clone(&local.service));
        let app = Router::new()
            .route("/", get(shown_verdict))
            .layer(AuthLayer::new(auth));
        let token = local.token("sam");
        let answer = send(&app, bearer("/", &token), &token).await;
        assert_eq!(answer.status, StatusCode::OK);
        let verified = local.service.decode_async(&token).await.unwrap();
        assert_eq!(answer.body, format!("Authenticated({verified:?})"));
        assert!(answer.body.contains("\"sub\""), "{}", answer.body);
        assert!(!answer.body.contains("sam"), "{}", answer.body);
    })
    .await;
}
