//! Interop with the `pasetors` crate (a dev-dependency, v4 only), both ways:
//! tokens that pasetors makes open with vaulttoken and tokens that vaulttoken
//! makes open with pasetors, for `v4.local` and `v4.public`, with and without a
//! footer and an implicit assertion. A wrong implicit assertion must fail on
//! either side.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use pasetors::errors::Error as PasetorsError;
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey, SymmetricKey};
use pasetors::token::UntrustedToken as PasetorsUntrusted;
use pasetors::version4::{LocalToken, PublicToken, V4};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use vaulttoken::footer::{Footer, FooterClaims};
use vaulttoken::rules::RuleSet;
use vaulttoken::service::{LocalService, PublicService};
use vaulttoken::{Claims, Error, LocalKey, PublicKey, SecretKey, clock::FixedClock, v4};

/// Keys of the official v4 test vectors: fixed, so that a failure reproduces.
const LOCAL_KEY_HEX: &str = "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f";
/// Seed ‖ public key.
const SECRET_KEY_HEX: &str = concat!(
    "b4cbfb43df4ce210727d953e4a713307fa19bb7d9f85041438d9e11b942a3774",
    "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2",
);
/// A JSON payload with non-ASCII text, so that UTF-8 survives both ways.
const MESSAGE: &[u8] =
    r#"{"sub":"user-42","name":"Zoë 🚀","exp":"2039-01-01T00:00:00+00:00"}"#.as_bytes();
const FOOTER: &[u8] = br#"{"kid":"k1"}"#;
const IMPLICIT: &[u8] = br#"{"tenant":"acme"}"#;
const WRONG_IMPLICIT: &[u8] = br#"{"tenant":"evil"}"#;

/// Every combination of an empty or present footer and implicit assertion.
/// pasetors takes `None` for empty, which must mean the same as `Some(b"")`.
const CASES: [(&[u8], &[u8]); 4] = [
    (b"", b""),
    (FOOTER, b""),
    (b"", IMPLICIT),
    (FOOTER, IMPLICIT),
];

fn local_keys() -> (LocalKey, SymmetricKey<V4>) {
    let ours = LocalKey::from_hex(LOCAL_KEY_HEX).unwrap();
    let theirs = SymmetricKey::<V4>::from(ours.expose_secret_bytes().unwrap().as_bytes()).unwrap();
    (ours, theirs)
}

/// vaulttoken's signing and verifying keys, and pasetors' view of the same pair
/// (its secret key is seed ‖ public key, like vaulttoken's `expose_secret_bytes`).
fn public_keys() -> (
    SecretKey,
    PublicKey,
    AsymmetricSecretKey<V4>,
    AsymmetricPublicKey<V4>,
) {
    let secret = SecretKey::from_hex(SECRET_KEY_HEX).unwrap();
    let public = secret.public_key();
    let their_secret =
        AsymmetricSecretKey::<V4>::from(secret.expose_secret_bytes().unwrap().as_bytes()).unwrap();
    let their_public = AsymmetricPublicKey::<V4>::from(public.as_bytes()).unwrap();
    (secret, public, their_secret, their_public)
}

/// pasetors' way of saying "none": `None` for an empty slice. For an expected
/// footer this matters: pasetors refuses `Some(b"")` for a token without a
/// footer, where vaulttoken accepts it.
fn option(bytes: &[u8]) -> Option<&[u8]> {
    (!bytes.is_empty()).then_some(bytes)
}

#[test]
fn local_tokens_from_pasetors_decrypt_with_vaulttoken() {
    let (ours, theirs) = local_keys();
    for (footer, implicit) in CASES {
        let token =
            LocalToken::encrypt(&theirs, MESSAGE, option(footer), option(implicit)).unwrap();
        let untrusted: v4::UntrustedToken<v4::Local> = token.parse().unwrap();
        assert_eq!(untrusted.untrusted_footer(), footer);
        assert_eq!(
            v4::local::decrypt(&ours, &token, Some(footer), implicit).unwrap(),
            MESSAGE,
            "footer {footer:?}, implicit {implicit:?}"
        );
    }
}

#[test]
fn local_tokens_from_vaulttoken_decrypt_with_pasetors() {
    let (ours, theirs) = local_keys();
    for (footer, implicit) in CASES {
        let token = v4::local::encrypt(&ours, MESSAGE, footer, implicit).unwrap();
        let untrusted = PasetorsUntrusted::<pasetors::Local, V4>::try_from(&token).unwrap();
        let trusted =
            LocalToken::decrypt(&theirs, &untrusted, option(footer), option(implicit)).unwrap();
        assert_eq!(trusted.payload().as_bytes(), MESSAGE);
        assert_eq!(trusted.footer(), footer);
        assert_eq!(trusted.implicit_assert(), implicit);
    }
}

#[test]
fn public_tokens_from_pasetors_verify_with_vaulttoken() {
    let (_, public, their_secret, _) = public_keys();
    for (footer, implicit) in CASES {
        let token =
            PublicToken::sign(&their_secret, MESSAGE, option(footer), option(implicit)).unwrap();
        let untrusted: v4::UntrustedToken<v4::Public> = token.parse().unwrap();
        assert_eq!(untrusted.untrusted_footer(), footer);
        assert_eq!(
            v4::public::verify(&public, &token, Some(footer), implicit).unwrap(),
            MESSAGE,
            "footer {footer:?}, implicit {implicit:?}"
        );
    }
}

