//! `POST /trust/{kind}`, `GET /trust/verify`, `POST /trust/consume`: in
//! process, and as a process on a real Redis for the binding to the client.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{StatusCode, header};
use base64ct::{Base64, Encoding as _};
use process::ServerProcess;
use serde_json::{Value, json};
use server::{Answer, CLIENT, OTHER_CLIENT, OTHER_SECRET, SECRET, Server};
use vaulttoken::LocalKey;
use vaulttoken::keyring::{LocalKeyRing, RingSettings};
use vaulttoken::store::MemoryStore;
use vaulttoken::store::conformance::UnreachableStore;
use vaulttoken::trust::{TrustKind, TrustTokens};

/// The client that issues the tokens, and another configured client.
const A: (&str, &str) = (CLIENT, SECRET);
const B: (&str, &str) = (OTHER_CLIENT, OTHER_SECRET);

/// `Authorization: Basic` for a client.
fn basic((client, secret): (&str, &str)) -> String {
    server::basic(client, secret)
}

async fn issue(server: &Server, kind: &str, extra: Value) -> Answer {
    let mut body = json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"});
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    server.post(&format!("/trust/{kind}"), &body).await
}

async fn consume(server: &Server, token: &str, kind: &str, state: Option<&str>) -> Answer {
    let mut body =
        json!({"client_id": CLIENT, "client_secret": SECRET, "token": token, "kind": kind});
    if let Some(state) = state {
        body["state"] = json!(state);
    }
    server.post("/trust/consume", &body).await
}

fn verify_path(token: &str, kind: &str) -> String {
    format!("/trust/verify?token={token}&kind={kind}")
}

/// `GET path` with `Authorization: authorization`, if any.
async fn get_as(server: &Server, path: &str, authorization: Option<&str>) -> Answer {
    let mut request = server::get(path);
    if let Some(authorization) = authorization {
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, authorization.parse().unwrap());
    }
    server::send(&server.app, request).await
}

/// `GET path` as client A.
async fn verify(server: &Server, path: &str) -> Answer {
    get_as(server, path, Some(&basic(A))).await
}

#[tokio::test]
async fn a_trust_token_verifies_any_number_of_times_and_is_spent_once() {
    let server = Server::new().await;
    let issued = issue(&server, "password_reset", json!({})).await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    assert_eq!(issued.header("cache-control"), "no-store");
    assert_eq!(issued.body["kind"], "password_reset");
    assert_eq!(issued.body["expires_in"], 3600);
    let token = issued.body["token"].as_str().unwrap();

    for _ in 0..2 {
        let peek = verify(&server, &verify_path(token, "password_reset")).await;
        assert_eq!(peek.status, StatusCode::OK, "{:?}", peek.body);
        assert_eq!(peek.body["valid"], true);
        assert_eq!(peek.body["sub"], "alice");
    }
    let spent = consume(&server, token, "password_reset", None).await;
    assert_eq!(spent.status, StatusCode::OK);
    assert_eq!(spent.body["sub"], "alice");
    assert_eq!(spent.body["kind"], "password_reset");

    let again = consume(&server, token, "password_reset", None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.error(), "invalid_grant");
    assert_eq!(
        again.body["error_description"],
        "the token was already used"
    );
    let peek = verify(&server, &verify_path(token, "password_reset")).await;
    assert_eq!(peek.error(), "invalid_grant");
}

#[tokio::test]
async fn a_trust_token_is_only_good_for_its_kind_and_its_state() {
    let server = Server::new().await;
    let issued = issue(&server, "magic_link", json!({"state": "browser-1"})).await;
    assert_eq!(issued.body["expires_in"], 900);
    let token = issued.body["token"].as_str().unwrap();
    for (kind, state) in [
        ("email_verification", Some("browser-1")),
        ("magic_link", Some("browser-2")),
        ("magic_link", None),
    ] {
        let refused = consume(&server, token, kind, state).await;
        assert_eq!(refused.error(), "invalid_grant", "{kind} {state:?}");
    }
    let spent = consume(&server, token, "magic_link", Some("browser-1")).await;
    assert_eq!(spent.status, StatusCode::OK);
}

