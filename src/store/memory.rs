//! [`MemoryStore`]: the embedded token store, for one process.

use core::fmt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::{Duration, OffsetDateTime};

use super::{
    Check, Consumption, NewFamily, Rotated, Rotation, StoreFuture, TokenState, TokenStore,
};
use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;

/// The entries a store holds unless told otherwise.
const DEFAULT_CAPACITY: usize = 1_000_000;

/// How often expired entries are swept out (and always when the store is full).
const SWEEP_INTERVAL: Duration = Duration::minutes(1);

/// A token store in this process's memory: no server, no runtime (its futures
/// are ready at once). State is lost on restart, so a restarted service
/// refuses the access tokens of every refresh family it knew (fail closed),
/// and forgets revocations: use `vaulttoken-redis` where that matters.
///
/// It keeps no epoch (see the [module documentation](super)): its state
/// begins and ends with the process, and an epoch would sign every user out
/// at every restart. So after a restart it forgets revoked and spent ids
/// while the tokens they refused, if signed with a key that outlives the
/// process, verify again. Pair it with a key that dies with the process too
/// (generated at start), or use `vaulttoken-redis`.
///
/// Every entry is dropped once its own expiry has passed, so memory follows
/// the live tokens. The store never evicts an unexpired entry: at its hard
/// cap (1,000,000 entries unless [`MemoryStore::with_capacity`] sets another)
/// it refuses new entries with [`StoreError::Full`] rather than silently forget
/// a revocation.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), vaulttoken::Error> {
/// use time::{Duration, OffsetDateTime};
/// use vaulttoken::store::{Consumption, MemoryStore, TokenStore};
///
/// let store = MemoryStore::new();
/// let until = OffsetDateTime::now_utc() + Duration::minutes(15);
/// assert_eq!(store.consume(None, "link-1", until).await?, Consumption::Consumed);
/// assert_eq!(store.consume(None, "link-1", until).await?, Consumption::AlreadyUsed);
/// # Ok(())
/// # }
/// ```
pub struct MemoryStore {
    state: Mutex<State>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryStore {
    /// Counts only: entries name subjects and token ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct State {
    /// The entries of tokens with a subject, by subject.
    subjects: HashMap<Box<str>, Subject>,
    /// The entries of tokens without one.
    anonymous: Subject,
    /// Entries held, expired or not.
    entries: usize,
    /// When expired entries are next swept out.
    next_sweep: Option<OffsetDateTime>,
}

/// One subject's entries: what a Redis store keeps in one hash slot.
#[derive(Default)]
struct Subject {
    /// Revoked and spent token ids.
    ids: HashMap<Box<str>, IdEntry>,
    /// Tokens issued before this are refused.
    cutoff: Option<Expiring<OffsetDateTime>>,
    /// The one valid token id of each slot.
    latest: HashMap<Box<str>, Expiring<Box<str>>>,
    /// Refresh families, by id.
    families: HashMap<Box<str>, Family>,
}

#[derive(Clone, Copy)]
struct IdEntry {
    used: bool,
    until: OffsetDateTime,
}

struct Expiring<T> {
    value: T,
    until: OffsetDateTime,
}

struct Family {
    generation: u64,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    last_used: OffsetDateTime,
    rotated_at: Option<OffsetDateTime>,
    grace_uses: u32,
    revoked: bool,
}

impl Subject {
    fn len(&self) -> usize {
        self.ids.len()
            + usize::from(self.cutoff.is_some())
            + self.latest.len()
            + self.families.len()
    }

    /// Drops every entry that expired at or before `now`; returns how many.
    fn sweep(&mut self, now: OffsetDateTime) -> usize {
        let before = self.len();
        self.ids.retain(|_, entry| entry.until > now);
        if self
            .cutoff
            .as_ref()
            .is_some_and(|cutoff| cutoff.until <= now)
        {
            self.cutoff = None;
        }
        self.latest.retain(|_, latest| latest.until > now);
        self.families.retain(|_, family| family.expires_at > now);
        shrink(&mut self.ids);
        shrink(&mut self.latest);
        shrink(&mut self.families);
        before - self.len()
    }

