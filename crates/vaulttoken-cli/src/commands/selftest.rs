//! `selftest`: the official PASETO v4 and PASERK k4 vectors, compiled into
//! the binary, run through the public API. One line per file; a non-zero
//! exit if any case fails.
//!
//! Without the core crate's `known-answer-tests` feature (never in a
//! production binary) a `v4.local` token cannot be made with a chosen nonce,
//! so local vectors check decryption; `v4.public` signing is deterministic,
//! so those are signed and compared, then verified. Randomized PASERK wraps
//! (pie, password, seal) check unwrapping only. Every expect-fail case must
//! fail.

use base64ct::{Base64UrlUnpadded, Encoding as _};
use serde_json::{Value, json};
use vaulttoken::paserk::{KeyId, PasswordLimits};
use vaulttoken::{LocalKey, PublicKey, SecretKey, v4};

use crate::exit::{Exit, Failure};
use crate::output::Report;

/// The vector files, as compiled in.
const FILES: [(&str, &str); 12] = [
    ("v4.json", include_str!("../../../../test-vectors/v4.json")),
    (
        "k4.local.json",
        include_str!("../../../../test-vectors/PASERK/k4.local.json"),
    ),
    (
        "k4.public.json",
        include_str!("../../../../test-vectors/PASERK/k4.public.json"),
    ),
    (
        "k4.secret.json",
        include_str!("../../../../test-vectors/PASERK/k4.secret.json"),
    ),
    (
        "k4.lid.json",
        include_str!("../../../../test-vectors/PASERK/k4.lid.json"),
    ),
    (
        "k4.pid.json",
        include_str!("../../../../test-vectors/PASERK/k4.pid.json"),
    ),
    (
        "k4.sid.json",
        include_str!("../../../../test-vectors/PASERK/k4.sid.json"),
    ),
    (
        "k4.local-wrap.pie.json",
        include_str!("../../../../test-vectors/PASERK/k4.local-wrap.pie.json"),
    ),
    (
        "k4.secret-wrap.pie.json",
        include_str!("../../../../test-vectors/PASERK/k4.secret-wrap.pie.json"),
    ),
    (
        "k4.local-pw.json",
        include_str!("../../../../test-vectors/PASERK/k4.local-pw.json"),
    ),
    (
        "k4.secret-pw.json",
        include_str!("../../../../test-vectors/PASERK/k4.secret-pw.json"),
    ),
    (
        "k4.seal.json",
        include_str!("../../../../test-vectors/PASERK/k4.seal.json"),
    ),
];

/// A case's outcome: `Ok(note)` or why it failed.
type Outcome = Result<Option<&'static str>, String>;

pub(super) fn run() -> Result<Report, Failure> {
    let mut lines = Vec::new();
    let mut results = Vec::new();
    let mut failed = 0;
    for (name, text) in FILES {
        let (line, ok, json) = run_file(name, text);
        if !ok {
            failed += 1;
        }
        lines.push(line);
        results.push(json);
    }
    let text = lines.join("\n");
    if failed > 0 {
        // The per-file lines are the diagnosis: they go out with the failure.
        return Err(Failure::new(
            Exit::Invalid,
            format!("{text}\nselftest FAILED: {failed} of {} files", FILES.len()),
        ));
    }
    Ok(Report::new(
        format!("{text}\nselftest passed: {} files", FILES.len()),
        json!({ "passed": true, "files": results }),
    ))
}

