//! `encrypt`, `sign`, `decrypt`, `verify`: claims from files and stdin, tokens
//! from arguments and stdin, and every exit status of a decode.

use std::time::Duration;

use vaulttoken::v4;

use crate::support::{
    Dir, Secrets, encrypt, json, local_key_file, run, says_does_not_open, secret_key_files, sign,
    stderr, stdout, vaulttoken, vaulttoken_process,
};

#[test]
fn encrypt_reads_claims_from_a_file_and_flags_and_decrypt_prints_them() {
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    let claims = dir.write("claims.json", r#"{"role":"admin","sub":"overridden"}"#);
    let token = encrypt(
        &key_file,
        &[
            "--claims",
            claims.to_str().unwrap(),
            "--sub",
            "alice",
            "--iss",
            "auth.example",
            "--aud",
            "api",
            "--jti",
            "j-1",
            "--claim",
            "level=3",
            "--claim",
            "team=blue",
        ],
    );
    assert!(token.starts_with("v4.local."));
    // The library decrypts it: a real token, under the key's id.
    let payload = v4::local::decrypt(&key, &token, None, b"").unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["level"], 3);
    assert_eq!(claims["team"], "blue");
    assert_eq!(claims["role"], "admin");
    let untrusted: v4::UntrustedToken<v4::Local> = token.parse().unwrap();
    let footer = String::from_utf8(untrusted.untrusted_footer().to_vec()).unwrap();
    assert!(
        footer.contains(key.paserk_id().unwrap().as_str()),
        "{footer}"
    );

    let output = run(
        vaulttoken()
            .args([
                "--json",
                "decrypt",
                "--aud",
                "api",
                "--iss",
                "auth.example",
                "--sub",
                "alice",
                "--key-file",
            ])
            .arg(&key_file)
            .arg(&token),
        0,
    );
    let report = json(&output);
    assert_eq!(report["valid"], true);
    assert_eq!(report["claims"]["jti"], "j-1");
    assert_eq!(report["claims"]["role"], "admin");
}

#[test]
fn claims_and_tokens_come_from_stdin() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let output = run(
        vaulttoken()
            .args(["encrypt", "--claims", "-", "--key-file"])
            .arg(&key_file)
            .write_stdin(r#"{"role":"reader"}"#),
        0,
    );
    let token = stdout(&output);
    let output = run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .write_stdin(token.clone()),
        0,
    );
    let claims: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(claims["role"], "reader");
    // `-` means stdin too.
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .arg("-")
            .write_stdin(token),
        0,
    );
}

#[test]
fn claims_on_stdin_without_claims_dash_are_refused_not_dropped() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let (_, signing, _) = secret_key_files(&dir, "s");
    for (command, key) in [("encrypt", &key_file), ("sign", &signing)] {
        let output = run(
            vaulttoken()
                .args([command, "--sub", "alice", "--key-file"])
                .arg(key)
                .write_stdin(r#"{"role":"admin"}"#),
            64,
        );
        assert!(stdout(&output).is_empty(), "a token was issued");
        assert!(
            stderr(&output).contains("--claims -"),
            "{}",
            stderr(&output)
        );
        // Nothing on stdin: an empty pipe, white space, or none at all.
        run(
            vaulttoken()
                .arg(command)
                .arg("--key-file")
                .arg(key)
                .write_stdin(""),
            0,
        );
        run(
            vaulttoken()
                .arg(command)
                .arg("--key-file")
                .arg(key)
                .write_stdin("\n"),
            0,
        );
        run(vaulttoken().arg(command).arg("--key-file").arg(key), 0);
    }
    // The key itself on stdin: stdin is read, nothing is left over.
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    run(
        vaulttoken()
            .args(["encrypt", "--key-file", "-"])
            .write_stdin(key_text),
        0,
    );
}

#[test]
fn a_stdin_pipe_left_open_without_claims_is_refused_not_waited_for() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let mut child = vaulttoken_process()
        .args(["encrypt", "--sub", "alice", "--key-file"])
        .arg(&key_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Held open (as a parent that never writes nor closes it) until the end.
    let held = child.stdin.take().unwrap();
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(64), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "a token was issued");
    assert!(
        stderr(&output).contains("still open"),
        "{}",
        stderr(&output)
    );
    drop(held);
}

