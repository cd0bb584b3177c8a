//! The state a [`RemoteKeySet`](crate::RemoteKeySet) shares with its
//! background refresher and its lookups: the ring it keeps up to date, how
//! long the keys are vouched for, the one fetch in flight, and the counters.
//!
//! The rules, in one place:
//! - a successful fetch (a new document or `304 Not Modified`) vouches for
//!   the keys until the document's cache time plus the configured stale
//!   bound has passed; a failed one changes nothing but the counters;
//! - at most one fetch is in flight: whoever wants one while it runs waits
//!   for it (the refresher, a lookup);
//! - a lookup starts a fetch only if no lookup started one within the
//!   minimum interval, else it answers at once with the last fetch's
//!   outcome (a scheduled refresh does not count: right after one, an
//!   emergency rotation is still found);
//! - the refresher fetches when the cache time is 90% spent (never sooner
//!   than the minimum interval), and after a failure again one minimum
//!   interval later.

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use reqwest::header::HeaderValue;
use reqwest::{Client, Url};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use vaulttoken::Error;
use vaulttoken::keyring::{KeySet, KeySetPurpose, PublicKeyRing};
use vaulttoken::paserk::KeyId;

use crate::error::FetchError;
use crate::fetch::{self, Fetched};

/// How a follower fetches and how long it trusts what it fetched.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) url: Url,
    pub(crate) issuer: String,
    pub(crate) timeout: Duration,
    pub(crate) min_interval: Duration,
    pub(crate) max_stale: Duration,
}

/// The fetch counters.
#[derive(Debug, Default)]
struct Counters {
    fetches: AtomicU64,
    failures: AtomicU64,
    not_modified: AtomicU64,
}

/// How many fetches a [`RemoteKeySet`](crate::RemoteKeySet) made, for tests,
/// soak runs and metrics.
///
/// # Examples
///
/// ```
/// use vaulttoken_keyset::FetchCounts;
///
/// let counts = FetchCounts::default();
/// assert_eq!((counts.fetches, counts.failures, counts.not_modified), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchCounts {
    /// Requests made, whatever their outcome.
    pub fetches: u64,
    /// Requests that failed or whose document was refused.
    pub failures: u64,
    /// `304 Not Modified` answers.
    pub not_modified: u64,
}

/// The fetch in flight and what the last one said.
#[derive(Debug)]
struct Fetching {
    /// Resolves to the outcome of the fetch in flight (`Some(true)`: it
    /// succeeded), if one is.
    in_flight: Option<watch::Receiver<Option<bool>>>,
    /// When a lookup last started a fetch.
    last_lookup: Option<Instant>,
    /// Whether the last finished fetch succeeded.
    last_succeeded: bool,
    /// The last document's tag, for the next conditional request.
    etag: Option<HeaderValue>,
    /// The last document's cache time.
    cache_time: Duration,
    /// When the refresher fetches next.
    refresh_due: Instant,
}

/// What a follower shares with its refresher and its lookups.
pub(crate) struct Follower {
    settings: Settings,
    client: Client,
    ring: Arc<PublicKeyRing>,
    /// The instant `vouched_until` counts from.
    base: Instant,
    /// Nanoseconds after `base` until which the keys are vouched for.
    vouched_until: AtomicU64,
    fetching: Mutex<Fetching>,
    counters: Counters,
    /// The background refresher, stopped when the follower drops.
    refresher: Mutex<Option<AbortHandle>>,
    /// The runtime the follower was built in, where its fetches run: a
    /// lookup awaited on another executor (or none) still works.
    runtime: Handle,
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("url", &self.settings.url.as_str())
            .field("issuer", &self.settings.issuer)
            .field("keys", &self.ring.len())
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(refresher) = lock(&self.refresher).take() {
            refresher.abort();
        }
    }
}

/// Locks `mutex`; what it guards is whole after any panic (plain fields set
/// one at a time), so a poisoned lock is safe to reuse.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits for the outcome of a fetch in flight: `false` if it failed or its
/// task is gone.
async fn outcome(mut in_flight: watch::Receiver<Option<bool>>) -> bool {
    in_flight
        .wait_for(Option::is_some)
        .await
        .is_ok_and(|outcome| *outcome == Some(true))
}

/// Clears the fetch in flight when its task ends, however it ends.
struct Flight {
    follower: Arc<Follower>,
    done: watch::Sender<Option<bool>>,
    succeeded: bool,
}

