//! `GET /keys`, `POST /keys/rotate` and `POST /keys/retire`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::access::RetireRefusal;
use crate::key_set::{Published, key_set};
use crate::key_sync::{RotateError, RotateRequest};
use crate::oauth_error::OAuthError;
use crate::routes::{Body, no_store};
use crate::state::AppState;

/// `GET /keys`: the key set of the access ring in force
/// (`docs/KEYSET.md`), `Cache-Control: public, max-age=<cache seconds>`,
/// with a strong `ETag`; `If-None-Match` naming it answers 304 with no
/// body. For `v4.local` access tokens the set names key ids only: no key
/// of theirs may leave the server.
pub(crate) async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let access = state.keys.access();
    let set = match key_set(&access, &state.issuer, state.keys_max_age) {
        Ok(set) => set,
        Err(err) => {
            tracing::error!(
                error = %err,
                purpose = access.purpose().name(),
                "the key set could not be built"
            );
            return OAuthError::server_error().into_response();
        }
    };
    let published = Published::of(&set);
    let cache = format!("public, max-age={}", state.keys_max_age);
    let (Ok(cache), Ok(etag)) = (
        HeaderValue::from_str(&cache),
        HeaderValue::from_str(&published.etag),
    ) else {
        return OAuthError::server_error().into_response();
    };
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| published.matches(value));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            published.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, cache);
    headers.insert(header::ETAG, etag);
    response
}

/// Whether the request carries `Authorization: Bearer <admin secret>`,
/// compared in constant time. No admin secret configured: never.
fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(admin) = &state.admin else {
        return false;
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compare even when nothing was presented, so both paths cost alike.
    let expected = admin.expose().as_bytes();
    bool::from(expected.ct_eq(presented.as_bytes())) && !presented.is_empty()
}

/// The body of `POST /keys/rotate`; none (or `{}`) is an announced
/// rotation.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateBody {
    #[serde(default)]
    immediately: bool,
    #[serde(default)]
    retire: Option<String>,
}

/// `POST /keys/rotate` (admin): announces a new key (published as next,
/// signing from `promotes_at`), or with `{"immediately": true}` promotes
/// one at once and, with `"retire": kid`, removes a leaked key in the same
/// change. The previous active key keeps verifying, and the ring is saved
/// before the live ring changes.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    if !is_admin(&state, &headers) {
        tracing::warn!(
            target: "vaulttoken_server::audit",
            event = "admin_authentication_failed"
        );
        return Err(OAuthError::admin_unauthorized());
    }
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            OAuthError::invalid_request(
                "the body must be empty or {\"immediately\": bool, \"retire\": kid}",
            )
        })?
    };
    if body.retire.is_some() && !body.immediately {
        return Err(OAuthError::invalid_request(
            "retire needs immediately: true (the emergency path); \
             POST /keys/retire removes a key that is not active",
        ));
    }
    let request = RotateRequest {
        immediately: body.immediately,
        retire: body.retire,
    };
    match state.keys.rotate(&request).await {
        Ok(rotated) => {
            let mut answer = json!({
                "active": rotated.active,
                "keys": state.keys.access().key_ids(),
            });
            if let Some((kid, at)) = &rotated.next {
                answer["next"] = json!(kid);
                answer["promotes_at"] = json!(rfc3339(*at));
                tracing::info!(
                    target: "vaulttoken_server::audit",
                    event = "keys_rotated",
                    next = %kid,
                    promotes_at = %rfc3339(*at),
                );
            } else {
                tracing::warn!(
                    target: "vaulttoken_server::audit",
                    event = "keys_rotated_immediately",
                    kid = %rotated.active,
                    retired = ?rotated.retired,
                );
            }
            if !rotated.retired.is_empty() {
                answer["retired"] = json!(rotated.retired);
            }
            Ok(no_store(answer))
        }
        Err(RotateError::Pending(pending)) => {
            let mut answer = no_store(json!({
                "error": "conflict",
                "error_description": "a rotation is announced already and its key does not sign yet; \
                    wait for promotes_at, or rotate with immediately: true",
                "next": pending.kid,
                "promotes_at": rfc3339(pending.at),
            }));
            *answer.status_mut() = StatusCode::CONFLICT;
            Ok(answer)
        }
        Err(err) => Err(change_failed(&state, err).await),
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

#[derive(Deserialize)]
pub(crate) struct RetireRequest {
    kid: String,
}

/// `POST /keys/retire` (admin): removes a key at once, for a compromised
/// key: the tokens it signed stop verifying. The active key is refused
/// (rotate first).
pub(crate) async fn retire(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Body<RetireRequest>, OAuthError>,
) -> Result<Response, OAuthError> {
    if !is_admin(&state, &headers) {
        tracing::warn!(
            target: "vaulttoken_server::audit",
            event = "admin_authentication_failed"
        );
        return Err(OAuthError::admin_unauthorized());
    }
    let Body(request) = body?;
    match state.keys.retire(&request.kid).await {
        Ok(()) => {
            tracing::warn!(
                target: "vaulttoken_server::audit",
                event = "key_retired_immediately",
                kid = %request.kid
            );
            Ok(no_store(json!({
                "retired": request.kid,
                "keys": state.keys.access().key_ids(),
            })))
        }
        Err(err) => Err(change_failed(&state, err).await),
    }
}

/// The answer to a failed ring change; in every case the ring is unchanged.
async fn change_failed(state: &AppState, err: RotateError) -> OAuthError {
    match err {
        RotateError::Conflict => {
            // Take up the other instance's ring now rather than at the next poll.
            let _ = state.keys.reload().await;
            OAuthError::conflict()
        }
        RotateError::Retire(RetireRefusal::Unknown) => {
            OAuthError::invalid_request("no key of the ring has this kid")
        }
        RotateError::Retire(RetireRefusal::Active) => {
            OAuthError::invalid_request("the active key cannot be retired: rotate first")
        }
        RotateError::Pending(_) => OAuthError::conflict(),
        RotateError::Shared(err) => {
            tracing::error!(error = %err, "changing the ring failed; it is unchanged");
            OAuthError::unavailable()
        }
        RotateError::Retire(RetireRefusal::Keys(err)) => {
            tracing::error!(error = %err, "changing the ring failed; it is unchanged");
            OAuthError::server_error()
        }
        RotateError::Document(err) => {
            tracing::error!(error = %err, "changing the ring failed; it is unchanged");
            OAuthError::server_error()
        }
        RotateError::Persist(err) => {
            tracing::error!(error = %err, "the changed ring could not be saved; it is unchanged");
            OAuthError::server_error()
        }
    }
}
