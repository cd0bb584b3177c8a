//! Context binding through real services: strict values travel as the implicit
//! assertion and fail as a forgery elsewhere; observed values travel as keyed
//! hashes in the claims and are reported as drift; the context itself is never
//! in the token.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::net::{IpAddr, Ipv4Addr};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use vaulttoken::binding::{Binding, DriftKind, IpPrefix, OBSERVED_CLAIM, Observer};
use vaulttoken::error::{BindingError, ErrorKind};
use vaulttoken::footer::Footer;
use vaulttoken::{Claims, Error, LocalKey, LocalService, PublicService, SecretKey};

const TENANT: &str = "acme-tenant-7f3a";
const DEVICE: &str = "device-5c1e-90ab";
const USER_AGENT: &str = "ExampleApp/4.2 (iPhone; iOS 17.4)";

fn client() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 45))
}

/// The context of a request: tenant and device strict, IP and user agent
/// observed.
fn context(tenant: &str, device: &str, ip: IpAddr, user_agent: &str) -> Binding {
    Binding::new()
        .strict("tenant", tenant)
        .strict("device", device)
        .observe_ip("ip", ip, IpPrefix::default())
        .observe("ua", user_agent)
}

fn home() -> Binding {
    context(TENANT, DEVICE, client(), USER_AGENT)
}

fn observer() -> Observer {
    Observer::from_bytes(&[0x5a; 32])
}

fn local_service() -> LocalService {
    LocalService::builder(LocalKey::from_bytes(&[0x42; 32]).unwrap()).build()
}

fn claims_observing(binding: &Binding) -> Claims {
    Claims::builder()
        .subject("user-1")
        .claim(OBSERVED_CLAIM, observer().claim_for(binding).unwrap())
        .build()
        .unwrap()
}

fn issue(service: &LocalService, binding: &Binding) -> String {
    let implicit = binding.implicit_assertion().unwrap();
    service
        .encode_with(
            &claims_observing(binding),
            &Footer::None,
            implicit.as_bytes(),
        )
        .unwrap()
}

fn decode_in(
    service: &LocalService,
    token: &str,
    binding: &Binding,
) -> Result<vaulttoken::service::VerifiedToken, Error> {
    service.decode_with(token, None, binding.implicit_assertion()?.as_bytes())
}

#[test]
fn a_bound_token_decodes_in_its_own_context() {
    let service = local_service();
    let token = issue(&service, &home());
    let verified = decode_in(&service, &token, &home()).unwrap();
    assert_eq!(verified.claims().subject(), Some("user-1"));
}

#[test]
fn a_token_replayed_for_another_tenant_fails_as_a_forgery() {
    let service = local_service();
    let token = issue(&service, &home());
    let elsewhere = context("globex-tenant", DEVICE, client(), USER_AGENT);
    let err = decode_in(&service, &token, &elsewhere).unwrap_err();
    assert!(matches!(err, Error::Verification));
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[test]
fn a_token_replayed_from_another_device_fails_as_a_forgery() {
    let service = local_service();
    let token = issue(&service, &home());
    let other_device = context(TENANT, "device-0000", client(), USER_AGENT);
    assert!(matches!(
        decode_in(&service, &token, &other_device),
        Err(Error::Verification)
    ));
}

#[test]
fn a_bound_token_fails_without_its_binding_and_an_unbound_one_with_a_binding() {
    let service = local_service();
    let bound = issue(&service, &home());
    assert!(matches!(service.decode(&bound), Err(Error::Verification)));
    assert!(matches!(
        decode_in(&service, &bound, &Binding::new()),
        Err(Error::Verification)
    ));
    let unbound = service.encode(&Claims::builder().build().unwrap()).unwrap();
    assert!(matches!(
        decode_in(&service, &unbound, &home()),
        Err(Error::Verification)
    ));
}

#[test]
fn a_public_token_is_bound_like_a_local_one() {
    let secret = SecretKey::generate().unwrap();
    let verifier = PublicService::verifier(secret.public_key()).build();
    let signer = PublicService::builder(secret).build();
    let implicit = home().implicit_assertion().unwrap();
    let token = signer
        .encode_with(
            &claims_observing(&home()),
            &Footer::None,
            implicit.as_bytes(),
        )
        .unwrap();
    assert!(
        verifier
            .decode_with(&token, None, implicit.as_bytes())
            .is_ok()
    );
    let elsewhere = context("globex-tenant", DEVICE, client(), USER_AGENT)
        .implicit_assertion()
        .unwrap();
    assert!(matches!(
        verifier.decode_with(&token, None, elsewhere.as_bytes()),
        Err(Error::Verification)
    ));
}

#[test]
fn the_context_is_never_in_a_public_token() {
    let signer = PublicService::builder(SecretKey::generate().unwrap()).build();
    let implicit = home().implicit_assertion().unwrap();
    let footer = Footer::Text("v1".into());
    let token = signer
        .encode_with(&claims_observing(&home()), &footer, implicit.as_bytes())
        .unwrap();
    let mut parts = token.split('.');
    assert_eq!((parts.next(), parts.next()), (Some("v4"), Some("public")));
    let body = Base64UrlUnpadded::decode_vec(parts.next().unwrap()).unwrap();
    let footer = Base64UrlUnpadded::decode_vec(parts.next().unwrap()).unwrap();
    // A v4.public body is the readable payload and a signature.
    let payload = String::from_utf8(body[..body.len() - 64].to_vec()).unwrap();
    assert!(payload.contains("\"sub\":\"user-1\""), "{payload}");
    assert!(payload.contains("\"ctx\":{"), "{payload}");
    for secret in [TENANT, DEVICE, USER_AGENT, "203.0.113", "ExampleApp"] {
        let secret = secret.as_bytes();
        for part in [&body[..], &footer[..], token.as_bytes()] {
            assert!(!part.windows(secret.len()).any(|w| w == secret));
        }
    }
}

#[test]
fn the_context_is_never_in_a_local_token() {
    let token = issue(&local_service(), &home());
    assert_eq!(token.matches('.').count(), 2, "no footer part");
    for secret in [TENANT, DEVICE, USER_AGENT, "203.0.113"] {
        assert!(!token.contains(secret));
    }
}

#[test]
fn a_strict_ip_binding_holds_within_its_prefix_and_across_dual_stack() {
    let service = local_service();
    let bind = |ip: IpAddr| Binding::new().strict_ip("ip", ip, IpPrefix::default());
    let token = issue(&service, &bind(client()));
    let neighbour = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 200));
    assert!(decode_in(&service, &token, &bind(neighbour)).is_ok());
    let mapped = IpAddr::V6(Ipv4Addr::new(203, 0, 113, 45).to_ipv6_mapped());
    assert!(decode_in(&service, &token, &bind(mapped)).is_ok());
    let next_net = IpAddr::V4(Ipv4Addr::new(203, 0, 114, 45));
    assert!(matches!(
        decode_in(&service, &token, &bind(next_net)),
        Err(Error::Verification)
    ));
    let v6 = bind("2001:db8:aa:bb00::1".parse().unwrap());
    let token = issue(&service, &v6);
    let same_56 = bind("2001:db8:aa:bbff:ffff::2".parse().unwrap());
    assert!(decode_in(&service, &token, &same_56).is_ok());
    let other_56 = bind("2001:db8:aa:bc00::1".parse().unwrap());
    assert!(matches!(
        decode_in(&service, &token, &other_56),
        Err(Error::Verification)
    ));
}

