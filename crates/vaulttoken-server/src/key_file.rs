//! The key file: the access-token ring, one refresh key per client and the
//! trust key, each wrapped with the KEK (PASERK `*-wrap.pie`), in one JSON
//! document written atomically.
//!
//! ```text
//! {
//!   "format": "vaulttoken-server.keys.v1",
//!   "version": 7,
//!   "access_purpose": "public",
//!   "access_ring": "{\"paserk_key_ring\":\"k4.secret\",…}",
//!   "refresh_rings": { "web": "{\"paserk_key_ring\":\"k4.local\",…}" },
//!   "trust_ring": "{\"paserk_key_ring\":\"k4.local\",…}",
//!   "retired_kids": ["k4.pid.…"],
//!   "promotion": { "kid": "k4.pid.…", "at": "2026-12-06T12:00:05Z" },
//!   "rotated_at": "2026-12-06T12:00:00Z"
//! }
//! ```
//!
//! `promotion` is an announced rotation: the ring's `next` key `kid` signs
//! from `at` on. Every instance applies it at `at` from the document alone
//! (the key that was active becomes previous *since `at`*), so a fleet
//! promotes at one instant whether or not the document has been rewritten
//! yet; the first instance to rewrite it after `at` (compare-and-set)
//! records the promoted ring and drops the field. `rotated_at` is when the
//! last rotation was made, from which a scheduled rotation counts. Both are
//! absent in older documents (none pending; no rotation known) and written
//! only when set, so a document without them is the same as before.
//!
//! The document has an order: `version` grows by one on every change, so of
//! two documents the older is known (a document written before versions
//! reads as version 0). `retired_kids` remembers the access keys removed
//! from the ring (the last [`MAX_RETIRED_KIDS`], most recent last), so a
//! document that would bring one back is recognised and refused (see
//! [`Keys::check_against`]).
//!
//! Each client's refresh tokens are sealed with its own key ring, so a
//! refresh token issued to one client does not even decode for another: it
//! can neither be refreshed nor revoked by it (RFC 6749 §6). A client new to
//! the configuration gets a ring at start, and the file is saved again.
//!
//! `refresh_rings` and `trust_ring` (the internal rings, see
//! [`crate::internal_keys`]) are absent from documents written before them,
//! which hold one key per client in `refresh_keys` and one in `trust_key`
//! instead: such a key opens as a ring of itself, and as its legacy key for
//! the tokens it sealed without a `kid`. Both fields are kept while their
//! ring holds their key, then dropped at the next write.

use core::fmt;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use vaulttoken::LocalKey;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::keyring::KeyStatus;
use vaulttoken::paserk::KeyId;
use vaulttoken::store::TokenStore;

use crate::access::AccessKeys;
use crate::config::AccessPurpose;
use crate::internal_keys::{InternalKeys, Sealing, TRUST_LIFETIME};

/// The format name a key file starts with.
const FORMAT: &str = "vaulttoken-server.keys.v1";
/// The largest key file read.
const MAX_FILE_LEN: u64 = 8 * 1024 * 1024;
/// How many retired access key ids a document remembers (the most recent;
/// about 60 bytes each, so at most some 15 KiB). A rotation retires the keys
/// past their lifetime, usually one: 256 covers years of rotations. An id
/// forgotten is still kept out by the version order, which refuses any
/// older document.
pub(crate) const MAX_RETIRED_KIDS: usize = 256;
/// The refresh rings' lifetime in the tests: the default family lifetime.
#[cfg(test)]
const TEST_FAMILY_LIFETIME: Duration = Duration::days(30);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    /// Absent in documents written before versions: 0.
    #[serde(default)]
    version: u64,
    access_purpose: String,
    access_ring: String,
    /// The keys of documents written before internal rings: each client's
    /// one refresh key (kept as legacy keys while their rings hold them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    refresh_keys: BTreeMap<String, String>,
    /// Each client's refresh-token ring; absent in documents written before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    refresh_rings: BTreeMap<String, String>,
    /// As `refresh_keys`, the one trust key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trust_key: Option<String>,
    /// The trust-token ring; absent in documents written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trust_ring: Option<String>,
    /// Absent in documents written before versions: none.
    #[serde(default)]
    retired_kids: Vec<String>,
    /// Absent in documents written before announced rotation: none pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    promotion: Option<StoredPromotion>,
    /// RFC 3339; absent in documents written before announced rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_at: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredPromotion {
    kid: String,
    /// RFC 3339.
    at: String,
}

/// An announced promotion: the ring's next key `kid` signs from `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Promotion {
    pub(crate) kid: String,
    pub(crate) at: OffsetDateTime,
}

/// The rotation state a document records beside the ring: the announced
/// promotion (if any) and when the last rotation was made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) promotion: Option<Promotion>,
    pub(crate) rotated_at: Option<OffsetDateTime>,
}

/// The system clock's time.
pub(crate) fn now() -> OffsetDateTime {
    SystemClock.now()
}

fn rfc3339(at: OffsetDateTime) -> Result<String, KeyFileError> {
    at.format(&Rfc3339)
        .map_err(|_| fail("the key document could not be written"))
}

