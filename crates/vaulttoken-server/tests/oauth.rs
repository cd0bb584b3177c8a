//! OAuth on the wire (issue 24): form bodies (RFC 6749 §3.2), client
//! authentication (`client_secret_basic`, `client_secret_post`), the
//! grants of `POST /token`, scopes, and the metadata document (RFC 8414).
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use axum::http::StatusCode;
use serde_json::json;
use server::{CLIENT, SECRET, Server};

/// A form body reaches every endpoint as JSON does: a pair issued from a
/// form is introspected, refreshed and revoked with forms.
#[tokio::test]
async fn every_token_endpoint_reads_a_form_body() {
    let server = Server::new().await;
    let credentials = [("client_id", CLIENT), ("client_secret", SECRET)];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form = credentials.to_vec();
        form.extend_from_slice(extra);
        form
    };
    let issued = server
        .post_form("/token", &with(&[("subject", "alice smith+1")]), &[])
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    let access = issued.body["access_token"].as_str().unwrap().to_owned();
    let refresh = issued.body["refresh_token"].as_str().unwrap().to_owned();
    let mut form = with(&[]);
    form.push(("token", &access));
    let found = server.post_form("/token/introspect", &form, &[]).await;
    assert_eq!(found.body["active"], true, "{:?}", found.body);
    assert_eq!(found.body["sub"], "alice smith+1");
    let mut form = with(&[("grant_type", "refresh_token")]);
    form.push(("refresh_token", &refresh));
    let refreshed = server.post_form("/token/refresh", &form, &[]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    let next = refreshed.body["access_token"].as_str().unwrap().to_owned();
    let mut form = with(&[]);
    form.push(("token", &next));
    let revoked = server.post_form("/token/revoke", &form, &[]).await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.body);
    assert_eq!(server.introspect(&next).await["active"], false);
}

/// The trust routes read forms too: a token issued from a form is spent
/// from a form, bound to the same `state`.
#[tokio::test]
async fn the_trust_routes_read_a_form_body() {
    let server = Server::new().await;
    let issued = server
        .post_form(
            "/trust/magic_link",
            &[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("subject", "alice"),
                ("state", "s 1"),
            ],
            &[],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    let token = issued.body["token"].as_str().unwrap().to_owned();
    let consume = |state: &'static str| {
        let token = token.clone();
        let server = &server;
        async move {
            server
                .post_form(
                    "/trust/consume",
                    &[
                        ("client_id", CLIENT),
                        ("client_secret", SECRET),
                        ("token", &token),
                        ("kind", "magic_link"),
                        ("state", state),
                    ],
                    &[],
                )
                .await
        }
    };
    assert_eq!(consume("s 2").await.error(), "invalid_grant");
    let spent = consume("s 1").await;
    assert_eq!(spent.status, StatusCode::OK, "{:?}", spent.body);
    assert_eq!(spent.body["sub"], "alice");
}

