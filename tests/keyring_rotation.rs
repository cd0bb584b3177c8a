//! Key rings as token-service key sources: a full rotation with tokens issued and
//! decoded in every phase, verification-only rings, storage round trips, and
//! hostile stored rings.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use time::{Duration, OffsetDateTime};
use vaulttoken::clock::ManualClock;
use vaulttoken::error::{KeyRingError, RuleId};
use vaulttoken::footer::{Footer, FooterClaims};
use vaulttoken::keyring::{KeyStatus, LocalKeyRing, PublicKeyRing, RingSettings, SigningKeyRing};
use vaulttoken::paserk::KeyId;
use vaulttoken::rules::RuleSet;
use vaulttoken::service::{LocalService, PublicService};
use vaulttoken::{Claims, Error, LocalKey, SecretKey, clock::Clock, error::KeyKind};

/// A clock the test moves forward by hand.
fn manual_clock() -> ManualClock {
    ManualClock::new(OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap())
}

fn claims(subject: &str) -> Claims {
    Claims::builder().subject(subject).build().unwrap()
}

fn kid_of(token: &str) -> String {
    let token = vaulttoken::v4::UntrustedToken::<vaulttoken::v4::Local>::parse(token).unwrap();
    let footer = vaulttoken::footer::UntrustedFooter::new(token.untrusted_footer());
    footer.untrusted_key_id().unwrap().unwrap().to_owned()
}

#[test]
fn a_local_ring_rotates_through_every_phase() {
    let clock = manual_clock();
    let ring = Arc::new(
        LocalKeyRing::new(Duration::hours(1))
            .unwrap()
            .with_clock(clock.clone()),
    );
    let service = LocalService::from_ring(Arc::clone(&ring)).build();

    // Phase 0: an empty ring cannot issue.
    assert!(matches!(
        service.encode(&claims("nobody")),
        Err(Error::NoIssuingKey)
    ));

    // Phase 1: key A is active.
    let a = ring.add(LocalKey::generate().unwrap()).unwrap();
    assert!(matches!(
        service.encode(&claims("nobody")),
        Err(Error::NoIssuingKey)
    ));
    ring.promote(&a).unwrap();
    let token_a = service.encode(&claims("alice")).unwrap();
    assert_eq!(kid_of(&token_a), a.as_str());

    // Phase 2: B is added for verification only; A still issues.
    let b = ring.add(LocalKey::generate().unwrap()).unwrap();
    assert_eq!(ring.status(&b), Some(KeyStatus::Next));
    let still_a = service.encode(&claims("alice")).unwrap();
    assert_eq!(kid_of(&still_a), a.as_str());

    // Phase 3: B is promoted. New tokens carry B; A's tokens still decode.
    clock.advance(Duration::minutes(1));
    ring.promote(&b).unwrap();
    assert!(matches!(ring.status(&a), Some(KeyStatus::Previous { .. })));
    let token_b = service.encode(&claims("bob")).unwrap();
    assert_eq!(kid_of(&token_b), b.as_str());
    assert_eq!(
        service.decode(&token_a).unwrap().claims().subject(),
        Some("alice")
    );
    assert_eq!(
        service.decode(&token_b).unwrap().claims().subject(),
        Some("bob")
    );

    // Phase 4: A cannot be retired while its tokens may be valid.
    clock.advance(Duration::hours(1) - Duration::seconds(1));
    let early = ring.retire(&a).unwrap_err();
    assert!(
        matches!(
            early,
            Error::KeyRing(KeyRingError::RetiredTooEarly { remaining }) if remaining == Duration::seconds(1)
        ),
        "{early:?}"
    );
    assert!(ring.retire_expired().is_empty());
    assert!(service.decode(&token_b).is_ok());

    // Phase 5: an hour after A stopped issuing, it is retired; its tokens fail
    // closed (they have expired by the same clock anyway), B keeps working.
    clock.advance(Duration::seconds(1));
    assert_eq!(ring.retire_expired(), vec![a.clone()]);
    assert!(ring.status(&a).is_none());
    assert!(matches!(service.decode(&token_a), Err(Error::UnknownKeyId)));
    assert!(
        matches!(service.decode(&token_b), Err(Error::Claims(v)) if v.contains(&RuleId::NotExpired))
    );
    let fresh_b = service.encode(&claims("bob")).unwrap();
    assert_eq!(kid_of(&fresh_b), b.as_str());
    assert_eq!(
        service.decode(&fresh_b).unwrap().claims().subject(),
        Some("bob")
    );
}

