//! Loading keys from a file or an environment variable, never from an
//! argument value (arguments leak into shell history and `ps`).
//!
//! A key may be a PASERK string (`k4.local.`, `k4.secret.`, `k4.public.`), a
//! PEM document (PKCS#8 private key or SPKI public key), or raw hex or
//! base64url bytes: 32 bytes are a local or public key (the command says
//! which), 64 bytes an Ed25519 secret key (seed ‖ public key).

use std::path::{Path, PathBuf};

use vaulttoken::error::PaserkType;
use vaulttoken::{LocalKey, PublicKey, SecretKey};
use zeroize::Zeroizing;

use crate::exit::{Exit, Failure};
use crate::files;

/// The most a key file may hold (a PEM document is well under this).
const MAX_KEY_LEN: usize = 64 * 1024;

/// Where a key comes from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    File(PathBuf),
    Env(String),
}

impl KeySource {
    /// The source given by a `--…-file` / `--…-env` pair, if any.
    pub(crate) fn from_flags(file: Option<&Path>, env: Option<&str>) -> Option<Self> {
        match (file, env) {
            (Some(path), _) => Some(Self::File(path.to_owned())),
            (None, Some(name)) => Some(Self::Env(name.to_owned())),
            (None, None) => None,
        }
    }

    /// The key text, trimmed, in wiped memory.
    pub(crate) fn read(&self, what: &str) -> Result<Zeroizing<String>, Failure> {
        let text = match self {
            Self::File(path) => files::read_text(path, MAX_KEY_LEN, what)?,
            Self::Env(name) => {
                let value = std::env::var_os(name).ok_or_else(|| {
                    Failure::new(
                        Exit::NoInput,
                        format!("{what}: environment variable {name} is not set"),
                    )
                })?;
                let value = value.into_string().map_err(|_| {
                    Failure::usage(format!("{what}: environment variable {name} is not UTF-8"))
                })?;
                Zeroizing::new(value)
            }
        };
        Ok(Zeroizing::new(text.trim().to_owned()))
    }
}

/// Which key a raw 32-byte value is, when the text does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyType {
    /// A `v4.local` symmetric key.
    Local,
    /// An Ed25519 secret key (64 bytes raw: seed then public key).
    Secret,
    /// An Ed25519 public key.
    Public,
}

/// A loaded key of any type.
#[derive(Debug)]
pub(crate) enum AnyKey {
    Local(LocalKey),
    Secret(SecretKey),
    Public(PublicKey),
}

impl AnyKey {
    pub(crate) fn key_type(&self) -> KeyType {
        match self {
            Self::Local(_) => KeyType::Local,
            Self::Secret(_) => KeyType::Secret,
            Self::Public(_) => KeyType::Public,
        }
    }
}

/// Parses key text; `raw32` says what 32 raw bytes are (`None`: ask).
pub(crate) fn parse_key(text: &str, raw32: Option<KeyType>, what: &str) -> Result<AnyKey, Failure> {
    let failed = |error: vaulttoken::Error| Failure::library(&format!("loading {what}"), &error);
    if text.starts_with("-----BEGIN PRIVATE KEY-----") {
        return SecretKey::from_pkcs8_pem(text)
            .map(AnyKey::Secret)
            .map_err(failed);
    }
    if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        return PublicKey::from_public_key_pem(text)
            .map(AnyKey::Public)
            .map_err(failed);
    }
    if text.starts_with('k') && text.contains('.') {
        return parse_paserk(text, what);
    }
    let is_hex = !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit());
    let bytes_len = match (is_hex, text.len()) {
        (true, 64) | (false, 43) => 32,
        (true, 128) | (false, 86) => 64,
        _ => {
            return Err(Failure::usage(format!(
                "{what} is not a PASERK, PEM, or hex/base64url key of 32 or 64 bytes"
            )));
        }
    };
    if bytes_len == 64 {
        let key = if is_hex {
            SecretKey::from_hex(text)
        } else {
            SecretKey::from_base64url(text)
        };
        return key.map(AnyKey::Secret).map_err(failed);
    }
    match raw32 {
        Some(KeyType::Local) => if is_hex {
            LocalKey::from_hex(text)
        } else {
            LocalKey::from_base64url(text)
        }
        .map(AnyKey::Local)
        .map_err(failed),
        Some(KeyType::Public) => if is_hex {
            PublicKey::from_hex(text)
        } else {
            PublicKey::from_base64url(text)
        }
        .map(AnyKey::Public)
        .map_err(failed),
        Some(KeyType::Secret) => Err(Failure::usage(format!(
            "{what} has 32 raw bytes: an Ed25519 secret key needs 64 (seed then public key)"
        ))),
        None => Err(Failure::usage(format!(
            "{what} is 32 raw bytes: say which key it is with --type local|public"
        ))),
    }
}

fn parse_paserk(text: &str, what: &str) -> Result<AnyKey, Failure> {
    let failed = |error: vaulttoken::Error| Failure::library(&format!("loading {what}"), &error);
    let kind = PaserkType::of(text).map_err(failed)?;
    match kind {
        PaserkType::Local => LocalKey::from_paserk(text)
            .map(AnyKey::Local)
            .map_err(failed),
        PaserkType::Secret => SecretKey::from_paserk(text)
            .map(AnyKey::Secret)
            .map_err(failed),
        PaserkType::Public => PublicKey::from_paserk(text)
            .map(AnyKey::Public)
            .map_err(failed),
        PaserkType::Lid | PaserkType::Pid | PaserkType::Sid => Err(Failure::usage(format!(
            "{what} is a key id ({kind}), not a key"
        ))),
        other => Err(Failure::usage(format!(
            "{what} is a protected key ({other}): unwrap it first (vaulttoken paserk unwrap, pw-unwrap or unseal)"
        ))),
    }
}

