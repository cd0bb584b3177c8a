//! What is logged: a refused token below `warn`, a fault of the server's own
//! at `error`, and never a token. The only test of its binary, so that the
//! subscriber it installs for the whole process sees every event (tracing
//! caches, per call site, whether anyone listens; tests running beside it on
//! other threads would race that cache).
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use tracing::Level;
use vaulttoken::binding::Binding;
use vaulttoken_axum::{Authenticator, Verified};
use vaulttoken_test_redis::EventRecorder;

use common::{Local, bearer, send};

/// Every event so far: its level and everything it says.
fn said(recorder: &EventRecorder) -> Vec<(Level, String)> {
    recorder
        .events()
        .into_iter()
        .map(|event| {
            let text = event
                .fields
                .iter()
                .map(|(name, value)| format!("{name}={value} "))
                .collect();
            (event.level, text)
        })
        .collect()
}

async fn whoami(session: Verified) -> String {
    session.token().claims().subject().unwrap_or("-").to_owned()
}

/// A refused token is an `info` event naming no token; a fault of the
/// server's own (here a binding that cannot be built) is an `error`.
#[tokio::test]
async fn refusals_are_logged_below_error_and_faults_at_error_never_with_the_token() {
    let recorder = EventRecorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).unwrap();
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
    let refused = said(&recorder);
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
    let events = said(&recorder);
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