    fn state_of(&self, check: &Check<'_>, now: OffsetDateTime) -> TokenState {
        if let Some(entry) = self.ids.get(check.token_id)
            && entry.until > now
        {
            return if entry.used {
                TokenState::Used
            } else {
                TokenState::Revoked
            };
        }
        if let Some(cutoff) = &self.cutoff
            && cutoff.until > now
            && check.issued_at.is_none_or(|issued| issued < cutoff.value)
        {
            return TokenState::IssuedBeforeCutoff;
        }
        if let Some(slot) = check.latest_of
            && let Some(latest) = self.latest.get(slot)
            && latest.until > now
            && *latest.value != *check.token_id
        {
            return TokenState::Superseded;
        }
        if let Some(id) = check.family {
            let alive = self
                .families
                .get(id)
                .is_some_and(|family| !family.revoked && family.expires_at > now);
            if !alive {
                return TokenState::FamilyRevoked;
            }
        }
        TokenState::Live
    }
}

/// Gives memory back once a map holds far fewer entries than it has room for.
fn shrink<V>(map: &mut HashMap<Box<str>, V>) {
    if map.capacity() > 4 * map.len() + 16 {
        map.shrink_to_fit();
    }
}

impl MemoryStore {
    /// An empty store with the system clock and the default cap.
    ///
    /// # Examples
    ///
    /// ```
    /// let store = vaulttoken::store::MemoryStore::new();
    /// assert!(store.is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity: DEFAULT_CAPACITY,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the hard cap on entries.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use time::{Duration, OffsetDateTime};
    /// use vaulttoken::error::StoreError;
    /// use vaulttoken::store::{MemoryStore, TokenStore};
    ///
    /// let store = MemoryStore::new().with_capacity(1);
    /// let until = OffsetDateTime::now_utc() + Duration::hours(1);
    /// store.revoke(None, "a", until).await?;
    /// assert_eq!(store.revoke(None, "b", until).await, Err(StoreError::Full { capacity: 1 }));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Reads "now" from `clock`, to expire entries.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::clock::ManualClock;
    /// use vaulttoken::store::{Check, MemoryStore, TokenState, TokenStore};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let store = MemoryStore::new().with_clock(clock.clone());
    /// store.revoke(None, "a", datetime!(2030-01-01 1:00 UTC)).await?;
    /// clock.advance(Duration::hours(1));
    /// assert_eq!(store.check(&Check::token(None, "a")).await?, TokenState::Live);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Entries held, including expired ones not yet swept out.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use time::{Duration, OffsetDateTime};
    /// use vaulttoken::store::{MemoryStore, TokenStore};
    ///
    /// let store = MemoryStore::new();
    /// let until = OffsetDateTime::now_utc() + Duration::hours(1);
    /// store.revoke(Some("alice"), "a", until).await?;
    /// store.consume(Some("bob"), "b", until).await?;
    /// assert_eq!(store.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries
    }

