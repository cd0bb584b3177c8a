//! Configuration: what the builder refuses and how it says so, what the
//! authenticator and a verified request show of themselves, and what is
//! logged (never a token, and `error` only for the server's own faults).
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use vaulttoken::binding::Binding;
use vaulttoken_axum::{Authenticator, ConfigError, TokenSource, TrustedProxies, Verified};

use common::{Local, bearer, send};

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

/// Every event: its level and everything it says.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(Level, String)>>>);

struct Text<'a>(&'a mut String);

impl Visit for Text<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = String::new();
        event.record(&mut Text(&mut text));
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), text));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

async fn whoami(session: Verified) -> String {
    session.token().claims().subject().unwrap_or("-").to_owned()
}

/// A refused token is an `info` event naming no token; a fault of the
/// server's own (here a binding that cannot be built) is an `error`.
#[tokio::test]
async fn refusals_are_logged_below_error_and_faults_at_error_never_with_the_token() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let local = Local::new();
    let app = |auth: Authenticator| Router::new().route("/", get(whoami)).with_state(auth);

    let token = local.token("rose");
    // One character of the ciphertext changed: a forgery, not a malformed token.
    let middle = token.len() / 2;
    let swapped = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let tampered = format!("{}{swapped}{}", &token[..middle], &token[middle + 1..]);
    let answer = send(
        &app(Authenticator::new(Arc::clone(&local.service))),
        bearer("/", &tampered),
        &tampered,
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let refused = recorder.0.lock().unwrap().clone();
    assert!(!refused.is_empty());
    assert!(
        refused
            .iter()
            .all(|(level, _)| !matches!(*level, Level::ERROR | Level::WARN)),
        "{refused:?}"
    );

    let broken = Authenticator::builder(Arc::clone(&local.service))
        .binding(|_, _| Some(Binding::new().strict("not a valid name", "x")))
        .build()
        .unwrap();
    let answer = send(&app(broken), bearer("/", &token), &token).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let events = recorder.0.lock().unwrap().clone();
    assert!(
        events.iter().any(|(level, _)| *level == Level::ERROR),
        "{events:?}"
    );
    for (_, text) in &events {
        assert!(
            !text.contains(&token) && !text.contains(&tampered),
            "{text}"
        );
    }
}