#[test]
fn tokens_without_a_known_kid_fail_closed() {
    let ring = Arc::new(LocalKeyRing::new(Duration::hours(1)).unwrap());
    ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
        .unwrap();
    let service = LocalService::from_ring(Arc::clone(&ring)).build();

    // Made with a key the ring does not hold, under every kind of footer.
    let stranger = LocalService::builder(LocalKey::generate().unwrap()).build();
    let unknown_kid = LocalKey::generate().unwrap().paserk_id().unwrap();
    let footers = [
        Footer::None,
        Footer::Text("k4.lid.looks-like-one".into()),
        Footer::Claims(FooterClaims::new()),
        Footer::Claims(FooterClaims::new().with_key_id(unknown_kid.as_str())),
        Footer::Claims(FooterClaims::new().with_key_id("")),
    ];
    for footer in &footers {
        let token = stranger.encode_with(&claims("x"), footer, b"").unwrap();
        let err = service.decode(&token).unwrap_err();
        assert!(matches!(err, Error::UnknownKeyId), "{footer:?}: {err:?}");
    }

    // A kid that names a public key is the wrong key type for a local ring.
    let pid = SecretKey::generate()
        .unwrap()
        .public_key()
        .paserk_id()
        .unwrap();
    let footer = Footer::Claims(FooterClaims::new().with_key_id(pid.as_str()));
    let token = stranger.encode_with(&claims("x"), &footer, b"").unwrap();
    assert!(matches!(
        service.decode(&token),
        Err(Error::WrongKeyType {
            expected: KeyKind::Local,
            found: KeyKind::Public
        })
    ));
}

#[test]
fn a_signing_ring_issues_and_a_public_ring_verifies_across_a_rotation() {
    let signing = Arc::new(SigningKeyRing::new(Duration::hours(1)).unwrap());
    let a = signing.add(SecretKey::generate().unwrap()).unwrap();
    signing.promote(&a).unwrap();
    let issuer = PublicService::from_ring(Arc::clone(&signing)).build();
    let token_a = issuer.encode(&claims("a")).unwrap();

    // The verifiers get the next key before it issues anything.
    let b = signing.add(SecretKey::generate().unwrap()).unwrap();
    let public =
        PublicKeyRing::import(&signing.public_ring().export(), &RingSettings::new()).unwrap();
    assert_eq!(public.len(), 2);
    let verifier = PublicService::from_ring(Arc::new(public)).build();
    assert!(matches!(
        verifier.encode(&claims("x")),
        Err(Error::NoIssuingKey)
    ));

    signing.promote(&b).unwrap();
    let token_b = issuer.encode(&claims("b")).unwrap();
    assert_eq!(
        verifier.decode(&token_a).unwrap().claims().subject(),
        Some("a")
    );
    assert_eq!(
        verifier.decode(&token_b).unwrap().claims().subject(),
        Some("b")
    );
    // Public tokens are named by the public key's id, never the secret key's.
    assert!(a.as_str().starts_with("k4.pid."));
}

