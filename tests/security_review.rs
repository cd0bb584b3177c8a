//! One behaviour test (or more) for each finding of the security review of
//! `src/` (issue "Core hardening"), through the public API. Each failed before
//! its fix. Findings 5 (ephemeral keys), 8 (zeroized intermediates) and the key
//! ring's own settings in 10 are pinned next to the code they fix.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use vaulttoken::error::Violation;
use vaulttoken::footer::{Footer, FooterClaims, FooterLimits, FooterMode, UntrustedFooter};
use vaulttoken::keyring::LocalKeyRing;
use vaulttoken::rules::{RuleSet, rule_fn};
use vaulttoken::service::{KeyProvider, LocalService, StaticKey};
use vaulttoken::{
    Claims, Error, LocalKey,
    clock::FixedClock,
    error::{FooterError, PayloadError},
    v4,
};

const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

fn key() -> LocalKey {
    LocalKey::from_bytes(&[0x24; 32]).unwrap()
}

fn rules() -> RuleSet {
    RuleSet::default().with_clock(FixedClock::new(NOW))
}

fn service() -> LocalService {
    LocalService::builder(key()).rules(rules()).build()
}

fn claims() -> Claims {
    Claims::builder()
        .subject("u")
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap()
}

/// An authentic token with any payload and footer, as a peer could make it.
fn token_with(payload: &[u8], footer: &[u8]) -> String {
    v4::local::encrypt(&key(), payload, footer, b"").unwrap()
}

fn payload_of(claims: &Claims) -> Vec<u8> {
    claims.to_payload().unwrap()
}

fn footer_error(result: Result<impl std::fmt::Debug, Error>) -> FooterError {
    match result {
        Err(Error::Footer(err)) => err,
        other => panic!("expected a footer error, got {other:?}"),
    }
}

fn failed_rules(result: Result<impl std::fmt::Debug, Error>) -> Vec<String> {
    match result {
        Err(Error::Claims(violations)) => violations.iter().map(|v| v.rule().to_owned()).collect(),
        other => panic!("expected rule violations, got {other:?}"),
    }
}

// 1. Password-wrapped keys never travel in footers.

#[test]
fn password_wrapped_keys_in_footers_are_refused_on_encode_and_decode() {
    let service = service();
    for pw in [
        "k4.local-pw.AAAAAAAA",
        "k4.secret-pw.AAAAAAAA",
        "k3.local-pw.AAAA",
    ] {
        let footer = Footer::Claims(FooterClaims::new().with_wrapped_key(pw));
        assert!(matches!(
            footer_error(service.encode_with_footer(&claims(), &footer)),
            FooterError::PasswordWrappedKey { claim: "wpk" }
        ));
        let token = token_with(&payload_of(&claims()), &footer.to_bytes());
        assert!(matches!(
            footer_error(service.decode(&token)),
            FooterError::PasswordWrappedKey { claim: "wpk" }
        ));
    }
}

#[test]
fn a_kid_holds_only_an_id_and_a_wpk_only_a_wrapped_key() {
    let service = service();
    let kid_seal = Footer::Claims(FooterClaims::new().with_key_id("k4.seal.AAAA"));
    let wpk_lid = Footer::Claims(FooterClaims::new().with_wrapped_key("k4.lid.AAAA"));
    for (footer, claim) in [(kid_seal, "kid"), (wpk_lid, "wpk")] {
        let refused = footer_error(service.encode_with_footer(&claims(), &footer));
        assert_eq!(refused, FooterError::MisplacedPaserk { claim });
        let token = token_with(&payload_of(&claims()), &footer.to_bytes());
        assert_eq!(
            footer_error(service.decode(&token)),
            FooterError::MisplacedPaserk { claim }
        );
    }
}

// 2. Text footers cannot smuggle keys.

