//! `selftest`: every vector file passes, one line each.

use crate::support::{json, run, stdout, vaulttoken};

#[test]
fn selftest_runs_every_vector_file() {
    let output = run(vaulttoken().arg("selftest"), 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("ok "))
        .collect();
    assert_eq!(lines.len(), 12, "{text}");
    assert!(
        text.contains("ok   v4.json: 17/17 cases (5 expect-fail)"),
        "{text}"
    );
    assert!(
        text.contains("ok   k4.secret-pw.json: 6/6 cases (3 expect-fail)"),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");

    let output = run(vaulttoken().args(["--json", "selftest"]), 0);
    let report = json(&output);
    assert_eq!(report["passed"], true);
    assert_eq!(report["files"].as_array().unwrap().len(), 12);
}
