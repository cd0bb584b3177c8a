//! Ring files: the library's ring document, read within its size limit and
//! written atomically (a 0600 temporary file, then a rename). Secret keys in
//! a ring file are always wrapped with a key-encryption key.

use std::path::Path;

use vaulttoken::LocalKey;
use vaulttoken::keyring::{
    LocalKeyRing, MAX_DOCUMENT_LEN, PublicKeyRing, RingSettings, SigningKeyRing,
};

use crate::exit::Failure;
use crate::files;

/// A ring read from a file.
#[derive(Debug)]
pub(crate) enum LoadedRing {
    /// `k4.local`: v4.local keys.
    Local(LocalKeyRing),
    /// `k4.secret`: Ed25519 signing keys.
    Signing(SigningKeyRing),
    /// `k4.public`: verification only.
    Public(PublicKeyRing),
}

/// The kind a document declares: its `paserk_key_ring` value is the only
/// place these exact JSON strings can appear (keys and ids continue with `.`
/// or `-` before their closing quote).
fn declared_kind(document: &str) -> Option<&'static str> {
    ["k4.local", "k4.secret", "k4.public"]
        .into_iter()
        .find(|kind| document.contains(&format!("\"{kind}\"")))
}

/// Reads a ring file; `kek` unwraps the keys of a local or signing ring.
pub(crate) fn load(path: &Path, kek: Option<&LocalKey>) -> Result<LoadedRing, Failure> {
    let document = files::read_text(path, MAX_DOCUMENT_LEN, "the ring file")?;
    let settings = RingSettings::new();
    let failed = |error: vaulttoken::Error| Failure::library("reading the ring file", &error);
    let unopened = |error: vaulttoken::Error| {
        Failure::opening(
            "reading the ring file",
            "the key-encryption key",
            "the ring",
            &error,
        )
    };
    let kind = declared_kind(&document).ok_or_else(|| {
        Failure::usage("the ring file is not a k4.local, k4.secret or k4.public ring document")
    })?;
    match (kind, kek) {
        ("k4.public", _) => PublicKeyRing::import(&document, &settings)
            .map(LoadedRing::Public)
            .map_err(failed),
        ("k4.local", Some(kek)) => LocalKeyRing::import_wrapped(&document, kek, &settings)
            .map(LoadedRing::Local)
            .map_err(unopened),
        ("k4.secret", Some(kek)) => SigningKeyRing::import_wrapped(&document, kek, &settings)
            .map(LoadedRing::Signing)
            .map_err(unopened),
        _ => Err(Failure::usage(
            "the ring's keys are wrapped: give the key-encryption key with --kek-file or --kek-env",
        )),
    }
}

/// Writes a ring file atomically, every secret key wrapped with `kek`.
pub(crate) fn save(path: &Path, ring: &LoadedRing, kek: &LocalKey) -> Result<(), Failure> {
    let failed = |error: vaulttoken::Error| Failure::library("writing the ring file", &error);
    let document = match ring {
        LoadedRing::Local(ring) => ring.export_wrapped(kek).map_err(failed)?,
        LoadedRing::Signing(ring) => ring.export_wrapped(kek).map_err(failed)?,
        LoadedRing::Public(ring) => ring.export(),
    };
    files::replace_atomically(path, &document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_kind_is_read_from_the_kind_field_only() {
        let kek = LocalKey::generate().unwrap();
        let ring = LocalKeyRing::new(time::Duration::hours(1)).unwrap();
        ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
            .unwrap();
        assert_eq!(
            declared_kind(&ring.export_wrapped(&kek).unwrap()),
            Some("k4.local")
        );
        let signing = SigningKeyRing::new(time::Duration::hours(1)).unwrap();
        signing
            .add(vaulttoken::SecretKey::generate().unwrap())
            .unwrap();
        assert_eq!(
            declared_kind(&signing.export_wrapped(&kek).unwrap()),
            Some("k4.secret")
        );
        assert_eq!(
            declared_kind(&signing.public_ring().export()),
            Some("k4.public")
        );
        assert_eq!(declared_kind("{}"), None);
    }
}