impl Flight {
    /// Records the fetch's outcome, announced when the flight drops.
    fn land(&mut self, succeeded: bool) {
        self.succeeded = succeeded;
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        {
            let mut fetching = lock(&self.follower.fetching);
            fetching.in_flight = None;
            fetching.last_succeeded = self.succeeded;
        }
        self.done.send_replace(Some(self.succeeded));
    }
}

impl Follower {
    /// A follower of `settings.url`, keeping `ring` up to date, fetching in
    /// `runtime`. It has no keys to vouch for until its first fetch.
    pub(crate) fn new(
        settings: Settings,
        client: Client,
        ring: Arc<PublicKeyRing>,
        runtime: Handle,
    ) -> Self {
        let now = Instant::now();
        Self {
            settings,
            client,
            ring,
            base: now,
            vouched_until: AtomicU64::new(0),
            fetching: Mutex::new(Fetching {
                in_flight: None,
                last_lookup: None,
                last_succeeded: false,
                etag: None,
                cache_time: Duration::ZERO,
                refresh_due: now,
            }),
            counters: Counters::default(),
            refresher: Mutex::new(None),
            runtime,
        }
    }

    /// The ring the follower keeps up to date.
    pub(crate) fn ring(&self) -> &Arc<PublicKeyRing> {
        &self.ring
    }

    /// The counters, read now.
    pub(crate) fn counts(&self) -> FetchCounts {
        FetchCounts {
            fetches: self.counters.fetches.load(Ordering::Relaxed),
            failures: self.counters.failures.load(Ordering::Relaxed),
            not_modified: self.counters.not_modified.load(Ordering::Relaxed),
        }
    }