/// A malformed form names its field and never echoes a value; the size
/// limit is the JSON one.
#[tokio::test]
async fn a_malformed_form_names_the_field_and_the_limit_holds() {
    let server = Server::new().await;
    let missing = server
        .post_form(
            "/token",
            &[("client_id", CLIENT), ("client_secret", SECRET)],
            &[],
        )
        .await;
    assert_eq!(
        (missing.status, missing.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(missing.body["error_description"], "subject: required");
    let repeated = server
        .post_form(
            "/token",
            &[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("subject", "alice"),
                ("subject", "hunter2-subject"),
            ],
            &[],
        )
        .await;
    assert_eq!(
        repeated.body["error_description"],
        "subject: given more than once"
    );
    assert!(!repeated.body.to_string().contains("hunter2"));
    let huge = "a".repeat(17 * 1024);
    let too_large = server
        .post_form(
            "/token/introspect",
            &[
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("token", &huge),
            ],
            &[],
        )
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.error(), "invalid_request");
    let json_still = server
        .post(
            "/token",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"}),
        )
        .await;
    assert_eq!(json_still.status, StatusCode::OK);
}

/// A client whose secret holds every byte that form-encoding changes.
const ODD_CLIENT: &str = "odd.client_1";
const ODD_SECRET: &str = "p@ss:w%rd+ é&=/?#0123456789";

async fn with_odd_client() -> Server {
    let clients = format!("{CLIENT}:{SECRET},{ODD_CLIENT}:{ODD_SECRET}");
    Server::with(&[("VAULTTOKEN_CLIENTS", &clients)]).await
}

/// `client_secret_basic` (RFC 6749 §2.3.1): the id and secret form-encoded,
/// then base64; every endpoint takes it, and the token it issues belongs
/// to that client.
#[tokio::test]
async fn client_secret_basic_authenticates_at_every_endpoint() {
    let server = with_odd_client().await;
    let basic = server::basic_oauth(ODD_CLIENT, ODD_SECRET);
    let auth = [("authorization", basic.as_str())];
    let issued = server
        .post_form("/token", &[("subject", "alice")], &auth)
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{:?}", issued.body);
    let access = issued.body["access_token"].as_str().unwrap().to_owned();
    let refresh = issued.body["refresh_token"].as_str().unwrap().to_owned();
    let found = server
        .post_form("/token/introspect", &[("token", &access)], &auth)
        .await;
    assert_eq!(found.body["client_id"], ODD_CLIENT, "{:?}", found.body);
    // Naming the header's client in the body too is one method.
    let refreshed = server
        .post_form(
            "/token/refresh",
            &[("client_id", ODD_CLIENT), ("refresh_token", &refresh)],
            &auth,
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{:?}", refreshed.body);
    let next = refreshed.body["access_token"].as_str().unwrap().to_owned();
    let revoked = server
        .post_form("/token/revoke", &[("token", &next)], &auth)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.body);
    assert_eq!(server.introspect(&next).await["active"], false);
    // The same secret in the body (client_secret_post) works as well.
    let posted = server
        .post_form(
            "/token",
            &[
                ("client_id", ODD_CLIENT),
                ("client_secret", ODD_SECRET),
                ("subject", "bob"),
            ],
            &[],
        )
        .await;
    assert_eq!(posted.status, StatusCode::OK, "{:?}", posted.body);
    // And on the trust routes: issue with Basic, verify (a GET) with Basic.
    let trust = server
        .post_form("/trust/email_verification", &[("subject", "alice")], &auth)
        .await;
    assert_eq!(trust.status, StatusCode::OK, "{:?}", trust.body);
    let token = trust.body["token"].as_str().unwrap();
    let path = format!(
        "/trust/verify?kind=email_verification&token={}",
        server::form_component(token)
    );
    let mut request = server::get(&path);
    request
        .headers_mut()
        .insert("authorization", basic.parse().unwrap());
    let verified = server::send(&server.app, request).await;
    assert_eq!(verified.status, StatusCode::OK, "{:?}", verified.body);
    assert_eq!(verified.body["client_id"], ODD_CLIENT);
}

/// The 401 names what is accepted (`Basic`), on every failure: wrong,
/// malformed, absent or oversized credentials; a header that is not
/// form-encoded as RFC 6749 says fails when its secret holds `+` or `%`.
#[tokio::test]
async fn failed_client_authentication_is_401_with_the_basic_challenge() {
    let server = with_odd_client().await;
    let raw_basic = server::basic(ODD_CLIENT, ODD_SECRET);
    let wrong = server::basic_oauth(ODD_CLIENT, "p@ss:w%rd+ é&=/?#012345678");
    let huge = format!("Basic {}", "QUFB".repeat(2000));
    let headers: [&[(&str, &str)]; 7] = [
        &[("authorization", &wrong)],
        &[("authorization", &raw_basic)],
        &[("authorization", "Basic !!!notbase64")],
        &[("authorization", "Basic d2Vi")],
        &[("authorization", "Bearer abc")],
        &[("authorization", &huge)],
        &[],
    ];
    for headers in headers {
        let answer = server
            .post_form("/token", &[("subject", "alice")], headers)
            .await;
        assert_eq!(
            (answer.status, answer.error()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{headers:?}"
        );
        assert_eq!(
            answer.header("www-authenticate"),
            r#"Basic realm="vaulttoken""#
        );
        assert_eq!(
            answer.body["error_description"],
            "client authentication failed"
        );
    }
    let mut not_utf8 = b"Basic ".to_vec();
    not_utf8.extend_from_slice(b"d2ViOv8=");
    let request = axum::http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            axum::http::HeaderValue::from_bytes(&not_utf8).unwrap(),
        )
        .body(axum::body::Body::from("subject=alice"))
        .unwrap();
    let answer = server::send(&server.app, request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

/// Exactly one client authentication method per request (RFC 6749 §2.3).
#[tokio::test]
async fn two_methods_at_once_are_invalid_request() {
    let server = with_odd_client().await;
    let basic = server::basic_oauth(ODD_CLIENT, ODD_SECRET);
    let auth = [("authorization", basic.as_str())];
    let both = server
        .post_form(
            "/token",
            &[("client_secret", ODD_SECRET), ("subject", "alice")],
            &auth,
        )
        .await;
    assert_eq!(
        (both.status, both.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert!(!both.body.to_string().contains("p@ss"), "{:?}", both.body);
    let other = server
        .post_form(
            "/token",
            &[("client_id", CLIENT), ("subject", "alice")],
            &auth,
        )
        .await;
    assert_eq!(
        (other.status, other.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let json_both = server
        .post(
            "/token",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"}),
        )
        .await;
    assert_eq!(json_both.status, StatusCode::OK, "post alone still works");
}

/// `POST /token` as `client` with a form and Basic; the answer.
async fn grant(server: &Server, form: &[(&str, &str)]) -> server::Answer {
    let basic = server::basic_oauth(CLIENT, SECRET);
    server
        .post_form("/token", form, &[("authorization", &basic)])
        .await
}

fn text(answer: &server::Answer, field: &str) -> String {
    answer.body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {:?}", answer.body))
        .to_owned()
}

/// `client_credentials` (RFC 6749 §4.4): an access token for the client
/// itself, with its audience, and no refresh token; introspected and
/// revoked like any access token.
#[tokio::test]
async fn client_credentials_is_a_token_for_the_client_itself() {
    let server = Server::with(&[(
        "VAULTTOKEN_CLIENT_AUDIENCES",
        "web=https://api.example https://files.example",
    )])
    .await;
    let answer = grant(&server, &[("grant_type", "client_credentials")]).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.body["token_type"], "Bearer");
    assert!(
        answer.body.get("refresh_token").is_none(),
        "{:?}",
        answer.body
    );
    let expires_in = answer.body["expires_in"].as_i64().unwrap();
    assert!((899..=900).contains(&expires_in), "{expires_in}");
    let access = text(&answer, "access_token");
    let found = server.introspect(&access).await;
    assert_eq!(found["active"], true);
    assert_eq!(found["sub"], CLIENT);
    assert_eq!(found["client_id"], CLIENT);
    assert_eq!(found["aud"], "https://api.example");
    assert_eq!(found["iss"], server::ISSUER);
    let files = grant(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("audience", "https://files.example"),
        ],
    )
    .await;
    assert_eq!(
        server.introspect(&text(&files, "access_token")).await["aud"],
        "https://files.example"
    );
    let other = grant(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("audience", "https://other.example"),
        ],
    )
    .await;
    assert_eq!(other.error(), "invalid_target");
    let revoked = server
        .post_form(
            "/token/revoke",
            &[("token", &access)],
            &[("authorization", &server::basic_oauth(CLIENT, SECRET))],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(server.introspect(&access).await["active"], false);
    for extra in [("subject", "alice"), ("context.ip", "192.0.2.1")] {
        let refused = grant(&server, &[("grant_type", "client_credentials"), extra]).await;
        assert_eq!(
            (refused.status, refused.error()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{extra:?}"
        );
    }
}

/// `grant_type=refresh_token` at `POST /token` is `/token/refresh`: the
/// same rotation and reuse detection, across both endpoints.
#[tokio::test]
async fn the_refresh_grant_of_token_rotates_and_detects_reuse_with_refresh() {
    let server = Server::new().await;
    let first = grant(&server, &[("subject", "alice")]).await;
    let first_refresh = text(&first, "refresh_token");
    let second = grant(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
        ],
    )
    .await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    assert_eq!(second.body["token_type"], "Bearer");
    let second_access = text(&second, "access_token");
    assert_eq!(server.introspect(&second_access).await["sub"], "alice");
    // The first refresh token again, at the other endpoint: reuse, and the
    // whole family dies.
    let reuse = server.refresh(&first_refresh).await;
    assert_eq!(reuse.error(), "invalid_grant");
    assert_eq!(
        reuse.body["error_description"],
        "refresh token reused: its family is revoked"
    );
    assert_eq!(server.introspect(&second_access).await["active"], false);
    let after = grant(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text(&second, "refresh_token")),
        ],
    )
    .await;
    assert_eq!(after.error(), "invalid_grant");
    // And the other way round: refreshed at /token/refresh, reused at /token.
    let pair = server.issue("bob").await;
    let old = pair["refresh_token"].as_str().unwrap();
    assert_eq!(server.refresh(old).await.status, StatusCode::OK);
    let reuse = grant(
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", old)],
    )
    .await;
    assert_eq!(
        reuse.body["error_description"],
        "refresh token reused: its family is revoked"
    );
}

/// The grace window and the context binding hold at `POST /token` too.
#[tokio::test]
async fn the_refresh_grant_keeps_grace_binding_and_audience() {
    let server = Server::with(&[
        ("VAULTTOKEN_REFRESH_GRACE_SECS", "30"),
        ("VAULTTOKEN_BINDING", "strict"),
        (
            "VAULTTOKEN_CLIENT_AUDIENCES",
            "web=https://api.example https://files.example",
        ),
    ])
    .await;
    let home = [("context.ip", "192.0.2.7")];
    let mut form = vec![("subject", "alice"), ("audience", "https://files.example")];
    form.extend_from_slice(&home);
    let first = grant(&server, &form).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let refresh = text(&first, "refresh_token");
    let away = grant(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("context.ip", "198.51.100.1"),
        ],
    )
    .await;
    assert_eq!(away.error(), "invalid_grant", "another context");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        home[0],
    ];
    let second = grant(&server, &form).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    // The lost answer: the same token again within the grace window.
    let replay = grant(&server, &form).await;
    assert_eq!(replay.status, StatusCode::OK, "{:?}", replay.body);
    let basic = server::basic_oauth(CLIENT, SECRET);
    let found = server
        .post_form(
            "/token/introspect",
            &[("token", &text(&replay, "access_token")), home[0]],
            &[("authorization", &basic)],
        )
        .await;
    assert_eq!(found.body["active"], true, "{:?}", found.body);
    assert_eq!(found.body["aud"], "https://files.example");
}

/// The subject grant has a name; any other grant is
/// `unsupported_grant_type`, and a grant's missing field is named.
#[tokio::test]
async fn grant_types_are_dispatched_and_unknown_ones_refused() {
    let server = Server::new().await;
    let named = grant(
        &server,
        &[
            ("grant_type", "urn:vaulttoken:grant-type:subject"),
            ("subject", "alice"),
        ],
    )
    .await;
    assert_eq!(named.status, StatusCode::OK, "{:?}", named.body);
    assert!(named.body["refresh_token"].is_string());
    for unknown in ["password", "authorization_code", "REFRESH_TOKEN", "urn:x"] {
        let refused = grant(&server, &[("grant_type", unknown), ("subject", "alice")]).await;
        assert_eq!(
            (refused.status, refused.error()),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
            "{unknown}"
        );
    }
    let basic = server::basic_oauth(CLIENT, SECRET);
    let at_refresh = server
        .post_form(
            "/token/refresh",
            &[("grant_type", "client_credentials"), ("refresh_token", "x")],
            &[("authorization", &basic)],
        )
        .await;
    assert_eq!(at_refresh.error(), "unsupported_grant_type");
    let missing = grant(&server, &[("grant_type", "refresh_token")]).await;
    assert_eq!(missing.body["error_description"], "refresh_token: required");
    let missing = grant(&server, &[]).await;
    assert_eq!(missing.body["error_description"], "subject: required");
    // An unauthenticated request learns nothing about grants.
    let anonymous = server
        .post_form("/token", &[("grant_type", "password")], &[])
        .await;
    assert_eq!(anonymous.error(), "invalid_client");
}

fn scoped_server() -> [(&'static str, &'static str); 2] {
    [
        ("VAULTTOKEN_CLIENT_SCOPES", "web=read write admin"),
        ("VAULTTOKEN_CLIENT_DEFAULT_SCOPES", "web=read write"),
    ]
}

/// A request gets a subset of its client's scopes (default: the default
/// set); the access token carries it, and so does the answer.
#[tokio::test]
async fn scopes_are_a_subset_of_the_clients_and_default_to_its_default_set() {
    let server = Server::with(&scoped_server()).await;
    let default = grant(&server, &[("subject", "alice")]).await;
    assert_eq!(default.body["scope"], "read write", "{:?}", default.body);
    let found = server.introspect(&text(&default, "access_token")).await;
    assert_eq!(found["scope"], "read write");
    let asked = grant(&server, &[("subject", "alice"), ("scope", "admin read")]).await;
    assert_eq!(asked.body["scope"], "read admin");
    let client = grant(
        &server,
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(client.body["scope"], "admin");
    let found = server.introspect(&text(&client, "access_token")).await;
    assert_eq!(found["scope"], "admin");
    for refused in ["delete", "read delete", "READ"] {
        let forms: [&[(&str, &str)]; 2] = [
            &[("grant_type", "client_credentials"), ("scope", refused)],
            &[("subject", "alice"), ("scope", refused)],
        ];
        for form in forms {
            let answer = grant(&server, form).await;
            assert_eq!(
                (answer.status, answer.error()),
                (StatusCode::BAD_REQUEST, "invalid_scope"),
                "{form:?}"
            );
        }
    }
    // A client without scopes: tokens without scope, and asking is refused.
    let other = Server::new().await;
    let plain = grant(&other, &[("subject", "alice")]).await;
    assert!(plain.body.get("scope").is_none(), "{:?}", plain.body);
    let found = other.introspect(&text(&plain, "access_token")).await;
    assert!(found.get("scope").is_none(), "{found:?}");
    assert_eq!(
        grant(&other, &[("subject", "alice"), ("scope", "read")])
            .await
            .error(),
        "invalid_scope"
    );
}

/// A refresh narrows the access token's scope within the grant and never
/// widens it (RFC 6749 §6); a refused widening spends nothing, and a later
/// refresh may ask for the whole grant again.
#[tokio::test]
async fn a_refresh_narrows_the_scope_and_never_widens_it() {
    let server = Server::with(&scoped_server()).await;
    let first = grant(&server, &[("subject", "alice"), ("scope", "read write")]).await;
    let narrowed = grant(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text(&first, "refresh_token")),
            ("scope", "read"),
        ],
    )
    .await;
    assert_eq!(narrowed.body["scope"], "read", "{:?}", narrowed.body);
    let found = server.introspect(&text(&narrowed, "access_token")).await;
    assert_eq!(found["scope"], "read");
    let refresh = text(&narrowed, "refresh_token");
    // admin is the client's, but not this family's grant.
    for wider in ["read admin", "admin", "delete"] {
        let refused = grant(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", wider),
            ],
        )
        .await;
        assert_eq!(
            (refused.status, refused.error()),
            (StatusCode::BAD_REQUEST, "invalid_scope"),
            "{wider}"
        );
    }
    // Not spent: the same token still refreshes, to the whole grant, at the
    // other endpoint too.
    let whole = server
        .post(
            "/token/refresh",
            &json!({"client_id": CLIENT, "client_secret": SECRET, "refresh_token": refresh}),
        )
        .await;
    assert_eq!(whole.status, StatusCode::OK, "{:?}", whole.body);
    assert_eq!(whole.body["scope"], "read write");
    let narrowed_again = server
        .post(
            "/token/refresh",
            &json!({
                "client_id": CLIENT, "client_secret": SECRET,
                "refresh_token": whole.body["refresh_token"], "scope": "write",
            }),
        )
        .await;
    assert_eq!(narrowed_again.body["scope"], "write");
}

