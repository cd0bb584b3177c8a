//! Error paths shared by every endpoint: client authentication, bodies, a
//! token store that is down, rate limits.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use server::{CLIENT, OTHER_CLIENT, OTHER_SECRET, SECRET, Server, from_peer, post, send};
use vaulttoken::store::conformance::UnreachableStore;

/// Every client-authenticated endpoint, with a body that is fine but for
/// the secret.
fn authenticated_requests(secret: &str) -> Vec<(&'static str, serde_json::Value)> {
    let auth = |mut body: serde_json::Value| {
        body["client_id"] = json!(CLIENT);
        body["client_secret"] = json!(secret);
        body
    };
    vec![
        ("/token", auth(json!({"subject": "alice"}))),
        (
            "/token/refresh",
            auth(json!({"refresh_token": "v4.local.AAAA"})),
        ),
        ("/token/revoke", auth(json!({"token": "x"}))),
        ("/token/introspect", auth(json!({"token": "x"}))),
        ("/trust/password_reset", auth(json!({"subject": "alice"}))),
        (
            "/trust/consume",
            auth(json!({"token": "x", "kind": "magic_link"})),
        ),
    ]
}

#[tokio::test]
async fn a_wrong_or_unknown_client_is_invalid_client_everywhere() {
    let server = Server::new().await;
    for (path, body) in authenticated_requests("wrong-secret-0123456789") {
        let answer = server.post(path, &body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(answer.error(), "invalid_client", "{path}");
        assert_eq!(
            answer.header("www-authenticate"),
            r#"Basic realm="vaulttoken""#
        );
        assert_eq!(answer.header("cache-control"), "no-store");
    }
    let unknown = server
        .post(
            "/token",
            &json!({"client_id": "nobody", "client_secret": SECRET, "subject": "a"}),
        )
        .await;
    assert_eq!(unknown.error(), "invalid_client");
    // One client's secret is not another's.
    let crossed = server
        .post(
            "/token",
            &json!({"client_id": OTHER_CLIENT, "client_secret": SECRET, "subject": "a"}),
        )
        .await;
    assert_eq!(crossed.error(), "invalid_client");
    let own = server
        .post(
            "/token",
            &json!({"client_id": OTHER_CLIENT, "client_secret": OTHER_SECRET, "subject": "a"}),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_body_is_413_before_anything_else() {
    let server = Server::new().await;
    let subject = "a".repeat(vaulttoken_server::MAX_BODY_LEN);
    let body = json!({"client_id": CLIENT, "client_secret": SECRET, "subject": subject});
    for path in ["/token", "/token/introspect", "/trust/consume"] {
        let answer = server.post(path, &body).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(answer.error(), "invalid_request");
    }
}

#[tokio::test]
async fn malformed_json_missing_fields_and_other_media_types_are_invalid_request() {
    let server = Server::new().await;
    let requests = [
        Request::post("/token")
            .header("content-type", "application/json")
            .body(Body::from("{\"client_id\": "))
            .unwrap(),
        Request::post("/token")
            .header("content-type", "application/json")
            .body(Body::from("[1, 2, 3]"))
            .unwrap(),
        post(
            "/token",
            &json!({"client_id": CLIENT, "client_secret": SECRET}),
        ),
        post(
            "/token",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": 7}),
        ),
        Request::post("/token/introspect")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "client_id={CLIENT}&client_secret={SECRET}&tokn=x"
            )))
            .unwrap(),
        Request::post("/token/revoke").body(Body::empty()).unwrap(),
    ];
    for request in requests {
        let answer = send(&server.app, request).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.error(), "invalid_request");
        assert!(!answer.header("x-request-id").is_empty());
    }
}