#[tokio::test]
async fn trust_requests_are_checked() {
    let server = Server::new().await;
    let unknown = issue(&server, "launch_codes", json!({})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.error(), "invalid_request");
    let wrong = server
        .post(
            "/trust/org_invitation",
            &json!({"client_id": CLIENT, "client_secret": "nope", "subject": "a"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error(), "invalid_client");
    let long_state = issue(
        &server,
        "org_invitation",
        json!({"state": "s".repeat(1025)}),
    )
    .await;
    assert_eq!(long_state.error(), "invalid_request");
    // 1 KiB of state is the most, and enough.
    let longest = "s".repeat(1024);
    let issued = issue(&server, "org_invitation", json!({"state": longest})).await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    let token = issued.body["token"].as_str().unwrap();
    let spent = consume(&server, token, "org_invitation", Some(&longest)).await;
    assert_eq!(spent.status, StatusCode::OK, "{:?}", spent.body);
    for path in [
        "/trust/verify",
        "/trust/verify?token=x",
        "/trust/verify?token=x&kind=nope",
    ] {
        let answer = verify(&server, path).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(answer.error(), "invalid_request", "{path}");
    }
    let garbage = verify(&server, &verify_path("garbage", "magic_link")).await;
    assert_eq!(garbage.error(), "invalid_grant");
    // Verifying is client-authenticated too (HTTP Basic: a GET has no body).
    let path = verify_path(token, "org_invitation");
    for authorization in [
        None,
        Some(basic((CLIENT, "web-secret-wrong-0123456"))),
        Some(basic(("ghost", SECRET))),
        Some(format!("Bearer {SECRET}")),
        Some("Basic !!!".to_owned()),
        Some(format!("Basic {}", Base64::encode_string(b"no-colon"))),
        Some(format!("Basic {}", Base64::encode_string(b"web:\xff"))),
        Some("Basic".to_owned()),
    ] {
        let refused = get_as(&server, &path, authorization.as_deref()).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{authorization:?}"
        );
        assert_eq!(refused.error(), "invalid_client", "{authorization:?}");
        assert_eq!(
            refused.header("www-authenticate"),
            r#"Basic realm="vaulttoken""#
        );
    }
    // The scheme is case-insensitive (RFC 7235).
    let lower = basic(A).replacen("Basic", "basic", 1);
    let spent = get_as(&server, &path, Some(&lower)).await;
    assert_eq!(
        spent.error(),
        "invalid_grant",
        "authenticated: the token is refused"
    );
    let unauthenticated = server
        .post(
            "/trust/consume",
            &json!({"token": "x", "kind": "magic_link"}),
        )
        .await;
    // No client authentication at all is a failed one (RFC 6749 §5.2).
    assert_eq!(
        (unauthenticated.status, unauthenticated.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}

/// `POST /trust/{kind}` on a process as `client`, bound to `state` if any.
fn issue_on(
    server: &ServerProcess,
    client: (&str, &str),
    kind: &str,
    state: Option<&str>,
) -> Value {
    let mut body = json!({"client_id": client.0, "client_secret": client.1, "subject": "alice"});
    if let Some(state) = state {
        body["state"] = json!(state);
    }
    let (status, issued) = server.request("POST", &format!("/trust/{kind}"), &[], Some(&body));
    assert_eq!(status, 200, "{issued}");
    issued
}

/// `GET /trust/verify` on a process as `client`.
fn verify_on(
    server: &ServerProcess,
    client: (&str, &str),
    token: &str,
    kind: &str,
    state: Option<&str>,
) -> (u16, Value) {
    let mut path = verify_path(token, kind);
    if let Some(state) = state {
        path.push_str(&format!("&state={state}"));
    }
    server.request("GET", &path, &[("Authorization", &basic(client))], None)
}

/// `POST /trust/consume` on a process as `client`.
fn consume_on(
    server: &ServerProcess,
    client: (&str, &str),
    token: &str,
    kind: &str,
    state: Option<&str>,
) -> (u16, Value) {
    let mut body =
        json!({"client_id": client.0, "client_secret": client.1, "token": token, "kind": kind});
    if let Some(state) = state {
        body["state"] = json!(state);
    }
    server.request("POST", "/trust/consume", &[], Some(&body))
}

/// The answer to a token that is no token at all.
fn invalid_token_answer(server: &ServerProcess) -> (u16, Value) {
    let invalid = verify_on(server, A, "v4.local.garbage", "password_reset", None);
    assert_eq!(invalid.0, 400);
    assert_eq!(invalid.1["error"], "invalid_grant");
    invalid
}

#[test]
fn a_trust_token_is_verified_and_spent_only_by_the_client_that_issued_it() {
    if !redis_support::redis_available("a_trust_token_is_bound_to_its_client") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let server = ServerProcess::start(&redis.url());
    let invalid = invalid_token_answer(&server);
    let kind = "password_reset";
    for state in [None, Some("browser-1")] {
        let issued = issue_on(&server, A, kind, state);
        let token = issued["token"].as_str().unwrap();

        // B, another configured client: the answer to an invalid token, so
        // it learns nothing about A's token, and nothing is spent.
        assert_eq!(
            verify_on(&server, B, token, kind, state),
            invalid,
            "{state:?}"
        );
        assert_eq!(
            consume_on(&server, B, token, kind, state),
            invalid,
            "{state:?}"
        );
        assert_eq!(
            consume_on(&server, B, token, kind, state),
            invalid,
            "{state:?}"
        );

        let (status, peek) = verify_on(&server, A, token, kind, state);
        assert_eq!(status, 200, "{state:?} {peek}");
        assert_eq!(peek["valid"], true);
        assert_eq!(peek["client_id"], CLIENT);
        let (status, spent) = consume_on(&server, A, token, kind, state);
        assert_eq!(status, 200, "{state:?} {spent}");
        assert_eq!(spent["sub"], "alice");
        assert_eq!(spent["client_id"], CLIENT);
        assert_eq!(spent["jti"], peek["jti"]);
        let (status, again) = consume_on(&server, A, token, kind, state);
        assert_eq!(status, 400);
        assert_eq!(again["error_description"], "the token was already used");
        // To B it is still just invalid: not even "already used".
        assert_eq!(
            consume_on(&server, B, token, kind, state),
            invalid,
            "{state:?}"
        );
    }
    // B's own tokens are B's.
    let issued = issue_on(&server, B, "magic_link", None);
    let token = issued["token"].as_str().unwrap();
    assert_eq!(verify_on(&server, A, token, "magic_link", None), invalid);
    let (status, spent) = consume_on(&server, B, token, "magic_link", None);
    assert_eq!(status, 200, "{spent}");
    assert_eq!(spent["client_id"], OTHER_CLIENT);
}

#[test]
fn a_trust_token_issued_before_tokens_were_bound_to_a_client_is_refused() {
    if !redis_support::redis_available("a_trust_token_from_before_is_refused") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let server = ServerProcess::start(&redis.url());
    let invalid = invalid_token_answer(&server);

    // Tokens as the server issued them before: under its trust key (now the
    // active key of its trust ring, naming it), bound to the kind and the
    // caller's state only.
    let text = std::fs::read_to_string(&server.key_file().0).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    let kek = LocalKey::from_paserk(&server::kek()).unwrap();
    let ring = LocalKeyRing::import_wrapped(
        document["trust_ring"].as_str().unwrap(),
        &kek,
        &RingSettings::new(),
    )
    .unwrap();
    let before = TrustTokens::from_ring(Arc::new(ring), Arc::new(MemoryStore::new())).build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let issue = |state: Option<&'static str>| {
        let mut request = before.request(TrustKind::PasswordReset, "alice");
        if let Some(state) = state {
            request = request.bound_to(state.as_bytes());
        }
        let issued = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), before.issue(request)).await
        });
        issued.unwrap().unwrap()
    };

    for state in [None, Some("browser-1")] {
        let token = issue(state);
        for client in [A, B] {
            assert_eq!(
                verify_on(&server, client, &token, "password_reset", state),
                invalid
            );
            assert_eq!(
                consume_on(&server, client, &token, "password_reset", state),
                invalid
            );
        }
    }
}

