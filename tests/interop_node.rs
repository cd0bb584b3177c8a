//! Interop with Node's `paseto` package (4.x, pinned in `tests/interop/package.json`),
//! both ways, for `v4.public` with footers and implicit assertions, through
//! `tests/interop/paseto_peer.mjs` (JSON lines over stdin and stdout; byte
//! strings as hex). paseto 4.x has no built-in `v4.local`, so none is exchanged.
//!
//! paseto signs and verifies claims, not bytes: when signing it adds `iat` and an
//! `exp` one hour on unless they are present, and when verifying it refuses a
//! token without `exp` unless told otherwise, so the tests fix "now" and carry
//! both claims.
//!
//! Without `node` or the installed package (`cd tests/interop && npm ci`) each
//! test prints a `SKIPPED interop with node paseto: ...` line to stderr and passes,
//! unless `VAULTTOKEN_REQUIRE_INTEROP=1` is set, which CI does: then a missing
//! peer fails the test.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use common::node::{ask, assert_refused, ok, ok_str};
use common::{hex, unhex};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use vaulttoken::footer::{Footer, FooterClaims};
use vaulttoken::rules::RuleSet;
use vaulttoken::service::PublicService;
use vaulttoken::{Claims, Error, PublicKey, SecretKey, clock::FixedClock, v4};

/// Keys of the official v4 test vectors: fixed, so that a failure reproduces.
const SEED_HEX: &str = "b4cbfb43df4ce210727d953e4a713307fa19bb7d9f85041438d9e11b942a3774";
const PUBLIC_KEY_HEX: &str = "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2";
/// The instant both sides work at, inside the claims' validity.
const NOW: &str = "2030-01-01T00:30:00Z";
const NOW_TIME: OffsetDateTime = datetime!(2030-01-01 00:30 UTC);
/// Claims in the compact form JavaScript's `JSON.stringify` writes, with `iat` and
/// `exp` present so paseto adds nothing: its token then carries these exact bytes.
const MESSAGE: &[u8] = r#"{"sub":"user-42","name":"Zoë 🚀","iat":"2030-01-01T00:00:00Z","exp":"2030-01-01T01:00:00Z"}"#.as_bytes();
const FOOTER: &[u8] = br#"{"kid":"k1"}"#;
const IMPLICIT: &[u8] = br#"{"tenant":"acme"}"#;
const WRONG_IMPLICIT: &[u8] = br#"{"tenant":"evil"}"#;

/// Every combination of an empty or present footer and implicit assertion.
const CASES: [(&[u8], &[u8]); 4] = [
    (b"", b""),
    (FOOTER, b""),
    (b"", IMPLICIT),
    (FOOTER, IMPLICIT),
];

fn secret_key() -> SecretKey {
    SecretKey::from_seed(&unhex(SEED_HEX)).unwrap()
}

