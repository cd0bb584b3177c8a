//! `inspect`: header, footer and kid UNTRUSTED; a public payload UNVERIFIED
//! with the time left; nothing of a local payload; verification on request.

use crate::support::{
    Dir, Secrets, encrypt, json, local_key_file, run, secret_key_files, sign, stdout, vaulttoken,
};

#[test]
fn inspect_shows_a_local_tokens_header_and_footer_only() {
    let dir = Dir::new();
    let (key, key_file) = local_key_file(&dir, "k");
    let token = encrypt(&key_file, &["--sub", "alice", "--claim", "secret=plans"]);
    let output = run(vaulttoken().arg("inspect").arg(&token), 0);
    let text = stdout(&output);
    let kid = key.paserk_id().unwrap();
    assert!(
        text.contains(&format!("kid:     {kid} (UNTRUSTED)")),
        "{text}"
    );
    assert!(text.contains("purpose: local (UNTRUSTED)"), "{text}");
    assert!(text.contains("version: v4 (UNTRUSTED)"), "{text}");
    assert!(!text.contains("alice") && !text.contains("plans"), "{text}");
    assert!(!text.contains("verified"), "{text}");
}

#[test]
fn inspect_shows_a_public_payload_unverified_with_the_time_left() {
    let dir = Dir::new();
    let (secret, key_file, public_file) = secret_key_files(&dir, "s");
    let token = sign(&key_file, &["--sub", "bob", "--exp", "2h"]);
    let output = run(vaulttoken().arg("inspect").write_stdin(token.clone()), 0);
    let text = stdout(&output);
    assert!(
        text.contains("\"sub\":\"bob\"") && text.contains("(UNVERIFIED)"),
        "{text}"
    );
    assert!(text.contains("left"), "{text}");

    let output = run(vaulttoken().args(["--json", "inspect"]).arg(&token), 0);
    let report = json(&output);
    assert_eq!(report["purpose"], "public");
    assert_eq!(report["trusted"], false);
    assert_eq!(
        report["kid"],
        secret.public_key().paserk_id().unwrap().as_str()
    );
    let left = report["seconds_left"].as_i64().unwrap();
    assert!((7000..=7200).contains(&left), "{left}");

    // With a key it verifies too.
    let output = run(
        vaulttoken()
            .args(["--json", "inspect", "--key-file"])
            .arg(&public_file)
            .arg(&token),
        0,
    );
    assert_eq!(json(&output)["verified"], true);
    let (_, _, other) = secret_key_files(&dir, "other");
    let output = run(
        vaulttoken()
            .args(["inspect", "--key-file"])
            .arg(&other)
            .arg(&token),
        1,
    );
    Secrets::default().secret(&secret).assert_absent(&output);
}

#[test]
fn inspect_refuses_what_is_not_a_v4_token() {
    for token in ["v2.public.AAAA", "hello", "v4.public.@@", "v4.local.AAAA"] {
        run(vaulttoken().arg("inspect").arg(token), 1);
    }
}

#[test]
fn inspect_escapes_control_characters_from_a_hostile_token() {
    let key = vaulttoken::SecretKey::generate().unwrap();
    let token = vaulttoken::v4::public::sign(
        &key,
        b"{\"sub\":\"x\"}\x1b[2J",
        b"\x1b]0;owned\x07footer",
        b"",
    )
    .unwrap();
    let output = run(vaulttoken().arg("inspect").arg(&token), 0);
    assert!(!output.stdout.contains(&0x1b), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("\\u{1b}]0;owned\\u{7}footer"),
        "{}",
        stdout(&output)
    );
}