/// Runs one file: its line, whether it passed, and its JSON summary.
fn run_file(name: &str, text: &str) -> (String, bool, Value) {
    let cases = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut file)) => match file.remove("tests") {
            Some(Value::Array(cases)) => cases,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    if cases.is_empty() {
        return (
            format!("FAIL {name}: no cases could be read"),
            false,
            json!({"file": name, "passed": false}),
        );
    }
    let check: fn(&Case<'_>) -> Outcome = match name {
        "v4.json" => v4_case,
        "k4.local.json" => local_case,
        "k4.public.json" => public_case,
        "k4.secret.json" => secret_case,
        "k4.lid.json" => lid_case,
        "k4.pid.json" => pid_case,
        "k4.sid.json" => sid_case,
        "k4.local-wrap.pie.json" => local_wrap_case,
        "k4.secret-wrap.pie.json" => secret_wrap_case,
        "k4.local-pw.json" => local_pw_case,
        "k4.secret-pw.json" => secret_pw_case,
        "k4.seal.json" => seal_case,
        _ => |_: &Case<'_>| Err("no runner for this file".to_owned()),
    };
    let mut failures = Vec::new();
    let mut expect_fail = 0;
    let mut notes = Vec::new();
    for value in &cases {
        let case = Case(value);
        if case.expect_fail() {
            expect_fail += 1;
        }
        match check(&case) {
            Ok(Some(note)) if !notes.contains(&note) => notes.push(note),
            Ok(_) => {}
            Err(reason) => failures.push(format!("{}: {reason}", case.name())),
        }
    }
    let total = cases.len();
    let passed = total - failures.len();
    let mut line = format!(
        "{} {name}: {passed}/{total} cases ({expect_fail} expect-fail)",
        if failures.is_empty() { "ok  " } else { "FAIL" }
    );
    for note in &notes {
        line.push_str("; ");
        line.push_str(note);
    }
    for failure in &failures {
        line.push_str("\n     ");
        line.push_str(failure);
    }
    let json = json!({
        "file": name,
        "passed": failures.is_empty(),
        "cases": total,
        "expect_fail": expect_fail,
        "failures": failures,
        "notes": notes,
    });
    (line, failures.is_empty(), json)
}

/// One vector case.
struct Case<'a>(&'a Value);

impl Case<'_> {
    fn name(&self) -> &str {
        self.0
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
    }

    fn expect_fail(&self) -> bool {
        self.0
            .get("expect-fail")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn str(&self, field: &str) -> Result<&str, String> {
        self.0
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("field {field} missing"))
    }

    fn bytes(&self, field: &str) -> Result<Vec<u8>, String> {
        base16ct::mixed::decode_vec(self.str(field)?)
            .map_err(|_| format!("field {field} is not hex"))
    }
}

fn check(condition: bool, what: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

fn err(what: &str) -> impl Fn(vaulttoken::Error) -> String + '_ {
    move |error| format!("{what}: {error}")
}

/// A case that must fail: `Err` if the operation succeeded.
fn must_fail<T>(result: Result<T, vaulttoken::Error>) -> Outcome {
    match result {
        Ok(_) => Err("accepted, but the vector must fail".to_owned()),
        Err(_) => Ok(None),
    }
}

fn v4_case(case: &Case<'_>) -> Outcome {
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

fn local_case(case: &Case<'_>) -> Outcome {
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

fn public_case(case: &Case<'_>) -> Outcome {
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

fn secret_case(case: &Case<'_>) -> Outcome {
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

fn lid_case(case: &Case<'_>) -> Outcome {
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

fn pid_case(case: &Case<'_>) -> Outcome {
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

fn sid_case(case: &Case<'_>) -> Outcome {
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

fn local_wrap_case(case: &Case<'_>) -> Outcome {
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

fn secret_wrap_case(case: &Case<'_>) -> Outcome {
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

fn local_pw_case(case: &Case<'_>) -> Outcome {
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

fn secret_pw_case(case: &Case<'_>) -> Outcome {
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

fn seal_case(case: &Case<'_>) -> Outcome {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compiled_in_file_passes() {
        for (name, text) in FILES {
            if name.contains("-pw") {
                continue; // Argon2 at 256 MiB: the binary's tests run these.
            }
            let (line, ok, _) = run_file(name, text);
            assert!(ok, "{line}");
        }
    }

    #[test]
    fn a_vector_that_no_longer_holds_fails_its_file() {
        let altered = FILES[1].1.replacen("k4.local.", "k4.local.A", 1);
        let (line, ok, json) = run_file("k4.local.json", &altered);
        assert!(!ok, "{line}");
        assert!(line.starts_with("FAIL k4.local.json"), "{line}");
        assert_eq!(json["passed"], json!(false));
    }

    #[test]
    fn an_expect_fail_case_that_passes_fails_its_file() {
        let flipped = FILES[0]
            .1
            .replace("\"expect-fail\": true", "\"expect-fail\": false");
        let (line, ok, _) = run_file("v4.json", &flipped);
        assert!(!ok, "{line}");
    }

    #[test]
    fn an_unreadable_file_fails() {
        let (line, ok, _) = run_file("v4.json", "not json");
        assert!(!ok);
        assert!(line.contains("no cases"), "{line}");
    }
}
