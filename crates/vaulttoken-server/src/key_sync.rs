//! Where the running keys come from and go to: the key file, and with Redis
//! the shared document (source of truth) mirrored into the file. Start-up
//! loading, rotation and the poll that picks up other instances' rotations.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use vaulttoken::service::VerifiedToken;
use vaulttoken::store::TokenStore;
use vaulttoken::{Error, LocalKey};

use time::OffsetDateTime;

use vaulttoken::keyring::KeyStatus;

use crate::access::{AccessKeys, RetireRefusal, RingChange, StagedRing};
use crate::config::AccessPurpose;
use crate::internal_keys::InternalKeys;
use crate::key_file::{
    KeyFileError, KeyMeta, Keys, Promotion, Schedule, Stale, now, read_file, write_atomically,
};
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
    /// The longest refresh family: the refresh rings' token lifetime.
    pub(crate) family_lifetime: time::Duration,
    pub(crate) store: Arc<dyn TokenStore>,
    pub(crate) shared: Option<SharedKeys>,
    pub(crate) rotation: RotationSettings,
}

/// When rotations happen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RotationSettings {
    /// How long a new key is announced (`next`) before it signs: see
    /// [`crate::Config::announcement`].
    pub(crate) announcement: time::Duration,
    /// How often a rotation is made by itself (`VAULTTOKEN_ROTATE_EVERY`).
    pub(crate) every: Option<time::Duration>,
}

/// The longest the rotation task sleeps between two looks at the ring: a
/// promotion, a retirement or a scheduled rotation is acted on at most this
/// late (a promotion announced is acted on at its instant).
const ROTATION_TICK: Duration = Duration::from_secs(1);

/// The running access and internal keys, swapped whole on rotation and
/// reload, and the document they came from.
#[derive(Debug)]
pub(crate) struct LiveKeys {
    pub(crate) source: KeySource,
    access: RwLock<Arc<AccessKeys>>,
    /// The refresh and trust rings; swapped with `access`, before
    /// `generation` grows.
    internal: RwLock<Arc<InternalKeys>>,
    /// Counts the documents installed: a token that met an unknown key id
    /// sees whether the ring changed since it was decoded, and the services
    /// built on the internal rings whether to build them again.
    generation: AtomicU64,
    /// The document in force; held across a rotation or a reload, so one
    /// runs at a time.
    meta: tokio::sync::Mutex<KeyMeta>,
    /// When the shared ring was last read for an unknown key id; held
    /// across that read, so one runs at a time.
    lookup: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    /// When this instance started: a scheduled rotation counts from it when
    /// the document records no rotation.
    started: OffsetDateTime,
    /// The document's `rotated_at` in force, as a Unix timestamp
    /// ([`i64::MIN`]: none), for the key ages.
    rotated_at: AtomicI64,
    /// Since when the shared document was last read (or written), in
    /// milliseconds after `clock_start`.
    synced_ms: AtomicU64,
    clock_start: std::time::Instant,
}

/// Seconds since the active key of each ring began signing; see
/// [`LiveKeys::key_ages`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct KeyAges {
    pub(crate) access: f64,
    /// The oldest of the clients' refresh rings (`None`: no client).
    pub(crate) refresh: Option<f64>,
    pub(crate) trust: f64,
}

/// When the active key of a ring of these statuses began signing: when the
/// key before it stopped (the latest `Previous` instant), else `fallback`
/// (the ring no longer holds its predecessor).
fn active_since(
    statuses: impl IntoIterator<Item = KeyStatus>,
    fallback: OffsetDateTime,
) -> OffsetDateTime {
    statuses
        .into_iter()
        .filter_map(|status| match status {
            KeyStatus::Previous { since } => Some(since),
            _ => None,
        })
        .max()
        .unwrap_or(fallback)
}

/// Seconds from `since` to `now`, never negative.
fn seconds_between(since: OffsetDateTime, now: OffsetDateTime) -> f64 {
    (now - since).as_seconds_f64().max(0.0)
}

/// A rotation asked for by hand.
#[derive(Debug, Default)]
pub(crate) struct RotateRequest {
    /// Promote the new key at once instead of announcing it (the
    /// emergency path).
    pub(crate) immediately: bool,
    /// A key removed at once (a leaked one); only with `immediately`.
    pub(crate) retire: Option<String>,
}

