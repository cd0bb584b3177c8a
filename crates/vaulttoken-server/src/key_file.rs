//! The key file: the access-token ring, one refresh key per client and the
//! trust key, each wrapped with the KEK (PASERK `*-wrap.pie`), in one JSON
//! document written atomically.
//!
//! ```text
//! {
//!   "format": "vaulttoken-server.keys.v1",
//!   "access_purpose": "public",
//!   "access_ring": "{\"paserk_key_ring\":\"k4.secret\",…}",
//!   "refresh_keys": { "web": "k4.local-wrap.pie.…" },
//!   "trust_key": "k4.local-wrap.pie.…"
//! }
//! ```
//!
//! Each client's refresh tokens are sealed with its own key, so a refresh
//! token issued to one client does not even decode for another: it can
//! neither be refreshed nor revoked by it (RFC 6749 §6). A client new to the
//! configuration gets a key at start, and the file is saved again.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::Duration;
use vaulttoken::LocalKey;
use vaulttoken::store::TokenStore;

use crate::access::AccessKeys;
use crate::config::AccessPurpose;

/// The format name a key file starts with.
const FORMAT: &str = "vaulttoken-server.keys.v1";
/// The largest key file read.
const MAX_FILE_LEN: u64 = 8 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    access_purpose: String,
    access_ring: String,
    refresh_keys: BTreeMap<String, String>,
    trust_key: String,
}

/// Where the keys live and how they are saved.
#[derive(Debug)]
pub(crate) struct KeyFile {
    path: PathBuf,
    kek: LocalKey,
    /// The refresh keys (by client) and the trust key as saved: they never
    /// change.
    refresh_wrapped: BTreeMap<String, String>,
    trust_wrapped: String,
}

/// The keys a server runs with.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) access: AccessKeys,
    /// Each client's refresh key.
    pub(crate) refresh: BTreeMap<String, LocalKey>,
    pub(crate) trust: LocalKey,
    pub(crate) file: KeyFile,
}

/// Why the keys could not be loaded; never holds key material.
#[derive(Debug)]
pub(crate) struct KeyFileError(pub(crate) String);

fn fail(what: impl Into<String>) -> KeyFileError {
    KeyFileError(what.into())
}

impl Keys {
    /// Loads the key file, or creates it (with fresh keys) if it is absent
    /// and `create` says so; a refresh key is made (and the file saved) for
    /// each of `clients` that has none.
    pub(crate) fn load_or_create(
        path: &Path,
        kek: LocalKey,
        purpose: AccessPurpose,
        create: bool,
        access_lifetime: Duration,
        clients: &[&str],
        store: &Arc<dyn TokenStore>,
    ) -> Result<Self, KeyFileError> {
        let mut keys = if path.exists() {
            Self::load(path, kek, purpose, access_lifetime, store)?
        } else if create {
            Self::create(path, kek, purpose, access_lifetime, store)?
        } else {
            return Err(fail("the key file does not exist"));
        };
        let mut added = false;
        for client in clients {
            if keys.refresh.contains_key(*client) {
                continue;
            }
            let keys_failed = |_| fail("new keys could not be generated");
            let key = LocalKey::generate().map_err(keys_failed)?;
            let wrapped = key.to_paserk_wrapped(&keys.file.kek).map_err(keys_failed)?;
            keys.file
                .refresh_wrapped
                .insert((*client).to_owned(), wrapped);
            keys.refresh.insert((*client).to_owned(), key);
            added = true;
        }
        if added {
            let ring = keys
                .access
                .export_wrapped(&keys.file.kek)
                .map_err(|_| fail("the access ring could not be exported"))?;
            keys.file
                .save(purpose, &ring)
                .map_err(|_| fail("the key file could not be written"))?;
            tracing::warn!(path = %path.display(), "added refresh keys for new clients to the key file");
        }
        Ok(keys)
    }

