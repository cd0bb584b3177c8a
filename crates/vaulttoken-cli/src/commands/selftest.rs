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

mod paserk;
mod v4;

use serde_json::{Value, json};

use self::paserk::{
    lid_case, local_case, local_pw_case, local_wrap_case, pid_case, public_case, seal_case,
    secret_case, secret_pw_case, secret_wrap_case, sid_case,
};
use self::v4::v4_case;

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
pub(super) type Outcome = Result<Option<&'static str>, String>;

pub(super) fn run() -> Result<Report, Failure> {
    run_files(&FILES)
}

/// Runs every file: one line each, and a failure if any file failed.
fn run_files(files: &[(&str, &str)]) -> Result<Report, Failure> {
    let mut lines = Vec::new();
    let mut results = Vec::new();
    let mut failed = 0;
    for (name, text) in files {
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
            format!("{text}\nselftest FAILED: {failed} of {} files", files.len()),
        ));
    }
    Ok(Report::new(
        format!("{text}\nselftest passed: {} files", files.len()),
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
pub(super) struct Case<'a>(&'a Value);

impl Case<'_> {
    pub(super) fn name(&self) -> &str {
        self.0
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
    }

    pub(super) fn expect_fail(&self) -> bool {
        self.0
            .get("expect-fail")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub(super) fn str(&self, field: &str) -> Result<&str, String> {
        self.0
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("field {field} missing"))
    }

    pub(super) fn bytes(&self, field: &str) -> Result<Vec<u8>, String> {
        base16ct::mixed::decode_vec(self.str(field)?)
            .map_err(|_| format!("field {field} is not hex"))
    }
}

pub(super) fn check(condition: bool, what: &str) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}

pub(super) fn err(what: &str) -> impl Fn(vaulttoken::Error) -> String + '_ {
    move |error| format!("{what}: {error}")
}

/// A case that must fail: `Err` if the operation succeeded.
pub(super) fn must_fail<T>(result: Result<T, vaulttoken::Error>) -> Outcome {
    match result {
        Ok(_) => Err("accepted, but the vector must fail".to_owned()),
        Err(_) => Ok(None),
    }
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

    fn files_without_argon2() -> Vec<(&'static str, &'static str)> {
        FILES
            .into_iter()
            .filter(|(name, _)| !name.contains("-pw"))
            .collect()
    }

    #[test]
    fn one_failing_file_fails_the_run_and_is_counted() {
        let good = files_without_argon2();
        assert!(run_files(&good).is_ok());
        let altered = FILES[1].1.replacen("k4.local.", "k4.local.A", 1);
        let mut files = good.clone();
        files[1] = ("k4.local.json", &altered);
        let failure = run_files(&files).err().map(|f| f.message);
        let expected = format!("selftest FAILED: 1 of {} files", files.len());
        assert!(
            failure
                .as_deref()
                .is_some_and(|text| text.contains(&expected)),
            "{failure:?}"
        );
    }

    #[test]
    fn a_failing_case_is_named_and_not_counted_as_passed() {
        let altered = FILES[1].1.replacen("k4.local.", "k4.local.A", 1);
        let (line, _, json) = run_file("k4.local.json", &altered);
        let cases: Value = serde_json::from_str(FILES[1].1).unwrap_or_default();
        let total = cases["tests"].as_array().map_or(0, Vec::len);
        let first = cases["tests"][0]["name"].as_str().unwrap_or_default();
        assert!(
            line.contains(&format!("{}/{total} cases", total - 1)),
            "{line}"
        );
        assert!(line.contains(&format!("\n     {first}: ")), "{line}");
        assert_eq!(json["failures"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn a_note_shared_by_many_cases_is_printed_once() {
        let (line, ok, json) = run_file("k4.pid.json", FILES[5].1);
        assert!(ok, "{line}");
        assert_eq!(line.matches("; ").count(), 1, "{line}");
        assert_eq!(json["notes"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn check_passes_only_what_holds() {
        assert_eq!(check(true, "fine"), Ok(()));
        assert_eq!(check(false, "broken"), Err("broken".to_owned()));
    }

    /// A case for a key vaulttoken accepts: the official public vectors'
    /// keys are all refused as unsafe, so these paths need one of ours.
    fn public_key_case(paserk: impl Fn(&vaulttoken::PublicKey) -> String) -> Value {
        let secret = vaulttoken::SecretKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let public = secret.public_key();
        json!({
            "name": "generated",
            "expect-fail": false,
            "key": base16ct::lower::encode_string(&public.to_bytes()),
            "paserk": paserk(&public),
        })
    }

    #[test]
    fn a_public_key_vaulttoken_accepts_round_trips_and_has_its_id() {
        let good = public_key_case(|key| key.to_paserk());
        assert_eq!(public_case(&Case(&good)), Ok(None));
        let id = public_key_case(|key| {
            key.paserk_id()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default()
        });
        assert!(pid_case(&Case(&id)).is_ok());
    }

    #[test]
    fn an_unreadable_file_fails() {
        let (line, ok, _) = run_file("v4.json", "not json");
        assert!(!ok);
        assert!(line.contains("no cases"), "{line}");
    }
}
