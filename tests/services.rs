//! Token services through the public API: issuing, decoding, rules, footers,
//! key selection, limits, and the bad inputs the Tokens issue lists.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use vaulttoken::error::{Mismatch, RuleId, Violation};
use vaulttoken::footer::{Footer, FooterClaims, FooterLimits, FooterMode};
use vaulttoken::rules::{RuleSet, rule_fn};
use vaulttoken::service::{LocalService, PublicService, StaticKey};
use vaulttoken::{
    Claims, Error, LocalKey, SecretKey,
    clock::FixedClock,
    error::{FooterError, PayloadError},
    v4,
};

const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);

fn clock() -> FixedClock {
    FixedClock::new(NOW)
}

fn rules() -> RuleSet {
    RuleSet::default().with_clock(clock())
}

fn claims() -> Claims {
    Claims::builder()
        .subject("user-1")
        .claim("role", "admin")
        .not_before(NOW)
        .expires_in(Duration::hours(1))
        .build_with_clock(clock())
        .unwrap()
}

fn local_key() -> LocalKey {
    LocalKey::from_bytes(&[0x42; 32]).unwrap()
}

fn local_service() -> LocalService {
    LocalService::builder(local_key()).rules(rules()).build()
}

#[test]
fn local_service_round_trips_claims_and_footer() {
    let service = local_service();
    let footer = Footer::Claims(FooterClaims::new().with_claim("region", "eu").unwrap());
    let token = service.encode_with_footer(&claims(), &footer).unwrap();
    let verified = service.decode(&token).unwrap();
    assert_eq!(verified.claims(), &claims());
    assert_eq!(verified.footer(), &footer);
}

#[test]
fn public_service_signs_and_a_verifier_with_only_the_public_key_verifies() {
    let secret = SecretKey::from_seed(&[7; 32]).unwrap();
    let public = secret.public_key();
    let signer = PublicService::builder(secret).rules(rules()).build();
    let verifier = PublicService::verifier(public).rules(rules()).build();
    let token = signer.encode(&claims()).unwrap();
    assert_eq!(verifier.decode(&token).unwrap().claims(), &claims());
    assert!(matches!(
        verifier.encode(&claims()),
        Err(Error::NoIssuingKey)
    ));
}

#[test]
fn a_public_service_refuses_local_tokens_and_vice_versa() {
    let local_token = local_service().encode(&claims()).unwrap();
    let verifier = PublicService::verifier(SecretKey::generate().unwrap().public_key())
        .rules(rules())
        .build();
    assert!(matches!(
        verifier.decode(&local_token),
        Err(Error::UnsupportedHeader {
            expected: "v4.public."
        })
    ));
}

#[test]
fn an_expired_token_is_never_issued() {
    let stale = Claims::builder()
        .issued_at(NOW - Duration::hours(3))
        .not_before(NOW)
        .expires_in(Duration::hours(1))
        .build_with_clock(clock())
        .unwrap();
    let Err(Error::Claims(violations)) = local_service().encode(&stale) else {
        panic!("an expired token was issued");
    };
    assert!(violations.contains(&RuleId::NotExpired));
}

#[test]
fn decode_reports_every_failing_rule_at_once() {
    let token = local_service().encode(&claims()).unwrap();
    let strict = LocalService::builder(local_key())
        .rules(
            rules()
                .issued_by("auth.example")
                .for_any_audience(["api", "web"])
                .require_claims(["tenant"])
                .with_rule(rule_fn("role-is-reader", |ctx| {
                    if ctx.claims.custom_str("role") == Some("reader") {
                        Ok(())
                    } else {
                        Err(Violation::new("role must be reader").on_claim("role"))
                    }
                })),
        )
        .build();
    let Err(Error::Claims(violations)) = strict.decode(&token) else {
        panic!("expected rule violations");
    };
    let failed: Vec<&str> = violations.iter().map(Violation::rule).collect();
    assert_eq!(
        failed,
        [
            "issued-by",
            "for-audience",
            "required-claims",
            "role-is-reader"
        ]
    );
    let message = Error::Claims(violations).to_string();
    assert!(!message.contains("admin"), "{message}");
}

#[test]
fn the_service_clock_decides_expiry() {
    let token = local_service().encode(&claims()).unwrap();
    let later = LocalService::builder(local_key())
        .rules(RuleSet::default().with_clock(FixedClock::new(NOW + Duration::hours(2))))
        .build();
    assert!(
        matches!(later.decode(&token), Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired))
    );
}