    /// Whether the store holds no entry.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(vaulttoken::store::MemoryStore::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every expired entry now (the store also does so once a minute,
    /// and whenever it is full); returns how many.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), vaulttoken::Error> {
    /// use time::{Duration, macros::datetime};
    /// use vaulttoken::clock::ManualClock;
    /// use vaulttoken::store::{MemoryStore, TokenStore};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let store = MemoryStore::new().with_clock(clock.clone());
    /// store.revoke(None, "a", datetime!(2030-01-01 0:05 UTC)).await?;
    /// assert_eq!(store.len(), 1);
    /// clock.advance(Duration::minutes(5));
    /// assert_eq!(store.purge_expired(), 1);
    /// assert!(store.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let mut state = self.lock();
        Self::sweep(&mut state, now)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change below is made whole before the guard drops, and nothing
        // in it panics; a poisoned lock holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sweep(state: &mut State, now: OffsetDateTime) -> usize {
        let mut dropped = state.anonymous.sweep(now);
        state.subjects.retain(|_, subject| {
            dropped += subject.sweep(now);
            subject.len() > 0
        });
        shrink(&mut state.subjects);
        state.entries -= dropped;
        state.next_sweep = Some(now + SWEEP_INTERVAL);
        dropped
    }

    /// Runs `change` on the subject's entries, under the lock, after the
    /// periodic sweep. `change` gets a [`Room`] to ask for each new entry.
    fn with_subject<T>(
        &self,
        subject: Option<&str>,
        change: impl FnOnce(&mut Subject, &mut Room<'_>, OffsetDateTime) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let now = self.clock.now();
        let mut state = self.lock();
        if state.next_sweep.is_none_or(|at| now >= at) || state.entries >= self.capacity {
            Self::sweep(&mut state, now);
        }
        let State {
            subjects,
            anonymous,
            entries,
            ..
        } = &mut *state;
        let mut room = Room {
            entries,
            capacity: self.capacity,
        };
        match subject {
            None => change(anonymous, &mut room, now),
            Some(name) => {
                if !subjects.contains_key(name) {
                    subjects.insert(name.into(), Subject::default());
                }
                let entry = subjects
                    .get_mut(name)
                    .unwrap_or_else(|| unreachable!("inserted above"));
                let out = change(entry, &mut room, now);
                if entry.len() == 0 {
                    subjects.remove(name);
                }
                out
            }
        }
    }
}

/// Counts new entries against the cap.
struct Room<'a> {
    entries: &'a mut usize,
    capacity: usize,
}

impl Room<'_> {
    /// Claims room for one new entry.
    fn claim(&mut self) -> Result<(), StoreError> {
        if *self.entries >= self.capacity {
            return Err(StoreError::Full {
                capacity: self.capacity,
            });
        }
        *self.entries += 1;
        Ok(())
    }
}

fn ready<'a, T: Send + 'a>(result: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(core::future::ready(result))
}

