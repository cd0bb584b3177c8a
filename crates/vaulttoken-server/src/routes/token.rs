//! `POST /token`, `/token/refresh`, `/token/revoke` (RFC 7009) and
//! `/token/introspect` (RFC 7662).
//!
//! Each client's refresh tokens are sealed with its own key (see the key
//! file): a refresh token of another client does not decode, so a client can
//! neither refresh nor revoke (nor burn) another client's refresh token.
//!
//! Each body may carry the end user's `context` (see [`crate::context`]).
//! With binding on, a token is bound to the context it was issued in, and
//! must be presented with it on every endpoint: under `strict` a token in
//! another context is an invalid grant (refresh), inactive (introspection)
//! or unknown (revocation); under `observe` it works, and the drift is
//! audited.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use vaulttoken::Error;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::family::{SCOPE_CLAIM, TokenPair};
use vaulttoken::store::FAMILY_CLAIM;

use super::{Admitted, no_store};
use crate::audience::{self, Issuing};
use crate::client_access::{self, CLIENT_CLAIM};
use crate::context::ContextBody;
use crate::oauth_error::OAuthError;
use crate::scopes;
use crate::state::AppState;

/// The longest subject accepted, in bytes.
const MAX_SUBJECT_LEN: usize = 256;
/// The longest token accepted in a body, in bytes.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The `grant_type` of today's issuance for a subject by a trusted
/// backend (an extension grant, RFC 6749 §4.5); `POST /token` without a
/// `grant_type` is this grant too.
pub(crate) const SUBJECT_GRANT: &str = "urn:vaulttoken:grant-type:subject";
/// The standard grants `POST /token` takes besides [`SUBJECT_GRANT`].
pub(crate) const REFRESH_GRANT: &str = "refresh_token";
/// See [`REFRESH_GRANT`].
pub(crate) const CLIENT_CREDENTIALS_GRANT: &str = "client_credentials";

/// The body of `POST /token`: what each grant reads.
#[derive(Deserialize)]
pub(crate) struct GrantRequest {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    /// [`SUBJECT_GRANT`] when absent.
    #[serde(default)]
    grant_type: Option<String>,
    /// The subject grant's end user.
    #[serde(default)]
    subject: Option<String>,
    /// The refresh grant's token.
    #[serde(default)]
    refresh_token: Option<String>,
    /// The `aud` asked for: one of the client's audiences (default its
    /// first).
    #[serde(default)]
    audience: Option<String>,
    /// The scopes asked for (space-separated): a subset of the client's
    /// (default its default set); for the refresh grant, of the grant.
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    context: Option<ContextBody>,
}

/// The body of `POST /token/refresh`.
#[derive(Deserialize)]
pub(crate) struct RefreshRequest {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    refresh_token: String,
    #[serde(default)]
    grant_type: Option<String>,
    /// Narrows the access token's scope within the grant.
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    context: Option<ContextBody>,
}

#[derive(Deserialize)]
pub(crate) struct TokenRequest {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    token: String,
    /// RFC 7009 / 7662: a hint only; both kinds are tried.
    #[serde(default)]
    #[expect(dead_code, reason = "accepted as RFC 7009 and 7662 allow, not needed")]
    token_type_hint: Option<String>,
    #[serde(default)]
    context: Option<ContextBody>,
}

client_credentials!(GrantRequest, RefreshRequest, TokenRequest);

/// Checks a subject: 1 to 256 bytes, no control characters.
pub(crate) fn check_subject(subject: &str) -> Result<(), OAuthError> {
    if subject.is_empty() || subject.len() > MAX_SUBJECT_LEN {
        return Err(OAuthError::invalid_request(
            "subject must be 1 to 256 bytes",
        ));
    }
    if subject.chars().any(char::is_control) {
        return Err(OAuthError::invalid_request(
            "subject must not hold control characters",
        ));
    }
    Ok(())
}

/// Checks the length of a presented token before anything decodes it.
pub(crate) fn check_token_len(token: &str) -> Result<(), OAuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(OAuthError::invalid_request("the token is too long"));
    }
    Ok(())
}

/// Whole seconds from now until `at`, rounded up (a token issued this
/// second for 900 s says 900), never negative.
fn seconds_until(at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let left = at - now;
    (left.whole_seconds() + i64::from(left.subsec_nanoseconds() > 0)).max(0)
}

