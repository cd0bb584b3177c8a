//! The layer: a whole router, extractor reuse (by the same authenticator
//! only), claims checks, the 503 path, and any `http::Request<B>` (what tonic
//! needs), shown with a bare `tower::service_fn` over `String` bodies.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Request, Response, StatusCode};
use tower::{Layer, ServiceExt, service_fn};
use vaulttoken::service::VerifiedToken;
use vaulttoken::{Claims, LocalKey, LocalService};
use vaulttoken_axum::{
    AuthLayer, AuthRejection, Authenticated, Authenticator, ClaimsCheck, EmptyBody, TokenSource,
    Verified,
};

use common::{Local, anonymous, bearer, bounded, send};
use vaulttoken::store::conformance::UnreachableStore;

struct Admin;

impl ClaimsCheck for Admin {
    fn check(token: &VerifiedToken) -> bool {
        token.claims().custom_str("role") == Some("admin")
    }
}

async fn from_extension(Extension(auth): Extension<Authenticated>) -> String {
    let subject = auth.token().claims().subject().unwrap();
    format!("{subject} {}", auth.key_id().unwrap())
}

async fn from_extractor(verified: Verified) -> String {
    verified.token().claims().subject().unwrap().to_owned()
}

fn protected(auth: &Authenticator, layer: AuthLayer) -> Router {
    Router::new()
        .route("/extension", get(from_extension))
        .route("/extractor", get(from_extractor))
        .layer(layer)
        .with_state(auth.clone())
}

#[tokio::test]
async fn the_layer_protects_every_route_and_hands_on_the_token() {
    let local = Local::new();
    let auth = Authenticator::new(Arc::clone(&local.service));
    let app = protected(&auth, AuthLayer::new(auth.clone()));
    for path in ["/extension", "/extractor"] {
        let answer = send(&app, anonymous(path), "").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
        assert_eq!(answer.code(), "missing_token");
        send(&app, bearer(path, "v4.local.AAAA"), "")
            .await
            .assert_unauthorized("malformed_token");
    }
    let token = local.token("tara");
    let answer = send(&app, bearer("/extension", &token), &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "tara k1")
    );
    local.clock.advance(common::past_expiry());
    send(&app, bearer("/extension", &token), &token)
        .await
        .assert_unauthorized("invalid_token");
}

#[tokio::test]
async fn an_extractor_behind_the_layer_reuses_its_decode() {
    let local = Local::new();
    let auth = Authenticator::new(Arc::clone(&local.service));
    let app = protected(&auth, AuthLayer::new(auth.clone()));
    let token = local.token("uma");
    let answer = send(&app, bearer("/extractor", &token), &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "uma")
    );
    assert_eq!(
        local.store.checks(),
        1,
        "one decode for the layer and the extractor"
    );
}

/// A general layer (audiences `api` and `admin`) over the whole router, and
/// a stricter one (`admin` only) on `/admin`, with a handler there whose
/// extractor uses a clone of the stricter authenticator.
fn general_and_admin(local: &Local) -> Router {
    let general = Authenticator::new(local.service_for(&["api", "admin"]));
    let admin = Authenticator::new(local.service_for(&["admin"]));
    let admin_routes = Router::new()
        .route("/admin", get(from_extension))
        .route("/admin/me", get(from_extractor))
        .layer(AuthLayer::new(admin.clone()))
        .with_state(admin);
    Router::new()
        .route("/open", get(from_extractor))
        .with_state(general.clone())
        .merge(admin_routes)
        .layer(AuthLayer::new(general))
}

