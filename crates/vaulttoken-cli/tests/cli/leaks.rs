//! No key material in the output of any failing run: every key involved, in
//! every encoding (PASERK, hex, base64url, PEM body, seed), is looked for in
//! stdout and stderr of runs that fail in each way this tool can fail.

use crate::support::{Dir, Secrets, encrypt, run, sign, vaulttoken};

#[test]
fn failing_runs_never_print_key_material() {
    let dir = Dir::new();
    let local = vaulttoken::LocalKey::generate().unwrap();
    let secret = vaulttoken::SecretKey::generate().unwrap();
    let kek = vaulttoken::LocalKey::generate().unwrap();
    let secrets = Secrets::default().local(&local).secret(&secret).local(&kek);

    // Every encoding of each key, as key files.
    let local_paserk = dir.write("l.paserk", local.to_paserk().unwrap().as_str());
    let local_hex = dir.write("l.hex", local.to_hex().unwrap().as_str());
    let secret_paserk = dir.write("s.paserk", secret.to_paserk().unwrap().as_str());
    let secret_pem = dir.write("s.pem", secret.to_pkcs8_pem().unwrap().as_str());
    let secret_b64 = dir.write("s.b64", secret.to_base64url().unwrap().as_str());
    let kek_file = dir.write("kek", kek.to_paserk().unwrap().as_str());
    // Damaged keys: one character changed, or cut short.
    let mut damaged = local.to_paserk().unwrap().as_str().to_owned();
    damaged.pop();
    let damaged = dir.write("damaged", &damaged);
    let truncated = dir.write("truncated", &secret.to_hex().unwrap().as_str()[..100]);

    let local_token = encrypt(&local_paserk, &["--sub", "alice", "--aud", "web"]);
    let public_token = sign(&secret_paserk, &["--sub", "bob", "--aud", "web"]);

    let mut failures: Vec<assert_cmd::Command> = Vec::new();
    let mut add = |args: &[&str], files: &[&std::path::Path]| {
        let mut command = vaulttoken();
        command.args(args);
        for file in files {
            command.arg(file);
        }
        failures.push(command);
    };
    // Wrong key kinds, damaged keys, wrong audience, tampering, misuse.
    add(
        &["decrypt", "--any-audience", &public_token, "--key-file"],
        &[&secret_paserk],
    );
    add(
        &["decrypt", "--any-audience", &local_token, "--key-file"],
        &[&damaged],
    );
    add(
        &["decrypt", "--any-audience", &local_token, "--key-file"],
        &[&secret_pem],
    );
    add(
        &["decrypt", "--aud", "api", &local_token, "--key-file"],
        &[&local_hex],
    );
    add(
        &["verify", "--any-audience", &local_token, "--key-file"],
        &[&secret_b64],
    );
    add(
        &["verify", "--aud", "api", &public_token, "--key-file"],
        &[&secret_pem],
    );
    add(&["sign", "--key-file"], &[&local_paserk]);
    add(&["sign", "--key-file"], &[&truncated]);
    add(
        &["encrypt", "--exp", "2000-01-01T00:00:00Z", "--key-file"],
        &[&local_paserk],
    );
    add(
        &[
            "encrypt",
            "--footer",
            "{\"kid\":\"k4.local.x\"}",
            "--key-file",
        ],
        &[&local_paserk],
    );
    add(&["paserk", "convert", "--key-file"], &[&secret_pem]);
    add(
        &[
            "paserk",
            "convert",
            "--format",
            "pem",
            "--out",
            "-",
            "--key-file",
        ],
        &[&local_paserk],
    );
    add(&["paserk", "wrap", "--key-file"], &[&local_paserk]);
    add(
        &[
            "paserk",
            "seal",
            "--recipient-file",
            "/nonexistent",
            "--key-file",
        ],
        &[&local_paserk],
    );
    add(
        &["inspect", "--key-file"],
        &[&local_hex, &std::path::PathBuf::from(&public_token)],
    );
    add(
        &["ring", "list", "--ring-file"],
        &[
            &secret_paserk,
            std::path::Path::new("--kek-file"),
            &kek_file,
        ],
    );
    add(&["keygen", "local", "--out"], &[&local_paserk]);

    let mut ran = 0;
    for mut command in failures {
        let output = command.output().unwrap();
        assert!(!output.status.success(), "{command:?} succeeded");
        secrets.assert_absent(&output);
        ran += 1;
    }
    assert_eq!(ran, 17);

    // With --json, errors are JSON on stderr, and still without keys.
    let output = run(
        vaulttoken()
            .args(["--json", "decrypt", "--aud", "api", "--key-file"])
            .arg(&local_paserk)
            .arg(&local_token),
        3,
    );
    let error: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(error["exit"], 3);
    secrets.assert_absent(&output);
}
