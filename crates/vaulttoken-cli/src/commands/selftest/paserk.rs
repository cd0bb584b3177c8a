//! The PASERK k4 vectors: parse and serialize, ids, and the randomized
//! wraps (pie, password, seal) checked by unwrapping.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use vaulttoken::paserk::{KeyId, PasswordLimits};
use vaulttoken::{LocalKey, PublicKey, SecretKey};

use super::{Case, Outcome, check, err, must_fail};

pub(super) fn local_case(case: &Case<'_>) -> Outcome {
    let paserk = case.str("paserk")?;
    if case.expect_fail() {
        return must_fail(LocalKey::from_paserk(paserk));
    }
    let key = LocalKey::from_hex(case.str("key")?).map_err(err("key"))?;
    let text = key.to_paserk().map_err(err("to_paserk"))?;
    check(text.as_str() == paserk, "serializes to another PASERK")?;
    check(
        LocalKey::from_paserk(paserk).map_err(err("from_paserk"))? == key,
        "parses to another key",
    )?;
    Ok(None)
}

pub(super) fn public_case(case: &Case<'_>) -> Outcome {
    let bytes = case.bytes("key")?;
    if case.expect_fail() {
        return must_fail(PublicKey::from_bytes(&bytes));
    }
    let paserk = case.str("paserk")?;
    check(
        paserk == format!("k4.public.{}", Base64UrlUnpadded::encode_string(&bytes)),
        "the PASERK is not the header and the key",
    )?;
    match PublicKey::from_bytes(&bytes) {
        Ok(key) => {
            check(key.to_paserk() == paserk, "serializes to another PASERK")?;
            check(
                PublicKey::from_paserk(paserk).map_err(err("from_paserk"))? == key,
                "parses to another key",
            )?;
            Ok(None)
        }
        Err(refused) => {
            // vaulttoken refuses keys unsafe to verify with (these vectors'
            // keys are small-order or not on the curve); the PASERK must be
            // refused the same way.
            let via_paserk = PublicKey::from_paserk(paserk);
            check(
                via_paserk.is_err_and(|e| e.to_string() == refused.to_string()),
                "the PASERK of a refused key is not refused the same way",
            )?;
            Ok(Some("weak vector keys refused by design (refusal checked)"))
        }
    }
}

pub(super) fn secret_case(case: &Case<'_>) -> Outcome {
    if case.expect_fail() {
        return must_fail(SecretKey::from_bytes(&case.bytes("key")?));
    }
    let paserk = case.str("paserk")?;
    let key = SecretKey::from_bytes(&case.bytes("key")?).map_err(err("key"))?;
    let seeded = SecretKey::from_seed(&case.bytes("secret-key-seed")?).map_err(err("seed"))?;
    check(seeded == key, "the seed gives another key")?;
    check(
        key.public_key().as_bytes().as_slice() == case.bytes("public-key")?,
        "another public key",
    )?;
    check(
        key.to_paserk().map_err(err("to_paserk"))?.as_str() == paserk,
        "serializes to another PASERK",
    )?;
    check(
        SecretKey::from_paserk(paserk).map_err(err("from_paserk"))? == key,
        "parses to another key",
    )?;
    Ok(None)
}

pub(super) fn lid_case(case: &Case<'_>) -> Outcome {
    let key = LocalKey::from_bytes(&case.bytes("key")?);
    if case.expect_fail() {
        return must_fail(key);
    }
    let paserk = case.str("paserk")?;
    let id = key.map_err(err("key"))?.paserk_id().map_err(err("id"))?;
    check(id.as_str() == paserk, "another id")?;
    check(KeyId::parse(paserk).is_ok(), "the id does not parse")?;
    Ok(None)
}

pub(super) fn pid_case(case: &Case<'_>) -> Outcome {
    let bytes = case.bytes("key")?;
    let text = format!("k4.public.{}", Base64UrlUnpadded::encode_string(&bytes));
    if case.expect_fail() {
        return must_fail(KeyId::of_paserk(&text));
    }
    let paserk = case.str("paserk")?;
    let id = KeyId::of_paserk(&text).map_err(err("id"))?;
    check(id.as_str() == paserk, "another id")?;
    if let Ok(key) = PublicKey::from_bytes(&bytes) {
        check(
            key.paserk_id().map_err(err("id"))? == id,
            "the key's id differs",
        )?;
    }
    Ok(Some("ids computed over the PASERK text"))
}