#[test]
fn non_expiring_tokens_need_both_opt_ins() {
    let forever = Claims::builder()
        .without_expiry()
        .build_with_clock(clock())
        .unwrap();
    assert!(matches!(
        local_service().encode(&forever),
        Err(Error::Claims(_))
    ));
    let allowing = LocalService::builder(local_key())
        .rules(rules().allow_non_expiring())
        .build();
    let token = allowing.encode(&forever).unwrap();
    assert_eq!(allowing.decode(&token).unwrap().claims().expiration(), None);
    assert!(matches!(
        local_service().decode(&token),
        Err(Error::Claims(_))
    ));
}

/// What Node's `paseto` (and other peers) issue: `iat` and `exp`, never `nbf`.
const PEER_PAYLOAD: &[u8] =
    br#"{"sub":"user-1","iat":"2030-01-01T11:59:00Z","exp":"2030-01-01T13:00:00Z"}"#;

#[test]
fn a_default_service_accepts_peer_tokens_without_nbf_or_iat() {
    let exp_only = br#"{"sub":"user-1","exp":"2030-01-01T13:00:00Z"}"#;
    for payload in [PEER_PAYLOAD, exp_only] {
        let token = raw_local_token(payload, b"");
        let verified = local_service().decode(&token).unwrap();
        assert_eq!(verified.claims().subject(), Some("user-1"));
        assert_eq!(verified.claims().not_before(), None);
    }
}

#[test]
fn a_default_service_still_requires_exp_and_checks_iat_and_nbf_when_present() {
    let cases: [(&[u8], &[&str]); 3] = [
        (br#"{"iat":"2030-01-01T11:59:00Z"}"#, &["not-expired"]),
        (
            br#"{"iat":"2030-01-01T12:00:01Z","exp":"2030-01-01T13:00:00Z"}"#,
            &["issued-in-past"],
        ),
        (
            br#"{"nbf":"2030-01-01T12:00:01Z","exp":"2030-01-01T13:00:00Z"}"#,
            &["not-before"],
        ),
    ];
    for (payload, expected) in cases {
        let token = raw_local_token(payload, b"");
        let Err(Error::Claims(violations)) = local_service().decode(&token) else {
            panic!("accepted {payload:?}");
        };
        let failed: Vec<&str> = violations.iter().map(Violation::rule).collect();
        assert_eq!(failed, expected, "{payload:?}");
    }
}

#[test]
fn require_claims_opts_back_in_to_mandatory_iat_and_nbf() {
    let strict = LocalService::builder(local_key())
        .rules(rules().require_claims(["iat", "nbf"]))
        .build();
    let Err(Error::Claims(violations)) = strict.decode(&raw_local_token(PEER_PAYLOAD, b"")) else {
        panic!("a token without nbf was accepted");
    };
    let missing: Vec<(&str, Option<&str>)> =
        violations.iter().map(|v| (v.rule(), v.claim())).collect();
    assert_eq!(missing, [("required-claims", Some("nbf"))]);
    // Its own tokens always carry both.
    assert!(strict.decode(&strict.encode(&claims()).unwrap()).is_ok());
}

#[test]
fn expired_tokens_are_accepted_only_through_the_dangerous_opt_in() {
    let stale = Claims::builder()
        .issued_at(NOW - Duration::hours(3))
        .not_before(NOW - Duration::hours(3))
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW - Duration::hours(3)))
        .unwrap();
    let issued_then = LocalService::builder(local_key())
        .rules(RuleSet::default().with_clock(FixedClock::new(NOW - Duration::hours(3))))
        .build();
    let token = issued_then.encode(&stale).unwrap();

    assert!(
        matches!(local_service().decode(&token), Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired))
    );
    let refresh = LocalService::builder(local_key())
        .rules(rules().dangerously_accept_expired())
        .build();
    assert_eq!(refresh.decode(&token).unwrap().claims(), &stale);
    // The same service never issues an expired token.
    assert!(
        matches!(refresh.encode(&stale), Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired))
    );
}

#[test]
fn a_huge_default_validity_is_an_error_not_a_panic() {
    let service = LocalService::builder(local_key())
        .rules(rules())
        .default_validity(Duration::MAX)
        .build();
    assert!(matches!(
        service.claims_builder().build_with_clock(clock()),
        Err(Error::Payload(PayloadError::TimeOutOfRange {
            claim: "exp"
        }))
    ));
}