#[tokio::test]
async fn another_clients_attempt_is_refused_before_the_store_is_asked() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let server = Server::new().await;
        let issued = issue(&server, "magic_link", json!({})).await;
        let token = issued.body["token"].as_str().unwrap();
        // The same keys over a store that cannot answer: whatever asks it is 503.
        let down = Server::over(&server.file, &[], Arc::new(UnreachableStore)).await;
        let path = verify_path(token, "magic_link");
        let consume_as = |(client, secret): (&str, &str)| {
            server::post(
                "/trust/consume",
                &json!({"client_id": client, "client_secret": secret, "token": token, "kind": "magic_link"}),
            )
        };
        // A's own token needs the store.
        let peek = server::send(&down, server::get_as(&path, CLIENT, SECRET)).await;
        assert_eq!(peek.status, StatusCode::SERVICE_UNAVAILABLE);
        let spend = server::send(&down, consume_as(A)).await;
        assert_eq!(spend.status, StatusCode::SERVICE_UNAVAILABLE);
        // B's attempt never gets that far: the token does not open for it.
        let peek = server::send(&down, server::get_as(&path, OTHER_CLIENT, OTHER_SECRET)).await;
        assert_eq!(peek.status, StatusCode::BAD_REQUEST);
        assert_eq!(peek.error(), "invalid_grant");
        let spend = server::send(&down, consume_as(B)).await;
        assert_eq!(spend.status, StatusCode::BAD_REQUEST);
        assert_eq!(spend.error(), "invalid_grant");
    })
    .await
    .unwrap();
}
