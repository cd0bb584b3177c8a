//! What the request tests share: services on a manual clock, a store that is
//! down, a store that counts its checks, a helper that sends one request and
//! checks that the answer never echoes the token, and a time bound for each
//! test.
#![allow(dead_code, reason = "each test crate uses a different part")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use vaulttoken::clock::ManualClock;
use vaulttoken::rules::RuleSet;
use vaulttoken::store::{
    Check, Consumption, MemoryStore, NewFamily, Rotated, Rotation, StoreFuture, TokenState,
    TokenStore,
};
use vaulttoken::time::{Duration, OffsetDateTime};
use vaulttoken::{Claims, LocalKey, LocalService};

/// 2030-03-17: a fixed "now" for every service.
pub(crate) fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
}

/// A local service with key id `k1`, a token store and a manual clock.
pub(crate) struct Local {
    pub(crate) key: Arc<LocalKey>,
    pub(crate) clock: ManualClock,
    pub(crate) store: Arc<CountingStore>,
    pub(crate) service: Arc<LocalService>,
}

impl Local {
    pub(crate) fn new() -> Self {
        let key = Arc::new(LocalKey::generate().unwrap());
        let clock = ManualClock::new(start());
        let store = Arc::new(CountingStore::default());
        let service = Arc::new(
            LocalService::builder(Arc::clone(&key))
                .key_id("k1")
                .clock(clock.clone())
                .store(store.clone())
                .build(),
        );
        Self {
            key,
            clock,
            store,
            service,
        }
    }

    /// A token for `subject` with the service's defaults (valid one hour).
    pub(crate) fn token(&self, subject: &str) -> String {
        self.service
            .encode(&Claims::builder().subject(subject).build().unwrap())
            .unwrap()
    }

    pub(crate) fn token_with(&self, claims: Claims) -> String {
        self.service.encode(&claims).unwrap()
    }

    /// A token for `subject` and `audience`.
    pub(crate) fn token_for(&self, subject: &str, audience: &str) -> String {
        self.token_with(
            Claims::builder()
                .subject(subject)
                .audience(audience)
                .build()
                .unwrap(),
        )
    }

    /// Another service over the same key, key id, clock and counting store,
    /// that accepts only tokens for one of `audiences`: a stricter
    /// authenticator for the same tokens.
    pub(crate) fn service_for(&self, audiences: &[&str]) -> Arc<LocalService> {
        Arc::new(
            LocalService::builder(Arc::clone(&self.key))
                .key_id("k1")
                .clock(self.clock.clone())
                .store(self.store.clone())
                .rules(RuleSet::default().for_any_audience(audiences.iter().copied()))
                .build(),
        )
    }
}

/// A memory store that counts the decodes that asked it.
#[derive(Debug, Default)]
pub(crate) struct CountingStore {
    inner: MemoryStore,
    checks: AtomicUsize,
}

impl CountingStore {
    pub(crate) fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }
}

impl TokenStore for CountingStore {
    fn check<'a>(&'a self, check: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        self.inner.check(check)
    }
    fn revoke<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.inner.revoke(subject, token_id, until)
    }
    fn consume<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        self.inner.consume(subject, token_id, until)
    }
    fn revoke_issued_before<'a>(
        &'a self,
        subject: &'a str,
        cutoff: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.inner.revoke_issued_before(subject, cutoff, until)
    }
    fn supersede<'a>(
        &'a self,
        subject: Option<&'a str>,
        slot: &'a str,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.inner.supersede(subject, slot, token_id, until)
    }
    fn create_family<'a>(&'a self, family: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
        self.inner.create_family(family)
    }
    fn rotate_family<'a>(&'a self, rotation: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
        self.inner.rotate_family(rotation)
    }
    fn revoke_family<'a>(
        &'a self,
        subject: Option<&'a str>,
        family_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        self.inner.revoke_family(subject, family_id)
    }
}

/// One answer, its body read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    /// The `error` code of a JSON error body.
    pub(crate) fn code(&self) -> String {
        let value: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", self.body));
        assert_eq!(value.as_object().unwrap().len(), 2, "{value}");
        assert!(value["error_description"].is_string(), "{value}");
        value["error"].as_str().unwrap().to_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts a 401 with the `invalid_token` challenge and `code`.
    pub(crate) fn assert_unauthorized(&self, code: &str) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{self:?}");
        assert_eq!(
            self.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#),
            "{self:?}"
        );
        assert_eq!(self.code(), code, "{self:?}");
        assert_eq!(self.header("retry-after"), None);
    }

    /// Asserts a 503 `temporarily_unavailable` with `Retry-After: retry`
    /// and no challenge: nothing was decided.
    pub(crate) fn assert_unavailable(&self, retry: &str) {
        assert_eq!(self.status, StatusCode::SERVICE_UNAVAILABLE, "{self:?}");
        assert_eq!(self.header("retry-after"), Some(retry), "{self:?}");
        assert_eq!(self.header("www-authenticate"), None, "{self:?}");
        assert_eq!(self.code(), "temporarily_unavailable", "{self:?}");
    }
}

/// Sends `request` to `app`, and checks that no part of the answer holds
/// `secret` (the token sent).
pub(crate) async fn send(app: &Router, request: Request<Body>, secret: &str) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let answer = Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    };
    if !secret.is_empty() {
        assert!(!answer.body.contains(secret), "the body echoes the token");
        for value in answer.headers.values() {
            assert!(
                !value
                    .as_bytes()
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes())
            );
        }
    }
    answer
}

/// A GET of `path` with `Authorization: Bearer <token>`.
pub(crate) fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// A GET of `path` with no credentials.
pub(crate) fn anonymous(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// Runs `test`, failing it if it takes more than 30 seconds.
pub(crate) async fn bounded<F: Future>(test: F) -> F::Output {
    bounded_by(StdDuration::from_secs(30), test).await
}

/// Runs `test`, failing it if it takes more than `limit`.
pub(crate) async fn bounded_by<F: Future>(limit: StdDuration, test: F) -> F::Output {
    tokio::time::timeout(limit, test)
        .await
        .unwrap_or_else(|_| panic!("the test took more than {limit:?}"))
}

/// An hour and a minute: past the default validity and leeway.
pub(crate) fn past_expiry() -> Duration {
    Duration::minutes(61)
}