#[test]
fn implicit_assertions_bind_tokens_to_a_context() {
    let service = local_service();
    let token = service
        .encode_with(&claims(), &Footer::None, b"tenant-7")
        .unwrap();
    assert!(service.decode_with(&token, None, b"tenant-7").is_ok());
    assert!(matches!(
        service.decode_with(&token, None, b"tenant-8"),
        Err(Error::Verification)
    ));
}

#[test]
fn an_expected_footer_must_match_exactly() {
    let service = local_service();
    let footer = Footer::Text("v1".into());
    let token = service.encode_with_footer(&claims(), &footer).unwrap();
    assert!(service.decode_with_footer(&token, &footer).is_ok());
    assert!(matches!(
        service.decode_with_footer(&token, &Footer::Text("v2".into())),
        Err(Error::FooterMismatch)
    ));
}

#[test]
fn a_keyed_static_key_writes_its_kid_and_refuses_other_kids() {
    let keys = Arc::new(StaticKey::new(local_key()).with_key_id("k1"));
    let service = LocalService::from_providers(keys.clone(), Some(keys))
        .rules(rules())
        .build();
    let token = service.encode(&claims()).unwrap();
    assert_eq!(
        service.untrusted_key_id(&token).unwrap().as_deref(),
        Some("k1")
    );
    assert_eq!(
        service.decode(&token).unwrap().footer(),
        &Footer::Claims(FooterClaims::new().with_key_id("k1"))
    );

    // The same key, but a footer that names another kid: fails closed.
    let other_kid = br#"{"kid":"k2"}"#;
    let forged_kid = v4::local::encrypt(
        &local_key(),
        &claims().to_payload().unwrap(),
        other_kid,
        b"",
    )
    .unwrap();
    assert!(matches!(
        service.decode(&forged_kid),
        Err(Error::UnknownKeyId)
    ));

    let conflicting = Footer::Claims(FooterClaims::new().with_key_id("k9"));
    assert!(matches!(
        service.encode_with_footer(&claims(), &conflicting),
        Err(Error::Footer(FooterError::KeyIdConflict))
    ));
}

#[test]
fn an_oversized_token_is_refused_before_decoding() {
    let service = LocalService::builder(local_key())
        .rules(rules())
        .max_token_len(200)
        .build();
    let big = Claims::builder()
        .claim("blob", "x".repeat(500))
        .not_before(NOW)
        .expires_in(Duration::hours(1))
        .build_with_clock(clock())
        .unwrap();
    assert!(matches!(
        service.encode(&big),
        Err(Error::TokenTooLong { max_len: 200 })
    ));
    let garbage = format!("v4.local.{}", "A".repeat(300));
    assert!(matches!(
        service.decode(&garbage),
        Err(Error::TokenTooLong { max_len: 200 })
    ));
}

#[test]
fn a_large_token_works_when_the_limit_allows_it() {
    let service = LocalService::builder(local_key())
        .rules(rules())
        .max_token_len(512 * 1024)
        .build();
    let big = Claims::builder()
        .claim("blob", "x".repeat(256 * 1024))
        .not_before(NOW)
        .expires_in(Duration::hours(1))
        .build_with_clock(clock())
        .unwrap();
    let token = service.encode(&big).unwrap();
    assert_eq!(service.decode(&token).unwrap().claims(), &big);
}

/// A token with a raw payload and footer, authentic under the service key.
fn raw_local_token(payload: &[u8], footer: &[u8]) -> String {
    v4::local::encrypt(&local_key(), payload, footer, b"").unwrap()
}

fn roomy_service() -> LocalService {
    LocalService::builder(local_key())
        .rules(rules())
        .max_token_len(1 << 22)
        .build()
}

