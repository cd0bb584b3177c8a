//! Interop with Python's `pyseto`, both ways, for `v4.local` and `v4.public`,
//! with footers and implicit assertions, through `tests/interop/pyseto_peer.py`
//! (JSON lines over stdin and stdout; byte strings as hex).
//!
//! Without `python3` or the `pyseto` module each test prints a `SKIPPED interop
//! with pyseto: ...` line to stderr and passes, unless `VAULTTOKEN_REQUIRE_INTEROP=1`
//! is set, which CI does: then a missing peer fails the test.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod common;

use common::pyseto::{ask, assert_refused, ok};
use common::{hex, unhex};

use serde_json::{Value, json};
use vaulttoken::{Error, LocalKey, PublicKey, SecretKey, danger, v4};

/// Keys of the official v4 test vectors: fixed, so that a failure reproduces.
const LOCAL_KEY_HEX: &str = "707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f";
const SEED_HEX: &str = "b4cbfb43df4ce210727d953e4a713307fa19bb7d9f85041438d9e11b942a3774";
const PUBLIC_KEY_HEX: &str = "1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2";
/// A JSON payload with non-ASCII text, so that UTF-8 survives both ways.
const MESSAGE: &[u8] =
    r#"{"sub":"user-42","name":"Zoë 🚀","exp":"2039-01-01T00:00:00+00:00"}"#.as_bytes();
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

fn local_key() -> LocalKey {
    LocalKey::from_hex(LOCAL_KEY_HEX).unwrap()
}

fn secret_key() -> SecretKey {
    SecretKey::from_seed(&unhex(SEED_HEX)).unwrap()
}

fn public_key() -> PublicKey {
    let public = PublicKey::from_hex(PUBLIC_KEY_HEX).unwrap();
    assert_eq!(secret_key().public_key(), public);
    public
}

fn local_encrypt(footer: &[u8], implicit: &[u8]) -> Value {
    json!({
        "op": "local_encrypt",
        "key": LOCAL_KEY_HEX,
        "message": hex(MESSAGE),
        "footer": hex(footer),
        "implicit": hex(implicit),
    })
}

fn local_decrypt(token: &str, implicit: &[u8]) -> Value {
    json!({"op": "local_decrypt", "key": LOCAL_KEY_HEX, "token": token, "implicit": hex(implicit)})
}

fn public_sign(footer: &[u8], implicit: &[u8]) -> Value {
    json!({
        "op": "public_sign",
        "seed": SEED_HEX,
        "message": hex(MESSAGE),
        "footer": hex(footer),
        "implicit": hex(implicit),
    })
}

fn public_verify(token: &str, implicit: &[u8]) -> Value {
    json!({
        "op": "public_verify",
        "public_key": PUBLIC_KEY_HEX,
        "token": token,
        "implicit": hex(implicit),
    })
}

#[test]
fn local_tokens_from_pyseto_decrypt_with_vaulttoken() {
    let requests: Vec<Value> = CASES.iter().map(|&(f, i)| local_encrypt(f, i)).collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    let key = local_key();
    for ((footer, implicit), answer) in CASES.into_iter().zip(&answers) {
        let token = ok(answer, "token");
        let untrusted: v4::UntrustedToken<v4::Local> = token.parse().unwrap();
        assert_eq!(untrusted.untrusted_footer(), footer);
        assert_eq!(
            v4::local::decrypt(&key, token, Some(footer), implicit).unwrap(),
            MESSAGE,
            "footer {footer:?}, implicit {implicit:?}"
        );
    }
}

#[test]
fn local_tokens_from_vaulttoken_decrypt_with_pyseto() {
    let key = local_key();
    let requests: Vec<Value> = CASES
        .iter()
        .map(|&(footer, implicit)| {
            let token = v4::local::encrypt(&key, MESSAGE, footer, implicit).unwrap();
            local_decrypt(&token, implicit)
        })
        .collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    for ((footer, _), answer) in CASES.into_iter().zip(&answers) {
        assert_eq!(unhex(ok(answer, "message")), MESSAGE);
        assert_eq!(unhex(ok(answer, "footer")), footer);
    }
}

