//! Running the binary, making keys and files, and scanning output for keys.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use vaulttoken::{LocalKey, PublicKey, SecretKey};

/// The binary, with no REDIS_URL from the environment.
pub(crate) fn vaulttoken() -> Command {
    Command::from_std(vaulttoken_process())
}

/// The binary as a plain process, for a test that holds its stdin open;
/// with no REDIS_URL from the environment.
pub(crate) fn vaulttoken_process() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vaulttoken"));
    command.env_remove("REDIS_URL");
    command
}

/// A temporary directory for one test.
pub(crate) struct Dir(pub(crate) tempfile::TempDir);

impl Dir {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().expect("a temporary directory"))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `text` to `name` and returns the path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read a test file")
    }
}

/// The permission bits of a file.
pub(crate) fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The output's stdout, as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The output's stderr, as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the command and checks its exit status, printing its output if not.
pub(crate) fn run(command: &mut Command, code: i32) -> Output {
    let output = command.output().expect("run vaulttoken");
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// Checks that a failed run said that `opener` (a key-encryption key, a
/// password, a recipient's key) does not open the wrapped key or ring, not
/// that a token is invalid: no token was given.
pub(crate) fn says_does_not_open(output: &Output, opener: &str) {
    let said = stderr(output);
    assert!(
        said.contains(&format!("{opener} does not open")) && !said.contains("invalid token"),
        "{said}"
    );
}

/// Every text form of a key's secret material that could leak.
#[derive(Debug, Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    pub(crate) fn local(mut self, key: &LocalKey) -> Self {
        self.0.push(key.to_paserk().unwrap().as_str().to_owned());
        self.0.push(key.to_hex().unwrap().as_str().to_owned());
        self.0.push(key.to_base64url().unwrap().as_str().to_owned());
        // The data part alone, without the PASERK header.
        let paserk = key.to_paserk().unwrap();
        self.0
            .push(paserk.as_str().trim_start_matches("k4.local.").to_owned());
        self
    }

    pub(crate) fn secret(mut self, key: &SecretKey) -> Self {
        self.0.push(key.to_paserk().unwrap().as_str().to_owned());
        self.0.push(key.to_hex().unwrap().as_str().to_owned());
        self.0.push(key.to_base64url().unwrap().as_str().to_owned());
        let seed = key.expose_seed().unwrap();
        let seed_hex: String = seed.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        self.0.push(seed_hex);
        let pem = key.to_pkcs8_pem().unwrap();
        for line in pem
            .as_str()
            .lines()
            .filter(|line| !line.starts_with("-----"))
        {
            self.0.push(line.to_owned());
        }
        self
    }

    pub(crate) fn text(mut self, text: &str) -> Self {
        self.0.push(text.to_owned());
        self
    }

    /// Fails if any form appears in the output, in any letter case.
    pub(crate) fn assert_absent(&self, output: &Output) {
        let all = format!("{}\n{}", stdout(output), stderr(output)).to_lowercase();
        for secret in &self.0 {
            assert!(
                !all.contains(&secret.to_lowercase()),
                "key material in the output of a failing run:\n{all}"
            );
        }
    }
}

/// A local key in a PASERK file; the key and the path.
pub(crate) fn local_key_file(dir: &Dir, name: &str) -> (LocalKey, PathBuf) {
    let key = LocalKey::generate().unwrap();
    let path = dir.write(name, key.to_paserk().unwrap().as_str());
    (key, path)
}

/// A secret key in a PASERK file, and its public key beside it.
pub(crate) fn secret_key_files(dir: &Dir, name: &str) -> (SecretKey, PathBuf, PathBuf) {
    let key = SecretKey::generate().unwrap();
    let path = dir.write(name, key.to_paserk().unwrap().as_str());
    let public: PublicKey = key.public_key();
    let public_path = dir.write(&format!("{name}.pub"), &public.to_paserk());
    (key, path, public_path)
}

/// A v4.local token from the binary.
pub(crate) fn encrypt(key_file: &Path, extra: &[&str]) -> String {
    let output = run(
        vaulttoken()
            .arg("encrypt")
            .arg("--key-file")
            .arg(key_file)
            .args(extra),
        0,
    );
    stdout(&output).trim().to_owned()
}

/// A v4.public token from the binary.
pub(crate) fn sign(key_file: &Path, extra: &[&str]) -> String {
    let output = run(
        vaulttoken()
            .arg("sign")
            .arg("--key-file")
            .arg(key_file)
            .args(extra),
        0,
    );
    stdout(&output).trim().to_owned()
}

/// Parses JSON output.
pub(crate) fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("JSON: {}", stdout(output)))
}