#[test]
fn a_100_kib_footer_is_refused_by_the_length_limit() {
    let footer = format!(r#"{{"kid":"{}"}}"#, "a".repeat(100 * 1024));
    let token = raw_local_token(&claims().to_payload().unwrap(), footer.as_bytes());
    assert!(matches!(
        roomy_service().decode(&token),
        Err(Error::Footer(FooterError::TooLong { max_len: 8192 }))
    ));
}

#[test]
fn a_footer_nested_10000_deep_is_refused_before_parsing() {
    let footer = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let wrapped = format!(r#"{{"a":{footer}}}"#);
    let service = LocalService::builder(local_key())
        .rules(rules())
        .footer_limits(FooterLimits::default().max_len(1 << 20))
        .max_token_len(1 << 22)
        .build();
    let token = raw_local_token(&claims().to_payload().unwrap(), wrapped.as_bytes());
    assert!(matches!(
        service.decode(&token),
        Err(Error::Footer(FooterError::TooDeep { max_depth: 2 }))
    ));
}

#[test]
fn a_footer_with_100000_keys_is_refused_before_parsing() {
    let keys: Vec<String> = (0..100_000).map(|i| format!(r#""k{i}":0"#)).collect();
    let footer = format!("{{{}}}", keys.join(","));
    let service = LocalService::builder(local_key())
        .rules(rules())
        .footer_limits(FooterLimits::default().max_len(1 << 22))
        .max_token_len(1 << 23)
        .build();
    let token = raw_local_token(&claims().to_payload().unwrap(), footer.as_bytes());
    assert!(matches!(
        service.decode(&token),
        Err(Error::Footer(FooterError::TooManyKeys { max_keys: 512 }))
    ));
}

#[test]
fn footer_modes_change_how_a_verified_footer_is_read() {
    let token = raw_local_token(&claims().to_payload().unwrap(), b"not-json");
    let claims_mode = LocalService::builder(local_key())
        .rules(rules())
        .footer_mode(FooterMode::Claims)
        .build();
    assert!(matches!(
        claims_mode.decode(&token),
        Err(Error::Footer(FooterError::NotJsonObject))
    ));
    let text_mode = LocalService::builder(local_key())
        .rules(rules())
        .footer_mode(FooterMode::Text)
        .build();
    assert_eq!(
        text_mode.decode(&token).unwrap().footer(),
        &Footer::Text("not-json".into())
    );
}

#[test]
fn bad_payloads_get_named_errors() {
    type Check = fn(&Error) -> bool;
    let cases: [(&[u8], Check); 5] = [
        (b"[1,2,3]", |e| {
            matches!(e, Error::Payload(PayloadError::NotAnObject))
        }),
        (b"\xff\xfe{}", |e| {
            matches!(e, Error::Payload(PayloadError::NotUtf8))
        }),
        (br#"{"sub":"a","sub":"b"}"#, |e| {
            matches!(e, Error::Payload(PayloadError::DuplicateKey))
        }),
        (br#"{"exp":1893499200}"#, |e| {
            matches!(
                e,
                Error::Payload(PayloadError::WrongType { claim: "exp", .. })
            )
        }),
        (br#"{"nbf":"tomorrow"}"#, |e| {
            matches!(
                e,
                Error::Payload(PayloadError::InvalidTime { claim: "nbf" })
            )
        }),
    ];
    for (payload, expected) in cases {
        let err = roomy_service()
            .decode(&raw_local_token(payload, b""))
            .unwrap_err();
        assert!(expected(&err), "{payload:?}: {err:?}");
    }
}

#[test]
fn custom_claims_decode_into_a_serde_struct() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Session {
        tenant: u32,
        scopes: Vec<String>,
        prefs: std::collections::BTreeMap<String, bool>,
    }
    let session = Session {
        tenant: 7,
        scopes: vec!["read".into(), "write".into()],
        prefs: [("dark".to_owned(), true)].into(),
    };
    let claims = Claims::builder()
        .custom_claims_from(&session)
        .not_before(NOW)
        .expires_in(Duration::hours(1))
        .build_with_clock(clock())
        .unwrap();
    let service = local_service();
    let decoded = service.decode(&service.encode(&claims).unwrap()).unwrap();
    assert_eq!(
        decoded.claims().deserialize_custom::<Session>().unwrap(),
        session
    );
}

// The service constructors: one naming scheme (`builder`, `verifier`,
// `from_ring`, `from_providers`), shared keys, key ids and ephemeral copies.