/// A token answer (RFC 6749 §5.1): the access token, and the refresh
/// token when there is one.
fn token_response(
    access: &str,
    access_expires_at: OffsetDateTime,
    refresh: Option<(&str, OffsetDateTime)>,
    scope: Option<&str>,
) -> Response {
    let now = SystemClock.now();
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": seconds_until(access_expires_at, now),
    });
    if let Some((refresh, refresh_expires_at)) = refresh {
        answer["refresh_token"] = json!(refresh);
        answer["refresh_expires_in"] = json!(seconds_until(refresh_expires_at, now));
    }
    if let Some(scope) = scope {
        answer["scope"] = json!(scope);
    }
    no_store(answer)
}

/// The answer of a new pair.
fn pair_response(pair: &TokenPair) -> Response {
    token_response(
        &pair.access,
        pair.access_expires_at,
        Some((&pair.refresh, pair.refresh_expires_at)),
        pair.scope.as_deref(),
    )
}

fn internal(error: &Error) -> OAuthError {
    tracing::error!(error = %error, "issuing failed");
    OAuthError::from_token_error(error)
}

/// 400 `invalid_request` for a field the grant needs.
fn required(field: &str) -> OAuthError {
    OAuthError::invalid_request_owned(format!("{field}: required"))
}

/// `POST /token`: the grant of `grant_type`: [`SUBJECT_GRANT`] (also
/// without `grant_type`), `refresh_token` or `client_credentials`; any
/// other is `unsupported_grant_type`.
pub(crate) async fn issue(
    State(state): State<AppState>,
    Admitted {
        client_id,
        body: request,
    }: Admitted<GrantRequest>,
) -> Result<Response, OAuthError> {
    match request.grant_type.as_deref() {
        None | Some(SUBJECT_GRANT) => subject_grant(&state, &client_id, &request).await,
        Some(REFRESH_GRANT) => {
            crate::metrics::note_refresh_grant();
            let token = request
                .refresh_token
                .as_deref()
                .ok_or_else(|| required("refresh_token"))?;
            let scope = request.scope.as_deref();
            refresh_grant(&state, &client_id, token, scope, request.context.as_ref()).await
        }
        Some(CLIENT_CREDENTIALS_GRANT) => client_grant(&state, &client_id, &request),
        Some(_) => Err(OAuthError::unsupported_grant_type()),
    }
}

/// The subject grant: a new family for `subject`, its first pair.
async fn subject_grant(
    state: &AppState,
    client_id: &str,
    request: &GrantRequest,
) -> Result<Response, OAuthError> {
    let subject = request
        .subject
        .as_deref()
        .ok_or_else(|| required("subject"))?;
    check_subject(subject)?;
    let allowed = state.clients.audiences(client_id);
    let audience = audience::choose(allowed, request.audience.as_deref())?;
    let scope = client_scope(state, client_id, request)?;
    let binding = state.binding.of(request.context.as_ref())?;
    let families = state.families_of(client_id)?;
    let families = &*families;
    // The family is sealed with the audience: every refresh keeps it.
    let sealing = audience::sealing(binding.as_ref(), audience.as_deref());
    let issuing = Issuing {
        audience,
        context: binding,
    };
    let pair = audience::issuing(issuing, async {
        match (&sealing, &scope) {
            (sealing, Some(scope)) => {
                families
                    .issue_scoped(subject, sealing.as_ref(), scope)
                    .await
            }
            (Some(sealing), None) => families.issue_bound(subject, sealing).await,
            (None, None) => families.issue(subject).await,
        }
    })
    .await
    .map_err(|err| internal(&err))?;
    Ok(pair_response(&pair))
}

