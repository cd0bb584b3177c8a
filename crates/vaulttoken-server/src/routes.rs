//! The handlers, and the extractors they share.

/// Implements [`ClientCredentials`] for request bodies with `client_id`
/// and `client_secret` fields (`Option<String>` each).
macro_rules! client_credentials {
    ($($body:ty),+ $(,)?) => {$(
        impl $crate::client_auth::ClientCredentials for $body {
            fn credentials(&self) -> $crate::client_auth::BodyCredentials<'_> {
                $crate::client_auth::BodyCredentials::of(&self.client_id, &self.client_secret)
            }
        }
    )+};
}

pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod metadata;
pub(crate) mod token;
pub(crate) mod trust;

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::client_auth::{self, ClientCredentials};
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

/// The request of an admitted client (see [`client_auth::admit`]): its
/// body read as `T`, its IP and client counted, its client authenticated.
/// The extractor of every body endpoint that a client calls.
#[derive(Debug)]
pub(crate) struct Admitted<T> {
    /// The authenticated client.
    pub(crate) client_id: String,
    /// The body.
    pub(crate) body: T,
}

impl<T: DeserializeOwned + ClientCredentials + Send> FromRequest<AppState> for Admitted<T> {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(&mut parts, state).await;
        let authorization = parts.headers.get(header::AUTHORIZATION).cloned();
        let body = Body::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map(|Body(body)| body);
        let (client_id, body) = client_auth::admit(state, ip, authorization.as_ref(), body).await?;
        Ok(Self { client_id, body })
    }
}

/// The admitted client of a request without a body (`GET`):
/// `client_secret_basic` only, as [`Admitted`] otherwise.
#[derive(Debug)]
pub(crate) struct AdmittedClient(pub(crate) String);

impl FromRequestParts<AppState> for AdmittedClient {
    type Rejection = OAuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let authorization = parts.headers.get(header::AUTHORIZATION);
        let (client_id, ()) = client_auth::admit(state, ip, authorization, Ok(())).await?;
        Ok(Self(client_id))
    }
}

/// The fields a request body may hold, by name: the only names an error
/// answer repeats (a name the client made up is never echoed).
const FIELDS: &[&str] = &[
    "client_id",
    "client_secret",
    "grant_type",
    "subject",
    "audience",
    "scope",
    "context",
    "refresh_token",
    "token",
    "token_type_hint",
    "kind",
    "state",
    "kid",
];

/// The fields that are JSON objects, and their form spelling `name.member`
/// (`context.ip=…`).
const OBJECT_FIELDS: &[&str] = &["context"];

/// A request body, JSON (`application/json`) or form-encoded
/// (`application/x-www-form-urlencoded`, RFC 6749 §3.2 and Appendix B), by
/// its `Content-Type`, with the same size limit ([`MAX_BODY_LEN`], 413
/// over it). Its rejections are RFC 6749 errors that name the field that is
/// missing, repeated or mistyped, never a value.
///
/// A form body is read as RFC 6749 §3.1 says: a parameter without a value
/// is omitted, a repeated one is refused, unknown ones are ignored; values
/// are UTF-8 after percent-decoding (`+` is a space). An object field has
/// one parameter per member: `context.ip=…&context.device=…`.
#[derive(Debug)]
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = OAuthError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media = media_type(request.headers())?;
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => OAuthError::body_too_large(),
                    _ => OAuthError::invalid_request("the body could not be read"),
                })?;
        match media {
            Media::Json => from_json(&bytes),
            Media::Form => from_form(&bytes),
        }
        .map(Self)
    }
}

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    Json,
    Form,
}