/// With the nonce fixed, `v4.local` is deterministic: pyseto and vaulttoken must
/// produce the very same token text.
#[test]
fn local_tokens_with_the_same_nonce_are_identical_in_pyseto_and_vaulttoken() {
    let nonce = [0x5a; 32];
    let requests: Vec<Value> = CASES
        .iter()
        .map(|&(footer, implicit)| {
            let mut request = local_encrypt(footer, implicit);
            request["nonce"] = hex(&nonce).into();
            request
        })
        .collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    let key = local_key();
    for ((footer, implicit), answer) in CASES.into_iter().zip(&answers) {
        let ours =
            danger::dangerous_encrypt_with_nonce(&key, MESSAGE, footer, implicit, &nonce).unwrap();
        assert_eq!(
            ok(answer, "token"),
            ours,
            "footer {footer:?}, implicit {implicit:?}"
        );
    }
}

/// Ed25519 is deterministic, so pyseto's token must also equal vaulttoken's own.
#[test]
fn public_tokens_from_pyseto_verify_with_vaulttoken() {
    let requests: Vec<Value> = CASES.iter().map(|&(f, i)| public_sign(f, i)).collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    let (secret, public) = (secret_key(), public_key());
    for ((footer, implicit), answer) in CASES.into_iter().zip(&answers) {
        let token = ok(answer, "token");
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

#[test]
fn public_tokens_from_vaulttoken_verify_with_pyseto() {
    let secret = secret_key();
    let requests: Vec<Value> = CASES
        .iter()
        .map(|&(footer, implicit)| {
            let token = v4::public::sign(&secret, MESSAGE, footer, implicit).unwrap();
            public_verify(&token, implicit)
        })
        .collect();
    let Some(answers) = ask(&requests) else {
        return;
    };
    for ((footer, _), answer) in CASES.into_iter().zip(&answers) {
        assert_eq!(unhex(ok(answer, "message")), MESSAGE);
        assert_eq!(unhex(ok(answer, "footer")), footer);
    }
}

#[test]
fn vaulttoken_refuses_pyseto_tokens_with_a_wrong_implicit_assertion() {
    let requests = [
        local_encrypt(FOOTER, IMPLICIT),
        public_sign(FOOTER, IMPLICIT),
    ];
    let Some(answers) = ask(&requests) else {
        return;
    };
    let (local, public) = (ok(&answers[0], "token"), ok(&answers[1], "token"));
    let (key, public_key) = (local_key(), public_key());
    // Control: the right implicit assertion is accepted.
    assert_eq!(
        v4::local::decrypt(&key, local, Some(FOOTER), IMPLICIT).unwrap(),
        MESSAGE
    );
    assert_eq!(
        v4::public::verify(&public_key, public, Some(FOOTER), IMPLICIT).unwrap(),
        MESSAGE
    );
    for implicit in [WRONG_IMPLICIT, b""] {
        assert!(matches!(
            v4::local::decrypt(&key, local, Some(FOOTER), implicit),
            Err(Error::Verification)
        ));
        assert!(matches!(
            v4::public::verify(&public_key, public, Some(FOOTER), implicit),
            Err(Error::Verification)
        ));
    }
}

#[test]
fn pyseto_refuses_vaulttoken_tokens_with_a_wrong_implicit_assertion() {
    let local = v4::local::encrypt(&local_key(), MESSAGE, FOOTER, IMPLICIT).unwrap();
    let public = v4::public::sign(&secret_key(), MESSAGE, FOOTER, IMPLICIT).unwrap();
    let requests = [
        // Controls: the right implicit assertion is accepted.
        local_decrypt(&local, IMPLICIT),
        public_verify(&public, IMPLICIT),
        local_decrypt(&local, WRONG_IMPLICIT),
        public_verify(&public, WRONG_IMPLICIT),
        local_decrypt(&local, b""),
        public_verify(&public, b""),
    ];
    let Some(answers) = ask(&requests) else {
        return;
    };
    assert_eq!(unhex(ok(&answers[0], "message")), MESSAGE);
    assert_eq!(unhex(ok(&answers[1], "message")), MESSAGE);
    for pair in answers[2..].chunks(2) {
        assert_refused(&pair[0], "DecryptError");
        assert_refused(&pair[1], "VerifyError");
    }
}