impl TokenStore for MemoryStore {
    fn check<'a>(&'a self, check: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        let now = self.clock.now();
        let state = self.lock();
        let subject = match check.subject {
            None => Some(&state.anonymous),
            Some(name) => state.subjects.get(name),
        };
        let answer = match subject {
            Some(subject) => subject.state_of(check, now),
            // A family token whose subject has no entries has no family.
            None if check.family.is_some() => TokenState::FamilyRevoked,
            None => TokenState::Live,
        };
        ready(Ok(answer))
    }

    fn revoke<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        ready(self.with_subject(subject, |entries, room, now| {
            match entries.ids.get_mut(token_id) {
                Some(entry) if entry.until > now => {
                    entry.until = entry.until.max(until);
                }
                Some(entry) => {
                    *entry = IdEntry { used: false, until };
                }
                None => {
                    room.claim()?;
                    entries
                        .ids
                        .insert(token_id.into(), IdEntry { used: false, until });
                }
            }
            Ok(())
        }))
    }

    fn consume<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        ready(self.with_subject(
            subject,
            |entries, room, now| match entries.ids.get_mut(token_id) {
                Some(entry) if entry.until > now => Ok(if entry.used {
                    Consumption::AlreadyUsed
                } else {
                    Consumption::Revoked
                }),
                Some(entry) => {
                    *entry = IdEntry { used: true, until };
                    Ok(Consumption::Consumed)
                }
                None => {
                    room.claim()?;
                    entries
                        .ids
                        .insert(token_id.into(), IdEntry { used: true, until });
                    Ok(Consumption::Consumed)
                }
            },
        ))
    }

    fn revoke_issued_before<'a>(
        &'a self,
        subject: &'a str,
        cutoff: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        ready(self.with_subject(Some(subject), |entries, room, now| {
            match &mut entries.cutoff {
                Some(current) if current.until > now => {
                    current.value = current.value.max(cutoff);
                    current.until = current.until.max(until);
                }
                Some(current) => {
                    *current = Expiring {
                        value: cutoff,
                        until,
                    };
                }
                None => {
                    room.claim()?;
                    entries.cutoff = Some(Expiring {
                        value: cutoff,
                        until,
                    });
                }
            }
            Ok(())
        }))
    }

    fn supersede<'a>(
        &'a self,
        subject: Option<&'a str>,
        slot: &'a str,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        ready(self.with_subject(subject, |entries, room, _now| {
            let latest = Expiring {
                value: token_id.into(),
                until,
            };
            if let Some(current) = entries.latest.get_mut(slot) {
                *current = latest;
            } else {
                room.claim()?;
                entries.latest.insert(slot.into(), latest);
            }
            Ok(())
        }))
    }

    fn create_family<'a>(&'a self, family: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
        ready(
            self.with_subject(Some(family.subject), |entries, room, now| {
                if entries.families.contains_key(family.id) {
                    return Err(StoreError::Protocol {
                        reason: "a family with this id exists".into(),
                    });
                }
                room.claim()?;
                let mut revoked = Vec::new();
                if let Some(max) = family.max_per_subject {
                    let mut live: Vec<(&Box<str>, &mut Family)> = entries
                        .families
                        .iter_mut()
                        .filter(|(_, f)| !f.revoked && f.expires_at > now)
                        .collect();
                    live.sort_by_key(|(id, f)| (f.created_at, id.to_string()));
                    let excess = (live.len() + 1).saturating_sub(max.max(1));
                    for (id, old) in live.into_iter().take(excess) {
                        old.revoked = true;
                        revoked.push(id.to_string());
                    }
                }
                entries.families.insert(
                    family.id.into(),
                    Family {
                        generation: 0,
                        created_at: family.created_at,
                        expires_at: family.expires_at,
                        last_used: family.created_at,
                        rotated_at: None,
                        grace_uses: 0,
                        revoked: false,
                    },
                );
                Ok(revoked)
            }),
        )
    }

    fn rotate_family<'a>(&'a self, rotation: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
        ready(
            self.with_subject(Some(rotation.subject), |entries, _room, _now| {
                let Some(family) = entries.families.get_mut(rotation.family_id) else {
                    return Ok(Rotated::Revoked);
                };
                Ok(rotate(family, rotation))
            }),
        )
    }

    fn revoke_family<'a>(
        &'a self,
        subject: Option<&'a str>,
        family_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        ready(self.with_subject(subject, |entries, _room, _now| {
            if let Some(family) = entries.families.get_mut(family_id) {
                family.revoked = true;
            }
            Ok(())
        }))
    }
}