#[test]
fn a_ring_rotates_while_other_threads_decode() {
    let ring = Arc::new(LocalKeyRing::new(Duration::ZERO).unwrap());
    ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
        .unwrap();
    // A ring lifetime of zero would cap every token at zero validity: this test
    // is about rotation, so it sets its own cap.
    let service = Arc::new(
        LocalService::from_ring(Arc::clone(&ring))
            .rules(RuleSet::default().max_validity(Duration::hours(1)))
            .default_validity(Duration::hours(1))
            .build(),
    );
    let stop = Arc::new(AtomicBool::new(false));

    let workers: Vec<_> = (0..2)
        .map(|_| {
            let service = Arc::clone(&service);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut decoded = 0u32;
                while !stop.load(Ordering::Relaxed) || decoded == 0 {
                    // Each token is decoded right after it is issued: with a key
                    // retired only after its tokens' lifetime (zero here, but the
                    // newest key is never retired below), no decode may fail.
                    let token = service.encode(&claims("w")).unwrap();
                    let verified = service.decode(&token);
                    assert!(
                        verified.is_ok() || matches!(verified, Err(Error::UnknownKeyId)),
                        "{verified:?}"
                    );
                    decoded += 1;
                }
                decoded
            })
        })
        .collect();

    for _ in 0..50 {
        let next = ring.add(LocalKey::generate().unwrap()).unwrap();
        ring.promote(&next).unwrap();
        ring.retire_expired();
        assert_eq!(ring.len(), 1);
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        assert!(worker.join().unwrap() > 0);
    }
}

#[test]
fn a_decode_sees_a_rotation_made_on_another_thread() {
    let ring = Arc::new(LocalKeyRing::new(Duration::hours(1)).unwrap());
    let a = ring.add(LocalKey::from_bytes(&[1; 32]).unwrap()).unwrap();
    ring.promote(&a).unwrap();
    let service = LocalService::from_ring(Arc::clone(&ring)).build();
    let token_a = service.encode(&claims("a")).unwrap();

    // A token under key B, which the ring does not hold yet.
    let kid_b = LocalKey::from_bytes(&[2; 32]).unwrap().paserk_id().unwrap();
    let footer = Footer::Claims(FooterClaims::new().with_key_id(kid_b.as_str()));
    let token_b = LocalService::builder(LocalKey::from_bytes(&[2; 32]).unwrap())
        .build()
        .encode_with(&claims("b"), &footer, b"")
        .unwrap();
    assert!(matches!(service.decode(&token_b), Err(Error::UnknownKeyId)));

    // Another thread rotates to B and drops A at once.
    thread::scope(|scope| {
        scope.spawn(|| {
            let b = ring.add(LocalKey::from_bytes(&[2; 32]).unwrap()).unwrap();
            ring.promote(&b).unwrap();
            ring.retire_immediately(&a).unwrap();
        });
    });
    assert_eq!(
        service.decode(&token_b).unwrap().claims().subject(),
        Some("b")
    );
    assert!(matches!(service.decode(&token_a), Err(Error::UnknownKeyId)));
    assert_eq!(
        kid_of(&service.encode(&claims("c")).unwrap()),
        kid_b.as_str()
    );

    // And the other way round: this thread retires B, a decoding thread sees it.
    ring.retire_immediately(&kid_b).unwrap();
    thread::scope(|scope| {
        scope.spawn(|| {
            assert!(matches!(service.decode(&token_b), Err(Error::UnknownKeyId)));
            assert!(matches!(
                service.encode(&claims("d")),
                Err(Error::NoIssuingKey)
            ));
        });
    });
}

#[test]
fn a_negative_token_lifetime_is_refused() {
    for lifetime in [
        Duration::seconds(-1),
        Duration::nanoseconds(-1),
        Duration::MIN,
    ] {
        assert!(
            matches!(
                LocalKeyRing::new(lifetime),
                Err(Error::KeyRing(KeyRingError::NegativeLifetime))
            ),
            "{lifetime}"
        );
        assert!(SigningKeyRing::new(lifetime).is_err());
        assert!(PublicKeyRing::new(lifetime).is_err());
    }
    assert_eq!(
        LocalKeyRing::new(Duration::ZERO)
            .unwrap()
            .max_token_lifetime(),
        Duration::ZERO
    );

    // A stored ring may not bring one in either.
    let stored = |seconds: &str| {
        format!(
            r#"{{"paserk_key_ring":"k4.local","max_token_lifetime_seconds":{seconds},"keys":[]}}"#
        )
    };
    assert!(LocalKeyRing::import_secret(&stored("0"), &RingSettings::new()).is_ok());
    for seconds in ["-1", "-9223372036854775808", "-0.5"] {
        assert!(
            matches!(
                LocalKeyRing::import_secret(&stored(seconds), &RingSettings::new()),
                Err(Error::KeyRing(KeyRingError::InvalidDocument { .. }))
            ),
            "{seconds}"
        );
    }
}

