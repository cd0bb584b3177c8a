//! The one rejection: a status, an RFC 6750 challenge, and a JSON body with a
//! stable code. It never carries the token, a claim or an error message:
//! vaulttoken's audit events (target `vaulttoken::audit`) hold the details.

use core::fmt;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use vaulttoken::Error;
use vaulttoken::error::ErrorKind;

/// Why a request was refused. Each kind has a fixed status, challenge and
/// body code ([`RejectionKind::code`]).
///
/// | kind | status | `WWW-Authenticate` | body `error` |
/// |---|---|---|---|
/// | [`MissingToken`](Self::MissingToken) | 401 | `Bearer` | `missing_token` |
/// | [`MalformedToken`](Self::MalformedToken) | 401 | `Bearer error="invalid_token"` | `malformed_token` |
/// | [`InvalidToken`](Self::InvalidToken) | 401 | `Bearer error="invalid_token"` | `invalid_token` |
/// | [`InsufficientScope`](Self::InsufficientScope) | 403 | `Bearer error="insufficient_scope"` | `insufficient_scope` |
/// | [`Unavailable`](Self::Unavailable) | 503, `Retry-After` | none | `temporarily_unavailable` |
/// | [`ServerError`](Self::ServerError) | 500 | none | `server_error` |
///
/// # Examples
///
/// ```
/// use vaulttoken_axum::RejectionKind;
///
/// assert_eq!(RejectionKind::InvalidToken.code(), "invalid_token");
/// assert_eq!(RejectionKind::Unavailable.status(), http::StatusCode::SERVICE_UNAVAILABLE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No token was sent. As RFC 6750 §3.1 asks of a request with no
    /// authentication information, the challenge carries no error code.
    MissingToken,
    /// A token was sent but is not a well-formed token: two `Authorization`
    /// headers, a header over the length cap, bytes outside the token syntax,
    /// or a token vaulttoken refuses before any cryptography.
    MalformedToken,
    /// The token did not verify or is not accepted: wrong key, unknown key id,
    /// altered, expired, not yet valid, refused by a rule, revoked or spent,
    /// bound to another context, claims that do not fit the extractor's type,
    /// or a binding whose context this request cannot supply.
    InvalidToken,
    /// The token is valid but a claims check refused it.
    InsufficientScope,
    /// The token store could not answer: neither valid nor invalid, try later.
    Unavailable,
    /// The server is misconfigured (an invalid binding, a cleared key, a
    /// service that needs a store it lacks). Never the client's fault.
    ServerError,
}

impl RejectionKind {
    /// The kind of response a vaulttoken error calls for, by
    /// [`ErrorKind`]: malformed → [`MalformedToken`](Self::MalformedToken);
    /// invalid, rejected (rules, revocation) or an unknown key →
    /// [`InvalidToken`](Self::InvalidToken); unavailable →
    /// [`Unavailable`](Self::Unavailable); anything else →
    /// [`ServerError`](Self::ServerError).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::error::{Denial, StoreError};
    /// use vaulttoken::Error;
    /// use vaulttoken_axum::RejectionKind;
    ///
    /// assert_eq!(RejectionKind::of(&Error::Verification), RejectionKind::InvalidToken);
    /// assert_eq!(RejectionKind::of(&Error::Denied(Denial::Revoked)), RejectionKind::InvalidToken);
    /// let down = Error::Store(StoreError::Unreachable { reason: "connection refused".into() });
    /// assert_eq!(RejectionKind::of(&down), RejectionKind::Unavailable);
    /// assert_eq!(RejectionKind::of(&Error::StoreNeedsAsync), RejectionKind::ServerError);
    /// ```
    #[must_use]
    pub fn of(error: &Error) -> Self {
        match error.kind() {
            ErrorKind::Malformed => Self::MalformedToken,
            ErrorKind::Invalid | ErrorKind::Rejected | ErrorKind::UnknownKey => Self::InvalidToken,
            ErrorKind::Unavailable => Self::Unavailable,
            _ => Self::ServerError,
        }
    }

    /// The HTTP status.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::RejectionKind;
    ///
    /// assert_eq!(RejectionKind::InsufficientScope.status(), http::StatusCode::FORBIDDEN);
    /// ```
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::MalformedToken | Self::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code in the body's `error` field.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::RejectionKind;
    ///
    /// assert_eq!(RejectionKind::MissingToken.code(), "missing_token");
    /// ```
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedToken => "malformed_token",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Unavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }

    /// The fixed text in the body's `error_description` field.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::RejectionKind;
    ///
    /// assert_eq!(RejectionKind::InvalidToken.description(), "the access token is not valid");
    /// ```
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::MissingToken => "no access token was sent",
            Self::MalformedToken => "the access token is malformed",
            Self::InvalidToken => "the access token is not valid",
            Self::InsufficientScope => "the access token does not allow this request",
            Self::Unavailable => "the token cannot be checked now; try again later",
            Self::ServerError => "the server cannot check tokens",
        }
    }

    /// The RFC 6750 error code in the challenge, if there is a challenge
    /// and it has one.
    fn challenge_error(self) -> Option<Option<&'static str>> {
        match self {
            Self::MissingToken => Some(None),
            Self::MalformedToken | Self::InvalidToken => Some(Some("invalid_token")),
            Self::InsufficientScope => Some(Some("insufficient_scope")),
            Self::Unavailable | Self::ServerError => None,
        }
    }
}