#[test]
fn text_footers_holding_keys_are_refused_in_every_mode() {
    let paserk = key().to_paserk().unwrap();
    let smuggled = [
        format!(r#"{{"wpk":"{}"}}"#, paserk.as_str()),
        paserk.as_str().to_owned(),
        format!("note {}", paserk.as_str()),
    ];
    for mode in [FooterMode::Auto, FooterMode::Text, FooterMode::Claims] {
        let service = LocalService::from_providers(Arc::new(StaticKey::new(key())), None)
            .rules(rules())
            .footer_mode(mode)
            .build();
        let issuer = LocalService::builder(key())
            .rules(rules())
            .footer_mode(mode)
            .build();
        for text in &smuggled {
            assert!(
                issuer
                    .encode_with_footer(&claims(), &Footer::Text(text.clone()))
                    .is_err(),
                "{mode:?} issued {text}"
            );
            let token = token_with(&payload_of(&claims()), text.as_bytes());
            assert!(service.decode(&token).is_err(), "{mode:?} accepted {text}");
        }
    }
}

// 3. A token for an audience is refused by a service that names none.

#[test]
fn a_token_for_an_audience_needs_a_service_that_accepts_it() {
    let for_admin = Claims::builder()
        .audience("admin-api")
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    let issuer = service();
    let token = issuer.encode(&for_admin).unwrap();
    assert_eq!(failed_rules(issuer.decode(&token)), ["for-audience"]);

    let admin = LocalService::builder(key())
        .rules(rules().for_audience("admin-api"))
        .build();
    assert!(admin.decode(&token).is_ok());
    let billing = LocalService::builder(key())
        .rules(rules().for_audience("billing"))
        .build();
    assert_eq!(failed_rules(billing.decode(&token)), ["for-audience"]);
    let any = LocalService::builder(key())
        .rules(rules().accept_any_audience())
        .build();
    assert!(any.decode(&token).is_ok());
    // A token with no audience is accepted where no audience is required.
    let no_audience = issuer.encode(&claims()).unwrap();
    assert!(issuer.decode(&no_audience).is_ok());
    assert!(any.decode(&no_audience).is_ok());
    assert_eq!(failed_rules(admin.decode(&no_audience)), ["for-audience"]);
}

// 4. Leeway applies to decode only.

#[test]
fn leeway_never_lets_a_service_issue_an_expired_token() {
    let expired = Claims::builder()
        .issued_at(NOW - Duration::hours(1) - Duration::seconds(30))
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    let lenient = LocalService::builder(key())
        .rules(rules().leeway(Duration::minutes(1)))
        .build();
    assert_eq!(failed_rules(lenient.encode(&expired)), ["not-expired"]);
    let from_a_peer = token_with(&payload_of(&expired), b"");
    assert!(lenient.decode(&from_a_peer).is_ok());
    // Issued 30 s in the future: a verifier's skew, never the issuer's.
    let ahead = Claims::builder()
        .issued_at(NOW + Duration::seconds(30))
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    assert_eq!(
        failed_rules(lenient.encode(&ahead)),
        ["issued-in-past", "not-before"]
    );
    assert!(
        lenient
            .decode(&token_with(&payload_of(&ahead), b""))
            .is_ok()
    );
}

// 6. Errors never echo a configured `sub` or `jti`.

#[test]
fn errors_never_echo_the_expected_subject_or_token_id() {
    let guarded = LocalService::builder(key())
        .rules(
            rules()
                .subject("expected-subject-7f3a")
                .identified_by("expected-jti-91c2"),
        )
        .build();
    let other = Claims::builder()
        .subject("someone-else")
        .token_id("other-jti")
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    let missing = claims();
    for claims in [other, missing] {
        let token = token_with(&payload_of(&claims), b"");
        let err = guarded.decode(&token).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(
            shown.contains("subject") && shown.contains("identified-by"),
            "{shown}"
        );
        assert!(
            !shown.contains("7f3a") && !shown.contains("91c2"),
            "an expected value leaked: {shown}"
        );
        let Error::Claims(violations) = err else {
            panic!("expected violations");
        };
        assert!(violations.iter().all(|v| v.expected().is_none()));
    }
}

// 7. Debug prints claim names, never claim values.

#[test]
fn debug_output_of_verified_tokens_contexts_and_footers_has_no_values() {
    let secret_values = ["alice@example.com", "ssn-123-45-6789", "eu-tenant-42"];
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let seen_in_rule = Arc::clone(&seen);
    let service = LocalService::builder(key())
        .rules(rules().with_rule(rule_fn("spy", move |ctx| {
            *seen_in_rule.lock().unwrap() = format!("{ctx:?}");
            Ok::<(), Violation>(())
        })))
        .build();
    let claims = Claims::builder()
        .subject(secret_values[0])
        .claim("ssn", secret_values[1])
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    let footer = Footer::Claims(
        FooterClaims::new()
            .with_claim("tenant", secret_values[2])
            .unwrap(),
    );
    let token = service.encode_with_footer(&claims, &footer).unwrap();
    let verified = service.decode(&token).unwrap();
    let parsed: v4::UntrustedToken<v4::Local> = token.parse().unwrap();
    let untrusted = UntrustedFooter::new(parsed.untrusted_footer());
    let debug = [
        format!("{verified:?}"),
        format!("{verified:#?}"),
        seen.lock().unwrap().clone(),
        format!("{:?}", untrusted.untrusted_claims().unwrap()),
        format!("{untrusted:?}"),
    ];
    for text in &debug {
        for value in secret_values {
            assert!(!text.contains(value), "{value} in {text}");
        }
    }
    assert!(debug[0].contains("sub") && debug[0].contains("ssn") && debug[0].contains("tenant"));
    assert!(debug[2].contains("ssn"), "{}", debug[2]);
}

// 9. RFC 3339 times use an upper-case `T` and `Z`.

#[test]
fn lower_case_t_or_z_in_a_claim_time_is_refused() {
    let service = LocalService::builder(key())
        .rules(rules().allow_non_expiring())
        .build();
    for time in ["2031-01-01t00:00:00Z", "2031-01-01T00:00:00z"] {
        let token = token_with(format!(r#"{{"exp":"{time}"}}"#).as_bytes(), b"");
        assert!(
            matches!(
                service.decode(&token),
                Err(Error::Payload(PayloadError::InvalidTime { claim: "exp" }))
            ),
            "{time}"
        );
    }
    let upper = token_with(br#"{"exp":"2031-01-01T00:00:00Z"}"#, b"");
    assert!(service.decode(&upper).is_ok());
}

// 10. Key lookups read the footer within the service's limits.

#[test]
fn static_keys_and_rings_read_the_kid_within_the_services_limits() {
    // A forged footer within the default limits but not within the service's: a
    // provider reading it with its own limits would get as far as the
    // cryptography (and report the forgery as `Verification`).
    let ring = Arc::new(LocalKeyRing::new(Duration::hours(1)).unwrap());
    let id = ring.add(key()).unwrap();
    ring.promote(&id).unwrap();
    let tight = FooterLimits::default().max_keys(2);
    let static_service =
        LocalService::from_providers(Arc::new(StaticKey::new(key()).with_key_id("k1")), None)
            .rules(rules())
            .footer_limits(tight)
            .build();
    let ring_service = LocalService::from_ring(Arc::clone(&ring))
        .clock(FixedClock::new(NOW))
        .footer_limits(tight)
        .build();
    let body = token_with(b"{}", b"");
    for (service, kid) in [(&static_service, "k1"), (&ring_service, id.as_str())] {
        let footer = format!(r#"{{"kid":"{kid}","a":1,"b":2}}"#);
        let forged = format!("{body}.{}", base64url(footer.as_bytes()));
        assert_eq!(
            footer_error(service.decode(&forged)),
            FooterError::TooManyKeys { max_keys: 2 }
        );
    }

    let short = LocalService::from_ring(ring)
        .clock(FixedClock::new(NOW))
        .footer_limits(FooterLimits::default().max_len(20))
        .build();
    // The ring's kid alone is longer than 20 bytes: never issued.
    assert_eq!(
        footer_error(short.encode(&claims())),
        FooterError::TooLong { max_len: 20 }
    );
}

/// Unpadded base64url, through the crate the library itself encodes with.
fn base64url(bytes: &[u8]) -> String {
    use base64ct::Encoding as _;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}

// 11. No token outlives the ring's retirement schedule.

#[test]
fn a_ring_service_caps_token_lifetime_at_the_rings() {
    let ring = Arc::new(LocalKeyRing::new(Duration::minutes(30)).unwrap());
    let id = ring.add(key()).unwrap();
    ring.promote(&id).unwrap();
    let service = LocalService::from_ring(Arc::clone(&ring))
        .clock(FixedClock::new(NOW))
        .build();
    let day = Claims::builder()
        .expires_in(Duration::days(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    assert_eq!(failed_rules(service.encode(&day)), ["max-validity"]);
    let forever = Claims::builder()
        .without_expiry()
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    assert!(service.encode(&forever).is_err());
    // A token from a peer that holds the key is refused too.
    let kid = Footer::Claims(FooterClaims::new().with_key_id(id.as_str())).to_bytes();
    let long_lived = token_with(&payload_of(&day), &kid);
    assert_eq!(failed_rules(service.decode(&long_lived)), ["max-validity"]);
    // The service's own defaults fit.
    let made = service
        .claims_builder()
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    assert_eq!(
        made.expiration().unwrap() - made.issued_at().unwrap(),
        Duration::minutes(30)
    );
    assert!(service.decode(&service.encode(&made).unwrap()).is_ok());
    // An explicit cap in the rule set is kept.
    let explicit = LocalService::from_ring(ring)
        .rules(rules().max_validity(Duration::days(2)))
        .build();
    assert!(explicit.encode(&day).is_ok());
}

// Decode order: nothing malformed reaches the key provider.

#[derive(Debug, Default)]
struct CountingProvider {
    calls: AtomicUsize,
}

impl KeyProvider<LocalKey> for CountingProvider {
    fn decoding_key(&self, _footer: &UntrustedFooter<'_>) -> Result<Arc<LocalKey>, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(key()))
    }
}

#[test]
fn a_malformed_token_never_reaches_the_key_provider() {
    let provider = Arc::new(CountingProvider::default());
    let service = LocalService::from_providers(Arc::clone(&provider) as Arc<_>, None)
        .rules(rules())
        .footer_limits(FooterLimits::default().max_len(64))
        .build();
    let good = token_with(&payload_of(&claims()), b"kid");
    let (head, footer) = good.rsplit_once('.').unwrap();
    let body_at = "v4.local.".len();
    let mut malformed = vec![
        format!("{head}=.{footer}"),
        format!(
            "{}*{}.{footer}",
            &head[..body_at + 10],
            &head[body_at + 11..]
        ),
        // A body of impossible length (4n + 1 characters).
        format!(
            "{}.{footer}",
            &head[..body_at + (head.len() - body_at) / 4 * 4 - 3]
        ),
        format!("{}.{footer}", &head[..body_at + 40]),
        format!("{head}.{footer}="),
        format!("{head}."),
        format!("{head}.{footer}.{footer}"),
        format!("v4.public.{}", &good[body_at..]),
        format!("{head}.{}", base64url(&[b'x'; 65])),
    ];
    // Every single character of the body replaced by one outside the alphabet.
    for at in body_at..head.len() {
        let mut bytes = head.as_bytes().to_vec();
        bytes[at] = b'!';
        malformed.push(format!("{}.{footer}", String::from_utf8(bytes).unwrap()));
    }
    for token in &malformed {
        assert!(service.decode(token).is_err(), "{token}");
    }
    assert_eq!(provider.calls.load(Ordering::SeqCst), 0);
    let decoded = service.decode(&good);
    assert!(decoded.is_ok(), "{decoded:?}");
    assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
}
