//! `keygen`: 0600 files, refusal to overwrite, ids, formats, stdout on request.

use vaulttoken::{LocalKey, PublicKey, SecretKey};

use crate::support::{Dir, json, mode, run, stdout, vaulttoken};

#[test]
fn keygen_local_writes_a_0600_paserk_file_and_prints_its_id() {
    let dir = Dir::new();
    let out = dir.path("session.key");
    let output = run(vaulttoken().args(["keygen", "local", "--out"]).arg(&out), 0);
    assert_eq!(mode(&out), 0o600);
    let key = LocalKey::from_paserk(dir.read("session.key").trim()).unwrap();
    let kid = key.paserk_id().unwrap();
    assert!(
        stdout(&output).contains(kid.as_str()),
        "{}",
        stdout(&output)
    );
    // The secret itself is not printed.
    assert!(!stdout(&output).contains(key.to_paserk().unwrap().as_str()));
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let dir = Dir::new();
    let out = dir.write("session.key", "keep me");
    let output = run(
        vaulttoken().args(["keygen", "local", "--out"]).arg(&out),
        64,
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("--force"));
    assert_eq!(dir.read("session.key"), "keep me");

    run(
        vaulttoken()
            .args(["keygen", "local", "--force", "--out"])
            .arg(&out),
        0,
    );
    assert!(LocalKey::from_paserk(dir.read("session.key").trim()).is_ok());
    assert_eq!(mode(&out), 0o600);
}

#[test]
fn keygen_public_writes_the_public_key_and_its_pid_beside_the_secret() {
    let dir = Dir::new();
    let out = dir.path("signing.key");
    let output = run(
        vaulttoken()
            .args(["--json", "keygen", "public", "--out"])
            .arg(&out),
        0,
    );
    let report = json(&output);
    assert_eq!(mode(&out), 0o600);
    let secret = SecretKey::from_paserk(dir.read("signing.key").trim()).unwrap();
    let public = PublicKey::from_paserk(dir.read("signing.key.pub").trim()).unwrap();
    assert_eq!(public, secret.public_key());
    let pid = public.paserk_id().unwrap();
    assert_eq!(dir.read("signing.key.pid").trim(), pid.as_str());
    assert_eq!(report["kid"], pid.as_str());
    assert_eq!(report["sid"], secret.paserk_id().unwrap().as_str());
}

#[test]
fn keygen_public_refuses_when_a_public_file_exists() {
    let dir = Dir::new();
    let out = dir.path("signing.key");
    dir.write("signing.key.pub", "keep me");
    run(
        vaulttoken().args(["keygen", "public", "--out"]).arg(&out),
        64,
    );
    assert!(
        !out.exists(),
        "nothing is written when one file would be overwritten"
    );
    assert_eq!(dir.read("signing.key.pub"), "keep me");
}

#[test]
fn keygen_writes_every_format_that_loads_back() {
    let dir = Dir::new();
    for (format, purpose) in [
        ("hex", "local"),
        ("base64url", "local"),
        ("hex", "public"),
        ("base64url", "public"),
        ("pem", "public"),
    ] {
        let name = format!("{purpose}-{format}.key");
        let out = dir.path(&name);
        run(
            vaulttoken()
                .args(["keygen", purpose, "--format", format, "--out"])
                .arg(&out),
            0,
        );
        let text = dir.read(&name);
        let text = text.trim();
        match (purpose, format) {
            ("local", "hex") => assert!(LocalKey::from_hex(text).is_ok()),
            ("local", _) => assert!(LocalKey::from_base64url(text).is_ok()),
            (_, "hex") => assert!(SecretKey::from_hex(text).is_ok()),
            (_, "base64url") => assert!(SecretKey::from_base64url(text).is_ok()),
            _ => {
                assert!(SecretKey::from_pkcs8_pem(text).is_ok());
                let public = dir.read(&format!("{name}.pub"));
                assert!(PublicKey::from_public_key_pem(public.trim()).is_ok());
            }
        }
        // Each format also loads as a key file.
        let token = crate::support::vaulttoken()
            .arg(if purpose == "local" {
                "encrypt"
            } else {
                "sign"
            })
            .arg("--key-file")
            .arg(&out)
            .output()
            .unwrap();
        assert!(token.status.success(), "{purpose} {format}");
    }
}

#[test]
fn keygen_local_has_no_pem_form() {
    let dir = Dir::new();
    let out = dir.path("k");
    run(
        vaulttoken()
            .args(["keygen", "local", "--format", "pem", "--out"])
            .arg(&out),
        64,
    );
    assert!(!out.exists());
}

#[test]
fn keygen_prints_the_secret_only_when_asked_with_out_dash() {
    let output = run(vaulttoken().args(["keygen", "local", "--out", "-"]), 0);
    let text = stdout(&output);
    let key = LocalKey::from_paserk(text.lines().next().unwrap()).unwrap();
    assert!(key.paserk_id().is_ok());

    let output = run(
        vaulttoken().args(["--json", "keygen", "public", "--out", "-"]),
        0,
    );
    let report = json(&output);
    let secret = SecretKey::from_paserk(report["secret_key"].as_str().unwrap()).unwrap();
    assert_eq!(
        report["kid"],
        secret.public_key().paserk_id().unwrap().as_str()
    );
}

#[test]
fn keygen_needs_an_out_argument() {
    run(vaulttoken().args(["keygen", "local"]), 64);
}

#[test]
fn keygen_into_a_missing_directory_is_an_io_error() {
    let dir = Dir::new();
    let out = dir.path("missing").join("k");
    run(
        vaulttoken().args(["keygen", "local", "--out"]).arg(&out),
        74,
    );
    assert!(!out.exists());
}

/// Ends in exactly one newline, whatever the format's own text ends with.
fn assert_one_final_newline(text: &str, what: &str) {
    assert!(
        text.ends_with('\n') && !text.ends_with("\n\n"),
        "{what}: {text:?}"
    );
}

#[test]
fn keygen_files_end_in_exactly_one_newline() {
    let dir = Dir::new();
    for (format, purpose) in [
        ("paserk", "local"),
        ("hex", "local"),
        ("paserk", "public"),
        ("base64url", "public"),
        ("pem", "public"),
    ] {
        let name = format!("{purpose}-{format}.key");
        run(
            vaulttoken()
                .args(["keygen", purpose, "--format", format, "--out"])
                .arg(dir.path(&name)),
            0,
        );
        let mut files = vec![name.clone()];
        if purpose == "public" {
            files.push(format!("{name}.pub"));
            files.push(format!("{name}.pid"));
        }
        for file in files {
            let text = dir.read(&file);
            assert_one_final_newline(&text, &file);
            if format != "pem" {
                assert_eq!(text.lines().count(), 1, "{file}: {text:?}");
            }
        }
    }
}

#[test]
fn keygen_public_to_stdout_prints_secret_public_and_kid_on_their_own_lines() {
    let output = run(vaulttoken().args(["keygen", "public", "--out", "-"]), 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    let secret = SecretKey::from_paserk(lines[0]).unwrap();
    let public = PublicKey::from_paserk(lines[1]).unwrap();
    assert_eq!(public, secret.public_key());
    assert_eq!(
        lines[2],
        format!("kid: {}", public.paserk_id().unwrap().as_str())
    );

    let output = run(vaulttoken().args(["keygen", "local", "--out", "-"]), 0);
    let text = stdout(&output);
    assert!(text.starts_with("k4.local."), "{text:?}");
    assert_one_final_newline(&text, "local key on stdout");
}
