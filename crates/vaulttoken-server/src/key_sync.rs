//! Where the running keys come from and go to: the key file, and with Redis
//! the shared document (source of truth) mirrored into the file. Start-up
//! loading, rotation and the poll that picks up other instances' rotations.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use vaulttoken::service::VerifiedToken;
use vaulttoken::store::TokenStore;
use vaulttoken::{Error, LocalKey};

use crate::access::{AccessKeys, RetireRefusal, StagedRing};
use crate::config::AccessPurpose;
use crate::key_file::{KeyFileError, KeyMeta, Keys, Stale, read_file, write_atomically};
use crate::shared_keys::{SharedKeys, SharedKeysError};
use crate::start_error::StartError;

/// How often start-up retries a lost compare-and-set race.
const START_ATTEMPTS: usize = 5;
/// The shortest time between two reads of the shared ring for tokens that
/// name an unknown key id, per instance: a flood of made-up ids costs at
/// most one Redis read per interval.
pub(crate) const UNKNOWN_KID_LOOKUP_INTERVAL: Duration = Duration::from_secs(1);

/// What loading and saving keys needs.
#[derive(Debug)]
pub(crate) struct KeySource {
    pub(crate) path: PathBuf,
    pub(crate) kek: LocalKey,
    pub(crate) purpose: AccessPurpose,
    pub(crate) create: bool,
    pub(crate) access_lifetime: time::Duration,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) shared: Option<SharedKeys>,
}

/// The running access keys, swapped whole on rotation and reload, and the
/// document they came from.
#[derive(Debug)]
pub(crate) struct LiveKeys {
    pub(crate) source: KeySource,
    access: RwLock<Arc<AccessKeys>>,
    /// Counts the rings installed: a token that met an unknown key id sees
    /// whether the ring changed since it was decoded.
    generation: AtomicU64,
    /// The document in force; held across a rotation or a reload, so one
    /// runs at a time.
    meta: tokio::sync::Mutex<KeyMeta>,
    /// When the shared ring was last read for an unknown key id; held
    /// across that read, so one runs at a time.
    lookup: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

/// Why a rotation failed; in every case the running ring is unchanged.
#[derive(Debug)]
pub(crate) enum RotateError {
    /// A key operation failed.
    Keys(Error),
    /// The new document could not be built or opened again.
    Document(String),
    /// The key cannot be retired.
    Retire(RetireRefusal),
    /// Another instance changed the shared ring meanwhile.
    Conflict,
    /// Redis could not be asked.
    Shared(SharedKeysError),
    /// The key file could not be written (without Redis).
    Persist(std::io::Error),
}

fn start_error(err: impl std::fmt::Display) -> StartError {
    StartError::new(format!("VAULTTOKEN_KEYRING_FILE: {err}"))
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    write_atomically(path, text.as_bytes())
}

impl KeySource {
    fn parse(&self, text: &str) -> Result<Keys, StartError> {
        Keys::parse(
            text,
            &self.kek,
            self.purpose,
            self.access_lifetime,
            &self.store,
        )
        .map_err(|err| start_error(err.0))
    }