/// The encoding a `Content-Type` names: `application/json` (or
/// `application/…+json`) or `application/x-www-form-urlencoded`, with any
/// parameters (`; charset=UTF-8`).
fn media_type(headers: &HeaderMap) -> Result<Media, OAuthError> {
    let unsupported = || {
        OAuthError::invalid_request(
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        )
    };
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(unsupported)?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/').ok_or_else(unsupported)?;
    if !kind.eq_ignore_ascii_case("application") {
        return Err(unsupported());
    }
    let subtype = subtype.as_bytes();
    if subtype.eq_ignore_ascii_case(b"json") || ends_with_ignoring_case(subtype, b"+json") {
        Ok(Media::Json)
    } else if subtype.eq_ignore_ascii_case(b"x-www-form-urlencoded") {
        Ok(Media::Form)
    } else {
        Err(unsupported())
    }
}

/// Whether `text` ends with `suffix`, ASCII letters in either case.
fn ends_with_ignoring_case(text: &[u8], suffix: &[u8]) -> bool {
    text.len()
        .checked_sub(suffix.len())
        .is_some_and(|at| text[at..].eq_ignore_ascii_case(suffix))
}

/// A JSON body as `T`: one object (serde would read an array as a
/// struct too), nothing after it.
fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, OAuthError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(OAuthError::invalid_request(
            "the body must be a JSON object",
        ));
    }
    // A body that reads is read once, without tracking where the reader
    // is; only one that fails is read again, through
    // `serde_path_to_error`, to name the field (the same reader either
    // way, so both accept the same bodies).
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|err| {
        if err.inner().is_data() {
            field_error(err.path(), &err.inner().to_string())
        } else {
            OAuthError::invalid_request("the body is not valid JSON")
        }
    })?;
    reader
        .end()
        .map_err(|_| OAuthError::invalid_request("the body is not valid JSON"))?;
    Ok(value)
}

/// A form body as `T`: its parameters as a JSON object of strings (an
/// object field's members under it), read as `T`.
fn from_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, OAuthError> {
    let mut object = Map::new();
    for pair in bytes.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name)
            .ok_or_else(|| OAuthError::invalid_request("a parameter name is not UTF-8"))?;
        let value = form_decode(value).ok_or_else(|| match known(&name) {
            Some(field) => OAuthError::invalid_request_owned(format!("{field}: not UTF-8")),
            None => OAuthError::invalid_request("a parameter is not UTF-8"),
        })?;
        // RFC 6749 §3.1: a parameter sent without a value is omitted.
        if value.is_empty() {
            continue;
        }
        let (slot, member) = match name.split_once('.') {
            Some((field, member)) if OBJECT_FIELDS.contains(&field) => {
                let entry = object
                    .entry(field.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                match entry {
                    Value::Object(members) => (members, member.to_owned()),
                    _ => return Err(repeated(field)),
                }
            }
            _ => (&mut object, name.clone()),
        };
        if slot.contains_key(&member) {
            return Err(repeated(&name));
        }
        slot.insert(member, Value::String(value));
    }
    serde_path_to_error::deserialize(Value::Object(object))
        .map_err(|err| field_error(err.path(), &err.inner().to_string()))
}

/// `application/x-www-form-urlencoded` decoding of one name or value:
/// `+` is a space, `%XX` a byte; `None` if the bytes are not UTF-8.
pub(crate) fn form_decode(bytes: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = bytes
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(decoded).ok()
}

/// The field of [`FIELDS`] named `name`, if it is one (an object field's
/// member names its field).
fn known(name: &str) -> Option<&'static str> {
    let field = name.split_once('.').map_or(name, |(field, _)| field);
    FIELDS.iter().copied().find(|known| *known == field)
}

/// 400 for a parameter given twice (RFC 6749 §3.1), naming it if it is a
/// field.
fn repeated(name: &str) -> OAuthError {
    match known(name) {
        Some(field) => OAuthError::invalid_request_owned(format!("{field}: given more than once")),
        None => OAuthError::invalid_request("a parameter is given more than once"),
    }
}