#[test]
fn the_default_expiry_is_one_hour_and_exp_takes_durations_and_times() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let exp_minus_iat = |extra: &[&str]| {
        let token = encrypt(&key_file, extra);
        let output = run(
            vaulttoken()
                .args(["--json", "decrypt", "--any-audience", "--key-file"])
                .arg(&key_file)
                .arg(&token),
            0,
        );
        let claims = json(&output)["claims"].clone();
        let parse = |name: &str| {
            vaulttoken::time::OffsetDateTime::parse(
                claims[name].as_str().unwrap(),
                &vaulttoken::time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        (parse("exp") - parse("iat")).whole_seconds()
    };
    let around = |seconds: i64, expected: i64| (expected - 2..=expected + 1).contains(&seconds);
    assert!(around(exp_minus_iat(&[]), 3600));
    assert!(around(exp_minus_iat(&["--exp", "15m"]), 900));
    assert!(around(exp_minus_iat(&["--exp", "90s"]), 90));
    assert!(around(exp_minus_iat(&["--exp", "7d"]), 7 * 86_400));
    let token = encrypt(&key_file, &["--exp", "2099-01-01T00:00:00Z"]);
    let output = run(
        vaulttoken()
            .args(["--json", "decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .arg(&token),
        0,
    );
    assert_eq!(json(&output)["claims"]["exp"], "2099-01-01T00:00:00Z");
}

#[test]
fn no_exp_must_be_explicit_on_both_sides() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let token = encrypt(&key_file, &["--no-exp"]);
    let decrypt = |extra: &[&str], code| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience", "--key-file"])
                .arg(&key_file)
                .args(extra)
                .arg(&token),
            code,
        )
    };
    let refused = decrypt(&[], 2);
    assert!(
        stderr(&refused).contains("not-expired"),
        "{}",
        stderr(&refused)
    );
    let output = decrypt(&["--allow-no-exp"], 0);
    assert!(!stdout(&output).contains("\"exp\""));
    // --exp and --no-exp contradict each other.
    run(
        vaulttoken()
            .args(["encrypt", "--no-exp", "--exp", "1h", "--key-file"])
            .arg(&key_file),
        64,
    );
}

#[test]
fn sign_and_verify_with_public_key_files_and_the_environment() {
    let dir = Dir::new();
    let (secret, key_file, public_file) = secret_key_files(&dir, "signing");
    let token = sign(&key_file, &["--sub", "bob", "--aud", "api"]);
    assert!(token.starts_with("v4.public."));
    assert!(v4::public::verify(&secret.public_key(), &token, None, b"").is_ok());
    let output = run(
        vaulttoken()
            .args(["verify", "--aud", "api", "--key-file"])
            .arg(&public_file)
            .arg(&token),
        0,
    );
    assert!(stdout(&output).contains("\"bob\""));
    // The key from an environment variable (the secret key verifies too).
    run(
        vaulttoken()
            .args([
                "verify",
                "--aud",
                "api",
                "--key-env",
                "SIGNING_KEY_FOR_TEST",
            ])
            .env("SIGNING_KEY_FOR_TEST", secret.to_paserk().unwrap().as_str())
            .arg(&token),
        0,
    );
    run(
        vaulttoken()
            .args(["sign", "--key-env", "SIGNING_KEY_FOR_TEST"])
            .env("SIGNING_KEY_FOR_TEST", secret.to_paserk().unwrap().as_str()),
        0,
    );
}

#[test]
fn footers_kids_and_implicit_assertions() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let decrypt = |token: &str, extra: &[&str], code| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience", "--key-file"])
                .arg(&key_file)
                .args(extra)
                .arg(token),
            code,
        )
    };
    let token = encrypt(
        &key_file,
        &["--footer", "plain text", "--implicit", "tenant-1"],
    );
    assert!(token.ends_with(".cGxhaW4gdGV4dA"), "a text footer, no kid");
    decrypt(
        &token,
        &["--implicit", "tenant-1", "--expected-footer", "plain text"],
        0,
    );
    decrypt(&token, &["--implicit", "tenant-2"], 1);
    decrypt(
        &token,
        &["--implicit", "tenant-1", "--expected-footer", "other"],
        1,
    );

    let token = encrypt(
        &key_file,
        &["--kid", "session-2026", "--footer", r#"{"env":"prod"}"#],
    );
    let output = run(vaulttoken().args(["--json", "inspect"]).arg(&token), 0);
    assert_eq!(json(&output)["kid"], "session-2026");
    decrypt(&token, &[], 0);
    // An explicit kid cannot go into a text footer.
    run(
        vaulttoken()
            .args(["encrypt", "--kid", "x", "--footer", "text", "--key-file"])
            .arg(&key_file),
        64,
    );
}