/// Reads and parses a key.
pub(crate) fn load(
    source: &KeySource,
    raw32: Option<KeyType>,
    what: &str,
) -> Result<AnyKey, Failure> {
    let text = source.read(what)?;
    parse_key(&text, raw32, what)
}

fn wrong_type(what: &str, wanted: &str, found: KeyType) -> Failure {
    let found = match found {
        KeyType::Local => "a local key",
        KeyType::Secret => "a secret key",
        KeyType::Public => "a public key",
    };
    Failure::usage(format!("{what} must be {wanted}, found {found}"))
}

/// A `v4.local` key.
pub(crate) fn load_local(source: &KeySource, what: &str) -> Result<LocalKey, Failure> {
    match load(source, Some(KeyType::Local), what)? {
        AnyKey::Local(key) => Ok(key),
        other => Err(wrong_type(what, "a local key", other.key_type())),
    }
}

/// An Ed25519 secret key.
pub(crate) fn load_secret(source: &KeySource, what: &str) -> Result<SecretKey, Failure> {
    match load(source, Some(KeyType::Secret), what)? {
        AnyKey::Secret(key) => Ok(key),
        other => Err(wrong_type(what, "an Ed25519 secret key", other.key_type())),
    }
}

/// An Ed25519 public key, or the public half of a secret key.
pub(crate) fn load_public(source: &KeySource, what: &str) -> Result<PublicKey, Failure> {
    match load(source, Some(KeyType::Public), what)? {
        AnyKey::Public(key) => Ok(key),
        AnyKey::Secret(key) => Ok(key.public_key()),
        AnyKey::Local(_) => Err(wrong_type(
            what,
            "an Ed25519 public or secret key",
            KeyType::Local,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_of_a_local_key_loads_to_it() {
        let key = LocalKey::generate().unwrap();
        let texts = [
            key.to_paserk().unwrap().as_str().to_owned(),
            key.to_hex().unwrap().as_str().to_owned(),
            key.to_base64url().unwrap().as_str().to_owned(),
        ];
        for text in texts {
            let Ok(AnyKey::Local(loaded)) = parse_key(&text, Some(KeyType::Local), "key") else {
                panic!("a local key loads");
            };
            assert_eq!(loaded, key);
        }
    }

    #[test]
    fn a_base64url_key_that_starts_with_k_is_not_taken_for_a_paserk() {
        // 0x90 encodes as `k…` in base64url.
        let key = LocalKey::from_bytes(&[0x90; 32]).unwrap();
        let text = key.to_base64url().unwrap();
        assert!(text.as_str().starts_with('k'));
        let Ok(AnyKey::Local(loaded)) = parse_key(text.as_str(), Some(KeyType::Local), "key")
        else {
            panic!("a base64url local key loads");
        };
        assert_eq!(loaded, key);
    }

    #[test]
    fn flags_name_a_file_or_a_variable() {
        let path = Path::new("key.txt");
        assert!(matches!(
            KeySource::from_flags(Some(path), None),
            Some(KeySource::File(p)) if p == path
        ));
        assert!(matches!(
            KeySource::from_flags(None, Some("NAME")),
            Some(KeySource::Env(name)) if name == "NAME"
        ));
        assert!(KeySource::from_flags(None, None).is_none());
    }

    #[test]
    fn key_files_are_read_trimmed_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let key = LocalKey::generate().unwrap();
        let paserk = key.to_paserk().unwrap();
        // Padding within the limit is trimmed away.
        let padded = dir.path().join("padded");
        let text = format!("\n {}{}", paserk.as_str(), "\n".repeat(60 * 1024));
        std::fs::write(&padded, text).unwrap();
        let read = KeySource::File(padded).read("key").unwrap();
        assert_eq!(read.as_str(), paserk.as_str());
        // Beyond it, refused.
        let long = dir.path().join("long");
        std::fs::write(&long, "\n".repeat(MAX_KEY_LEN + 1)).unwrap();
        assert_eq!(
            KeySource::File(long).read("key").unwrap_err().exit,
            Exit::Usage
        );
        let missing = KeySource::Env("VAULTTOKEN_UNIT_TEST_UNSET".into());
        assert_eq!(missing.read("key").unwrap_err().exit, Exit::NoInput);
    }

    #[test]
    fn raw_32_bytes_need_a_type() {
        let key = LocalKey::generate().unwrap();
        let err = parse_key(key.to_hex().unwrap().as_str(), None, "key").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
    }

    #[test]
    fn secret_keys_load_from_pem_and_raw_64_bytes() {
        let key = SecretKey::generate().unwrap();
        for text in [
            key.to_pkcs8_pem().unwrap().as_str().to_owned(),
            key.to_hex().unwrap().as_str().to_owned(),
            key.to_base64url().unwrap().as_str().to_owned(),
        ] {
            let Ok(AnyKey::Secret(loaded)) = parse_key(text.trim(), None, "key") else {
                panic!("a secret key loads");
            };
            assert_eq!(loaded, key);
        }
        let public = key.public_key().to_public_key_pem();
        assert!(matches!(
            parse_key(public.trim(), None, "key"),
            Ok(AnyKey::Public(found)) if found == key.public_key()
        ));
    }

    #[test]
    fn ids_and_wrapped_keys_are_not_keys() {
        let key = LocalKey::generate().unwrap();
        let id = key.paserk_id().unwrap();
        assert_eq!(
            parse_key(id.as_str(), None, "key").unwrap_err().exit,
            Exit::Usage
        );
        let wrapped = key
            .to_paserk_wrapped(&LocalKey::generate().unwrap())
            .unwrap();
        let err = parse_key(&wrapped, None, "key").unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("unwrap"), "{}", err.message);
    }
}