#[tokio::test]
async fn an_inner_layer_with_a_stricter_authenticator_decodes_for_itself() {
    bounded(async {
        let local = Local::new();
        let app = general_and_admin(&local);
        let api = local.token_for("ann", "api");
        let answer = send(&app, bearer("/open", &api), &api).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "ann")
        );
        // The general layer accepted it; the admin layer does not.
        for path in ["/admin", "/admin/me"] {
            send(&app, bearer(path, &api), &api)
                .await
                .assert_unauthorized("invalid_token");
        }
        let admin = local.token_for("ben", "admin");
        let before = local.store.checks();
        let answer = send(&app, bearer("/admin", &admin), &admin).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "ben k1")
        );
        assert_eq!(
            local.store.checks() - before,
            2,
            "the general and the admin authenticator each decode once"
        );
        let before = local.store.checks();
        let answer = send(&app, bearer("/admin/me", &admin), &admin).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::OK, "ben")
        );
        assert_eq!(
            local.store.checks() - before,
            2,
            "the extractor reuses the admin layer's verdict: its authenticator is a clone"
        );
    })
    .await;
}

#[tokio::test]
async fn each_extractor_sees_the_verdict_of_the_authenticator_it_names() {
    bounded(async {
        let local = Local::new();
        let bearer_auth = Authenticator::new(local.service_for(&["api", "admin"]));
        let cookie_auth = Authenticator::builder(local.service_for(&["admin"]))
            .token_source(TokenSource::cookie("admin_session"))
            .build()
            .unwrap();
        // Outside in: the bearer layer, the cookie layer, then a handler
        // whose extractor names the bearer authenticator, and one whose
        // extractor names the cookie authenticator.
        let named_bearer = Router::new()
            .route("/bearer", get(from_extractor))
            .with_state(bearer_auth.clone());
        let named_cookie = Router::new()
            .route("/cookie", get(from_extractor))
            .route("/latest", get(from_extension))
            .with_state(cookie_auth.clone());
        let app = named_bearer
            .merge(named_cookie)
            .layer(AuthLayer::new(cookie_auth))
            .layer(AuthLayer::new(bearer_auth));
        let api = local.token_for("cat", "api");
        let admin = local.token_for("dan", "admin");
        let both = |path: &str| {
            Request::get(path)
                .header("authorization", format!("Bearer {api}"))
                .header("cookie", format!("admin_session={admin}"))
                .body(Body::empty())
                .unwrap()
        };
        for (path, expected) in [
            ("/bearer", "cat"),
            ("/cookie", "dan"),
            ("/latest", "dan k1"),
        ] {
            let before = local.store.checks();
            let answer = send(&app, both(path), &api).await;
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (StatusCode::OK, expected),
                "{path}"
            );
            assert_eq!(
                local.store.checks() - before,
                2,
                "{path}: each layer decodes its own token once, the extractor reuses its own"
            );
        }
        // The bearer token alone passes the bearer layer, not the cookie one.
        let answer = send(&app, bearer("/bearer", &api), &api).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.code(), "missing_token");
    })
    .await;
}

#[tokio::test]
async fn a_layer_with_a_claims_check_answers_403() {
    let local = Local::new();
    let auth = Authenticator::new(Arc::clone(&local.service));
    let app = protected(&auth, AuthLayer::new(auth.clone()).require::<Admin>());
    let user = local.token_with(
        Claims::builder()
            .subject("vic")
            .claim("role", "user")
            .build()
            .unwrap(),
    );
    let answer = send(&app, bearer("/extension", &user), &user).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope""#)
    );
    assert_eq!(answer.code(), "insufficient_scope");
    let admin = local.token_with(
        Claims::builder()
            .subject("vic")
            .claim("role", "admin")
            .build()
            .unwrap(),
    );
    assert_eq!(
        send(&app, bearer("/extension", &admin), &admin)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_layer_answers_503_when_the_store_is_down() {
    let service = Arc::new(
        LocalService::builder(LocalKey::generate().unwrap())
            .store(Arc::new(UnreachableStore))
            .build(),
    );
    let token = service
        .encode(&Claims::builder().subject("wes").build().unwrap())
        .unwrap();
    let auth = Authenticator::new(service);
    let app = protected(&auth, AuthLayer::new(auth.clone()));
    let answer = send(&app, bearer("/extension", &token), &token).await;
    answer.assert_unavailable("5");
}

/// A tower service over `String` bodies, as a tonic server is over its own:
/// nothing of axum's body type is involved.
fn plain_service() -> impl tower::Service<
    Request<String>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    service_fn(|request: Request<String>| async move {
        let auth = request.extensions().get::<Authenticated>().unwrap();
        let subject = auth.token().claims().subject().unwrap().to_owned();
        Ok::<_, Infallible>(Response::new(format!("{subject}: {}", request.body())))
    })
}