#[test]
fn exit_1_for_a_wrong_key_a_tampered_token_or_a_malformed_one() {
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    let (other, other_file) = local_key_file(&dir, "other");
    let token = encrypt(&key_file, &[]);
    let secrets = Secrets::default().local(&key).local(&other);
    let decrypt = |key_file: &std::path::Path, token: &str| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience", "--key-file"])
                .arg(key_file)
                .arg(token),
            1,
        )
    };
    secrets.assert_absent(&decrypt(&other_file, &token));
    let mut tampered = token.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    secrets.assert_absent(&decrypt(&key_file, &String::from_utf8(tampered).unwrap()));
    secrets.assert_absent(&decrypt(&key_file, "v4.local.@@@"));
    secrets.assert_absent(&decrypt(&key_file, "v2.local.AAAA"));
    // A public token offered to decrypt.
    let (_, signing, _) = secret_key_files(&dir, "s");
    secrets.assert_absent(&decrypt(&key_file, &sign(&signing, &[])));
    // No token at all.
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .write_stdin(""),
        1,
    );
}

#[test]
fn exit_2_for_an_expired_token_or_one_not_yet_valid() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let expiring = encrypt(&key_file, &["--exp", "1s"]);
    // The tool (like the library's services) never issues a token that is not
    // valid yet, so this one is made with the protocol layer.
    let key = vaulttoken::LocalKey::from_paserk(std::fs::read_to_string(&key_file).unwrap().trim())
        .unwrap();
    let early = v4::local::encrypt(
        &key,
        br#"{"nbf":"2099-01-01T00:00:00Z","exp":"2099-06-01T00:00:00Z"}"#,
        b"",
        b"",
    )
    .unwrap();
    let decrypt = |token: &str, extra: &[&str], code| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience", "--key-file"])
                .arg(&key_file)
                .args(extra)
                .arg(token),
            code,
        )
    };
    let output = decrypt(&early, &[], 2);
    // Nor does it issue one.
    let future = dir.write("claims.json", r#"{"nbf":"2099-01-01T00:00:00Z"}"#);
    run(
        vaulttoken()
            .args([
                "encrypt",
                "--claims",
                future.to_str().unwrap(),
                "--key-file",
            ])
            .arg(&key_file),
        64,
    );
    assert!(
        stderr(&output).contains("not-before"),
        "{}",
        stderr(&output)
    );
    std::thread::sleep(Duration::from_millis(2100));
    let output = decrypt(&expiring, &[], 2);
    assert!(
        stderr(&output).contains("not-expired"),
        "{}",
        stderr(&output)
    );
    // The leeway covers it.
    decrypt(&expiring, &["--leeway", "1h"], 0);
}

#[test]
fn exit_3_lists_every_failed_rule() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let token = encrypt(&key_file, &["--iss", "a", "--aud", "web", "--sub", "alice"]);
    let output = run(
        vaulttoken()
            .args([
                "decrypt",
                "--aud",
                "api",
                "--iss",
                "b",
                "--sub",
                "bob",
                "--key-file",
            ])
            .arg(&key_file)
            .arg(&token),
        3,
    );
    let errors = stderr(&output);
    for rule in ["for-audience", "issued-by", "subject"] {
        assert!(
            errors.contains(&format!("rule failed: rule `{rule}`")),
            "{errors}"
        );
    }
    assert!(stdout(&output).is_empty());
    // max-age is a rule of its own (3), not an expiry (2).
    let old = dir.write("claims.json", r#"{"iat":"2000-01-01T00:00:00Z"}"#);
    let token = encrypt(
        &key_file,
        &[
            "--claims",
            old.to_str().unwrap(),
            "--exp",
            "2099-01-01T00:00:00Z",
        ],
    );
    run(
        vaulttoken()
            .args([
                "decrypt",
                "--any-audience",
                "--max-age",
                "15m",
                "--key-file",
            ])
            .arg(&key_file)
            .arg(&token),
        3,
    );
}

