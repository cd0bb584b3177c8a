//! `paserk`: convert, id, wrap/unwrap, pw-wrap/pw-unwrap, seal/unseal.

use vaulttoken::error::PaserkError;
use vaulttoken::paserk::PasswordLimits;
use vaulttoken::{Error, LocalKey, PublicKey, SecretKey};

use crate::support::{
    Dir, Secrets, json, local_key_file, mode, run, says_does_not_open, secret_key_files, stderr,
    stdout, vaulttoken,
};

#[test]
fn convert_moves_a_key_between_formats_and_prints_its_id() {
    let dir = Dir::new();
    let (secret, key_file, _) = secret_key_files(&dir, "s");
    let pem = dir.path("s.pem");
    let output = run(
        vaulttoken()
            .args(["paserk", "convert", "--format", "pem", "--key-file"])
            .arg(&key_file)
            .arg("--out")
            .arg(&pem),
        0,
    );
    assert_eq!(mode(&pem), 0o600);
    assert!(stdout(&output).contains(secret.paserk_id().unwrap().as_str()));
    assert_eq!(
        SecretKey::from_pkcs8_pem(&dir.read("s.pem")).unwrap(),
        secret
    );

    // PEM back to PASERK, on stdout when asked.
    let output = run(
        vaulttoken()
            .args(["--json", "paserk", "convert", "--out", "-", "--key-file"])
            .arg(&pem),
        0,
    );
    let report = json(&output);
    assert_eq!(
        SecretKey::from_paserk(report["key"].as_str().unwrap()).unwrap(),
        secret
    );

    // A secret key is never printed unless asked.
    run(
        vaulttoken()
            .args(["paserk", "convert", "--key-file"])
            .arg(&key_file),
        64,
    );

    // Raw 32 bytes need a type; a public key prints without --out.
    let raw = dir.write("raw", &secret.public_key().to_hex());
    run(
        vaulttoken()
            .args(["paserk", "convert", "--key-file"])
            .arg(&raw),
        64,
    );
    let output = run(
        vaulttoken()
            .args(["paserk", "convert", "--type", "public", "--key-file"])
            .arg(&raw),
        0,
    );
    let text = stdout(&output);
    assert_eq!(
        PublicKey::from_paserk(text.trim()).unwrap(),
        secret.public_key()
    );

    let local = LocalKey::generate().unwrap();
    let raw = dir.write("local.hex", local.to_hex().unwrap().as_str());
    let output = run(
        vaulttoken()
            .args([
                "paserk",
                "convert",
                "--type",
                "local",
                "--format",
                "base64url",
                "--out",
                "-",
                "--key-file",
            ])
            .arg(&raw),
        0,
    );
    assert_eq!(
        LocalKey::from_base64url(stdout(&output).trim()).unwrap(),
        local
    );
}

#[test]
fn id_prints_the_paserk_id_and_for_a_secret_key_the_kid_of_its_public_key() {
    let dir = Dir::new();
    let (local, local_file) = local_key_file(&dir, "l");
    let output = run(
        vaulttoken()
            .args(["paserk", "id", "--key-file"])
            .arg(&local_file),
        0,
    );
    assert_eq!(stdout(&output).trim(), local.paserk_id().unwrap().as_str());
    let (secret, secret_file, public_file) = secret_key_files(&dir, "s");
    let output = run(
        vaulttoken()
            .args(["--json", "paserk", "id", "--key-file"])
            .arg(&secret_file),
        0,
    );
    let report = json(&output);
    assert_eq!(report["id"], secret.paserk_id().unwrap().as_str());
    assert_eq!(
        report["pid"],
        secret.public_key().paserk_id().unwrap().as_str()
    );
    let output = run(
        vaulttoken()
            .args(["paserk", "id", "--key-file"])
            .arg(&public_file),
        0,
    );
    assert_eq!(
        stdout(&output).trim(),
        secret.public_key().paserk_id().unwrap().as_str()
    );
}