#[test]
fn rings_survive_storage_with_statuses_and_times() {
    let clock = manual_clock();
    let ring = LocalKeyRing::new(Duration::hours(3))
        .unwrap()
        .with_clock(clock.clone());
    let a = ring.add(LocalKey::generate().unwrap()).unwrap();
    ring.promote(&a).unwrap();
    clock.advance(Duration::minutes(5));
    let b = ring.add(LocalKey::generate().unwrap()).unwrap();
    ring.promote(&b).unwrap();
    let c = ring.add(LocalKey::generate().unwrap()).unwrap();

    let wrapping = LocalKey::generate().unwrap();
    let saved = ring.export_wrapped(&wrapping).unwrap();
    assert!(!saved.contains("k4.local."), "no key in clear");
    let restored = LocalKeyRing::import_wrapped(&saved, &wrapping, &ring.settings()).unwrap();
    assert_eq!(restored.keys(), ring.keys());
    assert_eq!(restored.active_id(), Some(b.clone()));
    assert_eq!(restored.status(&c), Some(KeyStatus::Next));
    assert_eq!(restored.max_token_lifetime(), Duration::hours(3));

    // Tokens from the original ring decode with the restored one.
    let original = LocalService::from_ring(Arc::new(ring)).build();
    let token = original.encode(&claims("kept")).unwrap();
    let after = LocalService::from_ring(Arc::new(restored)).build();
    assert_eq!(
        after.decode(&token).unwrap().claims().subject(),
        Some("kept")
    );

    // The wrong wrapping key is a verification failure, not a partial ring.
    let wrong = LocalKey::generate().unwrap();
    assert!(matches!(
        LocalKeyRing::import_wrapped(&saved, &wrong, &RingSettings::new()),
        Err(Error::Verification)
    ));
}

#[test]
fn a_restored_ring_keeps_the_clock_it_is_given() {
    let clock = manual_clock();
    let ring = LocalKeyRing::new(Duration::hours(1))
        .unwrap()
        .with_clock(clock.clone());
    let a = ring.add(LocalKey::generate().unwrap()).unwrap();
    ring.promote(&a).unwrap();
    ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
        .unwrap();
    let saved = ring.export_secret().unwrap();
    let wrapping = LocalKey::generate().unwrap();
    let wrapped = ring.export_wrapped(&wrapping).unwrap();

    // The restored rings rotate by the clock given: `a` stopped issuing at the
    // clock's start, which is years away from the system clock.
    clock.advance(Duration::minutes(30));
    let settings = RingSettings::new().with_clock(clock.clone());
    for restored in [
        LocalKeyRing::import_secret(saved.as_str(), &settings).unwrap(),
        LocalKeyRing::import_wrapped(&wrapped, &wrapping, &settings).unwrap(),
    ] {
        assert!(matches!(
            restored.retire(&a),
            Err(Error::KeyRing(KeyRingError::RetiredTooEarly { remaining }))
                if remaining == Duration::minutes(30)
        ));
        clock.advance(Duration::minutes(30));
        restored.retire(&a).unwrap();
        clock.advance(-Duration::minutes(30));
    }

    // Every import keeps it.
    let signing = SigningKeyRing::new(Duration::hours(1)).unwrap();
    signing.add(SecretKey::generate().unwrap()).unwrap();
    for restored in [
        SigningKeyRing::import_secret(signing.export_secret().unwrap().as_str(), &settings)
            .unwrap()
            .settings(),
        SigningKeyRing::import_wrapped(
            &signing.export_wrapped(&wrapping).unwrap(),
            &wrapping,
            &settings,
        )
        .unwrap()
        .settings(),
        PublicKeyRing::import(&signing.public_ring().export(), &settings)
            .unwrap()
            .settings(),
    ] {
        assert_eq!(restored.clock().now(), clock.now());
    }
}