#[test]
fn issuing_refuses_bad_claims_with_a_usage_error() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    for claims in ["[1]", "not json", r#"{"exp":5}"#, r#"{"a":1,"a":2}"#] {
        let path = dir.write("c.json", claims);
        run(
            vaulttoken()
                .args(["encrypt", "--claims"])
                .arg(&path)
                .arg("--key-file")
                .arg(&key_file),
            64,
        );
    }
    for exp in ["yesterday", "-5m", "2000-01-01T00:00:00Z"] {
        run(
            vaulttoken()
                .args(["encrypt", "--exp", exp, "--key-file"])
                .arg(&key_file),
            64,
        );
    }
    run(
        vaulttoken()
            .args(["encrypt", "--claim", "novalue", "--key-file"])
            .arg(&key_file),
        64,
    );
}

#[test]
fn exit_64_66_and_74_for_keys_that_cannot_be_used_found_or_read() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    let token = encrypt(&key_file, &[]);
    let decrypt = |extra: &[&str], code| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience"])
                .args(extra)
                .arg(&token),
            code,
        )
    };
    decrypt(&["--key-file", dir.path("missing").to_str().unwrap()], 66);
    decrypt(&["--key-env", "VAULTTOKEN_TEST_UNSET_VARIABLE"], 66);
    // A directory opens but cannot be read.
    decrypt(&["--key-file", dir.0.path().to_str().unwrap()], 74);
    let garbage = dir.write("garbage", "not a key");
    decrypt(&["--key-file", garbage.to_str().unwrap()], 64);
    let (_, signing, public) = secret_key_files(&dir, "s");
    decrypt(&["--key-file", signing.to_str().unwrap()], 64);
    decrypt(&["--key-file", public.to_str().unwrap()], 64);
    // No key at all, or two.
    decrypt(&[], 64);
    decrypt(
        &["--key-file", key_file.to_str().unwrap(), "--key-env", "X"],
        64,
    );
    // A claims file that is missing.
    run(
        vaulttoken()
            .args([
                "encrypt",
                "--claims",
                dir.path("nope.json").to_str().unwrap(),
                "--key-file",
            ])
            .arg(&key_file),
        66,
    );
}

#[test]
fn hostile_inputs_are_bounded() {
    let dir = Dir::new();
    let (_, key_file) = local_key_file(&dir, "k");
    // Large but legitimate claims and tokens pass (the bound is 1 MiB; the
    // service's own token limit is 64 KiB).
    let note = "n".repeat(20 * 1024);
    let claims = dir.write("big.json", &format!(r#"{{"note":"{note}"}}"#));
    let output = run(
        vaulttoken()
            .args(["encrypt", "--claims"])
            .arg(&claims)
            .arg("--key-file")
            .arg(&key_file),
        0,
    );
    let output = run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .write_stdin(output.stdout),
        0,
    );
    assert!(stdout(&output).contains(&note));
    let huge = "v4.local.".to_owned() + &"A".repeat(2 * 1024 * 1024);
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--key-file"])
            .arg(&key_file)
            .write_stdin(huge),
        64,
    );
    let big_key = dir.write("big.key", &"a".repeat(100 * 1024));
    run(
        vaulttoken().args(["encrypt", "--key-file"]).arg(&big_key),
        64,
    );
    let binary = dir.path("binary");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    run(
        vaulttoken().args(["encrypt", "--key-file"]).arg(&binary),
        64,
    );
}

