//! The access tokens of one client's refresh families: issued by the
//! families themselves through [`ClientAccess`], with the access ring in
//! force (of the configured purpose), carrying the client, the issuer and
//! the family's audience (see [`crate::audience`]), and bound as the
//! binding mode says. A pair's access token is the one handed out: none is
//! made and thrown away.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::Error;
use vaulttoken::binding::Binding;
use vaulttoken::claims::{Claims, ClaimsBuilder};
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::family::SCOPE_CLAIM;
use vaulttoken::family::{AccessFuture, AccessIssuer};

use crate::audience;
use crate::config::BindingMode;
use crate::context;
use crate::key_sync::LiveKeys;

/// The claim an access token names its client in (as RFC 9068 does).
pub(crate) const CLIENT_CLAIM: &str = "client_id";

/// The claims every access token of the server carries beside its own:
/// the issuer, the client, and the audience if any.
fn stamped(
    claims: ClaimsBuilder,
    issuer: &str,
    client_id: &str,
    audience: Option<&str>,
) -> ClaimsBuilder {
    let claims = claims.issuer(issuer).claim(CLIENT_CLAIM, client_id);
    match audience {
        Some(audience) => claims.audience(audience),
        None => claims,
    }
}

/// An access token for the client itself (the `client_credentials` grant,
/// RFC 6749 §4.4): its subject is the client, it lives `lifetime`, with
/// the access ring in force and no implicit assertion (no end user's
/// context); it belongs to no family, so it is revoked by its `jti`. And
/// when it expires.
pub(crate) fn client_token(
    keys: &LiveKeys,
    client_id: &str,
    issuer: &str,
    audience: Option<&str>,
    scope: Option<&str>,
    lifetime: Duration,
) -> Result<(String, OffsetDateTime), Error> {
    let now = SystemClock.now();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let expires_at = now
        .checked_add(lifetime)
        .ok_or(vaulttoken::error::PayloadError::TimeOutOfRange { claim: "exp" })?;
    let mut claims = Claims::builder()
        .subject(client_id)
        .random_token_id()
        .issued_at(now)
        .expires_at(expires_at);
    if let Some(scope) = scope {
        claims = claims.claim(SCOPE_CLAIM, scope);
    }
    let claims = stamped(claims, issuer, client_id, audience).build()?;
    Ok((keys.access().encode(&claims, &[])?, expires_at))
}

/// Issues and verifies one client's access tokens for its refresh families.
#[derive(Debug)]
pub(crate) struct ClientAccess {
    keys: Arc<LiveKeys>,
    client_id: String,
    mode: BindingMode,
    /// The `iss` of every access token.
    issuer: Arc<str>,
}

impl ClientAccess {
    pub(crate) fn new(
        keys: Arc<LiveKeys>,
        client_id: &str,
        mode: BindingMode,
        issuer: Arc<str>,
    ) -> Self {
        Self {
            keys,
            client_id: client_id.to_owned(),
            mode,
            issuer,
        }
    }
}

impl AccessIssuer for ClientAccess {
    /// `binding` is what the family is sealed with: the end user's context
    /// and the audience. The token's audience and the end user's binding
    /// alone (its implicit assertion) come from the handler's
    /// [`audience::issuing`] scope, which must agree with `binding`:
    /// outside a scope, or in one that does not, nothing is issued.
    fn issue(&self, claims: ClaimsBuilder, binding: Option<&Binding>) -> Result<String, Error> {
        let Some(issuing) = audience::current() else {
            tracing::error!("an access token was to be issued outside an issuing scope");
            return Err(Error::NoIssuingKey);
        };
        if !issuing.seals(binding)? {
            tracing::error!(
                "an access token was to be issued in a scope its family does not agree with"
            );
            return Err(Error::NoIssuingKey);
        }
        let claims = stamped(
            claims,
            &self.issuer,
            &self.client_id,
            issuing.audience.as_deref(),
        );
        let implicit = context::assertion(self.mode, issuing.context.as_ref())?;
        self.keys.access().encode(&claims.build()?, &implicit)
    }

    fn verify<'a>(&'a self, token: &'a str, binding: Option<&'a Binding>) -> AccessFuture<'a> {
        Box::pin(async move {
            let implicit = context::assertion(self.mode, binding)?;
            let access = self.keys.access();
            access.decode(token, &implicit).await
        })
    }
}