/// RFC 8414: the metadata names the issuer, endpoints that answer, the
/// grants, the client authentication methods, the scopes and the key set.
#[tokio::test]
async fn the_metadata_document_describes_what_the_server_does() {
    let server = Server::with(&[
        (
            "VAULTTOKEN_CLIENT_SCOPES",
            "web=read write,mobile=read admin",
        ),
        ("VAULTTOKEN_KEYS_MAX_AGE_SECS", "60"),
    ])
    .await;
    let answer = server.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/json");
    assert_eq!(answer.header("cache-control"), "public, max-age=60");
    let document = answer.body;
    assert_eq!(document["issuer"], server::ISSUER);
    let methods = json!(["client_secret_basic", "client_secret_post"]);
    for member in [
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
    ] {
        assert_eq!(document[member], methods, "{member}");
    }
    assert_eq!(
        document["grant_types_supported"],
        json!([
            "urn:vaulttoken:grant-type:subject",
            "refresh_token",
            "client_credentials"
        ])
    );
    assert_eq!(
        document["scopes_supported"],
        json!(["admin", "read", "write"])
    );
    assert_eq!(document["response_types_supported"], json!([]));
    // Each URL is the issuer's, and its path is served here.
    let path = |member: &str| {
        let url = document[member].as_str().unwrap();
        url.strip_prefix(server::ISSUER).unwrap().to_owned()
    };
    let keys = server.get(&path("vaulttoken_key_set_uri")).await;
    assert_eq!(keys.status, StatusCode::OK);
    assert_eq!(keys.body["issuer"], server::ISSUER);
    let basic = server::basic_oauth(CLIENT, SECRET);
    let auth = [("authorization", basic.as_str())];
    let issued = server
        .post_form(
            &path("token_endpoint"),
            &[("grant_type", "client_credentials")],
            &auth,
        )
        .await;
    let access = text(&issued, "access_token");
    let found = server
        .post_form(
            &path("introspection_endpoint"),
            &[("token", &access)],
            &auth,
        )
        .await;
    assert_eq!(found.body["active"], true);
    let revoked = server
        .post_form(&path("revocation_endpoint"), &[("token", &access)], &auth)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    // An issuer that is no URL gives no document rather than a wrong one.
    let named = Server::with(&[("VAULTTOKEN_ISSUER", "vaulttoken-test")]).await;
    let none = named.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

/// What the stock OAuth client sends through, and what it answers.
type Exchange = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>,
>;

/// The stock client's HTTP transport: reqwest, sending a request for the
/// issuer's `https` URL to the server process on loopback port `port` over
/// plain HTTP, as a TLS-terminating proxy in front of the server would (the
/// `oauth2` crate refuses a revocation URL that is not `https`, as RFC 7009
/// says it must). Only the origin changes: path, headers and body are sent
/// as the client made them.
fn loopback(port: u16) -> impl Fn(oauth2::HttpRequest) -> Exchange {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    move |request: oauth2::HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
            assert!(
                parts.uri.to_string().starts_with(server::ISSUER),
                "the client calls only the issuer: {}",
                parts.uri
            );
            parts.uri = format!("http://127.0.0.1:{port}{path}").parse().unwrap();
            let request = oauth2::http::Request::from_parts(parts, body);
            let answer = http.execute(reqwest::Request::try_from(request)?).await?;
            let mut response = oauth2::http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            Ok(response.body(answer.bytes().await?.to_vec()).unwrap())
        })
    }
}