#[test]
fn an_unchanged_observed_context_reports_no_drift() {
    let service = local_service();
    let token = issue(&service, &home());
    let verified = decode_in(&service, &token, &home()).unwrap();
    assert!(
        observer()
            .drift(verified.claims(), &home())
            .unwrap()
            .is_empty()
    );
    // A move within the /24 is not a drift either.
    let nearby = context(TENANT, DEVICE, "203.0.113.9".parse().unwrap(), USER_AGENT);
    let verified = decode_in(&service, &token, &nearby).unwrap();
    assert!(
        observer()
            .drift(verified.claims(), &nearby)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn observed_drift_is_reported_by_name_and_never_rejects() {
    let service = local_service();
    let token = issue(&service, &home());
    let roaming = context(TENANT, DEVICE, "198.51.100.7".parse().unwrap(), USER_AGENT);
    let verified = decode_in(&service, &token, &roaming).unwrap();
    let drift = observer().drift(verified.claims(), &roaming).unwrap();
    assert_eq!(drift.len(), 1);
    assert_eq!(
        (drift[0].name(), drift[0].kind()),
        ("ip", DriftKind::Changed)
    );

    let new_browser = context(TENANT, DEVICE, "198.51.100.7".parse().unwrap(), "Other/1");
    let verified = decode_in(&service, &token, &new_browser).unwrap();
    let drift = observer().drift(verified.claims(), &new_browser).unwrap();
    let names: Vec<&str> = drift.iter().map(|d| d.name()).collect();
    assert_eq!(names, ["ip", "ua"]);
    let shown = format!("{drift:?}");
    for value in ["198.51.100", "203.0.113", "Other/1", USER_AGENT] {
        assert!(!shown.contains(value), "{shown}");
    }
}

#[test]
fn a_value_observed_on_one_side_only_is_drift() {
    let service = local_service();
    let token = issue(&service, &home());
    let no_ua = Binding::new()
        .strict("tenant", TENANT)
        .strict("device", DEVICE)
        .observe_ip("ip", client(), IpPrefix::default())
        .observe("lang", "en");
    let verified = decode_in(&service, &token, &no_ua).unwrap();
    let drift = observer().drift(verified.claims(), &no_ua).unwrap();
    let seen: Vec<(&str, DriftKind)> = drift.iter().map(|d| (d.name(), d.kind())).collect();
    assert_eq!(
        seen,
        [
            ("lang", DriftKind::MissingInToken),
            ("ua", DriftKind::MissingInContext)
        ]
    );
}

#[test]
fn an_invalid_binding_is_a_misuse_and_issues_nothing() {
    let twice = home().strict("tenant", "globex-tenant");
    let err = twice.implicit_assertion().unwrap_err();
    assert!(matches!(
        &err,
        Error::Binding(BindingError::DuplicateName { name }) if name == "tenant"
    ));
    assert_eq!(err.kind(), ErrorKind::Misuse);
    assert!(!err.to_string().contains(TENANT));
    assert!(matches!(
        observer().claim_for(&twice),
        Err(Error::Binding(BindingError::DuplicateName { .. }))
    ));
}
