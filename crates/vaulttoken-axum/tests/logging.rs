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

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use http::StatusCode;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use vaulttoken::binding::Binding;
use vaulttoken_axum::{Authenticator, Verified};

use common::{Local, bearer, send};

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
