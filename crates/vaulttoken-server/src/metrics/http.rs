//! The layer that counts the answers of the token and trust endpoints, and
//! the notes a handler leaves for it.
//!
//! An answer's outcome is read from the answer itself: a 2xx is `ok`
//! (introspection: `active`, or `inactive` when the handler noted it), an
//! error is the `error` code of the [`OAuthError`] it was made from, and
//! anything else (a rejection axum made itself) is `other`. What only a
//! handler knows (the trust-token kind it read from a body, an inactive
//! token, a `refresh_token` grant at `POST /token`) it notes through a task-local set by this layer for the request
//! ([`note_trust_kind`], [`note_inactive`], [`note_refresh_grant`]), so a handler's signature and
//! flow stay as they are.

use std::cell::Cell;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::Metrics;
use crate::oauth_error::OAuthError;

/// The built-in trust-token kinds, the only values of the `kind` label
/// besides `unknown`.
pub(super) const TRUST_KINDS: [&str; 4] = [
    "email_verification",
    "password_reset",
    "org_invitation",
    "magic_link",
];

/// What a handler noted about its request.
#[derive(Debug, Default)]
struct Notes {
    /// The index in [`TRUST_KINDS`] plus one; 0: none noted.
    trust_kind: Cell<u8>,
    /// Introspection found the token inactive.
    inactive: Cell<bool>,
    /// `POST /token` was a `refresh_token` grant: counted as a refresh.
    refresh_grant: Cell<bool>,
}

tokio::task_local! {
    static NOTES: Notes;
}

/// Notes the trust-token kind a request asked for (a built-in kind's name;
/// another name is noted as none). Outside [`record`], nothing.
pub(crate) fn note_trust_kind(name: &str) {
    let Some(index) = TRUST_KINDS.iter().position(|kind| *kind == name) else {
        return;
    };
    let Ok(noted) = u8::try_from(index + 1) else {
        return;
    };
    let _ = NOTES.try_with(|notes| notes.trust_kind.set(noted));
}

/// Notes that introspection answered `{"active": false}`. Outside
/// [`record`], nothing.
pub(crate) fn note_inactive() {
    let _ = NOTES.try_with(|notes| notes.inactive.set(true));
}

/// Notes that `POST /token` carries the `refresh_token` grant, so that its
/// answer counts as a refresh, as the same request at `/token/refresh`
/// does. Outside [`record`], nothing.
pub(crate) fn note_refresh_grant() {
    let _ = NOTES.try_with(|notes| notes.refresh_grant.set(true));
}

/// `answer`, noted as introspection's inactive answer
/// ([`note_inactive`]).
pub(crate) fn inactive(answer: Response) -> Response {
    note_inactive();
    answer
}

/// What a counted route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Issue,
    Refresh,
    Revoke,
    Introspect,
    TrustIssue,
    TrustVerify,
    TrustConsume,
}

impl Operation {
    /// The operation of a route, by its path as routed (`None`: not
    /// counted).
    fn of_route(path: &str) -> Option<Self> {
        Some(match path {
            "/token" => Self::Issue,
            "/token/refresh" => Self::Refresh,
            "/token/revoke" => Self::Revoke,
            "/token/introspect" => Self::Introspect,
            "/trust/{kind}" => Self::TrustIssue,
            "/trust/verify" => Self::TrustVerify,
            "/trust/consume" => Self::TrustConsume,
            _ => return None,
        })
    }

    /// The `operation` label of a trust-token operation.
    pub(super) fn trust_name(self) -> &'static str {
        match self {
            Self::TrustIssue => "issue",
            Self::TrustVerify => "verify",
            _ => "consume",
        }
    }
}

/// Counts the answer of a token or trust endpoint (see the module
/// documentation); passes every other request through untouched. A
/// `route_layer`, so the route is known.
pub(crate) async fn record(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let operation = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| Operation::of_route(path.as_str()));
    let Some(operation) = operation else {
        return next.run(request).await;
    };
    let mut answering = std::pin::pin!(NOTES.scope(Notes::default(), next.run(request)));
    let response = answering.as_mut().await;
    let notes = answering.as_mut().take_value().unwrap_or_default();
    let operation = match operation {
        Operation::Issue if notes.refresh_grant.get() => Operation::Refresh,
        other => other,
    };
    let kind = match notes.trust_kind.get() {
        0 => "unknown",
        index => TRUST_KINDS
            .get(usize::from(index) - 1)
            .copied()
            .unwrap_or("unknown"),
    };
    metrics.answered(operation, kind, outcome(operation, &response, &notes));
    response
}