fn instant(text: &str, what: &str) -> Result<OffsetDateTime, KeyFileError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        fail(format!(
            "the key document's {what} is not an RFC 3339 instant"
        ))
    })
}

/// The non-secret parts of a key document: its version, the purpose, the
/// wrapped internal rings and legacy keys, the retired access key ids it
/// remembers, and the document's exact text.
#[derive(Debug, Clone)]
pub(crate) struct KeyMeta {
    version: u64,
    purpose: AccessPurpose,
    refresh_wrapped: BTreeMap<String, String>,
    refresh_rings: BTreeMap<String, String>,
    trust_wrapped: Option<String>,
    trust_ring: Option<String>,
    retired: Vec<String>,
    schedule: Schedule,
    document: String,
}

/// Why a key document is not taken up in place of the one held.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stale {
    /// Its ring holds a key the held document retired.
    Revives { kid: String },
    /// Its version is lower than the held one's.
    Older { seen: u64, held: u64 },
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Revives { kid } => write!(f, "it holds the retired key {kid} again"),
            Self::Older { seen, held } => {
                write!(f, "it is version {seen}, older than version {held}")
            }
        }
    }
}

/// The keys a server runs with, opened.
#[derive(Debug)]
pub(crate) struct Keys {
    pub(crate) access: AccessKeys,
    /// Each client's refresh ring and the trust ring.
    pub(crate) internal: InternalKeys,
    pub(crate) meta: KeyMeta,
    /// The refresh rings' longest token lifetime.
    family_lifetime: Duration,
}

/// Why the keys could not be loaded; never holds key material.
#[derive(Debug)]
pub(crate) struct KeyFileError(pub(crate) String);

fn fail(what: impl Into<String>) -> KeyFileError {
    KeyFileError(what.into())
}

impl KeyMeta {
    /// The document's exact text.
    pub(crate) fn document(&self) -> &str {
        &self.document
    }

    /// The document's version.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The rotation state the document records.
    pub(crate) fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The next document: `access_ring` (wrapped) in place of the current
    /// ring, the same other keys and rotation state, the version one
    /// higher, and `retired` (the ids the new ring no longer holds)
    /// remembered.
    pub(crate) fn next(&self, access_ring: &str, retired: &[String]) -> Result<Self, KeyFileError> {
        self.next_scheduled(access_ring, retired, self.schedule.clone())
    }

    /// [`KeyMeta::next`] with `schedule` as the rotation state.
    pub(crate) fn next_scheduled(
        &self,
        access_ring: &str,
        retired: &[String],
        schedule: Schedule,
    ) -> Result<Self, KeyFileError> {
        let mut next = self.clone();
        next.schedule = schedule;
        next.version = self
            .version
            .checked_add(1)
            .ok_or_else(|| fail("the key document's version cannot grow any more"))?;
        for kid in retired {
            if !next.retired.contains(kid) {
                next.retired.push(kid.clone());
            }
        }
        let excess = next.retired.len().saturating_sub(MAX_RETIRED_KIDS);
        next.retired.drain(..excess);
        next.document = next.render(access_ring)?;
        Ok(next)
    }

    /// This document with `internal` as its internal rings (wrapped with
    /// `kek`): the legacy keys their rings no longer hold are dropped.
    pub(crate) fn with_internal(
        &self,
        internal: &InternalKeys,
        kek: &LocalKey,
    ) -> Result<Self, KeyFileError> {
        let failed = |_| fail("the internal key rings could not be written");
        let mut next = self.clone();
        next.refresh_rings.clear();
        for (client, sealing) in &internal.refresh {
            let ring = sealing.ring.export_wrapped(kek).map_err(failed)?;
            next.refresh_rings.insert(client.clone(), ring);
            if sealing.legacy.is_none() {
                next.refresh_wrapped.remove(client);
            }
        }
        next.trust_ring = Some(internal.trust.ring.export_wrapped(kek).map_err(failed)?);
        if internal.trust.legacy.is_none() {
            next.trust_wrapped = None;
        }
        Ok(next)
    }

    /// This document's fields with `access_ring` (wrapped), as text.
    fn render(&self, access_ring: &str) -> Result<String, KeyFileError> {
        let document = Document {
            format: FORMAT.to_owned(),
            version: self.version,
            access_purpose: self.purpose.name().to_owned(),
            access_ring: access_ring.to_owned(),
            refresh_keys: self.refresh_wrapped.clone(),
            refresh_rings: self.refresh_rings.clone(),
            trust_key: self.trust_wrapped.clone(),
            trust_ring: self.trust_ring.clone(),
            retired_kids: self.retired.clone(),
            promotion: match &self.schedule.promotion {
                Some(promotion) => Some(StoredPromotion {
                    kid: promotion.kid.clone(),
                    at: rfc3339(promotion.at)?,
                }),
                None => None,
            },
            rotated_at: self.schedule.rotated_at.map(rfc3339).transpose()?,
        };
        serde_json::to_string_pretty(&document)
            .map_err(|_| fail("the key document could not be written"))
    }
}

