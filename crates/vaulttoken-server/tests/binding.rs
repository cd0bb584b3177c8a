//! Context binding (`VAULTTOKEN_BINDING`): tokens bound to the end user's
//! `context`, strictly or observed, through `/token`, `/token/refresh`,
//! `/token/introspect` and `/token/revoke`.
#![allow(clippy::unwrap_used, reason = "a test should fail loudly")]

#[path = "support/server.rs"]
#[allow(dead_code, reason = "each test file uses part of the support")]
mod server;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use server::{Answer, CLIENT, SECRET, Server};
use vaulttoken::binding::{Binding, IpPrefix, Observer};
use vaulttoken::rules::RuleSet;
use vaulttoken::{Error, LocalKey, PublicService};
use vaulttoken_test_redis::EventRecorder;

fn observer_key() -> String {
    LocalKey::generate()
        .unwrap()
        .to_paserk()
        .unwrap()
        .as_str()
        .to_owned()
}

async fn strict() -> Server {
    Server::with(&[("VAULTTOKEN_BINDING", "strict")]).await
}

async fn observe(key: &str) -> Server {
    Server::with(&[
        ("VAULTTOKEN_BINDING", "observe"),
        ("VAULTTOKEN_OBSERVER_KEY", key),
    ])
    .await
}

fn context(ip: &str) -> Value {
    json!({"ip": ip, "user_agent": "app/1.0", "device": "d-1"})
}

async fn issue(server: &Server, context: Option<&Value>) -> Answer {
    let mut body = json!({"client_id": CLIENT, "client_secret": SECRET, "subject": "alice"});
    if let Some(context) = context {
        body["context"] = context.clone();
    }
    server.post("/token", &body).await
}

async fn refresh(server: &Server, token: &Value, context: Option<&Value>) -> Answer {
    let mut body = json!({"client_id": CLIENT, "client_secret": SECRET, "refresh_token": token});
    if let Some(context) = context {
        body["context"] = context.clone();
    }
    server.post("/token/refresh", &body).await
}

async fn introspect(server: &Server, token: &Value, context: Option<&Value>) -> Answer {
    let mut body = json!({"client_id": CLIENT, "client_secret": SECRET, "token": token});
    if let Some(context) = context {
        body["context"] = context.clone();
    }
    server.post("/token/introspect", &body).await
}

fn ok(answer: Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    answer.body
}

#[tokio::test]
async fn strict_tokens_work_in_their_own_context_and_the_same_prefix() {
    let server = strict().await;
    let home = context("192.0.2.7");
    let first = ok(issue(&server, Some(&home)).await);
    // Another host of the same /24 is the same context.
    let nearby = context("192.0.2.200");
    let second = ok(refresh(&server, &first["refresh_token"], Some(&nearby)).await);
    let found = ok(introspect(&server, &second["access_token"], Some(&home)).await);
    assert_eq!(found["active"], true);
    assert_eq!(found["sub"], "alice");
    assert!(found.get("binding_drift").is_none());
}