fn public_key() -> PublicKey {
    let public = PublicKey::from_hex(PUBLIC_KEY_HEX).unwrap();
    assert_eq!(secret_key().public_key(), public);
    public
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn sign(message: &[u8], footer: &[u8], implicit: &[u8]) -> Value {
    json!({
        "op": "public_sign",
        "seed": SEED_HEX,
        "message": hex(message),
        "footer": hex(footer),
        "implicit": hex(implicit),
        "now": NOW,
    })
}

/// A verify request; paseto also checks the footer when `footer` is not empty.
fn verify(token: &str, footer: &[u8], implicit: &[u8]) -> Value {
    let mut request = json!({
        "op": "public_verify",
        "public_key": PUBLIC_KEY_HEX,
        "token": token,
        "implicit": hex(implicit),
        "now": NOW,
    });
    if !footer.is_empty() {
        request["expected_footer"] = hex(footer).into();
    }
    request
}

/// Ed25519 is deterministic and paseto writes the claims back unchanged, so its
/// token must also equal vaulttoken's own, byte for byte.
#[test]
fn public_tokens_from_node_paseto_verify_with_vaulttoken() {
    let requests: Vec<Value> = CASES.iter().map(|&(f, i)| sign(MESSAGE, f, i)).collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    let (secret, public) = (secret_key(), public_key());
    for ((footer, implicit), answer) in CASES.into_iter().zip(&answers) {
        let token = ok_str(answer, "token");
        let untrusted: v4::UntrustedToken<v4::Public> = token.parse().unwrap();
        assert_eq!(untrusted.untrusted_footer(), footer);
        assert_eq!(
            v4::public::verify(&public, token, Some(footer), implicit).unwrap(),
            MESSAGE,
            "footer {footer:?}, implicit {implicit:?}"
        );
        assert_eq!(
            token,
            v4::public::sign(&secret, MESSAGE, footer, implicit).unwrap()
        );
    }
}

/// Given claims without `iat` and `exp`, paseto adds both (now, now + 1 hour),
/// and vaulttoken verifies what it signed.
#[test]
fn node_paseto_adds_iat_and_exp_to_tokens_vaulttoken_verifies() {
    let Some(answers) = ask(&[sign(br#"{"sub":"user-42"}"#, FOOTER, IMPLICIT)]) else {
        return;
    };
    let token = ok_str(&answers[0], "token");
    let message = v4::public::verify(&public_key(), token, Some(FOOTER), IMPLICIT).unwrap();
    assert_eq!(
        json(&message),
        json!({"sub": "user-42", "iat": NOW, "exp": "2030-01-01T01:30:00Z"})
    );
}

#[test]
fn public_tokens_from_vaulttoken_verify_with_node_paseto() {
    let secret = secret_key();
    let requests: Vec<Value> = CASES
        .iter()
        .map(|&(footer, implicit)| {
            let token = v4::public::sign(&secret, MESSAGE, footer, implicit).unwrap();
            verify(&token, footer, implicit)
        })
        .collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    for ((footer, _), answer) in CASES.into_iter().zip(&answers) {
        assert_eq!(ok(answer, "claims"), &json(MESSAGE));
        assert_eq!(unhex(ok_str(answer, "footer")), footer);
    }
}

/// paseto refuses a token without `exp` unless asked to allow it: vaulttoken
/// must put `exp` in tokens meant for it (its `Claims` do by default).
#[test]
fn node_paseto_needs_exp_in_vaulttoken_tokens_unless_told_otherwise() {
    let message = br#"{"sub":"user-42"}"#;
    let token = v4::public::sign(&secret_key(), message, FOOTER, IMPLICIT).unwrap();
    let mut allowed = verify(&token, FOOTER, IMPLICIT);
    allowed["allow_non_expiring"] = true.into();
    let Some(answers) = ask(&[verify(&token, FOOTER, IMPLICIT), allowed]) else {
        return;
    };
    assert_refused(&answers[0], "ERR_PASETO_CLAIM_VALIDATION");
    assert_eq!(answers[0]["error_claim"], "exp", "{}", answers[0]);
    assert_eq!(ok(&answers[1], "claims"), &json(message));
}

#[test]
fn vaulttoken_refuses_node_paseto_tokens_with_a_wrong_implicit_assertion() {
    let Some(answers) = ask(&[sign(MESSAGE, FOOTER, IMPLICIT)]) else {
        return;
    };
    let token = ok_str(&answers[0], "token");
    let public = public_key();
    // Control: the right implicit assertion is accepted.
    assert_eq!(
        v4::public::verify(&public, token, Some(FOOTER), IMPLICIT).unwrap(),
        MESSAGE
    );
    for implicit in [WRONG_IMPLICIT, b""] {
        assert!(matches!(
            v4::public::verify(&public, token, Some(FOOTER), implicit),
            Err(Error::Verification)
        ));
    }
}

#[test]
fn node_paseto_refuses_vaulttoken_tokens_with_a_wrong_implicit_assertion() {
    let token = v4::public::sign(&secret_key(), MESSAGE, FOOTER, IMPLICIT).unwrap();
    let requests = [
        // Control: the right implicit assertion is accepted.
        verify(&token, FOOTER, IMPLICIT),
        verify(&token, FOOTER, WRONG_IMPLICIT),
        verify(&token, FOOTER, b""),
    ];
    let Some(answers) = ask(&requests) else {
        return;
    };
    assert_eq!(ok(&answers[0], "claims"), &json(MESSAGE));
    for answer in &answers[1..] {
        assert_refused(answer, "ERR_PASETO_INVALID_TOKEN");
    }
}

/// The services on top: claims a `PublicService` issues (its own `iat`, `nbf`
/// and `exp` formatting) pass paseto's claim checks, and the `iat` and `exp`
/// paseto adds pass vaulttoken's default rules.
#[test]
fn public_services_and_node_paseto_accept_each_others_claims() {
    let clock = FixedClock::new(NOW_TIME);
    let footer = Footer::Claims(FooterClaims::new().with_key_id("k1"));
    let signer = PublicService::builder(secret_key()).clock(clock).build();
    let claims = Claims::builder()
        .subject("user-42")
        .claim("role", "admin")
        .build()
        .unwrap();
    let token = signer.encode_with(&claims, &footer, IMPLICIT).unwrap();
    let requests = [
        verify(&token, FOOTER, IMPLICIT),
        // paseto adds `iat` and `exp` but never `nbf`; vaulttoken's default rules
        // check `nbf` only when present, so the token needs nothing extra.
        sign(br#"{"sub":"user-42","role":"admin"}"#, FOOTER, IMPLICIT),
    ];
    let Some(answers) = ask(&requests) else {
        return;
    };

    let seen = ok(&answers[0], "claims");
    assert_eq!(seen["sub"], "user-42");
    assert_eq!(seen["role"], "admin");
    assert!(seen["exp"].is_string(), "{seen}");

    let verifier = PublicService::verifier(public_key())
        .rules(RuleSet::default().with_clock(clock))
        .build();
    let verified = verifier
        .decode_with(ok_str(&answers[1], "token"), None, IMPLICIT)
        .unwrap();
    assert_eq!(verified.claims().subject(), Some("user-42"));
    assert_eq!(verified.claims().custom_str("role"), Some("admin"));
    assert_eq!(verified.claims().issued_at(), Some(NOW_TIME));
    assert_eq!(verified.footer(), &footer);
}
