//! The handlers, and the extractors they share.

pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod token;
pub(crate) mod trust;

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::oauth_error::OAuthError;
use crate::state::AppState;

/// The largest request body read, in bytes.
pub const MAX_BODY_LEN: usize = 16 * 1024;

/// The client IP, for rate limits and audit lines: the connection's peer,
/// or what a trusted proxy says (`X-Forwarded-For`), see
/// [`vaulttoken_axum::TrustedProxies`]. When a trusted proxy's entry is not
/// an address (`unknown`, garbage), the peer: the request is counted against
/// the proxy, never against nothing. `None` only with no `ConnectInfo`
/// (in-process tests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = || {
            let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
            Some(peer.ip().to_canonical())
        };
        Ok(Self(state.proxies.client_ip(parts).or_else(peer)))
    }
}

/// A JSON body, whose rejections are RFC 6749 errors: 413 over the size
/// limit, 400 `invalid_request` otherwise.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> OAuthError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => OAuthError::body_too_large(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            OAuthError::invalid_request("the body must be JSON (Content-Type: application/json)")
        }
        _ => OAuthError::invalid_request("the body is not the JSON this endpoint expects"),
    }
}

/// A JSON answer that must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store(body: serde_json::Value) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