#[test]
fn wrap_and_unwrap_with_a_local_key() {
    let dir = Dir::new();
    let (local, local_file) = local_key_file(&dir, "l");
    let (secret, secret_file, _) = secret_key_files(&dir, "s");
    let (_, kek) = local_key_file(&dir, "kek");
    for (file, header) in [
        (&local_file, "k4.local-wrap.pie."),
        (&secret_file, "k4.secret-wrap.pie."),
    ] {
        let output = run(
            vaulttoken()
                .args(["paserk", "wrap", "--key-file"])
                .arg(file)
                .arg("--kek-file")
                .arg(&kek),
            0,
        );
        assert!(stdout(&output).starts_with(header));
        let wrapped = dir.write("wrapped", &stdout(&output));
        let out = dir.path("unwrapped");
        let _ = std::fs::remove_file(&out);
        run(
            vaulttoken()
                .args(["paserk", "unwrap", "--key-file"])
                .arg(&wrapped)
                .arg("--kek-file")
                .arg(&kek)
                .arg("--out")
                .arg(&out),
            0,
        );
        assert_eq!(mode(&out), 0o600);
        assert_eq!(
            dir.read("unwrapped").trim(),
            std::fs::read_to_string(file).unwrap()
        );
    }
    // The wrong wrapping key is an invalid MAC; the secret never shows.
    let wrapped = run(
        vaulttoken()
            .args(["paserk", "wrap", "--key-file"])
            .arg(&local_file)
            .arg("--kek-file")
            .arg(&kek),
        0,
    );
    let (_, other) = local_key_file(&dir, "other");
    let output = run(
        vaulttoken()
            .args([
                "paserk",
                "unwrap",
                "--key-file",
                "-",
                "--out",
                "-",
                "--kek-file",
            ])
            .arg(&other)
            .write_stdin(wrapped.stdout.clone()),
        1,
    );
    says_does_not_open(&output, "the key-encryption key");
    Secrets::default()
        .local(&local)
        .secret(&secret)
        .assert_absent(&output);
    // `--in`, the old spelling of the wrapped key's --key-file, still works.
    let output = run(
        vaulttoken()
            .args(["paserk", "unwrap", "--in", "-", "--out", "-", "--kek-file"])
            .arg(&kek)
            .write_stdin(wrapped.stdout),
        0,
    );
    assert_eq!(
        LocalKey::from_paserk(stdout(&output).trim()).unwrap(),
        local
    );
    // Wrapping needs a key-encryption key; public keys are not wrapped.
    run(
        vaulttoken()
            .args(["paserk", "wrap", "--key-file"])
            .arg(&local_file),
        64,
    );
}

#[test]
fn pw_wrap_and_pw_unwrap_honour_the_costs_and_the_limits() {
    let dir = Dir::new();
    let (local, local_file) = local_key_file(&dir, "l");
    let password = dir.write("pw", "correct horse\n");
    let wrap = |extra: &[&str], code| {
        run(
            vaulttoken()
                .args(["paserk", "pw-wrap", "--password-file"])
                .arg(&password)
                .arg("--key-file")
                .arg(&local_file)
                .args(extra),
            code,
        )
    };
    let output = wrap(&["--memory-mib", "8", "--iterations", "1"], 0);
    let wrapped = stdout(&output);
    assert!(wrapped.starts_with("k4.local-pw."));
    let unwrap = |input: &str, password: &std::path::Path, code| {
        run(
            vaulttoken()
                .args([
                    "paserk",
                    "pw-unwrap",
                    "--key-file",
                    "-",
                    "--out",
                    "-",
                    "--password-file",
                ])
                .arg(password)
                .write_stdin(input.to_owned()),
            code,
        )
    };
    let output = unwrap(&wrapped, &password, 0);
    assert_eq!(
        LocalKey::from_paserk(stdout(&output).trim()).unwrap(),
        local
    );
    // `--in`, the old spelling of --key-file here, still works.
    let output = run(
        vaulttoken()
            .args([
                "paserk",
                "pw-unwrap",
                "--in",
                "-",
                "--out",
                "-",
                "--password-file",
            ])
            .arg(&password)
            .write_stdin(wrapped.clone()),
        0,
    );
    assert_eq!(
        LocalKey::from_paserk(stdout(&output).trim()).unwrap(),
        local
    );
    let wrong = dir.write("wrong", "battery staple");
    let output = unwrap(&wrapped, &wrong, 1);
    says_does_not_open(&output, "the password");
    Secrets::default()
        .local(&local)
        .text("correct horse")
        .assert_absent(&output);
    // Costs above the library's limits (4 passes) are refused before any work.
    let output = wrap(&["--memory-mib", "8", "--iterations", "5"], 0);
    let output = unwrap(&stdout(&output), &password, 64);
    assert!(String::from_utf8_lossy(&output.stderr).contains("limit"));
    // Costs Argon2id cannot run with, and an empty password.
    wrap(&["--memory-kib", "4", "--iterations", "1"], 64);
    let empty = dir.write("empty", "\n");
    run(
        vaulttoken()
            .args([
                "paserk",
                "pw-wrap",
                "--memory-mib",
                "8",
                "--iterations",
                "1",
                "--password-file",
            ])
            .arg(&empty)
            .arg("--key-file")
            .arg(&local_file),
        64,
    );
    // A secret key wraps to k4.secret-pw.
    let (secret, secret_file, _) = secret_key_files(&dir, "s");
    let output = run(
        vaulttoken()
            .args([
                "paserk",
                "pw-wrap",
                "--memory-mib",
                "8",
                "--iterations",
                "1",
                "--password-file",
            ])
            .arg(&password)
            .arg("--key-file")
            .arg(&secret_file),
        0,
    );
    assert!(stdout(&output).starts_with("k4.secret-pw."));
    let output = unwrap(&stdout(&output), &password, 0);
    assert_eq!(
        SecretKey::from_paserk(stdout(&output).trim()).unwrap(),
        secret
    );
}

