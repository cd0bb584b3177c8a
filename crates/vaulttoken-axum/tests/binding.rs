//! Context binding through the extractor: a device header and the client IP,
//! with and without trusted proxies.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http::{Request, StatusCode};
use vaulttoken::Claims;
use vaulttoken::binding::{Binding, IpPrefix};
use vaulttoken::footer::Footer;
use vaulttoken_axum::{Authenticator, TrustedProxies, Verified};

use common::{Local, send};

async fn subject(verified: Verified) -> String {
    verified.token().claims().subject().unwrap().to_owned()
}

fn app(auth: Authenticator) -> Router {
    Router::new().route("/", get(subject)).with_state(auth)
}

/// A token issued bound to `binding`.
fn bound_token(local: &Local, binding: &Binding) -> String {
    let claims = Claims::builder().subject("sam").build().unwrap();
    let implicit = binding.implicit_assertion().unwrap();
    local
        .service
        .encode_with(&claims, &Footer::None, implicit.as_bytes())
        .unwrap()
}

/// A bearer request from `peer` (if any) with extra headers.
fn request(token: &str, peer: Option<&str>, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::get("/").header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    if let Some(peer) = peer {
        let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}

#[tokio::test]
async fn a_device_bound_token_passes_only_from_its_device() {
    let local = Local::new();
    let auth = Authenticator::builder(Arc::clone(&local.service))
        .binding(|parts, _| {
            let device = parts.headers.get("x-device-id")?;
            Some(Binding::new().strict("device", device.as_bytes()))
        })
        .build()
        .unwrap();
    let app = app(auth);
    let token = bound_token(&local, &Binding::new().strict("device", "d-1"));
    let here = send(
        &app,
        request(&token, None, &[("x-device-id", "d-1")]),
        &token,
    )
    .await;
    assert_eq!((here.status, here.body.as_str()), (StatusCode::OK, "sam"));
    let elsewhere = send(
        &app,
        request(&token, None, &[("x-device-id", "d-2")]),
        &token,
    )
    .await;
    elsewhere.assert_unauthorized("invalid_token");
    // No device header: the context is missing, refused before any decode.
    let checks = local.store.checks();
    send(&app, request(&token, None, &[]), &token)
        .await
        .assert_unauthorized("invalid_token");
    assert_eq!(local.store.checks(), checks);
    // A device id over the binding's value limit is the client's doing: 401, not 500.
    let huge = "d".repeat(vaulttoken::binding::MAX_VALUE_LEN + 1);
    send(
        &app,
        request(&token, None, &[("x-device-id", &huge)]),
        &token,
    )
    .await
    .assert_unauthorized("invalid_token");
    // An unbound token does not pass a binding either.
    let unbound = local.token("sam");
    send(
        &app,
        request(&unbound, None, &[("x-device-id", "d-1")]),
        &unbound,
    )
    .await
    .assert_unauthorized("invalid_token");
}

fn ip_bound(local: &Local, proxies: TrustedProxies) -> Router {
    let auth = Authenticator::builder(Arc::clone(&local.service))
        .trusted_proxies(proxies)
        .binding(|_, client_ip| {
            Some(Binding::new().strict_ip("ip", client_ip?, IpPrefix::default()))
        })
        .build()
        .unwrap();
    app(auth)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_strict_ip_binding_uses_the_peer_address() {
    let local = Local::new();
    let app = ip_bound(&local, TrustedProxies::none());
    let token = bound_token(
        &local,
        &Binding::new().strict_ip("ip", ip("198.51.100.7"), IpPrefix::default()),
    );
    // Same /24.
    let same = send(&app, request(&token, Some("198.51.100.200"), &[]), &token).await;
    assert_eq!(same.status, StatusCode::OK);
    send(&app, request(&token, Some("203.0.113.7"), &[]), &token)
        .await
        .assert_unauthorized("invalid_token");
    // Without ConnectInfo there is no client IP: fails closed.
    send(&app, request(&token, None, &[]), &token)
        .await
        .assert_unauthorized("invalid_token");
    // An untrusted peer cannot claim another address with X-Forwarded-For.
    let forged = request(
        &token,
        Some("203.0.113.7"),
        &[("x-forwarded-for", "198.51.100.7")],
    );
    send(&app, forged, &token)
        .await
        .assert_unauthorized("invalid_token");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_address_is_bound() {
    let local = Local::new();
    let app = ip_bound(&local, TrustedProxies::parse(["10.0.0.0/8"]).unwrap());
    let token = bound_token(
        &local,
        &Binding::new().strict_ip("ip", ip("198.51.100.7"), IpPrefix::default()),
    );
    let via_proxy = request(
        &token,
        Some("10.0.0.2"),
        &[("x-forwarded-for", "198.51.100.7")],
    );
    assert_eq!(send(&app, via_proxy, &token).await.status, StatusCode::OK);
    // Two trusted hops, and a forged entry on the left that is never read.
    let chain = request(
        &token,
        Some("10.0.0.2"),
        &[("x-forwarded-for", "203.0.113.66, 198.51.100.7, 10.1.1.1")],
    );
    assert_eq!(send(&app, chain, &token).await.status, StatusCode::OK);
    // The client behind the proxy is elsewhere.
    let other = request(
        &token,
        Some("10.0.0.2"),
        &[("x-forwarded-for", "198.51.100.7, 203.0.113.9")],
    );
    send(&app, other, &token)
        .await
        .assert_unauthorized("invalid_token");
    // An entry with a port is its address.
    let with_port = request(
        &token,
        Some("10.0.0.2"),
        &[("x-forwarded-for", "198.51.100.7:5000")],
    );
    assert_eq!(send(&app, with_port, &token).await.status, StatusCode::OK);
    // The proxy passed on something that is not an address: no client IP.
    let garbled = request(&token, Some("10.0.0.2"), &[("x-forwarded-for", "unknown")]);
    send(&app, garbled, &token)
        .await
        .assert_unauthorized("invalid_token");
    // The same header from an untrusted peer is ignored.
    let direct = request(
        &token,
        Some("203.0.113.9"),
        &[("x-forwarded-for", "198.51.100.7")],
    );
    send(&app, direct, &token)
        .await
        .assert_unauthorized("invalid_token");
}