/// A refused request, answered as the [`RejectionKind`] table says. The
/// rejection type of every extractor in this crate; the layer answers with
/// it too ([`Respond`](crate::Respond)).
///
/// # Examples
///
/// ```
/// use axum::response::IntoResponse;
/// use vaulttoken_axum::{Authenticator, RejectionKind};
/// # let service = std::sync::Arc::new(vaulttoken::LocalService::builder(vaulttoken::LocalKey::generate()?).build());
///
/// let auth = Authenticator::builder(service).realm("api").build()?;
/// let response = auth.reject(RejectionKind::InvalidToken).into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api", error="invalid_token""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthRejection {
    kind: RejectionKind,
    realm: Option<Arc<str>>,
    retry_after_secs: u64,
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.description())
    }
}

impl std::error::Error for AuthRejection {}

impl AuthRejection {
    pub(crate) fn new(kind: RejectionKind, realm: Option<Arc<str>>, retry_after_secs: u64) -> Self {
        Self {
            kind,
            realm,
            retry_after_secs,
        }
    }

    /// Why the request was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::{Authenticator, RejectionKind};
    /// # let service = std::sync::Arc::new(vaulttoken::LocalService::builder(vaulttoken::LocalKey::generate()?).build());
    ///
    /// let auth = Authenticator::new(service);
    /// assert_eq!(auth.reject(RejectionKind::MissingToken).kind(), RejectionKind::MissingToken);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The status and headers of the answer, with `body` and no
    /// `Content-Type`: for a body type other than axum's.
    /// [`AuthRejection::json_response`] adds the JSON body.
    ///
    /// Every answer has `Cache-Control: no-store`; a 401 or 403 has its
    /// `WWW-Authenticate` challenge; a 503 has `Retry-After`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::{Authenticator, RejectionKind};
    /// # let service = std::sync::Arc::new(vaulttoken::LocalService::builder(vaulttoken::LocalKey::generate()?).build());
    ///
    /// let auth = Authenticator::new(service);
    /// let response: http::Response<()> = auth.reject(RejectionKind::Unavailable).response_with(());
    /// assert_eq!(response.status(), 503);
    /// assert_eq!(response.headers()["retry-after"], "5");
    /// assert!(response.headers().get("content-type").is_none());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn response_with<B>(&self, body: B) -> http::Response<B> {
        let mut response = http::Response::new(body);
        *response.status_mut() = self.kind.status();
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(error) = self.kind.challenge_error() {
            headers.insert(WWW_AUTHENTICATE, self.challenge(error));
        }
        if self.kind == RejectionKind::Unavailable {
            headers.insert(RETRY_AFTER, HeaderValue::from(self.retry_after_secs));
        }
        response
    }

    /// The answer with its JSON body ([`AuthRejection::json`]) and
    /// `Content-Type: application/json`, in any body type made from a
    /// `String`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::{Authenticator, RejectionKind};
    /// # let service = std::sync::Arc::new(vaulttoken::LocalService::builder(vaulttoken::LocalKey::generate()?).build());
    ///
    /// let auth = Authenticator::new(service);
    /// let response: http::Response<String> = auth.reject(RejectionKind::Unavailable).json_response();
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// assert!(response.body().contains(r#""error":"temporarily_unavailable""#));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn json_response<B: From<String>>(&self) -> http::Response<B> {
        let mut response = self.response_with(B::from(self.json()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    /// The JSON body: `{"error": <code>, "error_description": <fixed text>}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::{Authenticator, RejectionKind};
    /// # let service = std::sync::Arc::new(vaulttoken::LocalService::builder(vaulttoken::LocalKey::generate()?).build());
    ///
    /// let auth = Authenticator::new(service);
    /// assert_eq!(
    ///     auth.reject(RejectionKind::MissingToken).json(),
    ///     r#"{"error":"missing_token","error_description":"no access token was sent"}"#
    /// );
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn json(&self) -> String {
        serde_json::json!({
            "error": self.kind.code(),
            "error_description": self.kind.description(),
        })
        .to_string()
    }

    /// `Bearer`, the realm if any, and the error code if any. The realm was
    /// checked when the authenticator was built, so it is a valid header value.
    fn challenge(&self, error: Option<&str>) -> HeaderValue {
        let mut params = Vec::with_capacity(2);
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{realm}\""));
        }
        if let Some(error) = error {
            params.push(format!("error=\"{error}\""));
        }
        let challenge = if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        };
        HeaderValue::try_from(challenge).unwrap_or(HeaderValue::from_static("Bearer"))
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        self.json_response::<Body>()
    }
}