/// 400 for a body that does not fit its type: the field missing, repeated
/// or mistyped, from serde's error (`message`, which may hold a value, is
/// read and never repeated) and where it happened (`path`). Only names of
/// [`FIELDS`] are repeated.
fn field_error(path: &serde_path_to_error::Path, message: &str) -> OAuthError {
    let quoted = || {
        let (_, rest) = message.split_once('`')?;
        let (name, _) = rest.split_once('`')?;
        known(name)
    };
    let top = path.iter().next().and_then(|segment| match segment {
        serde_path_to_error::Segment::Map { key } => known(key),
        _ => None,
    });
    // A missing member of an object field (none of the server's is
    // required) would name its object as mistyped, below.
    if message.starts_with("missing field `")
        && let Some(field) = quoted()
    {
        return OAuthError::invalid_request_owned(format!("{field}: required"));
    }
    if message.starts_with("duplicate field `")
        && let Some(field) = quoted()
    {
        return repeated(field);
    }
    match top {
        Some(field) => {
            OAuthError::invalid_request_owned(format!("{field}: not of the expected type or form"))
        }
        None => OAuthError::invalid_request("the body is not what this endpoint expects"),
    }
}

/// A JSON answer that must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store(body: impl Serialize) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body as HttpBody;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        client_id: String,
        #[serde(default)]
        subject: Option<String>,
        #[serde(default)]
        context: Option<Context>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Context {
        ip: Option<String>,
        device: Option<String>,
    }

    async fn read(content_type: Option<&str>, body: &[u8]) -> Result<Sample, OAuthError> {
        let mut request = Request::post("/token");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(HttpBody::from(body.to_vec())).unwrap();
        Body::<Sample>::from_request(request, &())
            .await
            .map(|Body(sample)| sample)
    }

    async fn form(body: &str) -> Result<Sample, OAuthError> {
        read(Some("application/x-www-form-urlencoded"), body.as_bytes()).await
    }

    async fn json(body: &str) -> Result<Sample, OAuthError> {
        read(Some("application/json"), body.as_bytes()).await
    }

    /// The description of a refusal, which must be a 400 `invalid_request`.
    fn refused(outcome: Result<Sample, OAuthError>) -> String {
        let err = outcome.unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        err.description().to_owned()
    }

    #[tokio::test]
    async fn json_and_form_read_the_same_fields() {
        let expected = Sample {
            client_id: "web".to_owned(),
            subject: Some("alice smith+1&2".to_owned()),
            context: Some(Context {
                ip: Some("192.0.2.1".to_owned()),
                device: None,
            }),
        };
        let from_json =
            json(r#"{"client_id":"web","subject":"alice smith+1&2","context":{"ip":"192.0.2.1"}}"#)
                .await
                .unwrap();
        assert_eq!(from_json, expected);
        let from_form =
            form("client_id=web&subject=alice+smith%2B1%262&context.ip=192.0.2.1&unknown=x")
                .await
                .unwrap();
        assert_eq!(from_form, expected);
        for content_type in [
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded",
        ] {
            let sample = read(Some(content_type), b"client_id=web").await.unwrap();
            assert_eq!(sample.client_id, "web", "{content_type}");
        }
        for content_type in [
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/ld+json",
            "application/Problem+JSON",
        ] {
            let sample = read(Some(content_type), br#"{"client_id":"web"}"#)
                .await
                .unwrap();
            assert_eq!(sample.client_id, "web", "{content_type}");
        }
    }

    #[tokio::test]
    async fn a_form_parameter_without_a_value_is_omitted() {
        let sample = form("client_id=web&subject=&context.ip=&&=x&subject")
            .await
            .unwrap();
        assert_eq!((sample.subject, sample.context), (None, None));
        assert_eq!(refused(form("client_id=").await), "client_id: required");
    }

    /// Only an object field has `field.member` parameters: any other name
    /// with a dot is a parameter the endpoint does not know, ignored.
    #[tokio::test]
    async fn a_dotted_name_is_a_member_only_of_an_object_field() {
        let sample = form("client_id=web&subject=alice&subject.note=x&client_id.x=y")
            .await
            .unwrap();
        assert_eq!(
            (sample.client_id.as_str(), sample.subject.as_deref()),
            ("web", Some("alice"))
        );
    }

    #[tokio::test]
    async fn percent_encoding_edge_cases_decode_as_browsers_do() {
        let subject = |body: &'static str| async move {
            form(&format!("client_id=web&subject={body}"))
                .await
                .unwrap()
                .subject
                .unwrap()
        };
        assert_eq!(subject("%41%2b%2B+%20").await, "A++  ");
        // A broken escape is kept as it is, never an error or a panic.
        assert_eq!(subject("%zz%4").await, "%zz%4");
        assert_eq!(subject("100%").await, "100%");
        assert_eq!(subject("%C3%A9").await, "é");
        assert_eq!(subject("a=b").await, "a=b");
    }

    #[tokio::test]
    async fn a_repeated_parameter_is_refused_by_name() {
        assert_eq!(
            refused(form("client_id=web&client_id=app").await),
            "client_id: given more than once"
        );
        assert_eq!(
            refused(form("client_id=web&context.ip=1&context.ip=2").await),
            "context: given more than once"
        );
        assert_eq!(
            refused(form("client_id=web&context=x&context.ip=1").await),
            "context: given more than once"
        );
        assert_eq!(
            refused(form("client_id=web&secret-typo=a&secret-typo=b").await),
            "a parameter is given more than once"
        );
        assert_eq!(
            refused(json(r#"{"client_id":"web","client_id":"app"}"#).await),
            "client_id: given more than once"
        );
    }

    #[tokio::test]
    async fn a_missing_or_mistyped_field_is_named_and_no_value_is_echoed() {
        assert_eq!(
            refused(json(r#"{"subject":"alice"}"#).await),
            "client_id: required"
        );
        assert_eq!(refused(form("subject=alice").await), "client_id: required");
        let mistyped = [
            json(r#"{"client_id":"web","context":"hunter2-value"}"#).await,
            json(r#"{"client_id":"web","context":{"ip":["hunter2-value"]}}"#).await,
            form("client_id=web&context=hunter2-value").await,
        ];
        for outcome in mistyped {
            assert_eq!(
                refused(outcome),
                "context: not of the expected type or form"
            );
        }
        assert_eq!(
            refused(json(r#"{"client_id":12345678}"#).await),
            "client_id: not of the expected type or form"
        );
        for not_an_object in [r#"["hunter2-value"]"#, r#""hunter2-value""#, "", "  null"] {
            assert_eq!(
                refused(json(not_an_object).await),
                "the body must be a JSON object",
                "{not_an_object}"
            );
        }
        for broken in [
            r#"{"client_id":"web""#,
            r#"{"client_id":"web"} trailing"#,
            r#"{"hunter2-key": [}"#,
        ] {
            let description = refused(json(broken).await);
            assert_eq!(description, "the body is not valid JSON", "{broken}");
        }
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_is_refused_by_name() {
        assert_eq!(
            refused(form("client_id=web&subject=%FF%FE").await),
            "subject: not UTF-8"
        );
        assert_eq!(
            refused(form("client_id=web&%FF=1").await),
            "a parameter name is not UTF-8"
        );
        assert_eq!(
            refused(form("client_id=web&made-up=%C3").await),
            "a parameter is not UTF-8"
        );
        assert_eq!(
            refused(
                read(
                    Some("application/x-www-form-urlencoded"),
                    b"client_id=w\xffb"
                )
                .await
            ),
            "client_id: not UTF-8"
        );
        // JSON text is UTF-8 (RFC 8259 §8.1).
        assert_eq!(
            refused(read(Some("application/json"), b"{\"client_id\":\"w\xffb\"}").await),
            "the body is not valid JSON"
        );
    }

    #[tokio::test]
    async fn only_json_and_form_bodies_are_read() {
        let expected = "Content-Type must be application/json or application/x-www-form-urlencoded";
        for content_type in [
            None,
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
            Some("application/xml"),
            Some("application/xjson"),
            Some("application/jsonx"),
            Some("application/x-www-form-urlencoded-plus"),
            Some("json"),
            Some("text/json"),
        ] {
            let outcome = read(content_type, br#"{"client_id":"web"}"#).await;
            assert_eq!(refused(outcome), expected, "{content_type:?}");
        }
    }
}
