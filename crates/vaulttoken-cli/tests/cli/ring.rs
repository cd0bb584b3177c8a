//! `ring`: init, add, promote, retire (the lifetime rule, or --now), list;
//! the file stays 0600, its keys wrapped, and is rewritten atomically.

use std::path::{Path, PathBuf};

use vaulttoken::LocalKey;
use vaulttoken::keyring::{KeyStatus, LocalKeyRing, RingSettings};

use crate::support::{
    Dir, Secrets, json, local_key_file, mode, run, says_does_not_open, stderr, vaulttoken,
};

struct Ring {
    dir: Dir,
    path: PathBuf,
    kek_file: PathBuf,
    kek: LocalKey,
}

impl Ring {
    fn new(kind: &str, lifetime: &str) -> Self {
        let dir = Dir::new();
        let (kek, kek_file) = local_key_file(&dir, "kek");
        let path = dir.path("ring.json");
        let ring = Self {
            dir,
            path,
            kek_file,
            kek,
        };
        run(
            ring.command("init")
                .args(["--kind", kind, "--max-token-lifetime", lifetime]),
            0,
        );
        ring
    }

    fn command(&self, name: &str) -> assert_cmd::Command {
        let mut command = vaulttoken();
        command
            .args(["ring", name, "--ring-file"])
            .arg(&self.path)
            .arg("--kek-file")
            .arg(&self.kek_file);
        command
    }

    fn add(&self, promote: bool) -> String {
        let mut command = self.command("add");
        if promote {
            command.arg("--promote");
        }
        let output = run(command.arg("--json"), 0);
        json(&output)["kid"].as_str().unwrap().to_owned()
    }

    fn keys(&self) -> Vec<serde_json::Value> {
        let output = run(self.command("list").arg("--json"), 0);
        json(&output)["keys"].as_array().unwrap().clone()
    }

    /// The ring as the library reads it.
    fn library(&self) -> LocalKeyRing {
        let document = std::fs::read_to_string(&self.path).unwrap();
        LocalKeyRing::import_wrapped(&document, &self.kek, &RingSettings::new()).unwrap()
    }
}

fn status_of(keys: &[serde_json::Value], kid: &str) -> String {
    keys.iter()
        .find(|key| key["kid"] == kid)
        .map(|key| key["status"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| "absent".to_owned())
}

#[test]
fn a_ring_file_is_created_0600_with_wrapped_keys_only() {
    let ring = Ring::new("local", "1h");
    assert_eq!(mode(&ring.path), 0o600);
    let first = ring.add(true);
    assert_eq!(mode(&ring.path), 0o600);
    let document = std::fs::read_to_string(&ring.path).unwrap();
    assert!(document.contains("k4.local-wrap.pie."));
    assert!(!document.contains("\"k4.local."));
    let library = ring.library();
    assert_eq!(library.active_id().unwrap().as_str(), first);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(ring.dir.0.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // init refuses to overwrite.
    run(ring.command("init").args(["--kind", "local"]), 64);
    assert_eq!(ring.library().len(), 1);
}

#[test]
fn rotation_add_promote_and_retire_follow_the_lifetime_rule() {
    let ring = Ring::new("local", "1h");
    let a = ring.add(true);
    let b = ring.add(false);
    let keys = ring.keys();
    assert_eq!(status_of(&keys, &a), "active");
    assert_eq!(status_of(&keys, &b), "next");

    run(ring.command("promote").arg(&b), 0);
    let keys = ring.keys();
    assert_eq!(status_of(&keys, &a), "previous");
    assert_eq!(status_of(&keys, &b), "active");
    assert!(
        keys.iter()
            .any(|key| key["kid"] == a.as_str() && key["since"].is_string())
    );

    // `a` issued tokens a moment ago: retiring it is refused for an hour.
    let output = run(ring.command("retire").arg(&a), 64);
    assert!(
        stderr(&output).contains("retire it in"),
        "{}",
        stderr(&output)
    );
    // The active key is never retired: not by the rule, nor with --now (the
    // ring could no longer issue; the server refuses it too).
    run(ring.command("retire").arg(&b), 64);
    let output = run(ring.command("retire").arg(&b).arg("--now"), 64);
    assert!(
        stderr(&output).contains("the active key cannot be retired; promote another key first"),
        "{}",
        stderr(&output)
    );
    assert_eq!(ring.library().active_id().unwrap().as_str(), b);
    // --now removes it at once (a compromised key).
    run(ring.command("retire").arg(&a).arg("--now"), 0);
    assert_eq!(status_of(&ring.keys(), &a), "absent");
    assert!(matches!(
        ring.library().status(&ring.library().active_id().unwrap()),
        Some(KeyStatus::Active)
    ));
    // A next key that never issued retires at once.
    let c = ring.add(false);
    run(ring.command("retire").arg(&c), 0);
    assert_eq!(ring.library().len(), 1);
}

#[test]
fn a_zero_lifetime_ring_retires_a_previous_key_at_once() {
    let ring = Ring::new("public", "0s");
    let a = ring.add(true);
    let b = ring.add(true);
    assert_eq!(status_of(&ring.keys(), &a), "previous");
    run(ring.command("retire").arg(&a), 0);
    let keys = ring.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(status_of(&keys, &b), "active");
}

#[test]
fn ring_commands_need_the_right_kek_and_known_ids() {
    let ring = Ring::new("local", "1h");
    ring.add(true);
    let (other, other_file) = local_key_file(&ring.dir, "other");
    let output = run(
        vaulttoken()
            .args(["ring", "list", "--ring-file"])
            .arg(&ring.path)
            .arg("--kek-file")
            .arg(&other_file),
        1,
    );
    says_does_not_open(&output, "the key-encryption key");
    Secrets::default()
        .local(&ring.kek)
        .local(&other)
        .assert_absent(&output);
    run(
        vaulttoken()
            .args(["ring", "list", "--ring-file"])
            .arg(&ring.path),
        64,
    );
    run(ring.command("promote").arg("not-an-id"), 64);
    let unknown = LocalKey::generate().unwrap().paserk_id().unwrap();
    run(ring.command("promote").arg(unknown.as_str()), 64);
    run(
        vaulttoken()
            .args(["ring", "list", "--ring-file"])
            .arg(Path::new("/nonexistent/ring.json"))
            .arg("--kek-file")
            .arg(&ring.kek_file),
        66,
    );
    // `--ring`, the old spelling of --ring-file, still works.
    let output = run(
        vaulttoken()
            .args(["ring", "list", "--json", "--ring"])
            .arg(&ring.path)
            .arg("--kek-file")
            .arg(&ring.kek_file),
        0,
    );
    assert_eq!(json(&output)["keys"].as_array().unwrap().len(), 1);
    // The text listing names the key and its status.
    let output = run(&mut ring.command("list"), 0);
    assert!(String::from_utf8_lossy(&output.stdout).contains(" active"));
}

#[test]
fn ring_add_takes_an_existing_key_from_a_file() {
    let ring = Ring::new("local", "1h");
    let (key, key_file) = local_key_file(&ring.dir, "existing");
    let output = run(
        ring.command("add")
            .arg("--key-file")
            .arg(&key_file)
            .arg("--json"),
        0,
    );
    assert_eq!(json(&output)["kid"], key.paserk_id().unwrap().as_str());
    // Adding it twice is refused.
    run(ring.command("add").arg("--key-file").arg(&key_file), 64);
}
