//! `POST /trust/{kind}`, `GET /trust/verify`, `POST /trust/consume`: single-use
//! trust tokens (email verification, password reset, invitations, magic
//! links).
//!
//! A token is bound to the client that issued it: the client id goes, with
//! the caller's `state`, into what the token is sealed against (the implicit
//! assertion, [`binding`]). Only that client, authenticated, can verify or
//! spend it; for any other the token fails to open, which is the answer to an
//! invalid token, and nothing reaches the store.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use vaulttoken::service::VerifiedToken;
use vaulttoken::trust::TrustKind;

use super::token::{check_subject, check_token_len};
use super::{Admitted, AdmittedClient, no_store};
use crate::oauth_error::OAuthError;
use crate::state::AppState;

/// The longest `state` a token is bound to, in bytes.
const MAX_STATE_LEN: usize = 1024;

/// The start of every [`binding`]. Its first byte, 0xFF, never occurs in
/// UTF-8, so no binding equals the bare `state` string tokens were bound to
/// before they were bound to a client: those fail to open (fail closed).
const BINDING_DOMAIN: &[u8] = b"\xffvaulttoken-server.trust.client.v1";

/// The claim that records the issuing client, for the answers and audit
/// only: the binding, not this claim, is what is checked.
const CLIENT_CLAIM: &str = "client_id";

#[derive(Deserialize)]
pub(crate) struct IssueRequest {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
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
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    token: String,
    kind: String,
    #[serde(default)]
    state: Option<String>,
}

client_credentials!(IssueRequest, ConsumeRequest);

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
    .inspect(|kind| crate::metrics::note_trust_kind(kind.name()))
    .ok_or_else(|| {
        OAuthError::invalid_request(
            "kind must be email_verification, password_reset, org_invitation or magic_link",
        )
    })
}

fn checked_state(state: Option<&str>) -> Result<Option<&str>, OAuthError> {
    match state {
        Some(state) if state.len() > MAX_STATE_LEN => {
            Err(OAuthError::invalid_request("state is too long"))
        }
        state => Ok(state),
    }
}

/// What a token is bound to: the issuing client and the caller's state, as
/// `BINDING_DOMAIN ‖ LE64(len) ‖ client ‖ (0 | 1 ‖ LE64(len) ‖ state)`. Every
/// variable part is length-prefixed and "no state" differs from an empty
/// one, so no two (client, state) pairs give the same bytes. The format is
/// fixed: a change kills every outstanding token.
fn binding(client_id: &str, state: Option<&str>) -> Vec<u8> {
    let mut out = BINDING_DOMAIN.to_vec();
    push_framed(&mut out, client_id.as_bytes());
    match state {
        Some(state) => {
            out.push(1);
            push_framed(&mut out, state.as_bytes());
        }
        None => out.push(0),
    }
    out
}

/// `LE64(len(bytes)) ‖ bytes`.
fn push_framed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn described(token: &VerifiedToken, kind: &TrustKind) -> serde_json::Value {
    let claims = token.claims();
    json!({
        "kind": kind.name(),
        "sub": claims.subject(),
        "jti": claims.token_id(),
        "exp": claims.expiration().map(OffsetDateTime::unix_timestamp),
        "client_id": claims.custom_str(CLIENT_CLAIM),
    })
}

/// `POST /trust/{kind}`: issues a trust token (client-authenticated).
pub(crate) async fn issue(
    State(state): State<AppState>,
    Path(kind_name): Path<String>,
    Admitted {
        client_id,
        body: request,
    }: Admitted<IssueRequest>,
) -> Result<Response, OAuthError> {
    let kind = kind(&kind_name)?;
    check_subject(&request.subject)?;
    let bound = binding(&client_id, checked_state(request.state.as_deref())?);
    let issue = state
        .trust()
        .request(kind.clone(), &request.subject)
        .bound_to(&bound)
        .claim(CLIENT_CLAIM, &client_id);
    let token = state
        .trust()
        .issue(issue)
        .await
        .map_err(|err| OAuthError::from_token_error(&err))?;
    Ok(no_store(json!({
        "token": token,
        "kind": kind.name(),
        "expires_in": state.trust().lifetime(&kind).whole_seconds(),
    })))
}

/// `GET /trust/verify?token=…&kind=…[&state=…]`: whether a trust token is
/// valid, without spending it (for the page behind an emailed link;
/// client-authenticated with HTTP Basic, as a GET has no body).
pub(crate) async fn verify(
    State(state): State<AppState>,
    AdmittedClient(client_id): AdmittedClient,
    query: Result<Query<VerifyQuery>, QueryRejection>,
) -> Result<Response, OAuthError> {
    let Query(query) =
        query.map_err(|_| OAuthError::invalid_request("token and kind are required"))?;
    let kind = kind(&query.kind)?;
    check_token_len(&query.token)?;
    let bound = binding(&client_id, checked_state(query.state.as_deref())?);
    let token = state
        .trust()
        .verify(&query.token, &kind, Some(&bound))
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
    Admitted {
        client_id,
        body: request,
    }: Admitted<ConsumeRequest>,
) -> Result<Response, OAuthError> {
    let kind = kind(&request.kind)?;
    check_token_len(&request.token)?;
    let bound = binding(&client_id, checked_state(request.state.as_deref())?);
    let token = state
        .trust()
        .consume(&request.token, &kind, Some(&bound))
        .await
        .map_err(|err| OAuthError::from_token_error(&err))?;
    Ok(no_store(described(&token, &kind)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_clients_and_states_share_a_binding() {
        let pairs = [
            ("web", None),
            ("web", Some("")),
            ("web", Some("a")),
            ("we", Some("ba")),
            ("web\u{0}", None),
            ("mobile", None),
            ("mobile", Some("a")),
        ];
        for (i, first) in pairs.iter().enumerate() {
            for second in &pairs[i + 1..] {
                assert_ne!(
                    binding(first.0, first.1),
                    binding(second.0, second.1),
                    "{first:?} {second:?}"
                );
            }
        }
        assert_eq!(binding("web", Some("a")), binding("web", Some("a")));
    }

    /// The exact bytes: outstanding tokens depend on them.
    #[test]
    fn a_binding_is_framed_and_never_a_bare_state() {
        let bound = binding("web", Some("s1"));
        let mut expected = BINDING_DOMAIN.to_vec();
        expected.extend_from_slice(&3_u64.to_le_bytes());
        expected.extend_from_slice(b"web");
        expected.push(1);
        expected.extend_from_slice(&2_u64.to_le_bytes());
        expected.extend_from_slice(b"s1");
        assert_eq!(bound, expected);
        assert!(String::from_utf8(bound).is_err());
        let mut unbound = BINDING_DOMAIN.to_vec();
        unbound.extend_from_slice(&3_u64.to_le_bytes());
        unbound.extend_from_slice(b"web");
        unbound.push(0);
        assert_eq!(binding("web", None), unbound);
    }
}