fn string_request(token: Option<&str>) -> Request<String> {
    let mut builder = Request::post("/grpc.Orders/List");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body("payload".to_owned()).unwrap()
}

#[tokio::test]
async fn the_layer_wraps_any_tower_service_over_any_body() {
    let local = Local::new();
    let service =
        AuthLayer::new(Authenticator::new(Arc::clone(&local.service))).layer(plain_service());
    let token = local.token("xena");
    let response = service
        .clone()
        .oneshot(string_request(Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "xena: payload");

    let refused = service.clone().oneshot(string_request(None)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    assert_eq!(refused.headers()["content-type"], "application/json");
    assert!(refused.body().contains(r#""error":"missing_token""#));

    local.clock.advance(common::past_expiry());
    let expired = service.oneshot(string_request(Some(&token))).await.unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        expired.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert!(!expired.body().contains(&token));
}

#[tokio::test]
async fn rejections_take_the_body_the_wrapped_service_uses() {
    let local = Local::new();
    let auth = Authenticator::new(Arc::clone(&local.service));
    // An empty body of any `Default` type: status and headers carry it all.
    let unit = service_fn(|_: Request<String>| async { Ok::<_, Infallible>(Response::new(())) });
    let empty = AuthLayer::new(auth.clone())
        .respond_with(EmptyBody)
        .layer(unit);
    let refused = empty
        .oneshot(string_request(Some("v4.local.AAAA")))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert!(refused.headers().get("content-type").is_none());
    // Or a closure of your own.
    let coded = AuthLayer::new(auth)
        .respond_with(|r: AuthRejection| r.response_with(r.kind().code().to_owned()))
        .layer(plain_service());
    let refused = coded.oneshot(string_request(None)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body(), "missing_token");
}

/// A service that is not ready, then fails its readiness check: back
/// pressure and errors from the wrapped service must reach the caller.
#[derive(Clone, Default)]
struct Busy(Arc<std::sync::atomic::AtomicUsize>);

impl tower::Service<Request<String>> for Busy {
    type Response = Response<String>;
    type Error = &'static str;
    type Future = std::future::Ready<Result<Response<String>, &'static str>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), &'static str>> {
        match self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
            0 => std::task::Poll::Pending,
            _ => std::task::Poll::Ready(Err("overloaded")),
        }
    }

    fn call(&mut self, _: Request<String>) -> Self::Future {
        std::future::ready(Ok(Response::new(String::new())))
    }
}

#[test]
fn the_layer_passes_on_the_wrapped_services_readiness() {
    use tower::Service as _;

    let local = Local::new();
    let mut service =
        AuthLayer::new(Authenticator::new(Arc::clone(&local.service))).layer(Busy::default());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(service.poll_ready(&mut cx).is_pending());
    assert_eq!(
        service.poll_ready(&mut cx),
        std::task::Poll::Ready(Err("overloaded"))
    );
}

#[test]
fn the_layer_and_its_service_show_their_authenticator() {
    let local = Local::new();
    let auth = Authenticator::new(Arc::clone(&local.service));
    let layer = AuthLayer::new(auth.clone());
    let shown = format!("{layer:?}");
    assert!(
        shown.starts_with("AuthLayer { auth: Authenticator {") && shown.ends_with(".. }"),
        "{shown}"
    );
    let service = format!("{:?}", layer.layer(plain_service()));
    assert!(
        service.starts_with("AuthService { auth: Authenticator {") && service.ends_with(".. }"),
        "{service}"
    );
    assert!(service.contains(&format!("{auth:?}")), "{service}");
}