#[test]
fn pw_wrap_costs_memory_in_mebibytes_and_reads_long_password_files() {
    let dir = Dir::new();
    let (local, local_file) = local_key_file(&dir, "l");
    // A passphrase file well over a kilobyte: its first line is the password.
    let passphrase = "word ".repeat(400);
    let password = dir.write("pw", &format!("{passphrase}\nnot part of it\n"));
    let output = run(
        vaulttoken()
            .args([
                "paserk",
                "pw-wrap",
                "--memory-mib",
                "8",
                "--iterations",
                "1",
            ])
            .arg("--password-file")
            .arg(&password)
            .arg("--key-file")
            .arg(&local_file),
        0,
    );
    let wrapped = stdout(&output).trim().to_owned();
    // The library reads the costs back: exactly 8 MiB of memory.
    let mib = 1024 * 1024;
    let at_most = |bytes| PasswordLimits::default().max_memory_bytes(bytes);
    let back = LocalKey::from_paserk_password(&wrapped, passphrase.as_bytes(), &at_most(8 * mib));
    assert_eq!(back.unwrap(), local);
    assert!(matches!(
        LocalKey::from_paserk_password(&wrapped, passphrase.as_bytes(), &at_most(8 * mib - 1)),
        Err(Error::Paserk(PaserkError::PasswordCostTooHigh {
            parameter: "memory_bytes",
            ..
        }))
    ));
}

#[test]
fn seal_to_a_public_key_and_unseal_with_its_secret_key() {
    let dir = Dir::new();
    let (local, local_file) = local_key_file(&dir, "l");
    let (secret, secret_file, public_file) = secret_key_files(&dir, "s");
    let output = run(
        vaulttoken()
            .args(["paserk", "seal", "--key-file"])
            .arg(&local_file)
            .arg("--recipient-file")
            .arg(&public_file),
        0,
    );
    let sealed = dir.write("sealed", &stdout(&output));
    assert!(dir.read("sealed").starts_with("k4.seal."));
    let out = dir.path("unsealed.key");
    run(
        vaulttoken()
            .args(["paserk", "unseal", "--key-file"])
            .arg(&sealed)
            .arg("--recipient-file")
            .arg(&secret_file)
            .arg("--out")
            .arg(&out),
        0,
    );
    assert_eq!(mode(&out), 0o600);
    assert_eq!(
        LocalKey::from_paserk(dir.read("unsealed.key").trim()).unwrap(),
        local
    );
    // Another recipient cannot open it.
    let (other, other_file, _) = secret_key_files(&dir, "o");
    let output = run(
        vaulttoken()
            .args(["paserk", "unseal", "--out", "-", "--key-file"])
            .arg(&sealed)
            .arg("--recipient-file")
            .arg(&other_file),
        1,
    );
    says_does_not_open(&output, "the recipient's secret key");
    Secrets::default()
        .local(&local)
        .secret(&secret)
        .secret(&other)
        .assert_absent(&output);
    // The recipient's key from the environment, as seal takes it too.
    let output = run(
        vaulttoken()
            .args([
                "paserk",
                "unseal",
                "--out",
                "-",
                "--recipient-env",
                "OPS_KEY",
            ])
            .arg("--key-file")
            .arg(&sealed)
            .env("OPS_KEY", secret.to_paserk().unwrap().as_str()),
        0,
    );
    assert_eq!(
        LocalKey::from_paserk(stdout(&output).trim()).unwrap(),
        local
    );
    // The old spelling (--in SEALED --key-file RECIPIENT) would read the
    // recipient's key as the sealed one: refused, with the new spellings.
    let output = run(
        vaulttoken()
            .args(["paserk", "unseal", "--out", "-", "--in"])
            .arg(&sealed)
            .arg("--key-file")
            .arg(&secret_file),
        64,
    );
    assert!(
        stderr(&output).contains("--recipient-file"),
        "{}",
        stderr(&output)
    );
    Secrets::default()
        .local(&local)
        .secret(&secret)
        .assert_absent(&output);
    // No recipient key at all.
    run(
        vaulttoken()
            .args(["paserk", "unseal", "--out", "-", "--key-file"])
            .arg(&sealed),
        64,
    );
    // Only local keys are sealed.
    run(
        vaulttoken()
            .args(["paserk", "seal", "--key-file"])
            .arg(&secret_file)
            .arg("--recipient-file")
            .arg(&public_file),
        64,
    );
}

#[test]
fn a_public_key_file_is_not_overwritten_without_force() {
    let dir = Dir::new();
    let (secret, _, public_file) = secret_key_files(&dir, "s");
    let out = dir.write("out.pub", "keep me");
    let convert = |force: bool, code| {
        let mut command = vaulttoken();
        command
            .args(["paserk", "convert", "--format", "hex", "--key-file"])
            .arg(&public_file)
            .arg("--out")
            .arg(&out);
        if force {
            command.arg("--force");
        }
        run(&mut command, code)
    };
    convert(false, 64);
    assert_eq!(dir.read("out.pub"), "keep me");
    convert(true, 0);
    assert_eq!(dir.read("out.pub").trim(), secret.public_key().to_hex());
}
