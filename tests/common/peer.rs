//! A peer implementation run as a child process that answers JSON lines.
//!
//! The peer first writes a hello line, `{"peer": name}` or `{"unavailable": why}`,
//! then one answer per request line. A missing peer skips the test with a visible
//! `SKIPPED interop with …` line, unless `VAULTTOKEN_REQUIRE_INTEROP=1`, which CI
//! sets: then it fails the test.

use std::io::{ErrorKind, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

const REQUIRE_ENV: &str = "VAULTTOKEN_REQUIRE_INTEROP";

/// How to start one peer and read its answers.
pub(crate) struct Peer {
    /// The name in messages, such as `pyseto`.
    pub(crate) name: &'static str,
    /// The interpreter to run, such as `python3`.
    pub(crate) program: &'static str,
    /// The peer script, relative to the crate root.
    pub(crate) script: &'static str,
    /// The name the peer gives in its hello line.
    pub(crate) hello: &'static str,
    /// The field of a refusal that names the peer's error.
    pub(crate) error_field: &'static str,
}

impl Peer {
    /// Sends `requests` to the peer, one JSON line each, and returns its answers
    /// in order; `None` if the peer is missing and interop is not required.
    pub(crate) fn ask(&self, requests: &[Value]) -> Option<Vec<Value>> {
        let name = self.name;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(self.script);
        let spawned = Command::new(self.program)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return self.unavailable(&format!("{} not found on PATH", self.program));
            }
            Err(err) => panic!("cannot start {}: {err}", self.program),
        };
        let mut stdin = child.stdin.take().expect("stdin is piped");
        for request in requests {
            // A peer that is unavailable exits without reading: its hello line says why.
            if let Err(err) = writeln!(stdin, "{request}") {
                assert_eq!(
                    err.kind(),
                    ErrorKind::BrokenPipe,
                    "writing to {name}: {err}"
                );
                break;
            }
        }
        drop(stdin);
        let output = child
            .wait_with_output()
            .unwrap_or_else(|err| panic!("waiting for {name}: {err}"));
        let stdout = String::from_utf8(output.stdout)
            .unwrap_or_else(|err| panic!("{name} wrote non-UTF-8: {err}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{name} peer failed ({}):\n{stderr}",
            output.status
        );

        let mut lines = stdout.lines().map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|err| panic!("{name} peer wrote {line:?}: {err}"))
        });
        let hello = lines.next().expect("the peer writes a hello line first");
        if let Some(reason) = hello["unavailable"].as_str() {
            return self.unavailable(reason);
        }
        assert_eq!(hello["peer"], self.hello, "hello line {hello}");
        let answers: Vec<Value> = lines.collect();
        assert_eq!(
            answers.len(),
            requests.len(),
            "one answer per request; stderr:\n{stderr}"
        );
        Some(answers)
    }

    /// Skips with a line on the real stderr (not captured by the test harness),
    /// or fails when `VAULTTOKEN_REQUIRE_INTEROP=1`.
    fn unavailable<T>(&self, reason: &str) -> Option<T> {
        let name = self.name;
        if std::env::var_os(REQUIRE_ENV).is_some_and(|value| value == "1") {
            panic!("interop with {name} is required ({REQUIRE_ENV}=1) but {reason}");
        }
        let _ = writeln!(std::io::stderr(), "SKIPPED interop with {name}: {reason}");
        None
    }

    /// The field `field` of a successful answer.
    pub(crate) fn ok<'a>(&self, answer: &'a Value, field: &str) -> &'a Value {
        assert_eq!(answer["ok"], true, "{} refused: {answer}", self.name);
        answer
            .get(field)
            .unwrap_or_else(|| panic!("no {field:?} in {answer}"))
    }

    /// The string field `field` of a successful answer.
    pub(crate) fn ok_str<'a>(&self, answer: &'a Value, field: &str) -> &'a str {
        self.ok(answer, field)
            .as_str()
            .unwrap_or_else(|| panic!("{field:?} is not a string in {answer}"))
    }

    /// Asserts that the peer refused, naming the error `error`.
    pub(crate) fn assert_refused(&self, answer: &Value, error: &str) {
        assert_eq!(answer["ok"], false, "{} accepted: {answer}", self.name);
        assert_eq!(answer[self.error_field], error, "{answer}");
    }
}