/// The `client_credentials` grant (RFC 6749 §4.4): an access token whose
/// subject is the client itself, and no refresh token. It is never bound
/// to an end user's context: there is none.
fn client_grant(
    state: &AppState,
    client_id: &str,
    request: &GrantRequest,
) -> Result<Response, OAuthError> {
    if request.subject.is_some() {
        return Err(OAuthError::invalid_request(
            "subject: the client_credentials grant is for the client itself",
        ));
    }
    if request.context.is_some() {
        return Err(OAuthError::invalid_request(
            "context: the client_credentials grant has no end user to bind to",
        ));
    }
    let allowed = state.clients.audiences(client_id);
    let audience = audience::choose(allowed, request.audience.as_deref())?;
    let scope = client_scope(state, client_id, request)?;
    let (token, expires_at) = client_access::client_token(
        &state.keys,
        client_id,
        &state.issuer,
        audience.as_deref(),
        scope.as_deref(),
        state.lifetimes.access,
    )
    .map_err(|err| internal(&err))?;
    Ok(token_response(&token, expires_at, None, scope.as_deref()))
}

/// The scope a new grant gets: see [`scopes::choose`].
fn client_scope(
    state: &AppState,
    client_id: &str,
    request: &GrantRequest,
) -> Result<Option<String>, OAuthError> {
    scopes::choose(
        state.clients.scopes(client_id),
        state.clients.default_scopes(client_id),
        request.scope.as_deref(),
    )
}

/// `POST /token/refresh`: the refresh grant (as `POST /token` with
/// `grant_type=refresh_token`).
pub(crate) async fn refresh(
    State(state): State<AppState>,
    Admitted {
        client_id,
        body: request,
    }: Admitted<RefreshRequest>,
) -> Result<Response, OAuthError> {
    if request
        .grant_type
        .as_deref()
        .is_some_and(|grant| grant != REFRESH_GRANT)
    {
        return Err(OAuthError::unsupported_grant_type());
    }
    refresh_grant(
        &state,
        &client_id,
        &request.refresh_token,
        request.scope.as_deref(),
        request.context.as_ref(),
    )
    .await
}

/// The refresh grant, for both endpoints: rotation; a reused refresh token
/// revokes its family (`invalid_grant`). A `scope` narrows the access
/// token's within the family's grant (RFC 6749 §6): a scope outside it, or
/// one the client may no longer ask for, is `invalid_scope`, and spends
/// nothing.
async fn refresh_grant(
    state: &AppState,
    client_id: &str,
    token: &str,
    scope: Option<&str>,
    context: Option<&ContextBody>,
) -> Result<Response, OAuthError> {
    check_token_len(token)?;
    if let Some(asked) = scopes::check_asked(scope)? {
        let allowed = state.clients.scopes(client_id);
        if !asked
            .iter()
            .all(|token| allowed.iter().any(|known| known == token))
        {
            return Err(OAuthError::invalid_scope(
                "scope: not within the scopes this client may ask for",
            ));
        }
    }
    let binding = state.binding.of(context)?;
    let families = state.families_of(client_id)?;
    let families = &*families;
    // The token decodes only with the audience it was issued for (tried in
    // turn), and in another strict context not at all: a failed decode
    // rotates and revokes nothing.
    let allowed = state.clients.audiences(client_id);
    let pair = audience::each_candidate(allowed, binding.as_ref(), |sealing| async move {
        families
            .refresh_scoped(token, sealing.as_ref(), scope)
            .await
    })
    .await
    .map_err(|err| OAuthError::from_token_error(&err))?;
    Ok(pair_response(&pair))
}