    fn load(
        path: &Path,
        kek: LocalKey,
        purpose: AccessPurpose,
        access_lifetime: Duration,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Self, KeyFileError> {
        let document = read_limited(path)?;
        let document: Document = serde_json::from_str(&document)
            .map_err(|_| fail("the key file is not a vaulttoken-server key document"))?;
        if document.format != FORMAT {
            return Err(fail("the key file has an unknown format"));
        }
        if document.access_purpose != purpose.name() {
            return Err(fail(format!(
                "the key file holds {} access keys, the configuration asks for {}",
                document.access_purpose,
                purpose.name()
            )));
        }
        let wrong_kek = |_| fail("the key file cannot be opened with this KEK");
        let access = AccessKeys::import(purpose, &document.access_ring, &kek, Arc::clone(store))
            .map_err(wrong_kek)?;
        if access.max_token_lifetime() < access_lifetime {
            return Err(fail(
                "the key file's ring allows shorter tokens than VAULTTOKEN_ACCESS_TTL_SECS",
            ));
        }
        let mut refresh = BTreeMap::new();
        for (client, wrapped) in &document.refresh_keys {
            let key = LocalKey::from_paserk_wrapped(wrapped, &kek).map_err(wrong_kek)?;
            refresh.insert(client.clone(), key);
        }
        let trust = LocalKey::from_paserk_wrapped(&document.trust_key, &kek).map_err(wrong_kek)?;
        Ok(Self {
            access,
            refresh,
            trust,
            file: KeyFile {
                path: path.to_owned(),
                kek,
                refresh_wrapped: document.refresh_keys,
                trust_wrapped: document.trust_key,
            },
        })
    }

    fn create(
        path: &Path,
        kek: LocalKey,
        purpose: AccessPurpose,
        access_lifetime: Duration,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Self, KeyFileError> {
        let keys_failed = |_| fail("new keys could not be generated");
        let access = AccessKeys::generate(purpose, access_lifetime, Arc::clone(store))
            .map_err(keys_failed)?;
        let trust = LocalKey::generate().map_err(keys_failed)?;
        let file = KeyFile {
            path: path.to_owned(),
            refresh_wrapped: BTreeMap::new(),
            trust_wrapped: trust.to_paserk_wrapped(&kek).map_err(keys_failed)?,
            kek,
        };
        let ring = access.export_wrapped(&file.kek).map_err(keys_failed)?;
        file.save(purpose, &ring)
            .map_err(|_| fail("the new key file could not be written"))?;
        tracing::warn!(path = %path.display(), "created a new key file");
        Ok(Self {
            access,
            refresh: BTreeMap::new(),
            trust,
            file,
        })
    }
}

impl KeyFile {
    /// The key-encryption key.
    pub(crate) fn kek(&self) -> &LocalKey {
        &self.kek
    }

    /// Saves a new access ring (already wrapped) with the other keys:
    /// written to a temporary file in the same directory, flushed, renamed
    /// over the old file.
    pub(crate) fn save(&self, purpose: AccessPurpose, access_ring: &str) -> std::io::Result<()> {
        let document = Document {
            format: FORMAT.to_owned(),
            access_purpose: purpose.name().to_owned(),
            access_ring: access_ring.to_owned(),
            refresh_keys: self.refresh_wrapped.clone(),
            trust_key: self.trust_wrapped.clone(),
        };
        let text = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
        write_atomically(&self.path, text.as_bytes())
    }
}

fn read_limited(path: &Path) -> Result<String, KeyFileError> {
    let unreadable = |_| fail("the key file cannot be read");
    let len = std::fs::metadata(path).map_err(unreadable)?.len();
    if len > MAX_FILE_LEN {
        return Err(fail("the key file is too large"));
    }
    std::fs::read_to_string(path).map_err(unreadable)
}

/// Writes `contents` to `path` so that a reader sees the old file or the new
/// one, never a part: a temporary sibling (mode 0600 on Unix), fsync, rename,
/// fsync of the directory.
fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the key file path has no file name"))?;
    let mut temp_name = file_name.to_owned();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaulttoken::store::MemoryStore;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "vaulttoken-server-keyfile-{}-{name}.json",
            std::process::id()
        ))
    }

    fn store() -> Arc<dyn TokenStore> {
        Arc::new(MemoryStore::new())
    }

    #[test]
    fn a_created_file_loads_again_with_the_same_keys_and_no_key_in_clear() {
        let path = temp_path("roundtrip");
        let _ = std::fs::remove_file(&path);
        let kek = LocalKey::generate().unwrap();
        let copy = || LocalKey::from_paserk(kek.to_paserk().unwrap().as_str()).unwrap();
        let hour = Duration::hours(1);
        let created = Keys::load_or_create(
            &path,
            copy(),
            AccessPurpose::Public,
            true,
            hour,
            &["web"],
            &store(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("k4.secret.") && !text.contains("k4.local."));
        let loaded = Keys::load_or_create(
            &path,
            copy(),
            AccessPurpose::Public,
            false,
            hour,
            &["web"],
            &store(),
        )
        .unwrap();
        assert_eq!(loaded.access.key_ids(), created.access.key_ids());
        assert_eq!(loaded.refresh, created.refresh);
        assert_eq!(loaded.refresh.len(), 1);
        // A new client gets its own key, saved; the others are kept.
        let more = Keys::load_or_create(
            &path,
            copy(),
            AccessPurpose::Public,
            false,
            hour,
            &["web", "app"],
            &store(),
        )
        .unwrap();
        assert_eq!(more.refresh.len(), 2);
        assert_eq!(more.refresh["web"], created.refresh["web"]);
        assert_ne!(more.refresh["app"], more.refresh["web"]);
        let again = Keys::load_or_create(
            &path,
            copy(),
            AccessPurpose::Public,
            false,
            hour,
            &["web"],
            &store(),
        )
        .unwrap();
        assert_eq!(again.refresh, more.refresh);
        assert_eq!(loaded.trust, created.trust);

        let other = LocalKey::generate().unwrap();
        let err = Keys::load_or_create(
            &path,
            other,
            AccessPurpose::Public,
            false,
            hour,
            &["web"],
            &store(),
        )
        .unwrap_err();
        assert!(err.0.contains("KEK"), "{}", err.0);
        let err = Keys::load_or_create(
            &path,
            copy(),
            AccessPurpose::Local,
            false,
            hour,
            &["web"],
            &store(),
        )
        .unwrap_err();
        assert!(err.0.contains("holds public access keys"), "{}", err.0);
        let err = Keys::load_or_create(
            &path,
            copy(),
            AccessPurpose::Public,
            false,
            Duration::hours(2),
            &["web"],
            &store(),
        )
        .unwrap_err();
        assert!(err.0.contains("VAULTTOKEN_ACCESS_TTL_SECS"), "{}", err.0);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_missing_file_is_an_error_without_create() {
        let path = temp_path("missing");
        let _ = std::fs::remove_file(&path);
        let kek = LocalKey::generate().unwrap();
        let err = Keys::load_or_create(
            &path,
            kek,
            AccessPurpose::Local,
            false,
            Duration::hours(1),
            &["web"],
            &store(),
        )
        .unwrap_err();
        assert!(err.0.contains("does not exist"));
        assert!(!path.exists());
    }
}