    /// Nanoseconds from `base` to `at` (saturating).
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// `Ok` while the keys are vouched for: one clock read and one atomic
    /// load, nothing shared is written.
    pub(crate) fn vouch(&self) -> Result<(), Error> {
        // Equivalent mutant: `<=` differs only at the one nanosecond the keys
        // go stale, which no test (or caller) can aim at.
        if self.nanos(Instant::now()) < self.vouched_until.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(Error::KeysUnavailable)
        }
    }

    /// Looks up `kid`: a fetch if one may start, else the one in flight,
    /// else the last fetch's outcome at once.
    pub(crate) async fn look_up(self: &Arc<Self>, kid: &str) -> Result<(), Error> {
        // A kid that cannot name a public key, or that is known by now, is
        // not worth a request.
        let Ok(kid) = KeyId::parse(kid) else {
            return Ok(());
        };
        if kid.kind() != vaulttoken::error::PaserkType::Pid || self.ring.status(&kid).is_some() {
            return Ok(());
        }
        let in_flight = {
            let mut fetching = lock(&self.fetching);
            match &fetching.in_flight {
                Some(in_flight) => in_flight.clone(),
                // Equivalent mutant: `<=` differs only when the interval
                // has passed to the nanosecond.
                None if fetching
                    .last_lookup
                    .is_some_and(|at| at.elapsed() < self.settings.min_interval) =>
                {
                    return if fetching.last_succeeded {
                        Ok(())
                    } else {
                        Err(Error::KeysUnavailable)
                    };
                }
                None => {
                    fetching.last_lookup = Some(Instant::now());
                    self.start_fetch(&mut fetching)
                }
            }
        };
        if outcome(in_flight).await {
            Ok(())
        } else {
            Err(Error::KeysUnavailable)
        }
    }

    /// Starts a fetch in a task of its own (so that no caller's cancellation
    /// stops it), marked as the one in flight.
    fn start_fetch(self: &Arc<Self>, fetching: &mut Fetching) -> watch::Receiver<Option<bool>> {
        let (done, in_flight) = watch::channel(None);
        fetching.in_flight = Some(in_flight.clone());
        let etag = fetching.etag.clone();
        let follower = Arc::clone(self);
        // The flight is made in the task: a runtime that is gone drops the
        // task here, at once, and with it only the sender (waiters then see
        // a failed fetch), never a flight whose drop would take the lock
        // this caller holds.
        self.runtime.spawn(async move {
            let mut flight = Flight {
                follower,
                done,
                succeeded: false,
            };
            let succeeded = flight.follower.fetch(etag.as_ref()).await.is_ok();
            flight.land(succeeded);
        });
        in_flight
    }

    /// The first fetch, made by the builder (nothing else runs yet): its
    /// error is the builder's.
    pub(crate) async fn first_fetch(&self) -> Result<(), FetchError> {
        let result = self.fetch(None).await;
        lock(&self.fetching).last_succeeded = result.is_ok();
        result
    }

    /// Fetches once (or joins the fetch in flight), for the refresher.
    async fn refresh(self: &Arc<Self>) {
        let in_flight = {
            let mut fetching = lock(&self.fetching);
            match &fetching.in_flight {
                Some(in_flight) => in_flight.clone(),
                None => self.start_fetch(&mut fetching),
            }
        };
        outcome(in_flight).await;
    }

    /// When the refresher fetches next.
    fn refresh_due(&self) -> Instant {
        lock(&self.fetching).refresh_due
    }

    /// Starts the background refresher: it holds the follower only while
    /// it fetches, and the follower stops it when it drops.
    pub(crate) fn start_refresher(self: &Arc<Self>) {
        let follower = Arc::downgrade(self);
        let task = self.runtime.spawn(refresh_loop(follower));
        *lock(&self.refresher) = Some(task.abort_handle());
    }

    /// Requests the document, applies it, and counts and logs the outcome.
    async fn fetch(&self, etag: Option<&HeaderValue>) -> Result<(), FetchError> {
        self.counters.fetches.fetch_add(1, Ordering::Relaxed);
        let timeout = self.settings.timeout;
        let fetched =
            tokio::time::timeout(timeout, fetch::get(&self.client, &self.settings.url, etag))
                .await
                .unwrap_or(Err(FetchError::TimedOut(timeout)));
        let result = fetched.and_then(|fetched| self.apply(fetched));
        let now = Instant::now();
        {
            let mut fetching = lock(&self.fetching);
            if result.is_ok() {
                let vouched_until = now + fetching.cache_time + self.settings.max_stale;
                self.vouched_until
                    .store(self.nanos(vouched_until), Ordering::Release);
                let refresh_after = fetching
                    .cache_time
                    .mul_f64(0.9)
                    .max(self.settings.min_interval);
                fetching.refresh_due = now + refresh_after;
            } else {
                fetching.refresh_due = now + self.settings.min_interval;
            }
        }
        if let Err(error) = &result {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            self.log_failure(error);
        }
        result
    }

    /// Applies what the server answered: a new document replaces the ring's
    /// keys if it is a valid public key set of the expected issuer.
    fn apply(&self, fetched: Fetched) -> Result<(), FetchError> {
        let (body, etag) = match fetched {
            Fetched::NotModified => {
                self.counters.not_modified.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Fetched::Document { body, etag } => (body, etag),
        };
        let set = KeySet::parse(&body).map_err(FetchError::Refused)?;
        if set.issuer() != self.settings.issuer {
            return Err(FetchError::WrongIssuer);
        }
        if set.purpose() != KeySetPurpose::Public {
            return Err(FetchError::NotPublic);
        }
        let changes = set.update_ring(&self.ring).map_err(FetchError::Refused)?;
        {
            let mut fetching = lock(&self.fetching);
            fetching.etag = etag;
            fetching.cache_time = set.cache_time().unsigned_abs();
        }
        if !changes.added.is_empty() || !changes.removed.is_empty() {
            tracing::info!(
                target: "vaulttoken_keyset",
                event = "key_set_changed",
                url = self.settings.url.as_str(),
                added = ?changes.added.iter().map(KeyId::as_str).collect::<Vec<_>>(),
                removed = ?changes.removed.iter().map(KeyId::as_str).collect::<Vec<_>>(),
                "the key set changed"
            );
        }
        Ok(())
    }

    /// Logs a failed fetch: ERROR for a document refused (a misconfigured or
    /// hostile server), WARN for one that could not be had.
    fn log_failure(&self, error: &FetchError) {
        let url = self.settings.url.as_str();
        let vouched = self.vouch().is_ok();
        match error {
            FetchError::Refused(_)
            | FetchError::WrongIssuer
            | FetchError::NotPublic
            | FetchError::TooLarge { .. } => tracing::error!(
                target: "vaulttoken_keyset",
                event = "key_set_refused",
                url,
                keys_still_vouched_for = vouched,
                %error,
                "key set refused; the previous keys are kept"
            ),
            FetchError::Unreachable(_) | FetchError::TimedOut(_) | FetchError::Status(_) => {
                tracing::warn!(
                    target: "vaulttoken_keyset",
                    event = "key_set_unavailable",
                    url,
                    keys_still_vouched_for = vouched,
                    %error,
                    "key set fetch failed; the previous keys are kept"
                );
            }
        }
    }
}

/// Refreshes the keys when due, for as long as the follower lives.
async fn refresh_loop(follower: Weak<Follower>) {
    loop {
        let Some(strong) = follower.upgrade() else {
            return;
        };
        let due = strong.refresh_due();
        if Instant::now() >= due {
            strong.refresh().await;
            continue;
        }
        drop(strong);
        tokio::time::sleep_until(due).await;
    }
}
