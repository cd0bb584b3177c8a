//! The PASETO v4 vectors: `v4.local` decrypts (no fixed-nonce encrypt in a
//! production build), `v4.public` signs to the exact token and verifies.

use serde_json::Value;
use vaulttoken::{LocalKey, PublicKey, SecretKey, v4};

use super::{Case, Outcome, check, err, must_fail};

pub(super) fn v4_case(case: &Case<'_>) -> Outcome {
    let token = case.str("token")?;
    let footer = case.str("footer")?.as_bytes();
    let implicit = case.str("implicit-assertion")?.as_bytes();
    if case.0.get("key").and_then(Value::as_str).is_some() {
        let key = LocalKey::from_hex(case.str("key")?).map_err(err("key"))?;
        let opened = v4::local::decrypt(&key, token, Some(footer), implicit);
        if case.expect_fail() {
            return must_fail(opened);
        }
        let opened = opened.map_err(err("decrypt"))?;
        check(
            opened == case.str("payload")?.as_bytes(),
            "decrypts to another payload",
        )?;
        return Ok(Some(
            "local: decrypt only (no fixed-nonce encrypt in a production build)",
        ));
    }
    let public = PublicKey::from_hex(case.str("public-key")?).map_err(err("public key"))?;
    let verified = v4::public::verify(&public, token, Some(footer), implicit);
    if case.expect_fail() {
        return must_fail(verified);
    }
    let secret = SecretKey::from_hex(case.str("secret-key")?).map_err(err("secret key"))?;
    check(
        secret.public_key() == public,
        "the secret key's public half differs",
    )?;
    let payload = case.str("payload")?.as_bytes();
    let signed = v4::public::sign(&secret, payload, footer, implicit).map_err(err("sign"))?;
    check(signed == token, "signs to another token")?;
    check(
        verified.map_err(err("verify"))? == payload,
        "verifies to another payload",
    )?;
    Ok(Some("public: sign and compare, then verify"))
}