#[test]
fn hostile_stored_rings_are_refused_with_typed_errors() {
    let ring = LocalKeyRing::new(Duration::hours(1)).unwrap();
    let key = LocalKey::generate().unwrap();
    let key_text = key.to_paserk().unwrap().as_str().to_owned();
    let kid = ring.add(key).unwrap();
    let other_kid = LocalKey::generate().unwrap().paserk_id().unwrap();
    let entry = |kid: &KeyId, status: &str, extra: &str| {
        format!(r#"{{"kid":"{kid}","status":"{status}"{extra},"key":"{key_text}"}}"#)
    };
    let doc = |kind: &str, entries: &str| {
        format!(
            r#"{{"paserk_key_ring":"{kind}","max_token_lifetime_seconds":60,"keys":[{entries}]}}"#
        )
    };
    // The well-formed document loads, so each case below fails for its own reason.
    assert_eq!(
        LocalKeyRing::import_secret(
            &doc("k4.local", &entry(&kid, "active", "")),
            &RingSettings::new()
        )
        .unwrap()
        .len(),
        1
    );

    let cases = [
        ("empty", String::new()),
        ("not an object", "[]".to_owned()),
        (
            "another ring type",
            doc("k4.public", &entry(&kid, "next", "")),
        ),
        (
            "kid of another key",
            doc("k4.local", &entry(&other_kid, "next", "")),
        ),
        (
            "listed twice",
            doc(
                "k4.local",
                &[entry(&kid, "next", ""), entry(&kid, "next", "")].join(","),
            ),
        ),
        (
            "two active",
            doc(
                "k4.local",
                &[entry(&kid, "active", ""), entry(&kid, "active", "")].join(","),
            ),
        ),
        (
            "unknown status",
            doc("k4.local", &entry(&kid, "retired", "")),
        ),
        (
            "previous without since",
            doc("k4.local", &entry(&kid, "previous", "")),
        ),
        (
            "bad since",
            doc(
                "k4.local",
                &entry(&kid, "previous", r#","since":"yesterday""#),
            ),
        ),
        (
            "unknown key field",
            doc("k4.local", &entry(&kid, "next", r#","extra":1"#)),
        ),
        (
            "duplicate field",
            doc("k4.local", &entry(&kid, "next", r#","status":"next""#)),
        ),
        (
            "negative lifetime",
            doc("k4.local", "").replace(":60", ":-1"),
        ),
        (
            "unknown top field",
            doc("k4.local", "").replace("{\"paserk", "{\"x\":1,\"paserk"),
        ),
        (
            "huge",
            format!(
                "{}{}",
                doc("k4.local", ""),
                " ".repeat(vaulttoken::keyring::MAX_DOCUMENT_LEN)
            ),
        ),
        (
            "deep",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
    ];
    for (name, text) in &cases {
        let err = LocalKeyRing::import_secret(text, &RingSettings::new()).unwrap_err();
        assert!(
            matches!(err, Error::KeyRing(KeyRingError::InvalidDocument { .. })),
            "{name}: {err:?}"
        );
    }

    // A key of the wrong PASERK type inside the document is the key's own error.
    let public_text = SecretKey::generate().unwrap().public_key().to_paserk();
    let wrong_type = doc("k4.local", &entry(&kid, "next", "")).replace(&key_text, &public_text);
    assert!(matches!(
        LocalKeyRing::import_secret(&wrong_type, &RingSettings::new()),
        Err(Error::Paserk(_))
    ));

    // A verification-only ring has no active or previous keys.
    let public = SecretKey::generate().unwrap().public_key();
    let pid = public.paserk_id().unwrap();
    let active_public =
        doc("k4.public", &entry(&pid, "active", "")).replace(&key_text, &public.to_paserk());
    assert!(matches!(
        PublicKeyRing::import(&active_public, &RingSettings::new()),
        Err(Error::KeyRing(KeyRingError::InvalidDocument { .. }))
    ));
}
