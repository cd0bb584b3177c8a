//! Client authentication at the token and trust endpoints (RFC 6749 §2.3):
//! `client_secret_basic` (the `Authorization: Basic` header, RFC 6749
//! §2.3.1: `base64(urlencode(id) ":" urlencode(secret))`) or
//! `client_secret_post` (`client_id` and `client_secret` in the body),
//! exactly one per request. [`admit`] is the one door every
//! endpoint goes through.

use std::net::IpAddr;

use axum::http::HeaderValue;
use base64ct::{Base64, Encoding as _};

use crate::oauth_error::OAuthError;
use crate::routes::form_decode;
use crate::state::AppState;

/// The longest `Authorization: Basic` value read, in bytes: an id of 64
/// bytes and a secret of about 1 KiB, each form-encoded three times over
/// (every byte `%XX`), in base64. A longer one is refused unread.
pub(crate) const MAX_BASIC_LEN: usize = 4096;

/// The client credentials a request's body carries (`client_secret_post`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BodyCredentials<'a> {
    pub(crate) client_id: Option<&'a str>,
    pub(crate) client_secret: Option<&'a str>,
}

impl<'a> BodyCredentials<'a> {
    /// The body's `client_id` and `client_secret` fields.
    pub(crate) fn of(client_id: &'a Option<String>, client_secret: &'a Option<String>) -> Self {
        Self {
            client_id: client_id.as_deref(),
            client_secret: client_secret.as_deref(),
        }
    }
}

/// Why an `Authorization` header gives no Basic credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BasicError {
    /// Another scheme (`Bearer`), or no credentials after `Basic`.
    NotBasic,
    /// Over [`MAX_BASIC_LEN`] bytes.
    TooLong,
    /// Not visible ASCII, or not base64 (RFC 4648 §4, padded).
    NotBase64,
    /// No `:` between the id and the secret.
    NoColon,
    /// The id or the secret is not UTF-8 once form-decoded.
    NotUtf8,
}

/// The client id and secret of an `Authorization: Basic` value (RFC 7617
/// and RFC 6749 §2.3.1): base64 of `urlencode(id) ":" urlencode(secret)`,
/// split at the first `:`, each part form-decoded (`+` is a space, `%XX` a
/// byte) and UTF-8.
///
/// # Errors
///
/// A [`BasicError`] saying what is wrong; never the value.
pub(crate) fn basic_credentials(value: &[u8]) -> Result<(String, String), BasicError> {
    if value.len() > MAX_BASIC_LEN {
        return Err(BasicError::TooLong);
    }
    let value = core::str::from_utf8(value).map_err(|_| BasicError::NotBase64)?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or(BasicError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicError::NotBasic);
    }
    let decoded = Base64::decode_vec(encoded.trim()).map_err(|_| BasicError::NotBase64)?;
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or(BasicError::NoColon)?;
    let id = form_decode(&decoded[..colon]).ok_or(BasicError::NotUtf8)?;
    let secret = form_decode(&decoded[colon + 1..]).ok_or(BasicError::NotUtf8)?;
    Ok((id, secret))
}

/// The credentials a request presents, by method.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented {
    /// `client_secret_basic`.
    Basic { id: String, secret: String },
    /// `client_secret_post`.
    Post { id: String, secret: String },
    /// An `Authorization` header that gives no Basic credentials: a failed
    /// authentication (401, with the Basic challenge).
    Malformed(BasicError),
    /// None, or a `client_id` without its secret: a failed authentication.
    Incomplete,
}

