//! A server in-process: a config over a temporary key file, the router, and
//! requests through `oneshot`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use vaulttoken::store::{MemoryStore, TokenStore};
use vaulttoken_server::{Config, app};

pub(crate) const CLIENT: &str = "web";
pub(crate) const SECRET: &str = "web-secret-0123456789";
pub(crate) const OTHER_CLIENT: &str = "mobile";
pub(crate) const OTHER_SECRET: &str = "mobile-secret-0123456789";
pub(crate) const ADMIN: &str = "admin-secret-0123456789abcdefghijklmnop";

/// A fresh path for a key file, removed when dropped.
#[derive(Debug)]
pub(crate) struct KeyFilePath(pub(crate) PathBuf);

impl KeyFilePath {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!(
            "vaulttoken-server-test-{}-{n}.json",
            std::process::id()
        )))
    }
}

impl Drop for KeyFilePath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One KEK for every test server of a process.
pub(crate) fn kek() -> String {
    static KEK: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEK.get_or_init(|| {
        vaulttoken::LocalKey::generate()
            .unwrap()
            .to_paserk()
            .unwrap()
            .as_str()
            .to_owned()
    })
    .clone()
}

pub(crate) fn vars(file: &KeyFilePath, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([
        (
            "VAULTTOKEN_KEYRING_FILE".to_owned(),
            file.0.to_str().unwrap().to_owned(),
        ),
        ("VAULTTOKEN_KEYRING_CREATE".to_owned(), "true".to_owned()),
        ("VAULTTOKEN_KEK".to_owned(), kek()),
        (
            "VAULTTOKEN_CLIENTS".to_owned(),
            format!("{CLIENT}:{SECRET},{OTHER_CLIENT}:{OTHER_SECRET}"),
        ),
        ("VAULTTOKEN_ADMIN_SECRET".to_owned(), ADMIN.to_owned()),
        ("VAULTTOKEN_ISSUER".to_owned(), ISSUER.to_owned()),
    ]);
    for (name, value) in extra {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    vars
}

/// A server over a memory store and a new key file.
pub(crate) struct Server {
    pub(crate) app: Router,
    pub(crate) file: KeyFilePath,
}

impl Server {
    pub(crate) async fn new() -> Self {
        Self::with(&[]).await
    }

    pub(crate) async fn with(extra: &[(&str, &str)]) -> Self {
        let file = KeyFilePath::new();
        let app = Self::over(&file, extra, Arc::new(MemoryStore::new())).await;
        Self { app, file }
    }

    /// Another server on the same key file (created already), over `store`.
    pub(crate) async fn over(
        file: &KeyFilePath,
        extra: &[(&str, &str)],
        store: Arc<dyn TokenStore>,
    ) -> Router {
        let config = Config::from_vars(&vars(file, extra)).unwrap();
        app(config, store).await.unwrap()
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Answer {
        send(&self.app, post(path, body)).await
    }

    /// `POST path` with a form body (`application/x-www-form-urlencoded`),
    /// with these `headers`.
    pub(crate) async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form_encode(form)))
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        send(&self.app, request).await
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        send(&self.app, get(path)).await
    }

    /// `POST /token` for `subject` as the main client; the body.
    pub(crate) async fn issue(&self, subject: &str) -> Value {
        let answer = self
            .post(
                "/token",
                &serde_json::json!({"client_id": CLIENT, "client_secret": SECRET, "subject": subject}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body
    }

    pub(crate) async fn introspect(&self, token: &str) -> Value {
        let answer = self
            .post(
                "/token/introspect",
                &serde_json::json!({"client_id": CLIENT, "client_secret": SECRET, "token": token}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body
    }

    pub(crate) async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post(
            "/token/refresh",
            &serde_json::json!({"client_id": CLIENT, "client_secret": SECRET, "refresh_token": refresh_token}),
        )
        .await
    }
}

pub(crate) fn post(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub(crate) fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// A form body (`application/x-www-form-urlencoded`) of these pairs, each
/// part encoded by [`form_component`].
pub(crate) fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_component(name), form_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One name or value form-encoded as browsers and OAuth clients do:
/// unreserved bytes as they are, a space as `+`, every other byte `%XX`.
pub(crate) fn form_component(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `Authorization: Basic` as RFC 6749 §2.3.1 spells client credentials:
/// the id and the secret each form-encoded first.
pub(crate) fn basic_oauth(client: &str, secret: &str) -> String {
    basic(&form_component(client), &form_component(secret))
}

/// `Authorization: Basic` for a client (RFC 7617), as `GET /trust/verify`
/// takes it.
pub(crate) fn basic(client: &str, secret: &str) -> String {
    use base64ct::{Base64, Encoding as _};
    format!(
        "Basic {}",
        Base64::encode_string(format!("{client}:{secret}").as_bytes())
    )
}

/// `GET path` as `client` with HTTP Basic.
pub(crate) fn get_as(path: &str, client: &str, secret: &str) -> Request<Body> {
    let mut request = get(path);
    request.headers_mut().insert(
        axum::http::header::AUTHORIZATION,
        basic(client, secret).parse().unwrap(),
    );
    request
}

/// The request as if it came from `peer`.
pub(crate) fn from_peer(mut request: Request<Body>, peer: &str) -> Request<Body> {
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or_default()
    }
}

pub(crate) async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// The issuer of every test server: the `iss` of its access tokens and the
/// `issuer` of its key set.
pub(crate) const ISSUER: &str = "https://auth.test.example";

/// The `kid` of the `active` key of a key set (the JSON of `GET /keys`),
/// if one is.
pub(crate) fn active_kid(keys: &Value) -> Option<&str> {
    keys["keys"]
        .as_array()?
        .iter()
        .find(|key| key["status"] == "active")
        .and_then(|key| key["kid"].as_str())
}

/// The `kid`s of a key set (the JSON of `GET /keys`), in its order.
pub(crate) fn kids(keys: &Value) -> Vec<&str> {
    keys["keys"]
        .as_array()
        .map(|keys| keys.iter().filter_map(|key| key["kid"].as_str()).collect())
        .unwrap_or_default()
}

/// A verifier built from a key set (the JSON of `GET /keys`) alone, as a
/// resource server would: read with `KeySet::parse`, its public keys in a
/// ring, `rules` applied.
pub(crate) fn verifier(
    keys: &Value,
    rules: vaulttoken::rules::RuleSet,
) -> vaulttoken::PublicService {
    let set = vaulttoken::keyring::KeySet::parse(&keys.to_string()).unwrap();
    let ring = set
        .public_ring(
            &vaulttoken::keyring::RingSettings::new(),
            time::Duration::hours(1),
        )
        .unwrap();
    vaulttoken::PublicService::from_ring(Arc::new(ring))
        .rules(rules)
        .build()
}
