//! Every case of the official PASETO v4 test vectors (`test-vectors/v4.json`),
//! expect-fail cases included, through the public API.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use serde::Deserialize;
use vaulttoken::{
    Error, LocalKey, PublicKey, SecretKey, danger,
    error::{MalformedToken, TokenPart},
    v4,
};

#[derive(Deserialize)]
struct VectorFile {
    tests: Vec<Vector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Vector {
    name: String,
    expect_fail: bool,
    key: Option<String>,
    nonce: Option<String>,
    public_key: Option<String>,
    secret_key: Option<String>,
    secret_key_seed: Option<String>,
    secret_key_pem: Option<String>,
    public_key_pem: Option<String>,
    token: String,
    payload: Option<String>,
    footer: String,
    implicit_assertion: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("../test-vectors/v4.json");
    serde_json::from_str::<VectorFile>(text).unwrap().tests
}

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn the_vector_file_has_every_case() {
    let all = vectors();
    assert_eq!(all.len(), 17);
    assert_eq!(all.iter().filter(|v| v.expect_fail).count(), 5);
}

#[test]
fn local_vectors_encrypt_to_the_exact_token_and_decrypt_to_the_payload() {
    let mut ran = 0;
    for v in vectors()
        .iter()
        .filter(|v| !v.expect_fail && v.key.is_some())
    {
        let key = LocalKey::from_hex(v.key.as_deref().unwrap()).unwrap();
        let nonce = hex32(v.nonce.as_deref().unwrap());
        let payload = v.payload.as_deref().unwrap().as_bytes();
        let footer = v.footer.as_bytes();
        let implicit = v.implicit_assertion.as_bytes();

        let token =
            danger::dangerous_encrypt_with_nonce(&key, payload, footer, implicit, &nonce).unwrap();
        assert_eq!(token, v.token, "{}: encrypt", v.name);

        let opened = v4::local::decrypt(&key, &v.token, Some(footer), implicit).unwrap();
        assert_eq!(opened, payload, "{}: decrypt", v.name);
        ran += 1;
    }
    assert_eq!(ran, 9);
}

#[test]
fn public_vectors_sign_to_the_exact_token_and_verify_to_the_payload() {
    let mut ran = 0;
    for v in vectors()
        .iter()
        .filter(|v| !v.expect_fail && v.public_key.is_some())
    {
        let secret = SecretKey::from_hex(v.secret_key.as_deref().unwrap()).unwrap();
        let public = PublicKey::from_hex(v.public_key.as_deref().unwrap()).unwrap();
        assert_eq!(secret.public_key(), public, "{}", v.name);
        let from_seed = SecretKey::from_hex(v.secret_key_seed.as_deref().unwrap());
        // The seed alone is 32 bytes: `from_hex` wants the 64-byte form.
        assert!(from_seed.is_err());
        let seed = hex32(v.secret_key_seed.as_deref().unwrap());
        assert_eq!(SecretKey::from_seed(&seed).unwrap(), secret, "{}", v.name);

        let payload = v.payload.as_deref().unwrap().as_bytes();
        let footer = v.footer.as_bytes();
        let implicit = v.implicit_assertion.as_bytes();

        let token = v4::public::sign(&secret, payload, footer, implicit).unwrap();
        assert_eq!(token, v.token, "{}: sign", v.name);
        let opened = v4::public::verify(&public, &v.token, Some(footer), implicit).unwrap();
        assert_eq!(opened, payload, "{}: verify", v.name);
        ran += 1;
    }
    assert_eq!(ran, 3);
}

#[cfg(feature = "pem")]
#[test]
fn public_vector_pem_keys_load_to_the_same_keys() {
    for v in vectors().iter().filter(|v| v.secret_key_pem.is_some()) {
        let secret = SecretKey::from_pkcs8_pem(v.secret_key_pem.as_deref().unwrap()).unwrap();
        let public = PublicKey::from_public_key_pem(v.public_key_pem.as_deref().unwrap()).unwrap();
        assert_eq!(
            secret,
            SecretKey::from_hex(v.secret_key.as_deref().unwrap()).unwrap()
        );
        assert_eq!(
            public,
            PublicKey::from_hex(v.public_key.as_deref().unwrap()).unwrap()
        );
        assert_eq!(
            public.to_public_key_pem().trim_end(),
            v.public_key_pem.as_deref().unwrap(),
            "{}",
            v.name
        );
        assert_eq!(
            secret.to_pkcs8_pem().unwrap().as_str().trim_end(),
            v.secret_key_pem.as_deref().unwrap(),
            "{}",
            v.name
        );
    }
}

/// Runs an expect-fail vector with the key it carries and returns the error.
fn failure_of(v: &Vector) -> Error {
    let footer = v.footer.as_bytes();
    let implicit = v.implicit_assertion.as_bytes();
    let result = if let Some(key) = &v.key {
        let key = LocalKey::from_hex(key).unwrap();
        v4::local::decrypt(&key, &v.token, Some(footer), implicit)
    } else {
        let key = PublicKey::from_hex(v.public_key.as_deref().unwrap()).unwrap();
        v4::public::verify(&key, &v.token, Some(footer), implicit)
    };
    match result {
        Ok(_) => panic!("{} was accepted", v.name),
        Err(err) => err,
    }
}

#[test]
fn every_expect_fail_vector_fails_for_its_reason() {
    let failing: Vec<_> = vectors().into_iter().filter(|v| v.expect_fail).collect();
    assert_eq!(failing.len(), 5);
    for v in &failing {
        assert!(v.payload.is_none(), "{}", v.name);
        let err = failure_of(v);
        let as_expected = match v.name.as_str() {
            // A local token offered to public verification, and the reverse.
            "4-F-1" => matches!(
                err,
                Error::UnsupportedHeader {
                    expected: "v4.public."
                }
            ),
            "4-F-2" => matches!(
                err,
                Error::UnsupportedHeader {
                    expected: "v4.local."
                }
            ),
            // A v3 token.
            "4-F-3" => matches!(
                err,
                Error::UnsupportedHeader {
                    expected: "v4.local."
                }
            ),
            // A modified last character: 'g' -> 'h' sets an unused trailing bit, so
            // strict base64url refuses it before the MAC is even computed.
            "4-F-4" => matches!(
                err,
                Error::Malformed(MalformedToken::Base64(TokenPart::Body))
            ),
            // Padded base64.
            "4-F-5" => matches!(
                err,
                Error::Malformed(MalformedToken::Base64(TokenPart::Body))
            ),
            other => panic!("unknown expect-fail vector {other}"),
        };
        assert!(as_expected, "{}: {err:?}", v.name);
    }
}

#[test]
fn expect_fail_vectors_fail_with_the_other_key_type_too() {
    // 4-F-1 carries a key pair and a local token; 4-F-2 a local key and a public
    // token. Neither key type can open the other purpose's token.
    let all = vectors();
    let f1 = all.iter().find(|v| v.name == "4-F-1").unwrap();
    let local_key = LocalKey::from_hex(&"70".repeat(32)).unwrap();
    assert!(v4::local::decrypt(&local_key, &f1.token, None, b"").is_err());
    let f2 = all.iter().find(|v| v.name == "4-F-2").unwrap();
    let public = PublicKey::from_hex(f1.public_key.as_deref().unwrap()).unwrap();
    assert!(matches!(
        v4::public::verify(&public, &f2.token, None, f2.implicit_assertion.as_bytes()),
        Err(Error::Verification)
    ));
}