/// What a rotation did.
#[derive(Debug)]
pub(crate) struct Rotated {
    /// The key that signs now.
    pub(crate) active: String,
    /// The key announced, and when it signs (`None` when promoted at once).
    pub(crate) next: Option<(String, OffsetDateTime)>,
    /// The keys the rotation removed (expired ones, and a leaked one).
    pub(crate) retired: Vec<String>,
}

/// Why a rotation failed; in every case the running ring is unchanged.
#[derive(Debug)]
pub(crate) enum RotateError {
    /// The new document could not be built or opened again.
    Document(String),
    /// The key cannot be retired.
    Retire(RetireRefusal),
    /// A rotation is announced already: its key and when it signs.
    Pending(Promotion),
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
        Keys::open(
            text,
            &self.kek,
            self.purpose,
            self.access_lifetime,
            self.family_lifetime,
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
                    let keys = Keys::create(
                        &self.kek,
                        self.purpose,
                        self.access_lifetime,
                        self.family_lifetime,
                        &self.store,
                    )
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
    pub(crate) fn new(
        source: KeySource,
        access: AccessKeys,
        internal: InternalKeys,
        meta: KeyMeta,
    ) -> Self {
        let rotated_at = AtomicI64::new(rotated_at_of(&meta));
        Self {
            source,
            access: RwLock::new(Arc::new(access)),
            internal: RwLock::new(Arc::new(internal)),
            generation: AtomicU64::new(0),
            meta: tokio::sync::Mutex::new(meta),
            lookup: tokio::sync::Mutex::new(None),
            started: now(),
            rotated_at,
            // The keys were just loaded, from the shared document if any.
            synced_ms: AtomicU64::new(0),
            clock_start: std::time::Instant::now(),
        }
    }

    /// Records that the shared document was just read or written.
    fn synced(&self) {
        let elapsed = u64::try_from(self.clock_start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.synced_ms.fetch_max(elapsed, Ordering::Relaxed);
    }

    /// How long ago the shared document was last read or written (at
    /// start, by the poll, for an unknown key id, by a rotation); `None`
    /// without Redis.
    pub(crate) fn since_sync(&self) -> Option<Duration> {
        self.source.shared.as_ref()?;
        let synced = Duration::from_millis(self.synced_ms.load(Ordering::Relaxed));
        Some(self.clock_start.elapsed().saturating_sub(synced))
    }

    /// Seconds since the active key of each ring began signing, at `now`:
    /// since the key before it stopped, as the ring records it; for a ring
    /// that no longer holds its predecessor, since the last rotation the
    /// key document records, or else since this instance started.
    pub(crate) fn key_ages(&self, now: OffsetDateTime) -> KeyAges {
        let recorded = self.rotated_at.load(Ordering::Relaxed);
        let fallback = OffsetDateTime::from_unix_timestamp(recorded).unwrap_or(self.started);
        let age = |statuses: Vec<KeyStatus>| seconds_between(active_since(statuses, fallback), now);
        let internal = self.internal();
        let statuses = |ring: &vaulttoken::keyring::LocalKeyRing| {
            ring.keys().into_iter().map(|(_, status)| status).collect()
        };
        KeyAges {
            access: age(self.access().statuses()),
            refresh: internal
                .refresh
                .values()
                .map(|sealing| age(statuses(&sealing.ring)))
                .reduce(f64::max),
            trust: age(statuses(&internal.trust.ring)),
        }
    }

    /// The access keys in force.
    pub(crate) fn access(&self) -> Arc<AccessKeys> {
        Arc::clone(&self.access.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The refresh and trust rings in force.
    pub(crate) fn internal(&self) -> Arc<InternalKeys> {
        Arc::clone(&self.internal.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many documents were installed since start.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn install(&self, keys: Keys) {
        self.rotated_at
            .store(rotated_at_of(&keys.meta), Ordering::Relaxed);
        *self.access.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys.access);
        *self
            .internal
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(keys.internal);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The internal rings rotated: a new key in each, signing at once.
    fn rotated_internal(&self) -> Result<InternalKeys, RotateError> {
        self.internal()
            .rotated()
            .map_err(|_| RotateError::Document("the internal keys could not be rotated".into()))
    }

    /// Rotates by hand. Announced (the default): a new key is added as next
    /// and signs from now + the announcement period; refused while another
    /// is announced. Immediately: a new key is added and signs at once (an
    /// announced one is dropped), and `retire` is removed at once. In both,
    /// the previous active key keeps verifying and expired keys leave.
    pub(crate) async fn rotate(&self, request: &RotateRequest) -> Result<Rotated, RotateError> {
        let mut meta = self.meta.lock().await;
        self.apply_due_promotion(&meta)?;
        if request.immediately {
            self.rotate_now(&mut meta, request.retire.as_deref()).await
        } else {
            self.announce(&mut meta).await
        }
    }

    /// Announces a rotation: see [`LiveKeys::rotate`].
    async fn announce(&self, meta: &mut KeyMeta) -> Result<Rotated, RotateError> {
        let now = now();
        if let Some(pending) = pending(meta, now) {
            return Err(RotateError::Pending(pending.clone()));
        }
        let at = now + self.source.rotation.announcement;
        let change = RingChange {
            add: Some(false),
            remove: Vec::new(),
        };
        let staged = self.access().changed_ring(&self.source.kek, &change);
        let staged = staged.map_err(RotateError::Retire)?;
        let kid = staged.added.clone().unwrap_or_default();
        let schedule = Schedule {
            promotion: Some(Promotion {
                kid: kid.clone(),
                at,
            }),
            rotated_at: Some(now),
        };
        let retired = staged.retired.clone();
        let internal = self.rotated_internal()?;
        self.change_locked(meta, staged, schedule, Some(internal))
            .await?;
        Ok(Rotated {
            active: self.active_id(),
            next: Some((kid, at)),
            retired,
        })
    }

    /// Rotates at once: see [`LiveKeys::rotate`].
    async fn rotate_now(
        &self,
        meta: &mut KeyMeta,
        leaked: Option<&str>,
    ) -> Result<Rotated, RotateError> {
        let now = now();
        let mut remove: Vec<&str> = leaked.into_iter().collect();
        // The key announced never signed: it leaves with the announcement.
        let access = self.access();
        let announced = access.pending_promotion();
        if let Some((kid, _)) = &announced {
            remove.push(kid.as_str());
        }
        let change = RingChange {
            add: Some(true),
            remove,
        };
        let staged = access
            .changed_ring(&self.source.kek, &change)
            .map_err(RotateError::Retire)?;
        let schedule = Schedule {
            promotion: None,
            rotated_at: Some(now),
        };
        let retired = staged.retired.clone();
        let internal = self.rotated_internal()?;
        self.change_locked(meta, staged, schedule, Some(internal))
            .await?;
        Ok(Rotated {
            active: self.active_id(),
            next: None,
            retired,
        })
    }

    fn active_id(&self) -> String {
        self.access().published().0.unwrap_or_default()
    }

    /// Removes the key `kid` at once (a compromised key): tokens it signed
    /// stop verifying. The active key is refused; the key of an announced
    /// rotation may be removed, and the announcement with it.
    pub(crate) async fn retire(&self, kid: &str) -> Result<(), RotateError> {
        let mut meta = self.meta.lock().await;
        self.apply_due_promotion(&meta)?;
        let change = RingChange {
            add: None,
            remove: vec![kid],
        };
        let staged = self
            .access()
            .changed_ring(&self.source.kek, &change)
            .map_err(RotateError::Retire)?;
        let mut schedule = meta.schedule().clone();
        if schedule
            .promotion
            .as_ref()
            .is_some_and(|promotion| promotion.kid == kid)
        {
            schedule.promotion = None;
        }
        self.change_locked(&mut meta, staged, schedule, None).await
    }

    /// What the clock asks of the ring, under the document's lock: an
    /// announced promotion whose instant came is applied at once from the
    /// document held (whatever Redis says), then recorded; keys whose tokens
    /// have all expired leave; a scheduled rotation that is due is
    /// announced. A lost compare-and-set takes up the winner's document.
    pub(crate) async fn tick(&self) -> Result<(), RotateError> {
        let outcome = self.tick_locked().await;
        if matches!(outcome, Err(RotateError::Conflict)) {
            // Another instance wrote first: its document is the one in force.
            let _ = self.reload().await;
        }
        outcome
    }

    async fn tick_locked(&self) -> Result<(), RotateError> {
        let mut meta = self.meta.lock().await;
        let now = now();
        let schedule = meta.schedule().clone();
        if let Some(promotion) = &schedule.promotion
            && promotion.at <= now
        {
            self.apply_due_promotion(&meta)?;
            let staged = self
                .access()
                .changed_ring(&self.source.kek, &RingChange::default())
                .map_err(RotateError::Retire)?;
            let schedule = Schedule {
                promotion: None,
                ..schedule
            };
            return self.change_locked(&mut meta, staged, schedule, None).await;
        }
        let internal_due = self
            .internal()
            .next_retirement()
            .is_some_and(|due| due <= now);
        if internal_due
            || self
                .access()
                .next_retirement()
                .is_some_and(|due| due <= now)
        {
            let staged = self
                .access()
                .changed_ring(&self.source.kek, &RingChange::default())
                .map_err(RotateError::Retire)?;
            let retired = staged.retired.clone();
            let internal = if internal_due {
                let expired = self.internal().expired().map_err(|_| {
                    RotateError::Document("the internal keys could not be retired".into())
                })?;
                Some(expired)
            } else {
                None
            };
            self.change_locked(&mut meta, staged, schedule, internal)
                .await?;
            tracing::info!(
                target: "vaulttoken_server::audit",
                event = "keys_expired",
                kids = ?retired,
            );
            return Ok(());
        }
        if let Some(every) = self.source.rotation.every
            && schedule.promotion.is_none()
            && schedule
                .rotated_at
                .unwrap_or(self.started)
                .checked_add(every)
                .is_some_and(|due| due <= now)
        {
            let rotated = self.announce(&mut meta).await?;
            tracing::info!(
                target: "vaulttoken_server::audit",
                event = "keys_rotated",
                scheduled = true,
                next = %rotated.next.map(|(kid, _)| kid).unwrap_or_default(),
            );
        }
        Ok(())
    }

    /// Signs with the key of `meta`'s announced promotion if its instant
    /// came and the ring in force does not yet: opening the document held
    /// applies it (as of its instant). Nothing is written.
    fn apply_due_promotion(&self, meta: &KeyMeta) -> Result<(), RotateError> {
        let now = now();
        let Some(promotion) = &meta.schedule().promotion else {
            return Ok(());
        };
        // `>=` for `>` is an equivalent mutant: they differ only for a look
        // at the promotion instant to the nanosecond.
        if promotion.at > now || self.access().pending_promotion().is_none() {
            return Ok(());
        }
        let keys = self
            .open(meta.document())
            .map_err(|err| RotateError::Document(err.0))?;
        self.install(keys);
        tracing::info!(
            target: "vaulttoken_server::audit",
            event = "key_promoted",
            kid = %promotion.kid,
        );
        Ok(())
    }

    /// When the rotation task should look again: the announced promotion's
    /// instant if it comes sooner than [`ROTATION_TICK`].
    ///
    /// The mutant that returns zero is not caught by a behaviour test: the
    /// timer rounds a zero sleep up to its 1 ms tick, so the task would look
    /// some thousand times a second instead of once, each look a lock and a
    /// few comparisons (no I/O, nothing written, under 1% of a core). What
    /// the tests see is the same; `an_idle_server_does_not_spin` catches a
    /// real spin only.
    fn next_look(&self) -> Duration {
        let Some((_, at)) = self.access().pending_promotion() else {
            return ROTATION_TICK;
        };
        // Past it and still pending (negative, so not a `Duration`): the
        // last look failed, and the next is a tick later.
        Duration::try_from(at - now()).map_or(ROTATION_TICK, |left| left.min(ROTATION_TICK))
    }

    /// Publishes `staged` with `schedule` (and `internal` as the internal
    /// rings, if given) as the next document (Redis: compare-and-set
    /// against the document in force, or, if the shared one is missing or
    /// refused, against that) and writes the file before it is used; on any
    /// failure the running rings are unchanged.
    async fn change_locked(
        &self,
        meta: &mut KeyMeta,
        staged: StagedRing,
        schedule: Schedule,
        internal: Option<InternalKeys>,
    ) -> Result<(), RotateError> {
        let source = &self.source;
        let base = match &internal {
            Some(internal) => meta.with_internal(internal, &source.kek),
            None => Ok(meta.clone()),
        };
        let next = base
            .and_then(|base| base.next_scheduled(&staged.wrapped, &staged.retired, schedule))
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
                        .shared_beside(shared, meta)
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
                self.synced();
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
        let next_meta = keys.meta.clone();
        self.install(keys);
        *meta = next_meta;
        Ok(())
    }

    fn open(&self, text: &str) -> Result<Keys, KeyFileError> {
        let source = &self.source;
        Keys::open(
            text,
            &source.kek,
            source.purpose,
            source.access_lifetime,
            source.family_lifetime,
            &source.store,
        )
    }

    /// Reads the shared document and judges it against `held`, logging a
    /// missing or refused one (the caller republishes). Every answer but an
    /// error (Redis, or a document that cannot be opened) counts as a sync
    /// ([`LiveKeys::since_sync`]).
    async fn shared_beside(
        &self,
        shared: &SharedKeys,
        held: &KeyMeta,
    ) -> Result<Shared, SharedKeysError> {
        let Some(text) = shared.get().await? else {
            self.synced();
            tracing::warn!(
                "the shared key ring is missing from Redis (data lost?): publishing this \
                 instance's (version {})",
                held.version()
            );
            return Ok(Shared::Missing);
        };
        if text == held.document() {
            self.synced();
            return Ok(Shared::Same);
        }
        // A document that cannot be opened is no sync: the instance may be
        // out of date (and is not ready once that lasts).
        let keys = self.open(&text).map_err(|err| {
            tracing::error!(error = %err.0, "the shared keys cannot be opened; keeping the current ones");
            SharedKeysError("the shared keys cannot be opened")
        })?;
        self.synced();
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
                let next_meta = keys.meta.clone();
                self.install(keys);
                *meta = next_meta;
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

/// The `rotated_at` of `meta` as a Unix timestamp, [`i64::MIN`] if none.
fn rotated_at_of(meta: &KeyMeta) -> i64 {
    meta.schedule()
        .rotated_at
        .map_or(i64::MIN, OffsetDateTime::unix_timestamp)
}

/// The announced promotion of `meta` not yet in force at `now`.
fn pending(meta: &KeyMeta, now: OffsetDateTime) -> Option<&Promotion> {
    // `>=` for `>` is an equivalent mutant: they differ only for a rotation
    // asked at the promotion instant to the nanosecond.
    meta.schedule()
        .promotion
        .as_ref()
        .filter(|promotion| promotion.at > now)
}

/// Looks at the ring for promotions, retirements and scheduled rotations
/// while `keys` lives: at most [`ROTATION_TICK`] apart, and at the instant
/// of an announced promotion.
pub(crate) fn spawn_rotation(keys: Weak<LiveKeys>) {
    tokio::spawn(async move {
        loop {
            let Some(wait) = keys.upgrade().map(|keys| keys.next_look()) else {
                return;
            };
            tokio::time::sleep(wait).await;
            let Some(keys) = keys.upgrade() else {
                return;
            };
            match keys.tick().await {
                Ok(()) => {}
                // Another instance of the fleet made the change first.
                Err(RotateError::Conflict) => {
                    tracing::info!("the key ring was changed by another instance; taken up");
                }
                Err(err) => {
                    tracing::warn!(error = ?err, "the scheduled key ring change failed; trying again");
                }
            }
        }
    });
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

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn an_active_key_signs_since_its_predecessor_stopped_else_the_fallback() {
        let fallback = datetime!(2030-01-01 0:00 UTC);
        let stopped = |at| KeyStatus::Previous { since: at };
        assert_eq!(
            active_since([KeyStatus::Active, KeyStatus::Next], fallback),
            fallback
        );
        let early = datetime!(2030-02-01 0:00 UTC);
        let late = datetime!(2030-03-01 0:00 UTC);
        assert_eq!(
            active_since([stopped(early), KeyStatus::Active, stopped(late)], fallback),
            late
        );
        assert_eq!(active_since([stopped(early)], fallback), early);
    }

    #[test]
    fn an_age_is_whole_and_fractional_seconds_and_never_negative() {
        let since = datetime!(2030-01-01 0:00 UTC);
        assert_eq!(
            seconds_between(since, datetime!(2030-01-01 0:01:30.5 UTC)),
            90.5
        );
        assert_eq!(seconds_between(since, since), 0.0);
        assert_eq!(seconds_between(since, datetime!(2029-12-31 23:59 UTC)), 0.0);
    }
}