#[test]
fn one_shared_key_serves_several_services_without_copying_it() {
    let key = Arc::new(local_key());
    let issuer = LocalService::builder(Arc::clone(&key))
        .key_id("sessions")
        .rules(rules())
        .build();
    let reader = LocalService::verifier(Arc::clone(&key))
        .key_id("sessions")
        .rules(rules())
        .build();
    let token = issuer.encode(&claims()).unwrap();
    assert_eq!(
        reader.untrusted_key_id(&token).unwrap().as_deref(),
        Some("sessions")
    );
    assert_eq!(reader.decode(&token).unwrap().claims(), &claims());
    assert!(matches!(reader.encode(&claims()), Err(Error::NoIssuingKey)));
    // Three owners: the test, and each service's providers hold the same key.
    assert!(Arc::strong_count(&key) >= 3);
    let other_id = LocalService::verifier(key)
        .key_id("other")
        .rules(rules())
        .build();
    assert!(matches!(other_id.decode(&token), Err(Error::UnknownKeyId)));
}

#[test]
fn a_service_can_issue_every_token_with_a_fresh_ephemeral_copy() {
    let service = LocalService::builder(local_key())
        .ephemeral_key_per_token()
        .rules(rules())
        .build();
    let tokens: Vec<String> = (0..5).map(|_| service.encode(&claims()).unwrap()).collect();
    for token in &tokens {
        assert!(service.decode(token).is_ok());
    }
    let signer = PublicService::builder(SecretKey::generate().unwrap())
        .ephemeral_key_per_token()
        .rules(rules())
        .build();
    for _ in 0..3 {
        let token = signer.encode(&claims()).unwrap();
        assert!(signer.decode(&token).is_ok());
    }
}

#[test]
fn a_closure_can_choose_the_decoding_key() {
    let key = Arc::new(local_key());
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (lookup_key, lookup_calls) = (Arc::clone(&key), Arc::clone(&calls));
    let provider = vaulttoken::service::key_provider_fn(move |footer| {
        lookup_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match footer.untrusted_key_id()? {
            Some("k-7") => Ok(Arc::clone(&lookup_key)),
            _ => Err(Error::UnknownKeyId),
        }
    });
    let reader = LocalService::from_providers(Arc::new(provider), None)
        .rules(rules())
        .build();
    let named = LocalService::builder(Arc::clone(&key))
        .key_id("k-7")
        .rules(rules())
        .build();
    let unnamed = LocalService::builder(key).rules(rules()).build();
    assert!(reader.decode(&named.encode(&claims()).unwrap()).is_ok());
    assert!(matches!(
        reader.decode(&unnamed.encode(&claims()).unwrap()),
        Err(Error::UnknownKeyId)
    ));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

// Your own struct as the claims.

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Session {
    sub: String,
    aud: String,
    role: String,
    #[serde(with = "time::serde::rfc3339")]
    exp: OffsetDateTime,
}

fn session(exp: OffsetDateTime) -> Session {
    Session {
        sub: "user-42".into(),
        aud: "api".into(),
        role: "admin".into(),
        exp,
    }
}

#[test]
fn a_users_struct_is_issued_and_read_back_registered_claims_included() {
    let service = LocalService::builder(local_key())
        .rules(rules().for_audience("api"))
        .build();
    let mine = session(NOW + Duration::minutes(10));
    let claims = Claims::from_serializable(&mine).unwrap();
    assert_eq!(claims.subject(), Some("user-42"));
    assert_eq!(claims.audience(), Some("api"));
    assert_eq!(claims.expiration(), Some(NOW + Duration::minutes(10)));
    assert_eq!(claims.custom_str("role"), Some("admin"));
    let token = service.encode(&claims).unwrap();
    let back: Session = service
        .decode(&token)
        .unwrap()
        .deserialize_claims()
        .unwrap();
    assert_eq!(back, mine);
    // A struct that does not fit is a typed error, not a panic.
    #[derive(serde::Deserialize, Debug)]
    struct Other {
        #[expect(dead_code, reason = "only the type matters")]
        missing: u32,
    }
    assert!(matches!(
        service
            .decode(&token)
            .unwrap()
            .deserialize_claims::<Other>(),
        Err(Error::Payload(PayloadError::CustomType { ref field, problem: Mismatch::Missing }))
            if field == "missing"
    ));
}

#[test]
fn registered_claims_in_a_users_struct_are_type_checked_and_ruled_on_encode() {
    #[derive(serde::Serialize)]
    struct ListAudience {
        aud: Vec<&'static str>,
    }
    #[derive(serde::Serialize)]
    struct NumericExp {
        exp: u64,
    }
    #[derive(serde::Serialize)]
    struct LowerT {
        exp: &'static str,
    }
    assert!(matches!(
        Claims::from_serializable(&ListAudience { aud: vec!["a"] }),
        Err(Error::Payload(PayloadError::WrongType { claim: "aud", .. }))
    ));
    assert!(matches!(
        Claims::from_serializable(&NumericExp { exp: 1 }),
        Err(Error::Payload(PayloadError::WrongType { claim: "exp", .. }))
    ));
    assert!(matches!(
        Claims::from_serializable(&LowerT {
            exp: "2031-01-01t00:00:00Z"
        }),
        Err(Error::Payload(PayloadError::InvalidTime { claim: "exp" }))
    ));
    assert!(matches!(
        Claims::from_serializable(&[1, 2]),
        Err(Error::Payload(PayloadError::NotAnObject))
    ));
    // The rules still run when such claims are issued.
    let expired = Claims::from_serializable(&session(NOW - Duration::minutes(1))).unwrap();
    assert!(matches!(
        local_service().encode(&expired),
        Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired)
    ));
}