pub(super) fn sid_case(case: &Case<'_>) -> Outcome {
    let key = SecretKey::from_bytes(&case.bytes("key")?);
    if case.expect_fail() {
        return must_fail(key);
    }
    let key = key.map_err(err("key"))?;
    check(
        key.paserk_id().map_err(err("id"))?.as_str() == case.str("paserk")?,
        "another id",
    )?;
    Ok(None)
}

pub(super) fn local_wrap_case(case: &Case<'_>) -> Outcome {
    let wrapping =
        LocalKey::from_bytes(&case.bytes("wrapping-key")?).map_err(err("wrapping key"))?;
    let result = LocalKey::from_paserk_wrapped(case.str("paserk")?, &wrapping);
    if case.expect_fail() {
        return must_fail(result);
    }
    let key = result.map_err(err("unwrap"))?;
    let bytes = key.expose_secret_bytes().map_err(err("key"))?;
    check(
        bytes.as_bytes().as_slice() == case.bytes("unwrapped")?,
        "unwraps to another key",
    )?;
    Ok(Some("unwrap only (wrapping is randomized)"))
}

pub(super) fn secret_wrap_case(case: &Case<'_>) -> Outcome {
    let wrapping =
        LocalKey::from_bytes(&case.bytes("wrapping-key")?).map_err(err("wrapping key"))?;
    let result = SecretKey::from_paserk_wrapped(case.str("paserk")?, &wrapping);
    if case.expect_fail() {
        return must_fail(result);
    }
    let key = result.map_err(err("unwrap"))?;
    let bytes = key.expose_secret_bytes().map_err(err("key"))?;
    check(
        bytes.as_bytes().as_slice() == case.bytes("unwrapped")?,
        "unwraps to another key",
    )?;
    Ok(Some("unwrap only (wrapping is randomized)"))
}

pub(super) fn local_pw_case(case: &Case<'_>) -> Outcome {
    let password = case.str("password")?.as_bytes();
    let result =
        LocalKey::from_paserk_password(case.str("paserk")?, password, &PasswordLimits::default());
    if case.expect_fail() {
        return must_fail(result);
    }
    let key = result.map_err(err("unwrap"))?;
    let bytes = key.expose_secret_bytes().map_err(err("key"))?;
    check(
        bytes.as_bytes().as_slice() == case.bytes("unwrapped")?,
        "unwraps to another key",
    )?;
    Ok(Some("unwrap only (wrapping is randomized)"))
}

pub(super) fn secret_pw_case(case: &Case<'_>) -> Outcome {
    let password = case.str("password")?.as_bytes();
    let result =
        SecretKey::from_paserk_password(case.str("paserk")?, password, &PasswordLimits::default());
    if case.expect_fail() {
        return must_fail(result);
    }
    let key = result.map_err(err("unwrap"))?;
    let bytes = key.expose_secret_bytes().map_err(err("key"))?;
    check(
        bytes.as_bytes().as_slice() == case.bytes("unwrapped")?,
        "unwraps to another key",
    )?;
    Ok(Some("unwrap only (wrapping is randomized)"))
}

pub(super) fn seal_case(case: &Case<'_>) -> Outcome {
    let secret =
        SecretKey::from_bytes(&case.bytes("sealing-secret-key")?).map_err(err("sealing key"))?;
    check(
        secret.public_key().as_bytes().as_slice() == case.bytes("sealing-public-key")?,
        "another sealing public key",
    )?;
    let result = LocalKey::from_paserk_sealed(case.str("paserk")?, &secret);
    if case.expect_fail() {
        return must_fail(result);
    }
    let key = result.map_err(err("unseal"))?;
    let bytes = key.expose_secret_bytes().map_err(err("key"))?;
    check(
        bytes.as_bytes().as_slice() == case.bytes("unsealed")?,
        "unseals to another key",
    )?;
    Ok(Some("unseal only (sealing is randomized)"))
}