#[tokio::test]
async fn strict_tokens_fail_in_another_context_and_burn_nothing() {
    let server = strict().await;
    let home = context("192.0.2.7");
    let pair = ok(issue(&server, Some(&home)).await);
    let elsewhere = [
        context("198.51.100.7"),
        json!({"ip": "192.0.2.7", "user_agent": "app/1.0", "device": "d-2"}),
        json!({"ip": "192.0.2.7", "user_agent": "app/1.0"}),
    ];
    for other in &elsewhere {
        let refused = refresh(&server, &pair["refresh_token"], Some(other)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{other}");
        assert_eq!(refused.error(), "invalid_grant");
        let found = ok(introspect(&server, &pair["access_token"], Some(other)).await);
        assert_eq!(found, json!({"active": false}));
    }
    // The attempts neither rotated nor revoked the family.
    let found = ok(introspect(&server, &pair["access_token"], Some(&home)).await);
    assert_eq!(found["active"], true);
    let next = ok(refresh(&server, &pair["refresh_token"], Some(&home)).await);
    assert!(next["refresh_token"].is_string());
}

#[tokio::test]
async fn strict_binding_requires_a_context() {
    let server = strict().await;
    for missing in [None, Some(json!({}))] {
        let answer = issue(&server, missing.as_ref()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.error(), "invalid_request");
    }
    let pair = ok(issue(&server, Some(&context("192.0.2.7"))).await);
    let answer = refresh(&server, &pair["refresh_token"], None).await;
    assert_eq!(
        (answer.status, answer.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let answer = introspect(&server, &pair["access_token"], None).await;
    assert_eq!(
        (answer.status, answer.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

/// Any one member makes a context: a token bound to a user agent alone, or
/// to a device alone, works in it and nowhere else.
#[tokio::test]
async fn strict_binding_takes_a_context_of_any_one_member() {
    let server = strict().await;
    for (home, other) in [
        (
            json!({"user_agent": "app/1.0"}),
            json!({"user_agent": "app/2.0"}),
        ),
        (json!({"device": "d-1"}), json!({"device": "d-2"})),
    ] {
        let pair = ok(issue(&server, Some(&home)).await);
        let found = ok(introspect(&server, &pair["access_token"], Some(&home)).await);
        assert_eq!(found["active"], true, "{home}");
        let found = ok(introspect(&server, &pair["access_token"], Some(&other)).await);
        assert_eq!(found, json!({"active": false}), "{other}");
    }
}

#[tokio::test]
async fn strict_revocation_takes_the_context_the_token_is_bound_to() {
    let server = strict().await;
    let home = context("192.0.2.7");
    let pair = ok(issue(&server, Some(&home)).await);
    let revoke = |context: Value| {
        json!({"client_id": CLIENT, "client_secret": SECRET,
               "token": pair["access_token"], "context": context})
    };
    // In another context the token is unknown: 200, nothing revoked.
    ok(server
        .post("/token/revoke", &revoke(context("198.51.100.7")))
        .await);
    let found = ok(introspect(&server, &pair["access_token"], Some(&home)).await);
    assert_eq!(found["active"], true);
    ok(server.post("/token/revoke", &revoke(home.clone())).await);
    let found = ok(introspect(&server, &pair["access_token"], Some(&home)).await);
    assert_eq!(found, json!({"active": false}));
}

#[tokio::test]
async fn observe_mode_accepts_another_context_and_audits_the_drift() {
    let server = observe(&observer_key()).await;
    let recorder = EventRecorder::default();
    let _guard = recorder.install();
    let pair = ok(issue(&server, Some(&context("192.0.2.7"))).await);
    let same = ok(introspect(&server, &pair["access_token"], Some(&context("192.0.2.8"))).await);
    assert_eq!(same["active"], true);
    assert!(same.get("binding_drift").is_none());
    assert!(drifts(&recorder).is_empty());

    let moved = ok(introspect(
        &server,
        &pair["access_token"],
        Some(&context("198.51.100.7")),
    )
    .await);
    assert_eq!(moved["active"], true);
    assert_eq!(moved["binding_drift"], json!(["ip"]));
    let found = drifts(&recorder);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["context"], "ip");
    assert_eq!(found[0]["reason"], "changed");

    // A refresh from elsewhere works too, and is audited as well.
    let next = ok(refresh(
        &server,
        &pair["refresh_token"],
        Some(&json!({"ip": "198.51.100.7", "user_agent": "app/2.0"})),
    )
    .await);
    assert!(next["access_token"].is_string());
    let names: Vec<String> = drifts(&recorder)
        .iter()
        .skip(1)
        .map(|fields| fields["context"].clone())
        .collect();
    assert_eq!(names, ["device", "ip", "user_agent"]);
    // No event carries a context value.
    for event in recorder.events() {
        let fields = &event.fields;
        for value in fields.values() {
            assert!(!value.contains("198.51.100"), "{fields:?}");
            assert!(!value.contains("app/2.0"), "{fields:?}");
        }
    }
}

#[tokio::test]
async fn observe_mode_takes_a_missing_context_as_no_values() {
    let server = observe(&observer_key()).await;
    let pair = ok(issue(&server, None).await);
    let found = ok(introspect(&server, &pair["access_token"], None).await);
    assert_eq!(found["active"], true);
    let moved = ok(introspect(&server, &pair["access_token"], Some(&context("192.0.2.7"))).await);
    assert_eq!(moved["active"], true);
    assert_eq!(
        moved["binding_drift"],
        json!(["device", "ip", "user_agent"])
    );
}

#[tokio::test]
async fn with_binding_off_a_context_is_checked_and_ignored() {
    let server = Server::new().await;
    let pair = ok(issue(&server, Some(&context("192.0.2.7"))).await);
    let found = ok(introspect(&server, &pair["access_token"], None).await);
    assert_eq!(found["active"], true);
    let found = ok(introspect(
        &server,
        &pair["access_token"],
        Some(&context("198.51.100.7")),
    )
    .await);
    assert_eq!(found["active"], true);
    let bad = issue(&server, Some(&json!({"ip": "nowhere"}))).await;
    assert_eq!(
        (bad.status, bad.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

#[tokio::test]
async fn a_malformed_or_oversized_context_is_an_invalid_request() {
    let server = strict().await;
    let pair = ok(issue(&server, Some(&context("192.0.2.7"))).await);
    let cases = [
        json!({"ip": "192.0.2.300"}),
        json!({"ip": "x".repeat(100)}),
        json!({"ip": 7}),
        json!({"user_agent": "a".repeat(513)}),
        json!({"user_agent": ""}),
        json!({"device": "d\n1"}),
        json!({"device": "d".repeat(129)}),
        json!({"tenant": "acme"}),
        json!("192.0.2.7"),
        json!(["192.0.2.7"]),
    ];
    for bad in &cases {
        let answers = [
            issue(&server, Some(bad)).await,
            refresh(&server, &pair["refresh_token"], Some(bad)).await,
            introspect(&server, &pair["access_token"], Some(bad)).await,
        ];
        for answer in answers {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(answer.error(), "invalid_request", "{bad}");
            let text = answer.body.to_string();
            assert!(
                !text.contains("192.0.2.300") && !text.contains("acme"),
                "{text}"
            );
        }
    }
    // The longest accepted values still work.
    let longest =
        json!({"ip": "2001:db8::1", "user_agent": "a".repeat(512), "device": "d".repeat(128)});
    ok(issue(&server, Some(&longest)).await);
}

/// A verifier built from `GET /keys` alone, as a resource server would.
async fn resource_server(server: &Server) -> PublicService {
    let keys = ok(server.get("/keys").await);
    server::verifier(&keys, RuleSet::default())
}

#[tokio::test]
async fn a_resource_server_verifies_strict_access_tokens_with_the_same_binding() {
    let server = strict().await;
    let pair = ok(issue(&server, Some(&context("192.0.2.7"))).await);
    let verifier = resource_server(&server).await;
    let token = pair["access_token"].as_str().unwrap();
    let at = |ip: &str| {
        Binding::new()
            .strict_ip(
                "ip",
                ip.parse::<std::net::IpAddr>().unwrap(),
                IpPrefix::default(),
            )
            .strict("user_agent", "app/1.0")
            .strict("device", "d-1")
            .implicit_assertion()
            .unwrap()
    };
    let verified = verifier
        .decode_with(token, None, at("192.0.2.99").as_bytes())
        .unwrap();
    assert_eq!(verified.claims().subject(), Some("alice"));
    assert!(matches!(
        verifier.decode_with(token, None, at("198.51.100.7").as_bytes()),
        Err(Error::Verification)
    ));
    assert!(matches!(verifier.decode(token), Err(Error::Verification)));
}

#[tokio::test]
async fn a_resource_server_verifies_observed_access_tokens_as_unbound_and_sees_drift() {
    let key = observer_key();
    let server = observe(&key).await;
    let pair = ok(issue(&server, Some(&context("192.0.2.7"))).await);
    let verified = resource_server(&server)
        .await
        .decode(pair["access_token"].as_str().unwrap())
        .unwrap();
    let observer = Observer::from_bytes(
        LocalKey::from_paserk(&key)
            .unwrap()
            .expose_secret_bytes()
            .unwrap()
            .as_bytes(),
    );
    let at = |ip: &str| {
        Binding::new()
            .observe_ip(
                "ip",
                ip.parse::<std::net::IpAddr>().unwrap(),
                IpPrefix::default(),
            )
            .observe("user_agent", "app/1.0")
            .observe("device", "d-1")
    };
    assert!(
        observer
            .drift(verified.claims(), &at("192.0.2.50"))
            .unwrap()
            .is_empty()
    );
    let drift = observer
        .drift(verified.claims(), &at("198.51.100.7"))
        .unwrap();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].name(), "ip");
}

/// The fields of every `binding_drift` audit event recorded so far.
fn drifts(recorder: &EventRecorder) -> Vec<BTreeMap<String, String>> {
    recorder
        .events_named("binding_drift")
        .into_iter()
        .filter(|event| event.target == "vaulttoken::audit")
        .map(|event| event.fields)
        .collect()
}