    /// The keys to start with: the shared document if there is one, else the
    /// key file, else (if allowed) new keys; with a refresh key for every
    /// client. A shared document older than the key file's (Redis restored
    /// from an old snapshot), or one that holds a key the file retired, is
    /// replaced by the file's. With Redis, a new or changed document is
    /// published by compare-and-set (a lost race starts over from the
    /// winner's). The file is left a copy of the document in force, and is
    /// never replaced by an older one.
    pub(crate) async fn load(&self, clients: &[&str]) -> Result<Keys, StartError> {
        for _ in 0..START_ATTEMPTS {
            let shared_text = match &self.shared {
                Some(shared) => shared.get().await.map_err(|err| {
                    StartError::new(format!(
                        "Redis (REDIS_URL or REDIS_CLUSTER_URLS): reading the shared keys: {err}"
                    ))
                })?,
                None => None,
            };
            let file_text = read_file(&self.path).map_err(|err| start_error(err.0))?;
            let (mut keys, mut publish) = match (&shared_text, &file_text) {
                (Some(shared), Some(file)) => self.newer(shared, file)?,
                (Some(text), None) => (self.parse(text)?, false),
                (None, Some(text)) => (self.parse(text)?, true),
                (None, None) if self.create => {
                    tracing::warn!(path = %self.path.display(), "creating new keys");
                    let keys =
                        Keys::generate(&self.kek, self.purpose, self.access_lifetime, &self.store)
                            .map_err(|err| start_error(err.0))?;
                    (keys, true)
                }
                (None, None) => return Err(start_error("the key file does not exist")),
            };
            publish |= keys
                .add_missing_clients(clients, &self.kek)
                .map_err(|err| start_error(err.0))?;
            if let Some(shared) = &self.shared
                && publish
            {
                let published = shared
                    .replace(shared_text.as_deref(), keys.meta.document())
                    .await
                    .map_err(|err| {
                        StartError::new(format!(
                            "Redis (REDIS_URL or REDIS_CLUSTER_URLS): publishing the keys: {err}"
                        ))
                    })?;
                if !published {
                    continue;
                }
            }
            if file_text.as_deref() != Some(keys.meta.document()) {
                write_file(&self.path, keys.meta.document())
                    .map_err(|err| start_error(format_args!("cannot be written: {err}")))?;
            }
            return Ok(keys);
        }
        Err(StartError::new(
            "Redis (REDIS_URL or REDIS_CLUSTER_URLS): the shared keys kept changing while starting",
        ))
    }

    /// Of a shared document and a key file, the one to start with, and
    /// whether it must be published over the shared one: the shared one
    /// unless the file's refuses it (see [`Keys::check_against`]). A key
    /// file that cannot be opened is replaced by the shared document, as
    /// before versions.
    fn newer(&self, shared: &str, file: &str) -> Result<(Keys, bool), StartError> {
        let shared = self.parse(shared)?;
        let file = match self.parse(file) {
            Ok(file) => file,
            Err(err) => {
                tracing::warn!(error = %err, "the key file cannot be opened; replacing it with the shared keys");
                return Ok((shared, false));
            }
        };
        match shared.check_against(&file.meta) {
            Ok(()) => Ok((shared, false)),
            Err(stale) => {
                log_refused(&stale);
                tracing::warn!(
                    "the shared key ring is not taken up ({stale}): publishing the key file's \
                     (was Redis restored from an old snapshot?)"
                );
                Ok((file, true))
            }
        }
    }
}

/// Logs a shared document refused: at `ERROR` if it would bring a retired
/// key back.
fn log_refused(stale: &Stale) {
    if matches!(stale, Stale::Revives { .. }) {
        tracing::error!(
            "a shared key ring that holds a retired key was refused ({stale}); \
             the retired key stays retired"
        );
    }
}

/// What the shared document is, beside the one an instance holds.
enum Shared {
    /// None: Redis lost it (or it was deleted).
    Missing,
    /// The one held.
    Same,
    /// A document that may replace the one held.
    Newer(Box<Keys>),
    /// A document that may not (older, or bringing a retired key back).
    Refused(String),
}

impl LiveKeys {
    pub(crate) fn new(source: KeySource, access: AccessKeys, meta: KeyMeta) -> Self {
        Self {
            source,
            access: RwLock::new(Arc::new(access)),
            generation: AtomicU64::new(0),
            meta: tokio::sync::Mutex::new(meta),
            lookup: tokio::sync::Mutex::new(None),
        }
    }

