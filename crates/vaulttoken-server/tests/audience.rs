//! `iss` and `aud` of the access tokens of real server processes, as a
//! resource server sees them: a `PublicService` built from `GET /keys`
//! with `issued_by` and `for_audience` accepts a token for its audience and
//! refuses one for another; the audience is asked for per request, allowed
//! per client, and kept by refresh; introspection reports both.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod process;

// The Redis test servers shared by the workspace's tests.
use vaulttoken_test_redis as redis_support;

use process::{ServerProcess, keys, post};
use serde_json::{Value, json};
use server::{ISSUER, OTHER_CLIENT, OTHER_SECRET};
use vaulttoken::binding::{Binding, IpPrefix};
use vaulttoken::error::RuleId;
use vaulttoken::rules::RuleSet;
use vaulttoken::{Error, PublicService};

const API: &str = "https://api.example";
const FILES: &str = "https://files.example";
/// The test client `web` may ask for the API (its default) and the files.
const AUDIENCES: (&str, &str) = (
    "VAULTTOKEN_CLIENT_AUDIENCES",
    "web=https://api.example https://files.example",
);

/// A resource server for `audience` of the test issuer, from the server's
/// key set alone.
fn resource(server: &ServerProcess, audience: &str) -> PublicService {
    server::verifier(
        &keys(server),
        RuleSet::default().issued_by(ISSUER).for_audience(audience),
    )
}

/// Whether `service` refuses `token` for its audience rule.
fn refused_for_audience(service: &PublicService, token: &Value) -> bool {
    match service.decode(token.as_str().unwrap()) {
        Err(Error::Claims(violations)) => violations.contains(&RuleId::ForAudience),
        other => panic!("not an audience refusal: {other:?}"),
    }
}

/// `POST /token` as the test client, with `extra` members.
fn issue(server: &ServerProcess, extra: &Value) -> (u16, Value) {
    let mut body = json!({"subject": "alice"});
    for (name, value) in extra.as_object().unwrap() {
        body[name] = value.clone();
    }
    post(server, "/token", &body)
}