impl Keys {
    /// [`Keys::open`] with refresh rings of 30 days.
    #[cfg(test)]
    pub(crate) fn parse(
        text: &str,
        kek: &LocalKey,
        purpose: AccessPurpose,
        access_lifetime: Duration,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Self, KeyFileError> {
        Self::open(
            text,
            kek,
            purpose,
            access_lifetime,
            TEST_FAMILY_LIFETIME,
            store,
        )
    }

    /// Opens a key document with `kek`. An announced promotion whose
    /// instant has passed (by the system clock) is applied to the ring
    /// opened, as of its instant; one still to come is the ring's pending
    /// promotion. A refresh ring made from a legacy key holds tokens of
    /// `family_lifetime`; a stored one must hold at least as long.
    pub(crate) fn open(
        text: &str,
        kek: &LocalKey,
        purpose: AccessPurpose,
        access_lifetime: Duration,
        family_lifetime: Duration,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Self, KeyFileError> {
        if text.len() as u64 > MAX_FILE_LEN {
            return Err(fail("the key document is too large"));
        }
        let document: Document =
            serde_json::from_str(text).map_err(|_| fail("not a vaulttoken-server key document"))?;
        if document.format != FORMAT {
            return Err(fail("the key document has an unknown format"));
        }
        if document.access_purpose != purpose.name() {
            return Err(fail(format!(
                "the key document holds {} access keys, the configuration asks for {}",
                document.access_purpose,
                purpose.name()
            )));
        }
        let wrong_kek = |_| fail("the key document cannot be opened with this KEK");
        let schedule = Schedule {
            promotion: match &document.promotion {
                Some(stored) => Some(Promotion {
                    kid: stored.kid.clone(),
                    at: instant(&stored.at, "promotion instant")?,
                }),
                None => None,
            },
            rotated_at: document
                .rotated_at
                .as_deref()
                .map(|text| instant(text, "rotated_at"))
                .transpose()?,
        };
        let mut access = AccessKeys::import(purpose, &document.access_ring, kek, Arc::clone(store))
            .map_err(wrong_kek)?;
        if let Some(promotion) = &schedule.promotion {
            if access.status_of(&promotion.kid) != Some(KeyStatus::Next) {
                return Err(fail(
                    "the key document announces a promotion of a key its ring does not hold as next",
                ));
            }
            let id = KeyId::parse(&promotion.kid).map_err(|_| {
                fail("the key document announces a promotion of a malformed key id")
            })?;
            if promotion.at <= now() {
                let ring = AccessKeys::promoted_document(
                    purpose,
                    &document.access_ring,
                    kek,
                    &promotion.kid,
                    promotion.at,
                )
                .map_err(wrong_kek)?;
                access = AccessKeys::import(purpose, &ring, kek, Arc::clone(store))
                    .map_err(wrong_kek)?;
            } else {
                access = access.with_promotion(Some((id, promotion.at)));
            }
        }
        if access.max_token_lifetime() < access_lifetime {
            return Err(fail(
                "the key document's ring allows shorter tokens than VAULTTOKEN_ACCESS_TTL_SECS",
            ));
        }
        let internal = open_internal(&document, kek, family_lifetime)?;
        if document.retired_kids.len() > MAX_RETIRED_KIDS {
            return Err(fail("the key document remembers too many retired keys"));
        }
        if access
            .key_ids()
            .iter()
            .any(|kid| document.retired_kids.contains(kid))
        {
            return Err(fail(
                "the key document's ring holds a key it lists as retired",
            ));
        }
        Ok(Self {
            access,
            internal,
            family_lifetime,
            meta: KeyMeta {
                version: document.version,
                purpose,
                refresh_wrapped: document.refresh_keys,
                refresh_rings: document.refresh_rings,
                trust_wrapped: document.trust_key,
                trust_ring: document.trust_ring,
                retired: document.retired_kids,
                schedule,
                document: text.to_owned(),
            },
        })
    }

    /// Whether these keys (a document seen elsewhere) may replace the ones
    /// of `held`: never if the ring holds a key `held` retired, nor if the
    /// document is older. A document of the same version is taken (it is
    /// not older; the shared one wins a tie, so the fleet converges).
    pub(crate) fn check_against(&self, held: &KeyMeta) -> Result<(), Stale> {
        if let Some(kid) = self
            .access
            .key_ids()
            .into_iter()
            .find(|kid| held.retired.contains(kid))
        {
            return Err(Stale::Revives { kid });
        }
        if self.meta.version < held.version {
            return Err(Stale::Older {
                seen: self.meta.version,
                held: held.version,
            });
        }
        Ok(())
    }

    /// [`Keys::create`] with refresh rings of 30 days.
    #[cfg(test)]
    pub(crate) fn generate(
        kek: &LocalKey,
        purpose: AccessPurpose,
        access_lifetime: Duration,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Self, KeyFileError> {
        Self::create(kek, purpose, access_lifetime, TEST_FAMILY_LIFETIME, store)
    }

    /// Fresh keys: an access ring with one active key and a trust ring (the
    /// refresh rings, of `family_lifetime`, come with
    /// [`Keys::add_missing_clients`]).
    pub(crate) fn create(
        kek: &LocalKey,
        purpose: AccessPurpose,
        access_lifetime: Duration,
        family_lifetime: Duration,
        store: &Arc<dyn TokenStore>,
    ) -> Result<Self, KeyFileError> {
        let keys_failed = |_| fail("new keys could not be generated");
        let access = AccessKeys::generate(purpose, access_lifetime, Arc::clone(store))
            .map_err(keys_failed)?;
        let internal = InternalKeys {
            refresh: BTreeMap::new(),
            trust: Sealing::generate(TRUST_LIFETIME).map_err(keys_failed)?,
        };
        let mut meta = KeyMeta {
            version: 0,
            purpose,
            refresh_wrapped: BTreeMap::new(),
            refresh_rings: BTreeMap::new(),
            trust_wrapped: None,
            trust_ring: Some(
                internal
                    .trust
                    .ring
                    .export_wrapped(kek)
                    .map_err(keys_failed)?,
            ),
            retired: Vec::new(),
            schedule: Schedule::default(),
            document: String::new(),
        };
        let ring = access.export_wrapped(kek).map_err(keys_failed)?;
        meta.document = meta.render(&ring)?;
        Ok(Self {
            access,
            internal,
            meta,
            family_lifetime,
        })
    }

    /// Makes a refresh ring for each of `clients` that has none; whether any
    /// was made (the document then changed).
    pub(crate) fn add_missing_clients(
        &mut self,
        clients: &[&str],
        kek: &LocalKey,
    ) -> Result<bool, KeyFileError> {
        let keys_failed = |_| fail("new keys could not be generated");
        let mut added = false;
        for client in clients {
            if self.internal.refresh.contains_key(*client) {
                continue;
            }
            let sealing = Sealing::generate(self.family_lifetime).map_err(keys_failed)?;
            let wrapped = sealing.ring.export_wrapped(kek).map_err(keys_failed)?;
            self.meta
                .refresh_rings
                .insert((*client).to_owned(), wrapped);
            self.internal.refresh.insert((*client).to_owned(), sealing);
            added = true;
        }
        if added {
            let ring = self.access.export_wrapped(kek).map_err(keys_failed)?;
            self.meta = self.meta.next(&ring, &[])?;
        }
        Ok(added)
    }
}

/// The internal rings of `document`: stored ones, or rings made from the
/// legacy keys of a document written before them.
fn open_internal(
    document: &Document,
    kek: &LocalKey,
    family_lifetime: Duration,
) -> Result<InternalKeys, KeyFileError> {
    let wrong_kek = |_| fail("the key document's internal keys cannot be opened with this KEK");
    let short = |what: &str| {
        fail(format!(
            "the key document's {what} ring allows shorter tokens than they live"
        ))
    };
    let mut refresh = BTreeMap::new();
    let clients = document
        .refresh_rings
        .keys()
        .chain(document.refresh_keys.keys());
    for client in clients {
        if refresh.contains_key(client) {
            continue;
        }
        let sealing = Sealing::open(
            document.refresh_rings.get(client).map(String::as_str),
            document.refresh_keys.get(client).map(String::as_str),
            kek,
            family_lifetime,
        )
        .map_err(wrong_kek)?
        .ok_or_else(|| fail("the key document has a client without keys"))?;
        if sealing.ring.max_token_lifetime() < family_lifetime {
            return Err(short("refresh (VAULTTOKEN_FAMILY_TTL_SECS)"));
        }
        refresh.insert(client.clone(), sealing);
    }
    let trust = Sealing::open(
        document.trust_ring.as_deref(),
        document.trust_key.as_deref(),
        kek,
        TRUST_LIFETIME,
    )
    .map_err(wrong_kek)?
    .ok_or_else(|| fail("the key document has no trust key"))?;
    if trust.ring.max_token_lifetime() < TRUST_LIFETIME {
        return Err(short("trust"));
    }
    Ok(InternalKeys { refresh, trust })
}

/// The key file's text, `None` if there is no file.
pub(crate) fn read_file(path: &Path) -> Result<Option<String>, KeyFileError> {
    if !path.exists() {
        return Ok(None);
    }
    read_limited(path).map(Some)
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
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
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
    // A bare file name's parent is "", which does not open: nothing to sync.
    if let Some(dir) = path.parent()
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

    fn store() -> Arc<dyn TokenStore> {
        Arc::new(MemoryStore::new())
    }

    type RingIds = Vec<(KeyId, KeyStatus)>;

    /// The ids and statuses of each refresh ring and of the trust ring.
    fn internal_ids(keys: &Keys) -> (BTreeMap<String, RingIds>, RingIds) {
        let refresh = keys
            .internal
            .refresh
            .iter()
            .map(|(client, sealing)| (client.clone(), sealing.ring.keys()))
            .collect();
        (refresh, keys.internal.trust.ring.keys())
    }

    /// A document written before internal rings, with one refresh key for
    /// `web` and one trust key: the document of `keys` with its rings
    /// replaced by those keys.
    fn before_rings(keys: &Keys, kek: &LocalKey) -> (String, LocalKey, LocalKey) {
        let web = LocalKey::generate().unwrap();
        let trust = LocalKey::generate().unwrap();
        let mut document: serde_json::Value = serde_json::from_str(keys.meta.document()).unwrap();
        let fields = document.as_object_mut().unwrap();
        fields.remove("refresh_rings");
        fields.remove("trust_ring");
        fields.insert(
            "refresh_keys".into(),
            serde_json::json!({ "web": web.to_paserk_wrapped(kek).unwrap() }),
        );
        fields.insert(
            "trust_key".into(),
            serde_json::json!(trust.to_paserk_wrapped(kek).unwrap()),
        );
        (document.to_string(), web, trust)
    }

    #[test]
    fn a_document_written_before_rings_opens_its_keys_as_rings_and_legacy_keys() {
        let kek = LocalKey::generate().unwrap();
        let keys = fresh(&kek);
        let (text, web, trust) = before_rings(&keys, &kek);
        let opened = open(&text, &kek);
        let sealing = &opened.internal.refresh["web"];
        assert_eq!(sealing.ring.active_id(), Some(web.paserk_id().unwrap()));
        assert_eq!(sealing.ring.max_token_lifetime(), TEST_FAMILY_LIFETIME);
        assert_eq!(sealing.legacy.as_deref(), Some(&web));
        assert_eq!(opened.internal.trust.legacy.as_deref(), Some(&trust));
        assert_eq!(
            opened.internal.trust.ring.active_id(),
            Some(trust.paserk_id().unwrap())
        );

        // Rotated and written: rings stored, legacy keys kept while held.
        let rotated = opened.internal.rotated().unwrap();
        let ring = opened.access.export_wrapped(&kek).unwrap();
        let next = opened
            .meta
            .with_internal(&rotated, &kek)
            .unwrap()
            .next(&ring, &[])
            .unwrap();
        let document: serde_json::Value = serde_json::from_str(next.document()).unwrap();
        assert!(document["refresh_rings"]["web"].is_string(), "{document}");
        assert!(document["trust_ring"].is_string(), "{document}");
        assert!(document["refresh_keys"]["web"].is_string(), "{document}");
        let again = open(next.document(), &kek);
        assert_eq!(
            internal_ids(&again).0["web"],
            rotated.refresh["web"].ring.keys()
        );
        assert_eq!(again.internal.refresh["web"].legacy.as_deref(), Some(&web));

        // The old key retired: its legacy key leaves the document.
        let web_ring = &again.internal.refresh["web"].ring;
        web_ring
            .retire_immediately(&web.paserk_id().unwrap())
            .unwrap();
        let trust_ring = &again.internal.trust.ring;
        trust_ring
            .retire_immediately(&trust.paserk_id().unwrap())
            .unwrap();
        let without = crate::internal_keys::InternalKeys {
            refresh: BTreeMap::from([(
                "web".to_owned(),
                crate::internal_keys::Sealing {
                    ring: Arc::clone(web_ring),
                    legacy: None,
                },
            )]),
            trust: crate::internal_keys::Sealing {
                ring: Arc::clone(trust_ring),
                legacy: None,
            },
        };
        let last = again
            .meta
            .with_internal(&without, &kek)
            .unwrap()
            .next(&ring, &[])
            .unwrap();
        let document: serde_json::Value = serde_json::from_str(last.document()).unwrap();
        assert!(document.get("refresh_keys").is_none(), "{document}");
        assert!(document.get("trust_key").is_none(), "{document}");
        let reopened = open(last.document(), &kek);
        assert!(reopened.internal.refresh["web"].legacy.is_none());
    }

    #[test]
    fn a_refresh_ring_shorter_than_the_family_lifetime_is_refused() {
        let kek = LocalKey::generate().unwrap();
        let mut keys = fresh(&kek);
        assert!(keys.add_missing_clients(&["web"], &kek).unwrap());
        let err = Keys::open(
            keys.meta.document(),
            &kek,
            AccessPurpose::Public,
            Duration::hours(1),
            TEST_FAMILY_LIFETIME + Duration::days(1),
            &store(),
        )
        .unwrap_err();
        assert!(err.0.contains("VAULTTOKEN_FAMILY_TTL_SECS"), "{}", err.0);
    }

    #[test]
    fn a_trust_ring_shorter_than_the_longest_trust_token_is_refused() {
        let kek = LocalKey::generate().unwrap();
        let keys = fresh(&kek);
        let with_trust_ring = |lifetime: Duration| {
            let ring = vaulttoken::keyring::LocalKeyRing::new(lifetime).unwrap();
            ring.promote(&ring.add(LocalKey::generate().unwrap()).unwrap())
                .unwrap();
            let mut document: serde_json::Value =
                serde_json::from_str(keys.meta.document()).unwrap();
            document["trust_ring"] = ring.export_wrapped(&kek).unwrap().into();
            document.to_string()
        };
        // Exactly the longest trust token: opens.
        let opened = open(&with_trust_ring(TRUST_LIFETIME), &kek);
        assert_eq!(
            opened.internal.trust.ring.max_token_lifetime(),
            TRUST_LIFETIME
        );
        // A second shorter: an invitation could outlive its key.
        let short = with_trust_ring(TRUST_LIFETIME - Duration::seconds(1));
        let err = refused(&short, &kek);
        assert!(err.0.contains("trust ring"), "{}", err.0);
    }

    #[test]
    fn a_document_opens_again_with_the_same_keys_and_no_key_in_clear() {
        let kek = LocalKey::generate().unwrap();
        let hour = Duration::hours(1);
        let mut created = Keys::generate(&kek, AccessPurpose::Public, hour, &store()).unwrap();
        assert!(created.add_missing_clients(&["web"], &kek).unwrap());
        assert!(!created.add_missing_clients(&["web"], &kek).unwrap());
        let text = created.meta.document().to_owned();
        assert!(!text.contains("k4.secret.") && !text.contains("k4.local."));
        let loaded = Keys::parse(&text, &kek, AccessPurpose::Public, hour, &store()).unwrap();
        assert_eq!(loaded.access.key_ids(), created.access.key_ids());
        assert_eq!(internal_ids(&loaded), internal_ids(&created));
        assert_eq!(loaded.meta.document(), text);

        // A new client gets its own key; the others are kept.
        let mut more = Keys::parse(&text, &kek, AccessPurpose::Public, hour, &store()).unwrap();
        assert!(more.add_missing_clients(&["web", "app"], &kek).unwrap());
        let (refresh, _) = internal_ids(&more);
        assert_eq!(refresh["web"], internal_ids(&created).0["web"]);
        assert_ne!(refresh["app"], refresh["web"]);
        let again = Keys::parse(
            more.meta.document(),
            &kek,
            AccessPurpose::Public,
            hour,
            &store(),
        )
        .unwrap();
        assert_eq!(internal_ids(&again), internal_ids(&more));
    }

    #[test]
    fn a_document_is_refused_with_another_kek_purpose_or_a_longer_lifetime() {
        let kek = LocalKey::generate().unwrap();
        let hour = Duration::hours(1);
        let created = Keys::generate(&kek, AccessPurpose::Public, hour, &store()).unwrap();
        let text = created.meta.document();
        let other = LocalKey::generate().unwrap();
        let err = Keys::parse(text, &other, AccessPurpose::Public, hour, &store()).unwrap_err();
        assert!(err.0.contains("KEK"), "{}", err.0);
        let err = Keys::parse(text, &kek, AccessPurpose::Local, hour, &store()).unwrap_err();
        assert!(err.0.contains("holds public access keys"), "{}", err.0);
        let two = Duration::hours(2);
        let err = Keys::parse(text, &kek, AccessPurpose::Public, two, &store()).unwrap_err();
        assert!(err.0.contains("VAULTTOKEN_ACCESS_TTL_SECS"), "{}", err.0);
        let err = Keys::parse("{}", &kek, AccessPurpose::Public, hour, &store()).unwrap_err();
        assert!(
            err.0.contains("not a vaulttoken-server key document"),
            "{}",
            err.0
        );
    }

    /// 8 MiB is the most read, whether from the file or as text: a document
    /// padded to exactly that opens, one byte more is refused unread.
    #[test]
    fn documents_and_files_are_read_up_to_8_mib() {
        let kek = LocalKey::generate().unwrap();
        let hour = Duration::hours(1);
        let created = Keys::generate(&kek, AccessPurpose::Public, hour, &store()).unwrap();
        let limit = 8 * 1024 * 1024;
        let mut text = created.meta.document().to_owned();
        text.push_str(&" ".repeat(limit - text.len()));
        Keys::parse(&text, &kek, AccessPurpose::Public, hour, &store()).unwrap();
        let path = std::env::temp_dir().join(format!(
            "vaulttoken-server-keyfile-limit-{}.json",
            std::process::id()
        ));
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read_file(&path).unwrap().map(|t| t.len()), Some(limit));

        text.push(' ');
        let err = Keys::parse(&text, &kek, AccessPurpose::Public, hour, &store()).unwrap_err();
        assert_eq!(err.0, "the key document is too large");
        std::fs::write(&path, &text).unwrap();
        let err = read_file(&path).unwrap_err();
        assert_eq!(err.0, "the key file is too large");
        std::fs::remove_file(&path).unwrap();
    }

    /// `text` read as a key document of public access keys.
    fn parse(text: &str, kek: &LocalKey) -> Result<Keys, KeyFileError> {
        Keys::parse(
            text,
            kek,
            AccessPurpose::Public,
            Duration::hours(1),
            &store(),
        )
    }

    fn open(text: &str, kek: &LocalKey) -> Keys {
        parse(text, kek).unwrap()
    }

    /// Why `text` does not open (as [`open`] reads it).
    fn refused(text: &str, kek: &LocalKey) -> KeyFileError {
        parse(text, kek).unwrap_err()
    }

    fn fresh(kek: &LocalKey) -> Keys {
        Keys::generate(kek, AccessPurpose::Public, Duration::hours(1), &store()).unwrap()
    }

    fn kid(n: usize) -> String {
        format!("k4.pid.retired-{n:04}")
    }

    #[test]
    fn every_change_raises_the_version_and_remembers_what_it_retired() {
        let kek = LocalKey::generate().unwrap();
        let mut keys = fresh(&kek);
        assert_eq!(keys.meta.version(), 0);
        assert!(keys.add_missing_clients(&["web"], &kek).unwrap());
        assert_eq!(keys.meta.version(), 1);
        assert!(!keys.add_missing_clients(&["web"], &kek).unwrap());
        assert_eq!(keys.meta.version(), 1);

        let ring = keys.access.export_wrapped(&kek).unwrap();
        let next = keys.meta.next(&ring, &[kid(1), kid(2)]).unwrap();
        let again = next.next(&ring, &[kid(2), kid(3)]).unwrap();
        let opened = open(again.document(), &kek);
        assert_eq!(opened.meta.version(), 3);
        assert_eq!(opened.meta.retired, [kid(1), kid(2), kid(3)]);
        assert_eq!(opened.meta.refresh_wrapped, keys.meta.refresh_wrapped);

        // Newer and equal documents are taken up, older ones are not.
        assert_eq!(opened.check_against(&next), Ok(()));
        assert_eq!(opened.check_against(&opened.meta), Ok(()));
        let older = open(next.document(), &kek);
        assert_eq!(
            older.check_against(&opened.meta),
            Err(Stale::Older { seen: 2, held: 3 })
        );
        assert_eq!(
            Stale::Older { seen: 2, held: 3 }.to_string(),
            "it is version 2, older than version 3"
        );
    }

    #[test]
    fn a_newer_document_that_holds_a_retired_key_is_refused() {
        let kek = LocalKey::generate().unwrap();
        let keys = fresh(&kek);
        let active = keys.access.key_ids().remove(0);
        let ring = keys.access.export_wrapped(&kek).unwrap();
        // Held: version 1, which retired the key; seen: version 2, with it.
        let held = keys
            .meta
            .next(&ring, std::slice::from_ref(&active))
            .unwrap();
        let seen = open(
            keys.meta
                .next(&ring, &[])
                .unwrap()
                .next(&ring, &[])
                .unwrap()
                .document(),
            &kek,
        );
        assert_eq!(seen.meta.version(), 2);
        assert_eq!(
            seen.check_against(&held),
            Err(Stale::Revives { kid: active })
        );
        assert_eq!(
            Stale::Revives {
                kid: "k4.pid.x".into()
            }
            .to_string(),
            "it holds the retired key k4.pid.x again"
        );
    }

    #[test]
    fn a_document_without_a_version_reads_as_version_0() {
        let kek = LocalKey::generate().unwrap();
        let keys = fresh(&kek);
        let mut document: serde_json::Value = serde_json::from_str(keys.meta.document()).unwrap();
        let fields = document.as_object_mut().unwrap();
        assert_eq!(fields.remove("version"), Some(serde_json::json!(0)));
        assert_eq!(fields.remove("retired_kids"), Some(serde_json::json!([])));
        let legacy = open(&document.to_string(), &kek);
        assert_eq!(legacy.meta.version(), 0);
        assert!(legacy.meta.retired.is_empty());
        assert_eq!(legacy.access.key_ids(), keys.access.key_ids());
    }

    #[test]
    fn the_last_256_retired_ids_are_remembered() {
        let kek = LocalKey::generate().unwrap();
        let keys = fresh(&kek);
        let ring = keys.access.export_wrapped(&kek).unwrap();
        let many: Vec<String> = (0..=MAX_RETIRED_KIDS).map(kid).collect();
        let next = keys.meta.next(&ring, &many).unwrap();
        assert_eq!(next.retired.len(), MAX_RETIRED_KIDS);
        assert_eq!(next.retired.first(), Some(&kid(1)));
        assert_eq!(next.retired.last(), Some(&kid(MAX_RETIRED_KIDS)));
        let opened = open(next.document(), &kek);
        assert_eq!(opened.meta.retired, next.retired);

        // A document that remembers more is refused.
        let mut document: serde_json::Value = serde_json::from_str(next.document()).unwrap();
        document["retired_kids"] = serde_json::json!(many);
        let err = refused(&document.to_string(), &kek);
        assert_eq!(err.0, "the key document remembers too many retired keys");
    }

    #[test]
    fn a_document_whose_ring_holds_a_key_it_retired_is_refused() {
        let kek = LocalKey::generate().unwrap();
        let keys = fresh(&kek);
        let ring = keys.access.export_wrapped(&kek).unwrap();
        let active = keys.access.key_ids().remove(0);
        let broken = keys.meta.next(&ring, &[active]).unwrap();
        let err = refused(broken.document(), &kek);
        assert_eq!(
            err.0,
            "the key document's ring holds a key it lists as retired"
        );
    }

    /// A document that announces the key `next` of `keys`'s ring (added as
    /// next) for `at`, and that key's id.
    fn announcing(kek: &LocalKey, at: OffsetDateTime) -> (KeyMeta, String) {
        let keys = fresh(kek);
        let change = crate::access::RingChange {
            add: Some(false),
            remove: Vec::new(),
        };
        let staged = keys.access.changed_ring(kek, &change).unwrap();
        let next = staged.added.clone().unwrap();
        let schedule = Schedule {
            promotion: Some(Promotion {
                kid: next.clone(),
                at,
            }),
            rotated_at: Some(at - Duration::seconds(3)),
        };
        let meta = keys
            .meta
            .next_scheduled(&staged.wrapped, &staged.retired, schedule)
            .unwrap();
        (meta, next)
    }

    #[test]
    fn a_promotion_to_come_is_pending_and_the_active_key_still_signs() {
        let kek = LocalKey::generate().unwrap();
        let at = now() + Duration::hours(1);
        let (meta, next) = announcing(&kek, at);
        let opened = open(meta.document(), &kek);
        let (kid, when) = opened.access.pending_promotion().unwrap();
        assert_eq!((kid.as_str(), when), (next.as_str(), at));
        assert_eq!(opened.access.status_of(&next), Some(KeyStatus::Next));
        assert_eq!(opened.meta.schedule(), meta.schedule());
        assert_eq!(
            opened.meta.schedule().rotated_at,
            Some(at - Duration::seconds(3))
        );
        // Written again, the same document: the fields survive.
        let again = opened
            .meta
            .next(&opened.access.export_wrapped(&kek).unwrap(), &[])
            .unwrap();
        assert_eq!(again.schedule(), meta.schedule());
    }

    #[test]
    fn a_promotion_whose_instant_passed_is_applied_as_of_that_instant() {
        let kek = LocalKey::generate().unwrap();
        let at = now() - Duration::minutes(5);
        let (meta, next) = announcing(&kek, at);
        let old = fresh_active(&open(meta.document(), &kek), &next);
        let opened = open(meta.document(), &kek);
        assert_eq!(opened.access.pending_promotion(), None);
        assert_eq!(opened.access.status_of(&next), Some(KeyStatus::Active));
        assert_eq!(
            opened.access.status_of(&old),
            Some(KeyStatus::Previous { since: at })
        );
        // The old key's tokens (an hour long) expire an hour after `at`.
        assert_eq!(
            opened.access.next_retirement(),
            Some(at + Duration::hours(1))
        );
        // Nothing was written: the document is the one read.
        assert_eq!(opened.meta.document(), meta.document());
    }

    /// The id of the key of `keys` other than `next`.
    fn fresh_active(keys: &Keys, next: &str) -> String {
        keys.access
            .key_ids()
            .into_iter()
            .find(|kid| kid != next)
            .unwrap()
    }

    #[test]
    fn a_promotion_of_a_key_that_is_not_next_or_at_no_instant_is_refused() {
        let kek = LocalKey::generate().unwrap();
        let at = now() + Duration::hours(1);
        let (meta, next) = announcing(&kek, at);
        let active = fresh_active(&open(meta.document(), &kek), &next);
        let mut document: serde_json::Value = serde_json::from_str(meta.document()).unwrap();
        document["promotion"]["kid"] = serde_json::json!(active);
        let err = refused(&document.to_string(), &kek);
        assert_eq!(
            err.0,
            "the key document announces a promotion of a key its ring does not hold as next"
        );
        document["promotion"]["kid"] = serde_json::json!(next);
        document["promotion"]["at"] = serde_json::json!("tomorrow");
        let err = refused(&document.to_string(), &kek);
        assert_eq!(
            err.0,
            "the key document's promotion instant is not an RFC 3339 instant"
        );
    }

    /// A document's instants are not authenticated (only its keys are
    /// wrapped): one at the end of time is read without overflow.
    #[test]
    fn instants_at_the_end_of_time_do_not_overflow() {
        let kek = LocalKey::generate().unwrap();
        let end = time::PrimitiveDateTime::new(time::Date::MAX, time::Time::MAX).assume_utc();
        let (meta, next) = announcing(&kek, end);
        let opened = open(meta.document(), &kek);
        assert_eq!(
            opened.access.pending_promotion().map(|(_, at)| at),
            Some(end)
        );
        let document: serde_json::Value = serde_json::from_str(meta.document()).unwrap();
        let ring = AccessKeys::promoted_document(
            AccessPurpose::Public,
            document["access_ring"].as_str().unwrap(),
            &kek,
            &next,
            end,
        )
        .unwrap();
        let promoted = AccessKeys::import(AccessPurpose::Public, &ring, &kek, store()).unwrap();
        assert_eq!(promoted.status_of(&next), Some(KeyStatus::Active));
        // Its previous key would leave an hour after the end of time: never.
        assert_eq!(promoted.next_retirement(), None);
    }

    #[test]
    fn a_document_without_rotation_fields_reads_as_none_pending_and_is_written_the_same() {
        let kek = LocalKey::generate().unwrap();
        let keys = fresh(&kek);
        let text = keys.meta.document();
        assert!(!text.contains("promotion") && !text.contains("rotated_at"));
        let opened = open(text, &kek);
        assert_eq!(opened.meta.schedule(), &Schedule::default());
        assert_eq!(opened.access.pending_promotion(), None);
    }

    #[test]
    fn files_are_written_whole_with_owner_only_permissions() {
        let path = std::env::temp_dir().join(format!(
            "vaulttoken-server-keyfile-{}.json",
            std::process::id()
        ));
        assert_eq!(read_file(&path).unwrap(), None);
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(read_file(&path).unwrap().as_deref(), Some("second"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(&path).unwrap();
    }
}