/// A stock OAuth client (the `oauth2` crate, unmodified) of `client`
/// against the server process, with its endpoints from the metadata
/// document, authenticating as `auth` says.
type StockClient = oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
>;

fn stock_client(
    metadata: &serde_json::Value,
    id: &str,
    secret: &str,
    auth: oauth2::AuthType,
) -> StockClient {
    let url = |member: &str| metadata[member].as_str().unwrap().to_owned();
    oauth2::basic::BasicClient::new(oauth2::ClientId::new(id.to_owned()))
        .set_client_secret(oauth2::ClientSecret::new(secret.to_owned()))
        .set_auth_type(auth)
        .set_token_uri(oauth2::TokenUrl::new(url("token_endpoint")).unwrap())
        .set_introspection_url(
            oauth2::IntrospectionUrl::new(url("introspection_endpoint")).unwrap(),
        )
        .set_revocation_url(oauth2::RevocationUrl::new(url("revocation_endpoint")).unwrap())
}

/// The `oauth2` crate, unmodified, against a live server process on a real
/// Redis: `client_credentials` with Basic (a secret that form-encoding
/// changes) and with the secret in the body, a `refresh_token` exchange that
/// narrows the scope, introspection, and revocation of both kinds of token.
#[tokio::test]
async fn the_oauth2_crate_drives_the_live_server() {
    use oauth2::{
        AccessToken, AuthType, RefreshToken, Scope, StandardRevocableToken,
        TokenIntrospectionResponse as _, TokenResponse as _,
    };

    if !redis_support::redis_available("the_oauth2_crate_drives_the_live_server") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let clients = format!("{CLIENT}:{SECRET},{ODD_CLIENT}:{ODD_SECRET}");
    let scopes = format!("{CLIENT}=read write,{ODD_CLIENT}=read write admin");
    let server = process::ServerProcess::start_with(&[
        ("REDIS_URL", &redis.url()),
        ("VAULTTOKEN_CLIENTS", &clients),
        ("VAULTTOKEN_CLIENT_SCOPES", &scopes),
        (
            "VAULTTOKEN_CLIENT_DEFAULT_SCOPES",
            &format!("{ODD_CLIENT}=read"),
        ),
    ]);
    let (status, metadata) =
        server.request("GET", "/.well-known/oauth-authorization-server", &[], None);
    assert_eq!(status, 200);
    let http = loopback(server.port());
    let basic = stock_client(&metadata, ODD_CLIENT, ODD_SECRET, AuthType::BasicAuth);

    // client_credentials, Basic, the default scope.
    let token = basic
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(*token.token_type(), oauth2::basic::BasicTokenType::Bearer);
    assert!(token.refresh_token().is_none());
    let lifetime = token.expires_in().unwrap().as_secs();
    assert!((899..=900).contains(&lifetime), "{lifetime}");
    assert_eq!(token.scopes(), Some(&vec![Scope::new("read".to_owned())]));
    let found = basic
        .introspect(token.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(found.active());
    assert_eq!(found.sub(), Some(ODD_CLIENT));
    assert_eq!(found.client_id().map(|id| id.as_str()), Some(ODD_CLIENT));
    assert_eq!(found.iss(), Some(server::ISSUER));
    assert_eq!(
        found.token_type(),
        Some(&oauth2::basic::BasicTokenType::Bearer)
    );
    assert_eq!(found.scopes(), Some(&vec![Scope::new("read".to_owned())]));
    assert!(found.exp().unwrap() > found.iat().unwrap());
    assert!(found.jti().is_some_and(|jti| !jti.is_empty()));

    // client_credentials with the secret in the body, asking for scopes.
    let posted = stock_client(&metadata, CLIENT, SECRET, AuthType::RequestBody);
    let token = posted
        .exchange_client_credentials()
        .add_scope(Scope::new("write".to_owned()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(token.scopes(), Some(&vec![Scope::new("write".to_owned())]));
    let refused = posted
        .exchange_client_credentials()
        .add_scope(Scope::new("admin".to_owned()))
        .request_async(&http)
        .await;
    match refused {
        Err(oauth2::RequestTokenError::ServerResponse(answer)) => assert_eq!(
            *answer.error(),
            oauth2::basic::BasicErrorResponseType::InvalidScope
        ),
        other => panic!("{other:?}"),
    }
    // Revoking the access token: introspection says inactive.
    posted
        .revoke_token(StandardRevocableToken::AccessToken(
            token.access_token().clone(),
        ))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let found = posted
        .introspect(token.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!found.active());

    // A pair from the subject grant (no stock client speaks it), then a
    // refresh_token exchange by the stock client that narrows the scope.
    let (status, pair) = server.request(
        "POST",
        "/token",
        &[],
        Some(&json!({"client_id": ODD_CLIENT, "client_secret": ODD_SECRET, "subject": "alice", "scope": "read write admin"})),
    );
    assert_eq!(status, 200, "{pair}");
    let first = RefreshToken::new(pair["refresh_token"].as_str().unwrap().to_owned());
    let next = basic
        .exchange_refresh_token(&first)
        .add_scope(Scope::new("admin".to_owned()))
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(next.scopes(), Some(&vec![Scope::new("admin".to_owned())]));
    let found = basic
        .introspect(next.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(found.sub(), Some("alice"));
    assert_eq!(found.scopes(), Some(&vec![Scope::new("admin".to_owned())]));
    let second = next.refresh_token().unwrap().clone();
    // Reuse of the first refresh token revokes the family.
    let reuse = basic
        .exchange_refresh_token(&first)
        .request_async(&http)
        .await;
    match reuse {
        Err(oauth2::RequestTokenError::ServerResponse(answer)) => assert_eq!(
            *answer.error(),
            oauth2::basic::BasicErrorResponseType::InvalidGrant
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        !basic
            .introspect(next.access_token())
            .request_async(&http)
            .await
            .unwrap()
            .active()
    );
    // A new family, its refresh token revoked by the stock client: the
    // family is gone, its access token too.
    let (_, pair) = server.request(
        "POST",
        "/token",
        &[],
        Some(&json!({"client_id": ODD_CLIENT, "client_secret": ODD_SECRET, "subject": "bob"})),
    );
    let access = AccessToken::new(pair["access_token"].as_str().unwrap().to_owned());
    let refresh = RefreshToken::new(pair["refresh_token"].as_str().unwrap().to_owned());
    basic
        .revoke_token(StandardRevocableToken::RefreshToken(refresh.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        !basic
            .introspect(&access)
            .request_async(&http)
            .await
            .unwrap()
            .active()
    );
    assert!(
        basic
            .exchange_refresh_token(&refresh)
            .request_async(&http)
            .await
            .is_err()
    );
    assert!(second.secret().starts_with("v4.local."));

    // A wrong secret: the stock client reads invalid_client.
    let wrong = stock_client(
        &metadata,
        ODD_CLIENT,
        "p@ss:w%rd+ é&=/?#0123456788",
        AuthType::BasicAuth,
    );
    match wrong
        .exchange_client_credentials()
        .request_async(&http)
        .await
    {
        Err(oauth2::RequestTokenError::ServerResponse(answer)) => assert_eq!(
            *answer.error(),
            oauth2::basic::BasicErrorResponseType::InvalidClient
        ),
        other => panic!("{other:?}"),
    }
}

/// A scope taken out of a client's configuration is no longer granted to
/// it on a refresh, though the family's grant still holds it: after a
/// restart on the same key file and Redis with `write` removed, a refresh
/// asking for `write` is 400 `invalid_scope` and spends nothing, and the
/// same token refreshes to `read`, which the client keeps.
#[test]
fn a_refresh_asks_only_for_scopes_the_client_still_has() {
    if !redis_support::redis_available("a_refresh_asks_only_for_scopes_the_client_still_has") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let before = process::ServerProcess::start_with(&[
        ("REDIS_URL", &url),
        ("VAULTTOKEN_CLIENT_SCOPES", &format!("{CLIENT}=read write")),
    ]);
    let (status, pair) = process::post(
        &before,
        "/token",
        &json!({"subject": "alice", "scope": "read write"}),
    );
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["scope"], "read write");
    let kept = server::KeyFilePath::new();
    std::fs::copy(&before.key_file().0, &kept.0).unwrap();
    assert!(before.terminate().success());

    let after = process::ServerProcess::start_with(&[
        ("REDIS_URL", &url),
        ("VAULTTOKEN_KEYRING_FILE", kept.0.to_str().unwrap()),
        ("VAULTTOKEN_KEYRING_CREATE", "false"),
        ("VAULTTOKEN_CLIENT_SCOPES", &format!("{CLIENT}=read")),
    ]);
    let refresh = |scope: &str| {
        process::post(
            &after,
            "/token",
            &json!({
                "grant_type": "refresh_token",
                "refresh_token": pair["refresh_token"],
                "scope": scope,
            }),
        )
    };
    let (status, refused) = refresh("write");
    assert_eq!(
        (status, &refused["error"]),
        (400, &json!("invalid_scope")),
        "{refused}"
    );
    let (status, refused) = refresh("read write");
    assert_eq!(
        (status, &refused["error"]),
        (400, &json!("invalid_scope")),
        "{refused}"
    );
    let (status, narrowed) = refresh("read");
    assert_eq!(status, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "read");
    let (status, found) = process::post(
        &after,
        "/token/introspect",
        &json!({"token": narrowed["access_token"]}),
    );
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        (&found["active"], &found["scope"]),
        (&json!(true), &json!("read"))
    );
}