fn introspect(server: &ServerProcess, token: &Value) -> Value {
    let (status, body) = post(server, "/token/introspect", &json!({ "token": token }));
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_resource_server_accepts_a_token_for_its_audience_and_refuses_one_for_another() {
    let server = ServerProcess::start_with(&[AUDIENCES]);
    let api = resource(&server, API);
    let files = resource(&server, FILES);

    // No audience asked: the client's first.
    let (status, pair) = issue(&server, &json!({}));
    assert_eq!(status, 200, "{pair}");
    let token = api.decode(pair["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(token.claims().issuer(), Some(ISSUER));
    assert_eq!(token.claims().audience(), Some(API));
    assert!(refused_for_audience(&files, &pair["access_token"]));
    let found = introspect(&server, &pair["access_token"]);
    assert_eq!(
        (&found["active"], &found["iss"], &found["aud"]),
        (&json!(true), &json!(ISSUER), &json!(API))
    );

    // The other allowed audience, asked for.
    let (status, pair) = issue(&server, &json!({"audience": FILES}));
    assert_eq!(status, 200, "{pair}");
    files
        .decode(pair["access_token"].as_str().unwrap())
        .unwrap();
    assert!(refused_for_audience(&api, &pair["access_token"]));

    // Refresh keeps it, generation after generation.
    let mut refresh = pair["refresh_token"].clone();
    for _ in 0..2 {
        let (status, next) = post(
            &server,
            "/token/refresh",
            &json!({ "refresh_token": refresh }),
        );
        assert_eq!(status, 200, "{next}");
        let token = files
            .decode(next["access_token"].as_str().unwrap())
            .unwrap();
        assert_eq!(token.claims().audience(), Some(FILES));
        assert!(refused_for_audience(&api, &next["access_token"]));
        assert_eq!(introspect(&server, &next["access_token"])["aud"], FILES);
        refresh = next["refresh_token"].clone();
    }
    // And its revocation finds the family whatever its audience.
    let (status, _) = post(&server, "/token/revoke", &json!({ "token": refresh }));
    assert_eq!(status, 200);
    let (status, after) = post(
        &server,
        "/token/refresh",
        &json!({ "refresh_token": refresh }),
    );
    assert_eq!((status, &after["error"]), (400, &json!("invalid_grant")));

    // An audience the client may not ask for is refused, the field named.
    for asked in ["https://admin.example", "", "https://api.example/"] {
        let (status, refused) = issue(&server, &json!({ "audience": asked }));
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"], "invalid_target");
        assert!(
            refused["error_description"]
                .as_str()
                .unwrap()
                .starts_with("audience:"),
            "{refused}"
        );
    }
    assert!(server.terminate().success());
}

#[test]
fn a_client_without_audiences_issues_tokens_without_aud_and_may_ask_for_none() {
    let server = ServerProcess::start_with(&[AUDIENCES]);
    let other = |path: &str, body: Value| {
        let mut body = body;
        body["client_id"] = json!(OTHER_CLIENT);
        body["client_secret"] = json!(OTHER_SECRET);
        server.request("POST", path, &[], Some(&body))
    };
    let (status, pair) = other("/token", json!({"subject": "bob"}));
    assert_eq!(status, 200, "{pair}");
    // A resource server that names no audience accepts it (one that does
    // would refuse a token without aud).
    let any = server::verifier(&keys(&server), RuleSet::default().issued_by(ISSUER));
    let token = any.decode(pair["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(token.claims().audience(), None);
    let (status, next) = other(
        "/token/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    );
    assert_eq!(status, 200, "{next}");
    assert_eq!(
        any.decode(next["access_token"].as_str().unwrap())
            .unwrap()
            .claims()
            .audience(),
        None
    );
    let (status, found) = other("/token/introspect", json!({"token": next["access_token"]}));
    assert_eq!(status, 200);
    assert_eq!(
        (&found["iss"], &found["aud"]),
        (&json!(ISSUER), &Value::Null)
    );
    let (status, refused) = other("/token", json!({"subject": "bob", "audience": API}));
    assert_eq!((status, &refused["error"]), (400, &json!("invalid_target")));
}

/// Under strict binding the audience seals the refresh token, not the
/// access token: a resource server binds the end user's context alone.
#[test]
fn under_strict_binding_the_access_token_is_bound_to_the_context_alone() {
    let server = ServerProcess::start_with(&[AUDIENCES, ("VAULTTOKEN_BINDING", "strict")]);
    let context = json!({"ip": "192.0.2.7", "device": "d-1"});
    let (status, pair) = issue(&server, &json!({"audience": FILES, "context": context}));
    assert_eq!(status, 200, "{pair}");
    let binding = Binding::new()
        .strict_ip(
            "ip",
            "192.0.2.7".parse::<std::net::IpAddr>().unwrap(),
            IpPrefix::default(),
        )
        .strict("device", "d-1")
        .implicit_assertion()
        .unwrap();
    let files = resource(&server, FILES);
    let token = files
        .decode_with(
            pair["access_token"].as_str().unwrap(),
            None,
            binding.as_bytes(),
        )
        .unwrap();
    assert_eq!(token.claims().audience(), Some(FILES));
    // Refreshed in its context: the same audience, the same binding.
    let (status, next) = post(
        &server,
        "/token/refresh",
        &json!({"refresh_token": pair["refresh_token"], "context": context}),
    );
    assert_eq!(status, 200, "{next}");
    let token = files
        .decode_with(
            next["access_token"].as_str().unwrap(),
            None,
            binding.as_bytes(),
        )
        .unwrap();
    assert_eq!(token.claims().audience(), Some(FILES));
    // Elsewhere, whatever the audience tried, it does not decode.
    let elsewhere = json!({"ip": "198.51.100.1", "device": "d-1"});
    let (status, refused) = post(
        &server,
        "/token/refresh",
        &json!({"refresh_token": next["refresh_token"], "context": elsewhere}),
    );
    assert_eq!((status, &refused["error"]), (400, &json!("invalid_grant")));
    let (status, again) = post(
        &server,
        "/token/refresh",
        &json!({"refresh_token": next["refresh_token"], "context": context}),
    );
    assert_eq!(status, 200, "the failed tries burned nothing: {again}");
}

/// Audiences added to a running fleet: a family started before keeps
/// issuing tokens without `aud` on an instance configured with them, and
/// new families get the default.
#[test]
fn a_family_started_without_an_audience_keeps_none_after_audiences_are_configured() {
    if !redis_support::redis_available("a_family_started_without_an_audience_keeps_none") {
        return;
    }
    let redis = redis_support::RedisServer::start();
    let url = redis.url();
    let before = ServerProcess::start_with(&[("REDIS_URL", &url)]);
    let (status, pair) = issue(&before, &json!({}));
    assert_eq!(status, 200, "{pair}");
    let after = ServerProcess::start_with(&[
        ("REDIS_URL", &url),
        ("VAULTTOKEN_KEYRING_CREATE", "false"),
        AUDIENCES,
    ]);
    let (status, next) = post(
        &after,
        "/token/refresh",
        &json!({"refresh_token": pair["refresh_token"]}),
    );
    assert_eq!(status, 200, "{next}");
    assert_eq!(
        introspect(&after, &next["access_token"])["aud"],
        Value::Null
    );
    let (status, fresh) = issue(&after, &json!({}));
    assert_eq!(status, 200, "{fresh}");
    let api = resource(&after, API);
    api.decode(fresh["access_token"].as_str().unwrap()).unwrap();
}