/// `POST /token/revoke` (RFC 7009): revokes an access token (its `jti`) or
/// a refresh token's whole family; 200 for unknown and invalid tokens too.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Admitted {
        client_id,
        body: request,
    }: Admitted<TokenRequest>,
) -> Result<Response, OAuthError> {
    let binding = state.binding.of(request.context.as_ref())?;
    let done = || no_store(json!({}));
    // A shortcut, not a rule: no token this server issues comes near 8 KiB
    // (bounded subject, scopes and audience), so a longer one would fail to
    // decode and get the same answer (cargo-mutants: `>=` and `==` here are
    // equivalent; the body limit bounds the length either way).
    if request.token.len() > MAX_TOKEN_LEN {
        return Ok(done());
    }
    let unavailable = |err: &Error| matches!(err, Error::Store(_));
    let implicit = state
        .binding
        .assertion(binding.as_ref())
        .map_err(|err| internal(&err))?;
    // A token of a key rotated in elsewhere is looked up, not skipped.
    let (keys, decoded) = state.keys.decode(&request.token, &implicit).await;
    match decoded {
        Ok(access) => {
            if access.claims().custom_str(CLIENT_CLAIM) != Some(client_id.as_str()) {
                return Err(OAuthError::unauthorized_client());
            }
            keys.revoke(&access)
                .await
                .map_err(|err| OAuthError::from_token_error(&err))?;
            return Ok(done());
        }
        Err(err) if unavailable(&err) => return Err(OAuthError::unavailable()),
        Err(_) => {}
    }
    let families = state.families_of(&client_id)?;
    let families = &*families;
    let allowed = state.clients.audiences(&client_id);
    let token = request.token.as_str();
    let refresh = audience::each_candidate(allowed, binding.as_ref(), |sealing| async move {
        match &sealing {
            Some(sealing) => families.verify_refresh_bound(token, sealing).await,
            None => families.verify_refresh(token).await,
        }
    })
    .await;
    match refresh {
        Ok(refresh) => {
            let claims = refresh.claims();
            let (Some(subject), Some(family_id)) =
                (claims.subject(), claims.custom_str(FAMILY_CLAIM))
            else {
                return Ok(done());
            };
            families
                .revoke(subject, family_id)
                .await
                .map_err(|err| OAuthError::from_token_error(&err))?;
            Ok(done())
        }
        Err(err) if unavailable(&err) => Err(OAuthError::unavailable()),
        Err(_) => Ok(done()),
    }
}

/// `POST /token/introspect` (RFC 7662): `{"active": false}` for anything
/// that is not a valid access token of this server.
pub(crate) async fn introspect(
    State(state): State<AppState>,
    // Any authenticated client may introspect any token of this server.
    Admitted { body: request, .. }: Admitted<TokenRequest>,
) -> Result<Response, OAuthError> {
    let binding = state.binding.of(request.context.as_ref())?;
    let inactive = || crate::metrics::inactive(no_store(json!({ "active": false })));
    // A shortcut, not a rule, as in `revoke` (cargo-mutants: `>=` and `==`
    // here are equivalent: no token this server issues is that long, so a
    // longer one is inactive either way).
    if request.token.len() > MAX_TOKEN_LEN {
        return Ok(inactive());
    }
    let implicit = state
        .binding
        .assertion(binding.as_ref())
        .map_err(|err| internal(&err))?;
    // A token of a key rotated in elsewhere is looked up before it is
    // called inactive.
    match state.keys.decode(&request.token, &implicit).await.1 {
        Ok(token) => {
            let claims = token.claims();
            let time = |at: Option<OffsetDateTime>| at.map(OffsetDateTime::unix_timestamp);
            // Observe mode: a drift is audited and named, never refused.
            let binding_drift: Vec<String> = state
                .binding
                .drift(claims, binding.as_ref())
                .map_err(|err| internal(&err))?
                .iter()
                .map(|drift| drift.name().to_owned())
                .collect();
            Ok(no_store(Introspection {
                active: true,
                aud: claims.audience(),
                binding_drift,
                client_id: claims.custom_str(CLIENT_CLAIM),
                exp: time(claims.expiration()),
                iat: time(claims.issued_at()),
                iss: claims.issuer(),
                jti: claims.token_id(),
                nbf: time(claims.not_before()),
                scope: claims.custom_str(SCOPE_CLAIM),
                sub: claims.subject(),
                token_type: "Bearer",
            }))
        }
        Err(Error::Store(_)) => Err(OAuthError::unavailable()),
        Err(_) => Ok(inactive()),
    }
}

/// An active token's introspection answer (RFC 7662 §2.2): a member the
/// token does not have is left out, and so is `binding_drift` when there is
/// none. Serialized as it is (members in name order), not built as a
/// `serde_json::Value` first.
#[derive(Serialize)]
struct Introspection<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    binding_drift: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    token_type: &'static str,
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn seconds_until_rounds_up_and_never_goes_negative() {
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let cases = [
            (Duration::seconds(900), 900),
            (Duration::milliseconds(899_500), 900),
            (Duration::milliseconds(200), 1),
            (Duration::ZERO, 0),
            (Duration::seconds(-5), 0),
        ];
        for (left, expected) in cases {
            assert_eq!(seconds_until(now + left, now), expected, "{left}");
        }
    }
}
