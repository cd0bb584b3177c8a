//! `POST /trust/{kind}`, `GET /trust/verify`, `POST /trust/consume`: single-use
//! trust tokens (email verification, password reset, invitations, magic
//! links).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use vaulttoken::service::VerifiedToken;
use vaulttoken::trust::TrustKind;

use super::token::{check_subject, check_token_len};
use super::{ClientIp, JsonBody, no_store};
use crate::oauth_error::OAuthError;
use crate::state::AppState;

/// The longest `state` a token is bound to, in bytes.
const MAX_STATE_LEN: usize = 1024;

#[derive(Deserialize)]
pub(crate) struct IssueRequest {
    client_id: String,
    client_secret: String,
    subject: String,
    /// Bound into the token: it verifies only with the same state.
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct VerifyQuery {
    token: String,
    kind: String,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ConsumeRequest {
    client_id: String,
    client_secret: String,
    token: String,
    kind: String,
    #[serde(default)]
    state: Option<String>,
}

/// The built-in kinds, by name.
fn kind(name: &str) -> Result<TrustKind, OAuthError> {
    [
        TrustKind::EmailVerification,
        TrustKind::PasswordReset,
        TrustKind::OrgInvitation,
        TrustKind::MagicLink,
    ]
    .into_iter()
    .find(|kind| kind.name() == name)
    .ok_or_else(|| {
        OAuthError::invalid_request(
            "kind must be email_verification, password_reset, org_invitation or magic_link",
        )
    })
}

fn bound_state(state: Option<&str>) -> Result<Option<&[u8]>, OAuthError> {
    match state {
        Some(state) if state.len() > MAX_STATE_LEN => {
            Err(OAuthError::invalid_request("state is too long"))
        }
        Some(state) => Ok(Some(state.as_bytes())),
        None => Ok(None),
    }
}

fn described(token: &VerifiedToken, kind: &TrustKind) -> serde_json::Value {
    let claims = token.claims();
    json!({
        "kind": kind.name(),
        "sub": claims.subject(),
        "jti": claims.token_id(),
        "exp": claims.expiration().map(OffsetDateTime::unix_timestamp),
    })
}

/// `POST /trust/{kind}`: issues a trust token (client-authenticated).
pub(crate) async fn issue(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(kind_name): Path<String>,
    body: Result<JsonBody<IssueRequest>, OAuthError>,
) -> Result<Response, OAuthError> {
    state.limit_ip(ip).await?;
    let JsonBody(request) = body?;
    state
        .authenticate(ip, &request.client_id, &request.client_secret)
        .await?;
    let kind = kind(&kind_name)?;
    check_subject(&request.subject)?;
    let mut issue = state.trust.request(kind.clone(), &request.subject);
    if let Some(bound) = bound_state(request.state.as_deref())? {
        issue = issue.bound_to(bound);
    }
    let token = state
        .trust
        .issue(issue)
        .await
        .map_err(|err| OAuthError::from_token_error(&err))?;
    Ok(no_store(json!({
        "token": token,
        "kind": kind.name(),
        "expires_in": state.trust.lifetime(&kind).whole_seconds(),
    })))
}

/// `GET /trust/verify?token=…&kind=…[&state=…]`: whether a trust token is
/// valid, without spending it (for the page behind an emailed link).
pub(crate) async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    query: Result<Query<VerifyQuery>, QueryRejection>,
) -> Result<Response, OAuthError> {
    state.limit_ip(ip).await?;
    let Query(query) =
        query.map_err(|_| OAuthError::invalid_request("token and kind are required"))?;
    let kind = kind(&query.kind)?;
    check_token_len(&query.token)?;
    let bound = bound_state(query.state.as_deref())?;
    let token = state
        .trust
        .verify(&query.token, &kind, bound)
        .await
        .map_err(|err| OAuthError::from_token_error(&err))?;
    let mut body = described(&token, &kind);
    body["valid"] = json!(true);
    Ok(no_store(body))
}

/// `POST /trust/consume`: spends a trust token exactly once
/// (client-authenticated).
pub(crate) async fn consume(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Result<JsonBody<ConsumeRequest>, OAuthError>,
) -> Result<Response, OAuthError> {
    state.limit_ip(ip).await?;
    let JsonBody(request) = body?;
    state
        .authenticate(ip, &request.client_id, &request.client_secret)
        .await?;
    let kind = kind(&request.kind)?;
    check_token_len(&request.token)?;
    let bound = bound_state(request.state.as_deref())?;
    let token = state
        .trust
        .consume(&request.token, &kind, bound)
        .await
        .map_err(|err| OAuthError::from_token_error(&err))?;
    Ok(no_store(described(&token, &kind)))
}