#[test]
fn public_tokens_from_vaulttoken_verify_with_pasetors() {
    let (secret, _, _, their_public) = public_keys();
    for (footer, implicit) in CASES {
        let token = v4::public::sign(&secret, MESSAGE, footer, implicit).unwrap();
        let untrusted = PasetorsUntrusted::<pasetors::Public, V4>::try_from(&token).unwrap();
        let trusted =
            PublicToken::verify(&their_public, &untrusted, option(footer), option(implicit))
                .unwrap();
        assert_eq!(trusted.payload().as_bytes(), MESSAGE);
        assert_eq!(trusted.footer(), footer);
        assert_eq!(trusted.implicit_assert(), implicit);
    }
}

/// Ed25519 is deterministic, so the same key, message, footer and implicit
/// assertion must give the very same token text in both libraries: same PAE,
/// same signature, same base64url.
#[test]
fn public_tokens_are_identical_in_both_libraries() {
    let (secret, _, their_secret, _) = public_keys();
    for (footer, implicit) in CASES {
        let ours = v4::public::sign(&secret, MESSAGE, footer, implicit).unwrap();
        let theirs =
            PublicToken::sign(&their_secret, MESSAGE, option(footer), option(implicit)).unwrap();
        assert_eq!(ours, theirs, "footer {footer:?}, implicit {implicit:?}");
    }
}

#[test]
fn vaulttoken_refuses_pasetors_tokens_with_a_wrong_implicit_assertion() {
    let (ours, theirs) = local_keys();
    let token = LocalToken::encrypt(&theirs, MESSAGE, Some(FOOTER), Some(IMPLICIT)).unwrap();
    for implicit in [WRONG_IMPLICIT, b""] {
        assert!(matches!(
            v4::local::decrypt(&ours, &token, Some(FOOTER), implicit),
            Err(Error::Verification)
        ));
    }

    let (_, public, their_secret, _) = public_keys();
    let token = PublicToken::sign(&their_secret, MESSAGE, Some(FOOTER), Some(IMPLICIT)).unwrap();
    for implicit in [WRONG_IMPLICIT, b""] {
        assert!(matches!(
            v4::public::verify(&public, &token, Some(FOOTER), implicit),
            Err(Error::Verification)
        ));
    }
}

#[test]
fn pasetors_refuses_vaulttoken_tokens_with_a_wrong_implicit_assertion() {
    let (ours, theirs) = local_keys();
    let token = v4::local::encrypt(&ours, MESSAGE, FOOTER, IMPLICIT).unwrap();
    let untrusted = PasetorsUntrusted::<pasetors::Local, V4>::try_from(&token).unwrap();
    for implicit in [Some(WRONG_IMPLICIT), None] {
        assert_eq!(
            LocalToken::decrypt(&theirs, &untrusted, Some(FOOTER), implicit).err(),
            Some(PasetorsError::TokenValidation)
        );
    }

    let (secret, _, _, their_public) = public_keys();
    let token = v4::public::sign(&secret, MESSAGE, FOOTER, IMPLICIT).unwrap();
    let untrusted = PasetorsUntrusted::<pasetors::Public, V4>::try_from(&token).unwrap();
    for implicit in [Some(WRONG_IMPLICIT), None] {
        assert_eq!(
            PublicToken::verify(&their_public, &untrusted, Some(FOOTER), implicit).err(),
            Some(PasetorsError::TokenValidation)
        );
    }
}

/// The services on top: a pasetors token carrying claims, a JSON footer with
/// `kid` and an implicit assertion passes every default rule, and a token the
/// service issues opens in pasetors.
#[test]
fn services_accept_pasetors_tokens_and_issue_tokens_pasetors_opens() {
    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);
    let payload = br#"{"sub":"user-42","iat":"2030-01-01T11:00:00+00:00","nbf":"2030-01-01T11:00:00+00:00","exp":"2030-01-01T13:00:00Z","role":"admin"}"#;
    let rules = || RuleSet::default().with_clock(FixedClock::new(NOW));
    let footer = Footer::Claims(FooterClaims::new().with_key_id("k1"));

    let (ours, theirs) = local_keys();
    let service = LocalService::builder(ours).rules(rules()).build();
    let token = LocalToken::encrypt(&theirs, payload, Some(FOOTER), Some(IMPLICIT)).unwrap();
    let verified = service.decode_with(&token, None, IMPLICIT).unwrap();
    assert_eq!(verified.claims().subject(), Some("user-42"));
    assert_eq!(verified.claims().custom_str("role"), Some("admin"));
    assert_eq!(verified.footer(), &footer);

    let (secret, public, their_secret, their_public) = public_keys();
    let verifier = PublicService::verifier(public).rules(rules()).build();
    let token = PublicToken::sign(&their_secret, payload, Some(FOOTER), Some(IMPLICIT)).unwrap();
    let verified = verifier.decode_with(&token, None, IMPLICIT).unwrap();
    assert_eq!(verified.claims().subject(), Some("user-42"));
    assert_eq!(verified.footer(), &footer);

    let signer = PublicService::builder(secret).rules(rules()).build();
    let claims = Claims::builder()
        .subject("user-42")
        .expires_in(Duration::hours(1))
        .build_with_clock(FixedClock::new(NOW))
        .unwrap();
    let token = signer.encode_with(&claims, &footer, IMPLICIT).unwrap();
    let untrusted = PasetorsUntrusted::<pasetors::Public, V4>::try_from(&token).unwrap();
    let trusted =
        PublicToken::verify(&their_public, &untrusted, Some(FOOTER), Some(IMPLICIT)).unwrap();
    let sent: serde_json::Value = serde_json::from_str(trusted.payload()).unwrap();
    assert_eq!(sent["sub"], "user-42");
    assert_eq!(trusted.footer(), FOOTER);
}