#[test]
fn one_custom_claim_reads_as_any_type() {
    let claims = Claims::builder()
        .claim("scopes", ["read", "write"])
        .claim("n", 3)
        .build()
        .unwrap();
    assert_eq!(
        claims.custom_as::<Vec<String>>("scopes").unwrap(),
        Some(vec!["read".to_owned(), "write".to_owned()])
    );
    assert_eq!(claims.custom_as::<u8>("n").unwrap(), Some(3));
    assert_eq!(claims.custom_as::<u8>("absent").unwrap(), None);
    assert!(matches!(
        claims.custom_as::<u8>("scopes"),
        Err(Error::Payload(PayloadError::CustomType { ref field, problem: Mismatch::WrongType }))
            if field == "scopes"
    ));
}

// One clock: a shared test clock drives the claims, the rules and a key ring.

#[test]
fn one_manual_clock_drives_claims_rules_and_the_ring() {
    use vaulttoken::clock::ManualClock;
    use vaulttoken::keyring::LocalKeyRing;

    // The clock is given once, to the service builder; the ring gets none.
    let clock = ManualClock::new(NOW);
    let ring = Arc::new(LocalKeyRing::new(Duration::hours(1)).unwrap());
    let service = LocalService::from_ring(Arc::clone(&ring))
        .clock(clock.clone())
        .build();
    let first = ring.add(local_key()).unwrap();
    ring.promote(&first).unwrap();
    assert_eq!(ring.settings().clock().now(), NOW);

    // Claims made by the service's builder are stamped by the clock...
    let claims = service.claims_builder().build().unwrap();
    assert_eq!(claims.issued_at(), Some(NOW));
    let token = service.encode(&claims).unwrap();
    assert!(service.decode(&token).is_ok());

    // ... the rules read it...
    clock.advance(Duration::minutes(61));
    assert!(matches!(
        service.decode(&token),
        Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired)
    ));

    // ... and so does the ring: the old key retires an hour after it stopped
    // issuing, by this clock, not the system's.
    let next = ring
        .add(LocalKey::from_bytes(&[0x5c; 32]).unwrap())
        .unwrap();
    ring.promote(&next).unwrap();
    assert!(ring.retire(&first).is_err());
    clock.advance(Duration::hours(1));
    assert!(ring.retire(&first).is_ok());
}

#[test]
fn a_ring_built_service_reads_the_rings_clock_when_given_none() {
    use vaulttoken::clock::ManualClock;
    use vaulttoken::keyring::LocalKeyRing;

    let clock = ManualClock::new(NOW);
    let ring = Arc::new(
        LocalKeyRing::new(Duration::hours(1))
            .unwrap()
            .with_clock(clock.clone()),
    );
    ring.promote(&ring.add(local_key()).unwrap()).unwrap();
    let service = LocalService::from_ring(Arc::clone(&ring)).build();

    let claims = service.claims_builder().build().unwrap();
    assert_eq!(claims.issued_at(), Some(NOW));
    let token = service.encode(&claims).unwrap();
    clock.advance(Duration::minutes(61));
    assert!(matches!(
        service.decode(&token),
        Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired)
    ));
    assert_eq!(ring.settings().clock().now(), NOW + Duration::minutes(61));
}

// Mutants of service.rs.

