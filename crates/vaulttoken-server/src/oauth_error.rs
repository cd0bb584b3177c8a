//! Error answers in the style of RFC 6749 §5.2: a status, a stable `error`
//! code and a fixed `error_description`, never a token or a claim.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vaulttoken::Error;
use vaulttoken::error::Denial;

/// Seconds a client is asked to wait when the token store cannot answer.
pub const STORE_RETRY_AFTER_SECS: u64 = 1;

/// An error answer.
///
/// # Examples
///
/// ```
/// use axum::response::IntoResponse;
/// use vaulttoken_server::OAuthError;
///
/// let answer = OAuthError::invalid_client().into_response();
/// assert_eq!(answer.status(), 401);
/// assert_eq!(answer.headers()["cache-control"], "no-store");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    status: StatusCode,
    code: &'static str,
    /// Fixed text, or one naming a field of the request: never a value.
    description: Cow<'static, str>,
    retry_after: Option<u64>,
    challenge: Option<&'static str>,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: &'static str) -> Self {
        Self {
            status,
            code,
            description: Cow::Borrowed(description),
            retry_after: None,
            challenge: None,
        }
    }

    /// 400 `invalid_request`: a missing or malformed field or body.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::invalid_request("subject is required");
    /// assert_eq!((err.status().as_u16(), err.code()), (400, "invalid_request"));
    /// ```
    #[must_use]
    pub fn invalid_request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 400 `invalid_request` with a description built at run time: it names
    /// a field of the request (`subject: required`), never a value.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::invalid_request_owned(format!("{}: required", "subject"));
    /// assert_eq!((err.code(), err.description()), ("invalid_request", "subject: required"));
    /// ```
    #[must_use]
    pub fn invalid_request_owned(description: String) -> Self {
        Self {
            description: Cow::Owned(description),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", "")
        }
    }

    /// 400 `invalid_target` (RFC 8707): the audience asked for is not one
    /// the client may ask for.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::invalid_target("audience: not allowed");
    /// assert_eq!((err.status().as_u16(), err.code()), (400, "invalid_target"));
    /// ```
    #[must_use]
    pub fn invalid_target(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_target", description)
    }

    /// 400 `invalid_scope` (RFC 6749 §5.2): a scope the client may not ask
    /// for, or one outside what the refresh token was granted.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::invalid_scope("scope: not allowed");
    /// assert_eq!((err.status().as_u16(), err.code()), (400, "invalid_scope"));
    /// ```
    #[must_use]
    pub fn invalid_scope(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// 404 `invalid_request`: a document the configuration does not allow
    /// (the metadata, without a URL for issuer).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::OAuthError::not_found("no metadata").status(), 404);
    /// ```
    #[must_use]
    pub fn not_found(description: &'static str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request", description)
    }

    /// 413 `invalid_request`: the body is over the size limit.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::OAuthError::body_too_large().status(), 413);
    /// ```
    #[must_use]
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the request body is too large",
        )
    }

    /// 401 `invalid_client`, with `WWW-Authenticate: Basic`: unknown client
    /// or wrong secret (one answer for both).
    ///
    /// # Examples
    ///
    /// See [`OAuthError`].
    #[must_use]
    pub fn invalid_client() -> Self {
        Self {
            challenge: Some(r#"Basic realm="vaulttoken""#),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }

    /// 400 `invalid_grant`: the presented token is not valid for this.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::invalid_grant("the refresh token is invalid");
    /// assert_eq!(err.code(), "invalid_grant");
    /// ```
    #[must_use]
    pub fn invalid_grant(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// 400 `unsupported_grant_type`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::OAuthError::unsupported_grant_type().code(), "unsupported_grant_type");
    /// ```
    #[must_use]
    pub fn unsupported_grant_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type: not a grant this endpoint takes",
        )
    }

    /// 400 `unauthorized_client`: the token belongs to another client.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::OAuthError::unauthorized_client().status(), 400);
    /// ```
    #[must_use]
    pub fn unauthorized_client() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the token was issued to another client",
        )
    }

    /// 401 `invalid_token` with `WWW-Authenticate: Bearer`: the admin bearer
    /// secret is missing or wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::admin_unauthorized();
    /// assert_eq!((err.status().as_u16(), err.code()), (401, "invalid_token"));
    /// ```
    #[must_use]
    pub fn admin_unauthorized() -> Self {
        Self {
            challenge: Some(r#"Bearer realm="vaulttoken-admin""#),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "admin authentication failed",
            )
        }
    }

    /// 429 `slow_down` with `Retry-After`: a rate limit.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::rate_limited(7);
    /// assert_eq!((err.status().as_u16(), err.retry_after()), (429, Some(7)));
    /// ```
    #[must_use]
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "slow_down",
                "too many requests",
            )
        }
    }

    /// 503 `temporarily_unavailable` with `Retry-After`: the token store
    /// cannot answer, so nothing is decided.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = vaulttoken_server::OAuthError::unavailable();
    /// assert_eq!((err.status().as_u16(), err.retry_after()), (503, Some(1)));
    /// ```
    #[must_use]
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(STORE_RETRY_AFTER_SECS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the token store is unavailable, try again later",
            )
        }
    }

    /// 409 `conflict`: the key ring was changed by another instance during
    /// a rotation; nothing was rotated, try again.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::OAuthError::conflict().status(), 409);
    /// ```
    #[must_use]
    pub fn conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "the key ring changed meanwhile; nothing was rotated, try again",
        )
    }

    /// 500 `server_error`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(vaulttoken_server::OAuthError::server_error().status(), 500);
    /// ```
    #[must_use]
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }

    /// The answer to a token that failed to verify, refresh or be spent:
    /// 503 for a store that cannot answer, 500 for the server's own
    /// failures, and otherwise `invalid_grant`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Error;
    /// use vaulttoken::error::{Denial, StoreError};
    /// use vaulttoken_server::OAuthError;
    ///
    /// let reuse = OAuthError::from_token_error(&Error::Denied(Denial::ReuseDetected));
    /// assert_eq!(reuse.code(), "invalid_grant");
    /// let down = StoreError::Unreachable { reason: "test".into() };
    /// assert_eq!(OAuthError::from_token_error(&Error::Store(down)).status(), 503);
    /// ```
    #[must_use]
    pub fn from_token_error(error: &Error) -> Self {
        match error {
            Error::Store(_) => Self::unavailable(),
            Error::Randomness | Error::NoIssuingKey | Error::KeyCleared => Self::server_error(),
            Error::Denied(Denial::ReuseDetected) => {
                Self::invalid_grant("refresh token reused: its family is revoked")
            }
            Error::Denied(Denial::AlreadyUsed) => Self::invalid_grant("the token was already used"),
            Error::Denied(Denial::ScopeNotGranted) => {
                Self::invalid_scope("scope: not within the scope the refresh token was granted")
            }
            Error::Denied(_) => Self::invalid_grant("the token is revoked or expired"),
            _ => Self::invalid_grant("the token is invalid or expired"),
        }
    }

    /// The HTTP status.
    ///
    /// # Examples
    ///
    /// See [`OAuthError::invalid_request`].
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `error` code.
    ///
    /// # Examples
    ///
    /// See [`OAuthError::invalid_request`].
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The `error_description`.
    ///
    /// # Examples
    ///
    /// See [`OAuthError::invalid_request_owned`].
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `Retry-After` seconds, if any.
    ///
    /// # Examples
    ///
    /// See [`OAuthError::rate_limited`].
    #[must_use]
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "error_description": self.description });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use vaulttoken::error::{Denial, StoreError};

    use super::*;

    /// Every class of token error, with the status, code and description a
    /// client sees.
    #[test]
    fn token_errors_map_to_their_oauth_answers() {
        let store = Error::Store(StoreError::Unreachable {
            reason: "test".into(),
        });
        let cases = [
            (
                store,
                503,
                "temporarily_unavailable",
                "the token store is unavailable, try again later",
            ),
            (
                Error::Randomness,
                500,
                "server_error",
                "the server could not complete the request",
            ),
            (
                Error::NoIssuingKey,
                500,
                "server_error",
                "the server could not complete the request",
            ),
            (
                Error::KeyCleared,
                500,
                "server_error",
                "the server could not complete the request",
            ),
            (
                Error::Denied(Denial::ReuseDetected),
                400,
                "invalid_grant",
                "refresh token reused: its family is revoked",
            ),
            (
                Error::Denied(Denial::AlreadyUsed),
                400,
                "invalid_grant",
                "the token was already used",
            ),
            (
                Error::Denied(Denial::ScopeNotGranted),
                400,
                "invalid_scope",
                "scope: not within the scope the refresh token was granted",
            ),
            (
                Error::Denied(Denial::Revoked),
                400,
                "invalid_grant",
                "the token is revoked or expired",
            ),
            (
                Error::Verification,
                400,
                "invalid_grant",
                "the token is invalid or expired",
            ),
        ];
        for (error, status, code, description) in cases {
            let answer = OAuthError::from_token_error(&error);
            assert_eq!(
                (
                    answer.status().as_u16(),
                    answer.code(),
                    answer.description()
                ),
                (status, code, description),
                "{error:?}"
            );
        }
    }

    #[test]
    fn only_waiting_answers_carry_retry_after() {
        assert_eq!(OAuthError::rate_limited(7).retry_after(), Some(7));
        assert_eq!(OAuthError::rate_limited(0).retry_after(), Some(1));
        assert_eq!(
            OAuthError::unavailable().retry_after(),
            Some(STORE_RETRY_AFTER_SECS)
        );
        assert_eq!(OAuthError::server_error().retry_after(), None);
        assert_eq!(OAuthError::invalid_request("x").retry_after(), None);
    }
}