/// Which credentials a request presents: its `Authorization` header if it
/// has one, else the body's.
///
/// # Errors
///
/// 400 `invalid_request` for two methods at once (a secret in the header
/// and in the body, RFC 6749 §2.3), or a body `client_id` that is not the
/// header's.
pub(crate) fn presented(
    authorization: Option<&HeaderValue>,
    body: BodyCredentials<'_>,
) -> Result<Presented, OAuthError> {
    let Some(value) = authorization else {
        return Ok(match body {
            BodyCredentials {
                client_id: Some(id),
                client_secret: Some(secret),
            } => Presented::Post {
                id: id.to_owned(),
                secret: secret.to_owned(),
            },
            _ => Presented::Incomplete,
        });
    };
    if body.client_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "client_secret: the client authenticates with the Authorization header or the body, \
             not both",
        ));
    }
    let (id, secret) = match basic_credentials(value.as_bytes()) {
        Ok(credentials) => credentials,
        Err(err) => return Ok(Presented::Malformed(err)),
    };
    if body.client_id.is_some_and(|body_id| body_id != id) {
        return Err(OAuthError::invalid_request(
            "client_id: not the client of the Authorization header",
        ));
    }
    Ok(Presented::Basic { id, secret })
}

/// The client credentials a request body carries: every body of an
/// endpoint a client calls has `client_id` and `client_secret` fields.
pub(crate) trait ClientCredentials {
    /// The body's `client_id` and `client_secret`.
    fn credentials(&self) -> BodyCredentials<'_>;
}

/// A request without a body (`GET`): `client_secret_basic` only. (The
/// cargo-mutants mutant `Default::default()` here is this very value.)
impl ClientCredentials for () {
    fn credentials(&self) -> BodyCredentials<'_> {
        BodyCredentials::default()
    }
}