/// Whether `realm` can go in a quoted string as is: visible ASCII and spaces,
/// no quote or backslash.
pub(crate) fn is_valid_realm(realm: &str) -> bool {
    realm
        .bytes()
        .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [RejectionKind; 6] = [
        RejectionKind::MissingToken,
        RejectionKind::MalformedToken,
        RejectionKind::InvalidToken,
        RejectionKind::InsufficientScope,
        RejectionKind::Unavailable,
        RejectionKind::ServerError,
    ];

    fn headers(kind: RejectionKind, realm: Option<&str>) -> http::HeaderMap {
        AuthRejection::new(kind, realm.map(Arc::from), 7)
            .json_response::<String>()
            .headers()
            .clone()
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let challenge = |kind, realm| {
            headers(kind, realm)
                .get(WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            challenge(RejectionKind::MissingToken, None).as_deref(),
            Some("Bearer")
        );
        assert_eq!(
            challenge(RejectionKind::MissingToken, Some("api")).as_deref(),
            Some(r#"Bearer realm="api""#)
        );
        assert_eq!(
            challenge(RejectionKind::MalformedToken, None).as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!(
            challenge(RejectionKind::InsufficientScope, Some("a b")).as_deref(),
            Some(r#"Bearer realm="a b", error="insufficient_scope""#)
        );
        assert_eq!(challenge(RejectionKind::Unavailable, Some("api")), None);
        assert_eq!(challenge(RejectionKind::ServerError, None), None);
    }

    #[test]
    fn only_unavailable_has_retry_after() {
        for kind in KINDS {
            let retry = headers(kind, None).get(RETRY_AFTER).cloned();
            let expected = (kind == RejectionKind::Unavailable).then(|| HeaderValue::from(7u64));
            assert_eq!(retry, expected, "{kind:?}");
        }
    }

    #[test]
    fn codes_are_distinct_and_every_answer_is_no_store_json() {
        let codes: std::collections::HashSet<_> = KINDS.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), KINDS.len());
        for kind in KINDS {
            let rejection = AuthRejection::new(kind, None, 1);
            let value: serde_json::Value = serde_json::from_str(&rejection.json()).unwrap();
            assert_eq!(value["error"], kind.code());
            assert_eq!(value["error_description"], kind.description());
            assert_eq!(value.as_object().unwrap().len(), 2);
            let headers = headers(kind, None);
            assert_eq!(headers[CACHE_CONTROL], "no-store");
            assert_eq!(headers[CONTENT_TYPE], "application/json");
        }
    }

    #[test]
    fn error_kinds_map_to_rejections() {
        use vaulttoken::error::{Denial, MalformedToken, StoreError};
        let cases = [
            (
                Error::Malformed(MalformedToken::TooManyParts),
                RejectionKind::MalformedToken,
            ),
            (
                Error::TokenTooLong { max_len: 1 },
                RejectionKind::MalformedToken,
            ),
            (Error::Verification, RejectionKind::InvalidToken),
            (Error::FooterMismatch, RejectionKind::InvalidToken),
            (Error::UnknownKeyId, RejectionKind::InvalidToken),
            (Error::Denied(Denial::Revoked), RejectionKind::InvalidToken),
            (
                Error::Store(StoreError::Unreachable {
                    reason: "down".into(),
                }),
                RejectionKind::Unavailable,
            ),
            (Error::KeysUnavailable, RejectionKind::Unavailable),
            (Error::KeyCleared, RejectionKind::ServerError),
            (Error::StoreNeedsAsync, RejectionKind::ServerError),
        ];
        for (error, kind) in cases {
            assert_eq!(RejectionKind::of(&error), kind, "{error:?}");
        }
    }

    #[test]
    fn realms_must_fit_a_quoted_string() {
        assert!(is_valid_realm("api.example.com users"));
        assert!(is_valid_realm(""));
        for bad in ["a\"b", "a\\b", "a\nb", "é", "a\tb"] {
            assert!(!is_valid_realm(bad), "{bad:?}");
        }
    }

    #[test]
    fn debug_and_display_show_only_the_kind() {
        let rejection = AuthRejection::new(RejectionKind::InvalidToken, Some(Arc::from("r")), 1);
        assert_eq!(
            format!("{rejection:?}"),
            "AuthRejection { kind: InvalidToken, .. }"
        );
        assert_eq!(rejection.to_string(), "the access token is not valid");
    }
}