    /// The access keys in force.
    pub(crate) fn access(&self) -> Arc<AccessKeys> {
        Arc::clone(&self.access.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn install(&self, access: AccessKeys) {
        *self.access.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(access);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Rotates: a new key is added and promoted, the previous active key
    /// keeps verifying, expired keys are retired. Returns the new active id.
    pub(crate) async fn rotate(&self) -> Result<String, RotateError> {
        self.change(|access, kek| access.rotated_ring(kek).map_err(RotateError::Keys))
            .await?;
        Ok(self.access().published().0.unwrap_or_default())
    }

    /// Removes the key `kid` at once (a compromised key): tokens it signed
    /// stop verifying. The active key is refused.
    pub(crate) async fn retire(&self, kid: &str) -> Result<(), RotateError> {
        self.change(|access, kek| access.retired_ring(kek, kid).map_err(RotateError::Retire))
            .await
    }

    /// Builds a new ring from the one in force, publishes it (Redis:
    /// compare-and-set against the document in force, or, if the shared
    /// one is missing or refused, against that) and writes the file before
    /// it is used; on any failure the running ring is unchanged.
    async fn change(
        &self,
        build: impl FnOnce(&AccessKeys, &LocalKey) -> Result<StagedRing, RotateError>,
    ) -> Result<(), RotateError> {
        let source = &self.source;
        let mut meta = self.meta.lock().await;
        let staged = build(&self.access(), &source.kek)?;
        let next = meta
            .next(&staged.wrapped, &staged.retired)
            .map_err(|err| RotateError::Document(err.0))?;
        let keys = self
            .open(next.document())
            .map_err(|err| RotateError::Document(err.0))?;
        match &source.shared {
            Some(shared) => {
                if !shared
                    .replace(Some(meta.document()), next.document())
                    .await
                    .map_err(RotateError::Shared)?
                {
                    // Not the document held: publish over it only if it is
                    // missing or refused.
                    let current = match self
                        .shared_beside(shared, &meta)
                        .await
                        .map_err(RotateError::Shared)?
                    {
                        Shared::Missing => None,
                        Shared::Refused(text) => Some(text),
                        Shared::Same | Shared::Newer(_) => return Err(RotateError::Conflict),
                    };
                    if !shared
                        .replace(current.as_deref(), next.document())
                        .await
                        .map_err(RotateError::Shared)?
                    {
                        return Err(RotateError::Conflict);
                    }
                }
                // Redis is the source of truth; the file is a local copy.
                if let Err(err) = self.write_copy(next.document()).await {
                    tracing::warn!(error = %err, "the key file copy could not be written");
                }
            }
            None => self
                .write_copy(next.document())
                .await
                .map_err(RotateError::Persist)?,
        }
        self.install(keys.access);
        *meta = keys.meta;
        Ok(())
    }

    fn open(&self, text: &str) -> Result<Keys, KeyFileError> {
        let source = &self.source;
        Keys::parse(
            text,
            &source.kek,
            source.purpose,
            source.access_lifetime,
            &source.store,
        )
    }

    /// Reads the shared document and judges it against `held`, logging a
    /// missing or refused one (the caller republishes).
    async fn shared_beside(
        &self,
        shared: &SharedKeys,
        held: &KeyMeta,
    ) -> Result<Shared, SharedKeysError> {
        let Some(text) = shared.get().await? else {
            tracing::warn!(
                "the shared key ring is missing from Redis (data lost?): publishing this \
                 instance's (version {})",
                held.version()
            );
            return Ok(Shared::Missing);
        };
        if text == held.document() {
            return Ok(Shared::Same);
        }
        let keys = self.open(&text).map_err(|err| {
            tracing::error!(error = %err.0, "the shared keys cannot be opened; keeping the current ones");
            SharedKeysError("the shared keys cannot be opened")
        })?;
        match keys.check_against(held) {
            Ok(()) => Ok(Shared::Newer(Box::new(keys))),
            Err(stale) => {
                log_refused(&stale);
                tracing::warn!(
                    "the shared key ring is not taken up ({stale}): publishing this instance's \
                     (version {}) again (did Redis lose data, or an instance start from an old \
                     key file?)",
                    held.version()
                );
                Ok(Shared::Refused(text))
            }
        }
    }

    /// Takes up the shared document if another instance changed it to a
    /// newer one; whether it did. A missing or refused shared document is
    /// replaced by the one held (compare-and-set). Without Redis, nothing
    /// to do.
    pub(crate) async fn reload(&self) -> Result<bool, SharedKeysError> {
        let Some(shared) = &self.source.shared else {
            return Ok(false);
        };
        // Read under the lock: a document read before a rotation of this
        // instance must not replace the one that rotation published.
        let mut meta = self.meta.lock().await;
        let current = match self.shared_beside(shared, &meta).await? {
            Shared::Same => return Ok(false),
            Shared::Missing => None,
            Shared::Refused(text) => Some(text),
            Shared::Newer(keys) => {
                let keys = *keys;
                let text = keys.meta.document().to_owned();
                self.install(keys.access);
                *meta = keys.meta;
                if let Err(err) = self.write_copy(&text).await {
                    tracing::warn!(error = %err, "the key file copy could not be written");
                }
                tracing::info!(
                    target: "vaulttoken_server::audit",
                    event = "keys_reloaded",
                );
                return Ok(true);
            }
        };
        // A lost race is settled at the next read.
        shared.replace(current.as_deref(), meta.document()).await?;
        Ok(false)
    }

    /// Decodes an access token with the ring in force. A token that names a
    /// key the ring does not hold may come from a rotation elsewhere: the
    /// shared ring is read again first (one read at a time, the others wait
    /// for it; at most one per [`UNKNOWN_KID_LOOKUP_INTERVAL`]), and the
    /// token decoded again if the ring changed. Returns the keys that
    /// decoded it.
    pub(crate) async fn decode(
        &self,
        token: &str,
        implicit: &[u8],
    ) -> (Arc<AccessKeys>, Result<VerifiedToken, Error>) {
        // Before the ring: a ring installed in between is seen as a change.
        let generation = self.generation.load(Ordering::Acquire);
        let access = self.access();
        let decoded = access.decode(token, implicit).await;
        if !matches!(decoded, Err(Error::UnknownKeyId)) || !self.look_up(generation).await {
            return (access, decoded);
        }
        let access = self.access();
        let decoded = access.decode(token, implicit).await;
        (access, decoded)
    }

    /// Reads the shared ring again for an unknown key id, unless the ring
    /// changed since `generation` or the last read was less than
    /// [`UNKNOWN_KID_LOOKUP_INTERVAL`] ago; whether the ring changed.
    async fn look_up(&self, generation: u64) -> bool {
        if self.source.shared.is_none() {
            return false;
        }
        let mut last = self.lookup.lock().await;
        if self.generation.load(Ordering::Acquire) != generation {
            return true;
        }
        let now = tokio::time::Instant::now();
        // `<=` for `<` is an equivalent mutant: they differ only for a read
        // exactly one interval (to the nanosecond) after the last.
        if last.is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_LOOKUP_INTERVAL) {
            return false;
        }
        *last = Some(now);
        match self.reload().await {
            Ok(changed) => changed,
            Err(err) => {
                tracing::warn!(error = %err, "reading the shared keys for an unknown key id failed");
                false
            }
        }
    }

    async fn write_copy(&self, text: &str) -> std::io::Result<()> {
        let path = self.source.path.clone();
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || write_file(&path, &text))
            .await
            .map_err(std::io::Error::other)?
    }
}

/// Polls the shared document every `interval` while `keys` lives.
pub(crate) fn spawn_poll(keys: Weak<LiveKeys>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(keys) = keys.upgrade() else {
                return;
            };
            if let Err(err) = keys.reload().await {
                tracing::warn!(error = %err, "polling the shared keys failed; trying again");
            }
        }
    });
}