/// The outcome label of an answer.
fn outcome(operation: Operation, response: &Response, notes: &Notes) -> &'static str {
    if let Some(error) = response.extensions().get::<OAuthError>() {
        return error.code();
    }
    if !response.status().is_success() {
        return "other";
    }
    match operation {
        Operation::Introspect if notes.inactive.get() => "inactive",
        Operation::Introspect => "active",
        _ => "ok",
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse as _;

    use super::*;

    #[test]
    fn only_the_token_and_trust_routes_are_counted() {
        assert_eq!(Operation::of_route("/token"), Some(Operation::Issue));
        assert_eq!(
            Operation::of_route("/token/refresh"),
            Some(Operation::Refresh)
        );
        assert_eq!(
            Operation::of_route("/token/revoke"),
            Some(Operation::Revoke)
        );
        assert_eq!(
            Operation::of_route("/token/introspect"),
            Some(Operation::Introspect)
        );
        assert_eq!(
            Operation::of_route("/trust/{kind}"),
            Some(Operation::TrustIssue)
        );
        assert_eq!(
            Operation::of_route("/trust/verify"),
            Some(Operation::TrustVerify)
        );
        assert_eq!(
            Operation::of_route("/trust/consume"),
            Some(Operation::TrustConsume)
        );
        for other in [
            "/keys",
            "/healthz",
            "/readyz",
            "/metrics",
            "/keys/rotate",
            "/trust/x",
        ] {
            assert_eq!(Operation::of_route(other), None, "{other}");
        }
        assert_eq!(Operation::TrustIssue.trust_name(), "issue");
        assert_eq!(Operation::TrustVerify.trust_name(), "verify");
        assert_eq!(Operation::TrustConsume.trust_name(), "consume");
    }

    #[test]
    fn the_outcome_is_the_error_code_ok_or_the_introspection_answer() {
        let notes = Notes::default();
        let error = OAuthError::invalid_grant("x").into_response();
        assert_eq!(outcome(Operation::Refresh, &error, &notes), "invalid_grant");
        let limited = OAuthError::rate_limited(3).into_response();
        assert_eq!(
            outcome(Operation::Introspect, &limited, &notes),
            "slow_down"
        );
        let fine = StatusCode::OK.into_response();
        assert_eq!(outcome(Operation::Issue, &fine, &notes), "ok");
        assert_eq!(outcome(Operation::Introspect, &fine, &notes), "active");
        notes.inactive.set(true);
        assert_eq!(outcome(Operation::Introspect, &fine, &notes), "inactive");
        assert_eq!(outcome(Operation::Revoke, &fine, &notes), "ok");
        let other = StatusCode::METHOD_NOT_ALLOWED.into_response();
        assert_eq!(outcome(Operation::Issue, &other, &notes), "other");
    }

    #[tokio::test]
    async fn notes_are_kept_within_their_scope_only() {
        // Outside a scope: nothing, and no panic.
        note_trust_kind("magic_link");
        note_inactive();
        let mut scoped = std::pin::pin!(NOTES.scope(Notes::default(), async {
            note_trust_kind("password_reset");
            note_trust_kind("not-a-kind");
            note_inactive();
        }));
        scoped.as_mut().await;
        let notes = scoped.as_mut().take_value().unwrap();
        assert_eq!(
            TRUST_KINDS[usize::from(notes.trust_kind.get()) - 1],
            "password_reset"
        );
        assert!(notes.inactive.get());
        for (index, kind) in TRUST_KINDS.iter().enumerate() {
            let mut scoped = std::pin::pin!(NOTES.scope(Notes::default(), async {
                note_trust_kind(kind);
            }));
            scoped.as_mut().await;
            let notes = scoped.as_mut().take_value().unwrap();
            assert_eq!(usize::from(notes.trust_kind.get()), index + 1);
        }
    }
}