/// Admits the request of a client: the one door of every endpoint that a
/// client calls. Counts the request against its IP and its client (one
/// count), checks the secret in constant time, and answers the
/// authenticated client id with the body. A body that did not parse, or
/// credentials presented twice, are counted against the IP alone.
///
/// # Errors
///
/// The body's own error; 400 `invalid_request` for two methods at once;
/// 401 `invalid_client` (with `WWW-Authenticate: Basic realm="vaulttoken"`)
/// for missing, malformed or wrong credentials, each counted as a failure
/// against the IP (and the client when known); 429 and 503 from the rate
/// limits, before any of these.
pub(crate) async fn admit<T: ClientCredentials + Send>(
    state: &AppState,
    ip: Option<IpAddr>,
    authorization: Option<&HeaderValue>,
    body: Result<T, OAuthError>,
) -> Result<(String, T), OAuthError> {
    let presented = body.and_then(|body| Ok((presented(authorization, body.credentials())?, body)));
    let (presented, body) = match presented {
        Ok(presented) => presented,
        Err(refusal) => {
            state.count_ip(ip).await?;
            return Err(refusal);
        }
    };
    let (id, secret) = match presented {
        Presented::Basic { id, secret } | Presented::Post { id, secret } => (id, secret),
        // The same failed check (and penalty) as a wrong secret.
        Presented::Malformed(_) | Presented::Incomplete => (String::new(), String::new()),
    };
    state.authenticate(ip, &id, &secret).await?;
    Ok((id, body))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn basic(raw: &[u8]) -> String {
        format!("Basic {}", Base64::encode_string(raw))
    }

    #[test]
    fn basic_credentials_are_form_decoded_at_the_first_colon() {
        let cases: [(&[u8], (&str, &str)); 7] = [
            (b"web:secret", ("web", "secret")),
            (b"web:sec:ret", ("web", "sec:ret")),
            (b"web%3Aid:s%3As", ("web:id", "s:s")),
            (b"w+b:a+b%2Bc", ("w b", "a b+c")),
            (b"web:%C3%A9t%C3%A9", ("web", "été")),
            (b":", ("", "")),
            (b"web:%zz%4", ("web", "%zz%4")),
        ];
        for (raw, (id, secret)) in cases {
            assert_eq!(
                basic_credentials(basic(raw).as_bytes()),
                Ok((id.to_owned(), secret.to_owned())),
                "{raw:?}"
            );
        }
        let encoded = Base64::encode_string(b"web:secret");
        for value in [format!("bAsIc {encoded}"), format!("  Basic   {encoded}  ")] {
            assert_eq!(
                basic_credentials(value.as_bytes()),
                Ok(("web".to_owned(), "secret".to_owned()))
            );
        }
    }

    #[test]
    fn hostile_basic_values_are_typed_errors() {
        let long = format!("Basic {}", "A".repeat(MAX_BASIC_LEN));
        let cases: Vec<(Vec<u8>, BasicError)> = vec![
            (b"Bearer abc".to_vec(), BasicError::NotBasic),
            (b"Basic".to_vec(), BasicError::NotBasic),
            (b"".to_vec(), BasicError::NotBasic),
            (b"Basic !!!".to_vec(), BasicError::NotBase64),
            (b"Basic d2ViOnNlY3JldA".to_vec(), BasicError::NotBase64),
            (b"Basic \xff\xfe".to_vec(), BasicError::NotBase64),
            (long.into_bytes(), BasicError::TooLong),
            (basic(b"websecret").into_bytes(), BasicError::NoColon),
            (basic(b"web:\xff").into_bytes(), BasicError::NotUtf8),
            (basic(b"web:%FF").into_bytes(), BasicError::NotUtf8),
            (basic(b"%C3:x").into_bytes(), BasicError::NotUtf8),
        ];
        for (value, expected) in cases {
            assert_eq!(basic_credentials(&value), Err(expected), "{value:?}");
        }
        // Exactly at the limit is read.
        let id = "a".repeat(MAX_BASIC_LEN);
        let at_limit = format!(
            "Basic {}",
            Base64::encode_string(format!("{id}:s").as_bytes())
        );
        let cut = &at_limit.as_bytes()[..MAX_BASIC_LEN];
        assert_ne!(basic_credentials(cut), Err(BasicError::TooLong));
    }

    fn authorization(value: Option<&str>) -> Option<HeaderValue> {
        value.map(|value| HeaderValue::from_str(value).unwrap())
    }

    fn body<'a>(id: Option<&'a str>, secret: Option<&'a str>) -> BodyCredentials<'a> {
        BodyCredentials {
            client_id: id,
            client_secret: secret,
        }
    }

    #[test]
    fn exactly_one_method_per_request() {
        let header = basic(b"web:secret");
        let owned = |id: &str, secret: &str| (id.to_owned(), secret.to_owned());
        let (id, secret) = owned("web", "secret");
        assert_eq!(
            presented(authorization(Some(&header)).as_ref(), body(None, None)).unwrap(),
            Presented::Basic {
                id: id.clone(),
                secret: secret.clone()
            }
        );
        // The header's client may be named in the body too.
        assert_eq!(
            presented(
                authorization(Some(&header)).as_ref(),
                body(Some("web"), None)
            )
            .unwrap(),
            Presented::Basic {
                id: id.clone(),
                secret: secret.clone()
            }
        );
        assert_eq!(
            presented(
                authorization(None).as_ref(),
                body(Some("web"), Some("secret"))
            )
            .unwrap(),
            Presented::Post { id, secret }
        );
        for (id, secret) in [(Some("web"), None), (None, Some("secret")), (None, None)] {
            assert_eq!(
                presented(authorization(None).as_ref(), body(id, secret)).unwrap(),
                Presented::Incomplete
            );
        }
        assert_eq!(
            presented(authorization(Some("Bearer x")).as_ref(), body(None, None)).unwrap(),
            Presented::Malformed(BasicError::NotBasic)
        );
        let both = presented(
            authorization(Some(&header)).as_ref(),
            body(Some("web"), Some("secret")),
        );
        let both = both.unwrap_err();
        assert_eq!(
            (both.status().as_u16(), both.code()),
            (400, "invalid_request")
        );
        assert!(both.description().starts_with("client_secret: "));
        // A secret in the body beside any Authorization header is two methods.
        let both = presented(
            authorization(Some("Bearer x")).as_ref(),
            body(None, Some("secret")),
        );
        assert_eq!(both.unwrap_err().code(), "invalid_request");
        let other = presented(
            authorization(Some(&header)).as_ref(),
            body(Some("app"), None),
        )
        .unwrap_err();
        assert_eq!(
            (other.status().as_u16(), other.code()),
            (400, "invalid_request")
        );
        assert!(other.description().starts_with("client_id: "));
    }
}