#[test]
fn decrypt_and_verify_with_a_ring_file() {
    let dir = Dir::new();
    let (_, kek) = local_key_file(&dir, "kek");
    let (_, key_file) = local_key_file(&dir, "session");
    let ring = dir.path("ring.json");
    let ring_flags = |command: &str| {
        let mut cmd = vaulttoken();
        cmd.args(["ring", command, "--ring-file"])
            .arg(&ring)
            .arg("--kek-file")
            .arg(&kek);
        cmd
    };
    run(ring_flags("init").args(["--kind", "local"]), 0);
    run(
        ring_flags("add")
            .arg("--promote")
            .arg("--key-file")
            .arg(&key_file),
        0,
    );
    let token = encrypt(&key_file, &[]);
    let decrypt = |extra: &[&str], code| {
        run(
            vaulttoken()
                .args(["decrypt", "--any-audience", "--ring-file"])
                .arg(&ring)
                .args(extra)
                .arg(&token),
            code,
        )
    };
    decrypt(&["--kek-file", kek.to_str().unwrap()], 0);
    // A wrapped ring without its KEK is a usage error; with another KEK, invalid.
    decrypt(&[], 64);
    let (_, wrong) = local_key_file(&dir, "wrong");
    let output = decrypt(&["--kek-file", wrong.to_str().unwrap()], 1);
    says_does_not_open(&output, "the key-encryption key");
    // A token from a key the ring does not hold names an unknown kid.
    let (_, stranger) = local_key_file(&dir, "stranger");
    run(
        vaulttoken()
            .args(["decrypt", "--any-audience", "--kek-file"])
            .arg(&kek)
            .arg("--ring-file")
            .arg(&ring)
            .arg(encrypt(&stranger, &[])),
        1,
    );

    // A signing ring verifies the tokens of its keys.
    let public_ring = dir.path("signing.json");
    let (_, signing, _) = secret_key_files(&dir, "signing");
    run(
        vaulttoken()
            .args(["ring", "init", "--kind", "public", "--ring-file"])
            .arg(&public_ring)
            .arg("--kek-file")
            .arg(&kek),
        0,
    );
    run(
        vaulttoken()
            .args(["ring", "add", "--promote", "--ring-file"])
            .arg(&public_ring)
            .arg("--kek-file")
            .arg(&kek)
            .arg("--key-file")
            .arg(&signing),
        0,
    );
    run(
        vaulttoken()
            .args(["verify", "--any-audience", "--ring-file"])
            .arg(&public_ring)
            .arg("--kek-file")
            .arg(&kek)
            .arg(sign(&signing, &[])),
        0,
    );
    // A signing ring's keys are wrapped too: another KEK does not open it.
    let output = run(
        vaulttoken()
            .args(["verify", "--any-audience", "--ring-file"])
            .arg(&public_ring)
            .arg("--kek-file")
            .arg(&wrong)
            .arg(sign(&signing, &[])),
        1,
    );
    says_does_not_open(&output, "the key-encryption key");
    // The wrong command for the ring's keys.
    run(
        vaulttoken()
            .args(["verify", "--any-audience", "--ring-file"])
            .arg(&ring)
            .arg("--kek-file")
            .arg(&kek)
            .arg(sign(&signing, &[])),
        64,
    );
}

#[test]
fn the_json_report_of_an_issued_token_names_its_kid_and_exp() {
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    let output = run(
        vaulttoken()
            .args([
                "--json",
                "encrypt",
                "--exp",
                "2099-01-01T00:00:00Z",
                "--key-file",
            ])
            .arg(&key_file),
        0,
    );
    let report = json(&output);
    assert_eq!(report["exp"], "2099-01-01T00:00:00Z");
    assert_eq!(report["kid"], key.paserk_id().unwrap().as_str());
    let token = report["token"].as_str().unwrap();
    assert!(v4::local::decrypt(&key, token, None, b"").is_ok());
    // A text footer has no kid; a token that never expires has no exp.
    let output = run(
        vaulttoken()
            .args([
                "--json",
                "encrypt",
                "--no-exp",
                "--footer",
                "v1",
                "--key-file",
            ])
            .arg(&key_file),
        0,
    );
    let report = json(&output);
    assert!(
        report["kid"].is_null() && report["exp"].is_null(),
        "{report}"
    );
}

#[test]
fn a_public_ring_document_verifies_without_a_key_encryption_key() {
    let dir = Dir::new();
    let (secret, signing, _) = secret_key_files(&dir, "signing");
    let ring = vaulttoken::keyring::SigningKeyRing::new(time::Duration::hours(1)).unwrap();
    let id = ring.add(secret).unwrap();
    ring.promote(&id).unwrap();
    let public_ring = dir.write("public.json", &ring.public_ring().export());
    let token = sign(&signing, &[]);
    run(
        vaulttoken()
            .args(["verify", "--any-audience", "--ring-file"])
            .arg(&public_ring)
            .arg(&token),
        0,
    );
    // A key the ring does not hold.
    let (_, stranger, _) = secret_key_files(&dir, "stranger");
    run(
        vaulttoken()
            .args(["verify", "--any-audience", "--ring-file"])
            .arg(&public_ring)
            .arg(sign(&stranger, &[])),
        1,
    );
}