#[tokio::test]
async fn a_store_that_is_down_is_503_with_retry_after_never_a_verdict() {
    let server = Server::new().await;
    let pair = server.issue("alice").await;
    let trust = server
        .post(
            "/trust/magic_link",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"}),
        )
        .await
        .body;
    // A second server on the same keys, over a store that cannot answer.
    let down = Server::over(&server.file, &[], Arc::new(UnreachableStore)).await;
    let auth = |mut body: serde_json::Value| {
        body["client_id"] = json!(CLIENT);
        body["client_secret"] = json!(SECRET);
        body
    };
    let requests = [
        ("/token", auth(json!({"subject": "alice"}))),
        (
            "/token/refresh",
            auth(json!({"refresh_token": pair["refresh_token"]})),
        ),
        (
            "/token/revoke",
            auth(json!({"token": pair["access_token"]})),
        ),
        (
            "/token/revoke",
            auth(json!({"token": pair["refresh_token"]})),
        ),
        (
            "/token/introspect",
            auth(json!({"token": pair["access_token"]})),
        ),
        (
            "/trust/consume",
            auth(json!({"token": trust["token"], "kind": "magic_link"})),
        ),
    ];
    for (path, body) in requests {
        let answer = send(&down, post(path, &body)).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(answer.error(), "temporarily_unavailable", "{path}");
        assert_eq!(answer.header("retry-after"), "1", "{path}");
    }
    let peek = send(
        &down,
        server::get_as(
            &format!(
                "/trust/verify?token={}&kind=magic_link",
                trust["token"].as_str().unwrap()
            ),
            CLIENT,
            SECRET,
        ),
    )
    .await;
    assert_eq!(peek.status, StatusCode::SERVICE_UNAVAILABLE);
    // Garbage needs no store: still inactive, still 200.
    let garbage = send(
        &down,
        post("/token/introspect", &auth(json!({"token": "garbage"}))),
    )
    .await;
    assert_eq!(garbage.body, json!({"active": false}));
    assert_eq!(
        send(&down, server::get("/healthz")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn too_many_requests_from_one_ip_are_429_with_retry_after() {
    let server = Server::with(&[("VAULTTOKEN_RATE_LIMIT_PER_IP", "3")]).await;
    let body = json!({"client_id": CLIENT, "client_secret": SECRET, "token": "x"});
    for _ in 0..3 {
        let answer = send(
            &server.app,
            from_peer(post("/token/introspect", &body), "192.0.2.1:4000"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let limited = send(
        &server.app,
        from_peer(post("/token/introspect", &body), "192.0.2.1:4001"),
    )
    .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error(), "slow_down");
    let wait: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Every limited endpoint shares the count; another IP has its own.
    let trust = server::get("/trust/verify?token=x&kind=magic_link");
    let refused = send(&server.app, from_peer(trust, "192.0.2.1:4002")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let other = send(
        &server.app,
        from_peer(post("/token/introspect", &body), "192.0.2.2:4000"),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
    // /keys and /healthz are not limited.
    let keys = send(
        &server.app,
        from_peer(server::get("/keys"), "192.0.2.1:4003"),
    )
    .await;
    assert_eq!(keys.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_secret_counts_double_per_client_and_per_ip() {
    let server = Server::with(&[
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "4"),
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "1000"),
    ])
    .await;
    let good = json!({"client_id": CLIENT, "client_secret": SECRET, "token": "x"});
    let bad =
        json!({"client_id": CLIENT, "client_secret": "wrong-secret-0123456789", "token": "x"});
    let call = async |body: &serde_json::Value, peer: &str| {
        send(
            &server.app,
            from_peer(post("/token/introspect", body), peer),
        )
        .await
    };
    // Each from another IP: only the client's count matters here.
    assert_eq!(
        call(&bad, "192.0.2.10:1").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(call(&good, "192.0.2.11:1").await.status, StatusCode::OK);
    assert_eq!(call(&good, "192.0.2.12:1").await.status, StatusCode::OK);
    // 2 + 1 + 1 = 4: the limit.
    assert_eq!(
        call(&good, "192.0.2.13:1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client is not affected.
    let other = json!({"client_id": OTHER_CLIENT, "client_secret": OTHER_SECRET, "token": "x"});
    assert_eq!(call(&other, "192.0.2.14:1").await.status, StatusCode::OK);

    // Per IP: limit 3, a failure from the IP costs it 2.
    let server = Server::with(&[("VAULTTOKEN_RATE_LIMIT_PER_IP", "3")]).await;
    let call = async |body: &serde_json::Value| {
        send(
            &server.app,
            from_peer(post("/token/introspect", body), "198.51.100.1:1"),
        )
        .await
    };
    assert_eq!(call(&bad).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&good).await.status, StatusCode::OK);
    assert_eq!(call(&good).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn x_forwarded_for_counts_only_behind_a_trusted_proxy() {
    let server = Server::with(&[
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "1"),
        ("VAULTTOKEN_TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    let body = json!({"client_id": CLIENT, "client_secret": SECRET, "token": "x"});
    let via = |peer: &str, forwarded: &str| {
        let mut request = from_peer(post("/token/introspect", &body), peer);
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
        request
    };
    // Behind the proxy, each forwarded client has its own count.
    assert_eq!(
        send(&server.app, via("10.0.0.1:1", "203.0.113.1"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&server.app, via("10.0.0.1:1", "203.0.113.2"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&server.app, via("10.0.0.1:1", "203.0.113.1"))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // From an untrusted peer, the header is ignored: the peer is counted.
    assert_eq!(
        send(&server.app, via("192.0.2.9:1", "203.0.113.3"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&server.app, via("192.0.2.9:1", "203.0.113.4"))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// An invented client id gets no counter of its own (a flood of ids cannot
/// fill the limiter, nor lock a real client out by guessing its id wrong):
/// it is refused as unauthorized every time, and only its IP counts.
#[tokio::test]
async fn an_unknown_client_id_is_counted_by_ip_only() {
    let server = Server::with(&[
        ("VAULTTOKEN_RATE_LIMIT_PER_CLIENT", "2"),
        ("VAULTTOKEN_RATE_LIMIT_PER_IP", "1000"),
    ])
    .await;
    let ghost = json!({"client_id": "ghost", "client_secret": SECRET, "token": "x"});
    for n in 0..5 {
        let answer = send(
            &server.app,
            from_peer(post("/token/introspect", &ghost), &format!("192.0.2.{n}:1")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "request {n}");
    }
}

/// The length limits, to the byte: a token of 8 KiB is read (and fails as a
/// token), one byte more is refused unread; a subject of 256 bytes is
/// issued, one byte more is refused.
#[tokio::test]
async fn tokens_and_subjects_are_measured_to_the_byte() {
    let server = Server::new().await;
    let at_limit = "a".repeat(8 * 1024);
    let read = server.refresh(&at_limit).await;
    assert_eq!(
        (read.status, read.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let over = format!("{at_limit}a");
    let unread = server.refresh(&over).await;
    assert_eq!(
        (unread.status, unread.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(unread.body["error_description"], "the token is too long");

    let longest = "s".repeat(256);
    assert_eq!(server.issue(&longest).await["token_type"], "Bearer");
    let too_long = server
        .post(
            "/token",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": format!("{longest}s")}),
        )
        .await;
    assert_eq!(
        (too_long.status, too_long.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

/// A body sent without a `Content-Type` the server reads is told so.
#[tokio::test]
async fn a_body_that_is_not_declared_json_or_form_is_told_so() {
    let server = Server::new().await;
    let request = axum::http::Request::post("/token")
        .body(axum::body::Body::from(
            json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "a"}).to_string(),
        ))
        .unwrap();
    let answer = send(&server.app, request).await;
    assert_eq!(
        (answer.status, answer.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(
        answer.body["error_description"],
        "Content-Type must be application/json or application/x-www-form-urlencoded"
    );
}