/// The refresh step on one family record (the Redis store runs the same steps
/// in a Lua script).
fn rotate(family: &mut Family, rotation: &Rotation<'_>) -> Rotated {
    let now = rotation.now;
    if family.revoked {
        return Rotated::Revoked;
    }
    let idle = rotation
        .idle_timeout
        .is_some_and(|timeout| now - family.last_used > timeout);
    if now >= family.expires_at || idle {
        family.revoked = true;
        return Rotated::Expired;
    }
    let current = family.generation;
    if rotation.presented_generation == current {
        let Some(next) = current.checked_add(1) else {
            family.revoked = true;
            return Rotated::Expired;
        };
        family.generation = next;
        family.rotated_at = Some(now);
        family.last_used = now;
        family.grace_uses = 0;
        return Rotated::Advanced {
            generation: next,
            rotated_at: now,
        };
    }
    if let (Some(grace), Some(rotated_at)) = (rotation.grace, family.rotated_at)
        && rotation.presented_generation.checked_add(1) == Some(current)
        && now - rotated_at <= grace.window
        && family.grace_uses < grace.max_uses
    {
        family.grace_uses += 1;
        return Rotated::GraceReplay {
            generation: current,
            rotated_at,
        };
    }
    family.revoked = true;
    Rotated::ReuseDetected
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::Grace;

    const T: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    fn map_of(len: usize, room: usize) -> HashMap<Box<str>, ()> {
        let mut map = HashMap::with_capacity(room);
        map.extend((0..len).map(|i| (i.to_string().into_boxed_str(), ())));
        map
    }

    #[test]
    fn a_map_at_least_a_quarter_full_keeps_its_room() {
        let room = map_of(0, 200).capacity();
        // At the threshold: capacity == 4 * len + 16 (when room allows it).
        let mut map = map_of((room - 16) / 4, 200);
        assert_eq!(map.capacity(), room);
        shrink(&mut map);
        assert_eq!(map.capacity(), room);
    }

    #[test]
    fn a_mostly_empty_map_gives_its_memory_back() {
        let mut map = map_of(100, 1000);
        let room = map.capacity();
        assert!(room > 4 * 100 + 16);
        shrink(&mut map);
        assert!(map.capacity() < room / 4, "{} of {room}", map.capacity());
        assert_eq!(map.len(), 100);
    }

    fn block_on<F: core::future::Future>(future: F) -> F::Output {
        let waker = core::task::Waker::noop();
        let mut context = core::task::Context::from_waker(waker);
        let mut future = core::pin::pin!(future);
        loop {
            if let core::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
                return value;
            }
        }
    }

    fn store() -> (MemoryStore, ManualClock) {
        let clock = ManualClock::new(T);
        (MemoryStore::new().with_clock(clock.clone()), clock)
    }

    fn state(store: &MemoryStore, check: Check<'_>) -> TokenState {
        block_on(store.check(&check)).unwrap()
    }

    fn family(store: &MemoryStore, id: &str, ends: OffsetDateTime) {
        block_on(store.create_family(&NewFamily::new("alice", id, T, ends))).unwrap();
    }

    fn rotate(store: &MemoryStore, rotation: Rotation<'_>) -> Rotated {
        block_on(store.rotate_family(&rotation)).unwrap()
    }

    #[test]
    fn an_entry_ends_exactly_at_its_until() {
        let (store, clock) = store();
        let until = T + Duration::minutes(5);
        block_on(store.revoke(None, "a", until)).unwrap();
        block_on(store.revoke_issued_before("alice", T, until)).unwrap();
        block_on(store.supersede(Some("alice"), "slot", "new", until)).unwrap();
        clock.advance(Duration::minutes(5) - Duration::SECOND);
        assert_eq!(state(&store, Check::token(None, "a")), TokenState::Revoked);
        let no_iat = Check::token(Some("alice"), "b");
        assert_eq!(state(&store, no_iat), TokenState::IssuedBeforeCutoff);
        let old = Check::token(Some("alice"), "old")
            .issued_at(T)
            .latest_of("slot");
        assert_eq!(state(&store, old), TokenState::Superseded);
        clock.advance(Duration::SECOND);
        assert_eq!(state(&store, Check::token(None, "a")), TokenState::Live);
        assert_eq!(state(&store, no_iat), TokenState::Live);
        assert_eq!(state(&store, old), TokenState::Live);
        // Expired entries are replaced.
        assert_eq!(
            block_on(store.consume(None, "a", until + Duration::hours(1))).unwrap(),
            Consumption::Consumed
        );
        block_on(store.revoke_issued_before("alice", T, until + Duration::hours(1))).unwrap();
        assert_eq!(state(&store, no_iat), TokenState::IssuedBeforeCutoff);
        // The first write after the sweep interval dropped the expired slot.
        assert_eq!(store.len(), 2);
        assert_eq!(store.purge_expired(), 0);
    }

    #[test]
    fn revoking_an_expired_id_again_counts_it_from_now() {
        let (store, clock) = store();
        block_on(store.revoke(None, "a", T + Duration::minutes(1))).unwrap();
        clock.advance(Duration::minutes(2));
        block_on(store.revoke(None, "a", T + Duration::minutes(10))).unwrap();
        assert_eq!(state(&store, Check::token(None, "a")), TokenState::Revoked);
        // A later revocation never shortens an earlier one.
        block_on(store.revoke(None, "a", T + Duration::minutes(3))).unwrap();
        clock.advance(Duration::minutes(5));
        assert_eq!(state(&store, Check::token(None, "a")), TokenState::Revoked);
    }

    #[test]
    fn revoking_a_spent_id_that_expired_but_was_not_swept_yet_makes_it_revoked() {
        let (store, clock) = store();
        let spent = block_on(store.consume(None, "a", T + Duration::seconds(30))).unwrap();
        assert_eq!(spent, Consumption::Consumed);
        // Expired, and still held: the next sweep is a minute after the write.
        clock.advance(Duration::seconds(40));
        block_on(store.revoke(None, "a", T + Duration::minutes(10))).unwrap();
        assert_eq!(store.len(), 1);
        assert_eq!(state(&store, Check::token(None, "a")), TokenState::Revoked);
    }

    #[test]
    fn an_id_that_expires_this_instant_is_written_afresh() {
        let (store, clock) = store();
        let ends = T + Duration::seconds(30);
        block_on(store.consume(None, "spent", ends)).unwrap();
        block_on(store.revoke(None, "revoked", ends)).unwrap();
        clock.advance(Duration::seconds(30));
        let later = T + Duration::minutes(10);
        block_on(store.revoke(None, "spent", later)).unwrap();
        assert_eq!(
            state(&store, Check::token(None, "spent")),
            TokenState::Revoked
        );
        assert_eq!(
            block_on(store.consume(None, "revoked", later)).unwrap(),
            Consumption::Consumed
        );
    }

    #[test]
    fn an_expired_cutoff_is_replaced_not_merged() {
        for expired_for in [Duration::ZERO, Duration::seconds(10)] {
            let (store, clock) = store();
            let later_cutoff = T + Duration::minutes(5);
            block_on(store.revoke_issued_before("alice", later_cutoff, T + Duration::seconds(30)))
                .unwrap();
            clock.advance(Duration::seconds(30) + expired_for);
            block_on(store.revoke_issued_before("alice", T, T + Duration::minutes(10))).unwrap();
            let issued_between =
                Check::token(Some("alice"), "a").issued_at(T + Duration::minutes(1));
            assert_eq!(
                state(&store, issued_between),
                TokenState::Live,
                "{expired_for}"
            );
        }
    }

    #[test]
    fn the_family_cap_counts_only_live_families() {
        let (store, clock) = store();
        let day = T + Duration::days(1);
        family(&store, "revoked", day);
        block_on(store.revoke_family(Some("alice"), "revoked")).unwrap();
        family(&store, "ending", T + Duration::seconds(30));
        family(&store, "live", day);
        // Ends this instant, and not yet swept.
        clock.advance(Duration::seconds(30));
        let capped = NewFamily::new("alice", "new", T, day).max_per_subject(2);
        assert_eq!(
            block_on(store.create_family(&capped)).unwrap(),
            Vec::<String>::new()
        );
        let capped = NewFamily::new("alice", "newer", T, day).max_per_subject(2);
        assert_eq!(block_on(store.create_family(&capped)).unwrap(), ["live"]);
    }

    #[test]
    fn a_family_token_of_a_subject_with_no_entries_is_refused() {
        let (store, _) = store();
        let check = Check::token(Some("nobody"), "a").family("f");
        assert_eq!(state(&store, check), TokenState::FamilyRevoked);
        assert_eq!(
            state(&store, Check::token(Some("nobody"), "a")),
            TokenState::Live
        );
        // Asking creates nothing.
        assert!(store.is_empty());
    }

    #[test]
    fn a_family_past_its_end_is_refused_by_check() {
        let (store, clock) = store();
        family(&store, "f", T + Duration::hours(1));
        let access = Check::token(Some("alice"), "a").family("f");
        clock.advance(Duration::hours(1) - Duration::SECOND);
        assert_eq!(state(&store, access), TokenState::Live);
        clock.advance(Duration::SECOND);
        assert_eq!(state(&store, access), TokenState::FamilyRevoked);
    }

    #[test]
    fn grace_and_idle_limits_are_inclusive() {
        let (store, _) = store();
        let grace = Grace::new(Duration::seconds(30), 5);
        family(&store, "g", T + Duration::days(1));
        rotate(&store, Rotation::new("alice", "g", 0, T).grace(grace));
        let edge = Rotation::new("alice", "g", 0, T + Duration::seconds(30)).grace(grace);
        assert!(matches!(rotate(&store, edge), Rotated::GraceReplay { .. }));

        family(&store, "i", T + Duration::days(30));
        let idle = Duration::days(1);
        let edge = Rotation::new("alice", "i", 0, T + idle).idle_timeout(idle);
        assert!(matches!(rotate(&store, edge), Rotated::Advanced { .. }));
        let past =
            Rotation::new("alice", "i", 1, T + idle + idle + Duration::SECOND).idle_timeout(idle);
        assert_eq!(rotate(&store, past), Rotated::Expired);
    }

    #[test]
    fn without_grace_the_previous_generation_is_reuse() {
        let (store, _) = store();
        family(&store, "f", T + Duration::days(1));
        rotate(&store, Rotation::new("alice", "f", 0, T));
        assert_eq!(
            rotate(&store, Rotation::new("alice", "f", 0, T)),
            Rotated::ReuseDetected
        );
    }

    #[test]
    fn a_generation_ahead_of_the_family_is_reuse() {
        let (store, _) = store();
        family(&store, "f", T + Duration::days(1));
        assert_eq!(
            rotate(&store, Rotation::new("alice", "f", 5, T)),
            Rotated::ReuseDetected
        );
    }

    #[test]
    fn a_family_at_the_last_generation_ends_instead_of_wrapping() {
        let mut record = Family {
            generation: u64::MAX,
            created_at: T,
            expires_at: T + Duration::days(1),
            last_used: T,
            rotated_at: None,
            grace_uses: 0,
            revoked: false,
        };
        let step = rotate_record(&mut record, u64::MAX);
        assert_eq!(step, Rotated::Expired);
        assert!(record.revoked);
    }

    fn rotate_record(record: &mut Family, presented: u64) -> Rotated {
        super::rotate(record, &Rotation::new("alice", "f", presented, T))
    }

    #[test]
    fn a_cap_of_zero_keeps_one_family() {
        let (store, _) = store();
        for (i, id) in ["a", "b"].into_iter().enumerate() {
            let created = T + Duration::seconds(i64::try_from(i).unwrap());
            let new =
                NewFamily::new("alice", id, created, T + Duration::days(1)).max_per_subject(0);
            block_on(store.create_family(&new)).unwrap();
        }
        let live = |id| state(&store, Check::token(Some("alice"), "x").family(id));
        assert_eq!(
            (live("a"), live("b")),
            (TokenState::FamilyRevoked, TokenState::Live)
        );
    }

    #[test]
    fn the_periodic_sweep_runs_on_a_write_after_its_interval() {
        let (store, clock) = store();
        block_on(store.revoke(None, "a", T + Duration::SECOND)).unwrap();
        clock.advance(Duration::seconds(2));
        block_on(store.revoke(None, "b", T + Duration::hours(1))).unwrap();
        // Within the interval, the expired entry is still held...
        assert_eq!(store.len(), 2);
        clock.advance(SWEEP_INTERVAL);
        block_on(store.revoke(None, "c", T + Duration::hours(1))).unwrap();
        // ... and swept out by the first write after it.
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn debug_shows_counts_only() {
        let (store, _) = store();
        block_on(store.revoke(
            Some("alice@example.com"),
            "secret-jti",
            T + Duration::hours(1),
        ))
        .unwrap();
        let debug = format!("{store:?}");
        assert!(debug.contains("entries: 1"), "{debug}");
        assert!(
            !debug.contains("alice") && !debug.contains("secret-jti"),
            "{debug}"
        );
    }
}
