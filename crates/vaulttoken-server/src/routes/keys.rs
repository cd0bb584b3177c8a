//! `GET /keys`, `POST /keys/rotate` and `POST /keys/retire`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use crate::access::RetireRefusal;
use crate::key_sync::RotateError;
use crate::oauth_error::OAuthError;
use crate::routes::{JsonBody, no_store};
use crate::state::AppState;

/// `GET /keys`: the public keys in use, as PASERK (`k4.public.`) keyed by
/// their `k4.pid.`, with the active one named. Empty for `v4.local` access
/// tokens: no key of theirs may leave the server.
pub(crate) async fn list(State(state): State<AppState>) -> Response {
    let access = state.keys.access();
    let (active, document) = access.published();
    let mut keys = Map::new();
    if let Some(document) = document
        && let Ok(Value::Object(mut ring)) = serde_json::from_str::<Value>(&document)
        && let Some(Value::Array(entries)) = ring.remove("keys")
    {
        for entry in entries {
            if let (Some(Value::String(kid)), Some(Value::String(key))) =
                (entry.get("kid"), entry.get("key"))
            {
                keys.insert(kid.clone(), Value::String(key.clone()));
            }
        }
    }
    let mut body = json!({ "purpose": access.purpose().name(), "keys": keys });
    if access.purpose() == crate::AccessPurpose::Public {
        body["active"] = json!(active);
    }
    let mut response = axum::Json(body).into_response();
    let cache = format!("public, max-age={}", state.keys_max_age);
    if let Ok(value) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
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

/// `POST /keys/rotate` (admin): a new key is added and promoted, the
/// previous one keeps verifying, and the ring is saved before the live ring
/// changes.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    if !is_admin(&state, &headers) {
        tracing::warn!(
            target: "vaulttoken_server::audit",
            event = "admin_authentication_failed"
        );
        return Err(OAuthError::admin_unauthorized());
    }
    match state.keys.rotate().await {
        Ok(active) => {
            tracing::info!(
                target: "vaulttoken_server::audit",
                event = "keys_rotated",
                kid = %active
            );
            Ok(no_store(json!({
                "active": active,
                "keys": state.keys.access().key_ids(),
            })))
        }
        Err(err) => Err(change_failed(&state, err).await),
    }
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
    body: Result<JsonBody<RetireRequest>, OAuthError>,
) -> Result<Response, OAuthError> {
    if !is_admin(&state, &headers) {
        tracing::warn!(
            target: "vaulttoken_server::audit",
            event = "admin_authentication_failed"
        );
        return Err(OAuthError::admin_unauthorized());
    }
    let JsonBody(request) = body?;
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
        RotateError::Shared(err) => {
            tracing::error!(error = %err, "changing the ring failed; it is unchanged");
            OAuthError::unavailable()
        }
        RotateError::Keys(err) | RotateError::Retire(RetireRefusal::Keys(err)) => {
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