#[test]
fn a_default_service_takes_tokens_up_to_64_kib_and_refuses_longer_ones() {
    let service = local_service();
    let big = Claims::builder()
        .claim("blob", "x".repeat(32 * 1024))
        .not_before(NOW)
        .expires_in(Duration::hours(1))
        .build_with_clock(clock())
        .unwrap();
    let token = service.encode(&big).unwrap();
    assert_eq!(service.decode(&token).unwrap().claims(), &big);
    let garbage = format!("v4.local.{}", "A".repeat(64 * 1024));
    assert!(matches!(
        service.decode(&garbage),
        Err(Error::TokenTooLong { max_len: 65_536 })
    ));
}

#[test]
fn a_closure_provider_debugs_as_its_type_without_the_closure() {
    let key = Arc::new(local_key());
    let provider = vaulttoken::service::key_provider_fn(move |_| Ok(Arc::clone(&key)));
    assert_eq!(format!("{provider:?}"), "FnProvider { .. }");
}

#[test]
fn a_service_debugs_its_purpose_and_settings() {
    let issuer = LocalService::builder(local_key())
        .max_token_len(4096)
        .build();
    let debug = format!("{issuer:?}");
    for part in [
        "TokenService {",
        "v4.local.",
        "can_issue: true",
        "max_token_len: 4096",
    ] {
        assert!(debug.contains(part), "{part} not in {debug}");
    }
    let verifier =
        PublicService::verifier(SecretKey::from_seed(&[7; 32]).unwrap().public_key()).build();
    let debug = format!("{verifier:?}");
    assert!(
        debug.contains("v4.public.") && debug.contains("can_issue: false"),
        "{debug}"
    );
}

#[test]
fn a_token_exactly_at_the_length_limit_is_issued_and_accepted() {
    let token = local_service().encode(&claims()).unwrap();
    let exact = LocalService::builder(local_key())
        .rules(rules())
        .max_token_len(token.len())
        .build();
    assert_eq!(exact.decode(&token).unwrap().claims(), &claims());
    assert_eq!(exact.encode(&claims()).unwrap().len(), token.len());
    let one_short = LocalService::builder(local_key())
        .rules(rules())
        .max_token_len(token.len() - 1)
        .build();
    assert!(matches!(
        one_short.decode(&token),
        Err(Error::TokenTooLong { max_len }) if max_len == token.len() - 1
    ));
}

#[test]
fn a_footer_that_already_names_the_issuing_kid_is_issued_as_it_is() {
    let service = LocalService::builder(local_key())
        .key_id("k1")
        .rules(rules())
        .build();
    let footer = Footer::Claims(
        FooterClaims::new()
            .with_key_id("k1")
            .with_claim("region", "eu")
            .unwrap(),
    );
    let token = service.encode_with_footer(&claims(), &footer).unwrap();
    assert_eq!(service.decode(&token).unwrap().footer(), &footer);
}

#[test]
fn a_service_builder_debugs_its_purpose_and_settings() {
    let builder = PublicService::builder(SecretKey::from_seed(&[7; 32]).unwrap())
        .footer_mode(FooterMode::Text)
        .max_token_len(2048);
    let debug = format!("{builder:?}");
    for part in [
        "ServiceBuilder {",
        "v4.public.",
        "footer_mode: Text",
        "max_token_len: 2048",
        "from_ring: false",
    ] {
        assert!(debug.contains(part), "{part} not in {debug}");
    }
}

#[test]
fn a_ring_built_service_keeps_a_clock_its_rule_set_was_given() {
    use vaulttoken::clock::ManualClock;
    use vaulttoken::keyring::LocalKeyRing;

    let ring_clock = ManualClock::new(NOW - Duration::hours(5));
    let ring = Arc::new(
        LocalKeyRing::new(Duration::hours(1))
            .unwrap()
            .with_clock(ring_clock.clone()),
    );
    ring.promote(&ring.add(local_key()).unwrap()).unwrap();
    let service = LocalService::from_ring(Arc::clone(&ring))
        .rules(rules())
        .build();
    let token = service.encode(&Claims::builder().build().unwrap()).unwrap();
    let claims = service.decode(&token).unwrap().into_parts().0;
    assert_eq!(claims.issued_at(), Some(NOW));
    // The ring keeps its own clock.
    assert_eq!(ring.settings().clock().now(), NOW - Duration::hours(5));
}
