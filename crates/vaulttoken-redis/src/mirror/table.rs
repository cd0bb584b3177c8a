//! [`MirrorTable`]: what the store's check needs, in memory, fed by the
//! change stream ([`Change`]) and answering as the Lua `CHECK` does.
//!
//! [`MirrorTable::answer`] follows `CHECK_BODY` (scripts.rs) step by step,
//! after its epoch guard, with every entry whose `until` has passed treated
//! as absent (Redis expires a key at its `PXAT`):
//!
//! 0. epoch guard: while some slot's epoch is unknown, the subject's slot
//!    is computed first; its epoch unknown is [`Answer::Unknown`] (Redis
//!    would find its marker missing and answer "lost");
//! 1. the id: spent → [`TokenState::Used`], revoked → [`TokenState::Revoked`];
//! 2. the subject's cutoff: no `iat`, or `iat` before it →
//!    [`TokenState::IssuedBeforeCutoff`];
//! 3. the latest slot, if asked: another token → [`TokenState::Superseded`];
//! 4. the family, if asked: unknown → [`Answer::Unknown`] (Redis answers
//!    "revoked" for a missing family, but the mirror may not know it yet);
//!    revoked, or past its end → [`TokenState::FamilyRevoked`];
//! 5. the epoch: no `iat`, or `iat` at or after every slot's epoch →
//!    [`TokenState::Live`]; else the subject's slot's epoch decides
//!    ([`TokenState::IssuedBeforeStoreEpoch`]).
//!
//! Where the table can differ from Redis, it refuses where Redis would too,
//! or refuses a little longer, never accepts more:
//! - an id's `until` is rounded up to the second (at most 1 s longer);
//! - an id stays spent once spent: an `r` after a `u` whose Redis entry had
//!   already expired (Redis: revoked) answers `Used`, both refusals;
//! - a cutoff only grows: a lower cutoff after the higher one expired in
//!   Redis keeps the higher one, which refuses only tokens issued before it,
//!   all expired by its `until` ("when the last such token would expire");
//! - a revoked family stays revoked, even if created again (Redis refuses a
//!   creation while the record exists; after it is gone, only the same
//!   random id created again would differ).
//!
//! Memory: revoked and spent ids are the bulk (the issue's goal: 1,000,000
//! of them in at most 64 MiB). They sit in 64 shards, each a map from the
//! 16-byte digest to a `u32` (bit 31: spent; the rest: `until` in whole
//! seconds since 2024-01-01, rounded up, so an id is never forgotten before
//! Redis forgets it): 20 bytes and a control byte a bucket, about 44 MiB for
//! a million. Cutoffs, latest slots and families are few and keep `until`
//! in milliseconds, exactly as Redis does.
//!
//! Concurrency: [`MirrorTable::answer`] runs on any thread and takes a few
//! read locks, allocating nothing. `apply`, `purge` and `clear` come from
//! one task (the stream reader); the caller does not answer from the table
//! while it is being cleared and rebuilt.

use std::collections::HashMap;
use std::fmt;
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use vaulttoken::store::TokenState;

use crate::changes::Change;
use crate::digest::{Digest, DigestHasher};
use crate::keys::SLOTS;

/// How many shards the ids are split in (by a digest byte).
const SHARDS: usize = 64;

/// 2024-01-01T00:00:00Z in unix ms: the origin of an id's `until` seconds.
const ORIGIN_MS: i64 = 1_704_067_200_000;

/// Bit 31 of an id's value: the id was spent (else revoked).
const USED: u32 = 1 << 31;

/// The low 31 bits of an id's value: `until`, whole seconds since
/// [`ORIGIN_MS`]. They saturate in 2092: an id revoked until later stays
/// until then, which is later than any `now` this code will see.
const UNTIL: u32 = USED - 1;

/// A control group of the maps (hashbrown's SSE2 group width): the extra
/// control bytes every table has.
const GROUP: usize = 16;

type Map<V> = HashMap<Digest, V, DigestHasher>;

/// What the store's check needs, in memory. `Send + Sync`: shared as an
/// `Arc` by the reader (writes) and every check (reads). Its `Debug` shows
/// counts, never the entries (a million of them).
pub(crate) struct MirrorTable {
    /// Revoked and spent ids, by shard ([`Digest::shard`]).
    ids: Box<[RwLock<Map<u32>>]>,
    /// Subjects' cutoffs.
    cutoffs: RwLock<Map<Cutoff>>,
    /// Latest slots' tokens.
    latest: RwLock<Map<Latest>>,
    /// Refresh families, alive or revoked.
    families: RwLock<Map<Family>>,
    /// Each slot's epoch (unix s), 0 while unknown.
    epochs: Box<[AtomicI64]>,
    /// The greatest of `epochs`.
    max_epoch: AtomicI64,
    /// How many of `epochs` are unknown (0).
    unknown_epochs: AtomicUsize,
    /// ids + cutoffs + latest + families.
    entries: AtomicUsize,
    /// The most entries the table holds.
    max_entries: usize,
    /// A change was refused for want of room: the table is incomplete.
    overflowed: AtomicBool,
}

/// A subject's cutoff.
#[derive(Debug, Clone, Copy)]
struct Cutoff {
    /// Tokens issued before it (unix s) are refused.
    at: i64,
    until_ms: i64,
}

/// The one valid token of a latest slot.
#[derive(Debug, Clone, Copy)]
struct Latest {
    token: Digest,
    until_ms: i64,
}

/// A refresh family.
#[derive(Debug, Clone, Copy)]
struct Family {
    revoked: bool,
    /// Its end: past it, the family counts as revoked (its Redis record is
    /// gone). Never later than Redis's.
    until_ms: i64,
}

/// What a check asks the table, built by the caller from a
/// `vaulttoken::store::Check`.
pub(crate) struct Query<'a> {
    /// [`Digest::token`] of the subject and the token id.
    pub(crate) id: Digest,
    /// [`Digest::subject`]: the key of the subject's cutoff.
    pub(crate) subject: Digest,
    /// The token's `iat`, unix s.
    pub(crate) issued_at: Option<i64>,
    /// ([`Digest::latest`], [`Digest::token_id`]) if the check asks whether
    /// the token is its slot's latest.
    pub(crate) latest: Option<(Digest, Digest)>,
    /// [`Digest::family`] if the check asks about a family.
    pub(crate) family: Option<Digest>,
    /// The subject's cluster slot: costly (BLAKE2b), called only when an
    /// epoch must be read.
    pub(crate) slot: &'a dyn Fn() -> u16,
}

/// The table's answer to a [`Query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// What Redis's `CHECK` would answer.
    Known(TokenState),
    /// The table cannot tell: ask Redis.
    Unknown,
}

impl MirrorTable {
    /// An empty table holding at most `max_entries` entries: every slot's
    /// epoch unknown.
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            ids: (0..SHARDS).map(|_| RwLock::default()).collect(),
            cutoffs: RwLock::default(),
            latest: RwLock::default(),
            families: RwLock::default(),
            epochs: (0..SLOTS).map(|_| AtomicI64::new(0)).collect(),
            max_epoch: AtomicI64::new(0),
            unknown_epochs: AtomicUsize::new(usize::from(SLOTS)),
            entries: AtomicUsize::new(0),
            max_entries,
            overflowed: AtomicBool::new(false),
        }
    }

    /// Applies one change of the stream, in stream order.
    ///
    /// A change for an entry the table holds merges as the scripts do: an
    /// id stays spent once spent, a cutoff and its `until` only grow, the
    /// newest latest wins, a revoked family stays revoked, a slot's epoch
    /// only grows. A new entry beyond `max_entries` is not stored, and the
    /// table reports [`MirrorTable::overflowed`] until cleared.
    pub(crate) fn apply(&self, change: &Change) {
        match *change {
            Change::Revoked { id, until_ms } => self.apply_id(id, 0, until_ms),
            Change::Used { id, until_ms } => self.apply_id(id, USED, until_ms),
            Change::Cutoff {
                subject,
                cutoff,
                until_ms,
            } => {
                let mut cutoffs = write(&self.cutoffs);
                if let Some(held) = cutoffs.get_mut(&subject) {
                    held.at = held.at.max(cutoff);
                    held.until_ms = held.until_ms.max(until_ms);
                } else if self.admit() {
                    cutoffs.insert(
                        subject,
                        Cutoff {
                            at: cutoff,
                            until_ms,
                        },
                    );
                }
            }
            Change::Latest {
                slot,
                token,
                until_ms,
            } => {
                let latest = Latest { token, until_ms };
                let mut map = write(&self.latest);
                if let Some(held) = map.get_mut(&slot) {
                    *held = latest;
                } else if self.admit() {
                    map.insert(slot, latest);
                }
            }
            Change::FamilyCreated { family, until_ms } => {
                let mut families = write(&self.families);
                if let Some(held) = families.get_mut(&family) {
                    if held.revoked {
                        held.until_ms = held.until_ms.max(until_ms);
                    } else {
                        // Created again after its record expired: the new
                        // end, never one later than Redis's.
                        held.until_ms = until_ms;
                    }
                } else if self.admit() {
                    families.insert(
                        family,
                        Family {
                            revoked: false,
                            until_ms,
                        },
                    );
                }
            }
            Change::FamilyRevoked { family, until_ms } => {
                let mut families = write(&self.families);
                if let Some(held) = families.get_mut(&family) {
                    held.revoked = true;
                    held.until_ms = held.until_ms.max(until_ms);
                } else if self.admit() {
                    families.insert(
                        family,
                        Family {
                            revoked: true,
                            until_ms,
                        },
                    );
                }
            }
        }
    }

    /// Answers `query` as Redis's `CHECK` would at `now_ms` (unix ms), or
    /// [`Answer::Unknown`] when the table cannot tell.
    pub(crate) fn answer(&self, query: &Query<'_>, now_ms: i64) -> Answer {
        if self.overflowed.load(Ordering::Acquire) {
            return Answer::Unknown;
        }
        // 0. The epoch guard, when some slot's epoch is unknown.
        let mut slot_epoch = None;
        if self.unknown_epochs.load(Ordering::Acquire) > 0 {
            match self.epoch_of((query.slot)()) {
                Some(epoch) => slot_epoch = Some(epoch),
                None => return Answer::Unknown,
            }
        }
        // 1. The id.
        let id = read(&self.ids[query.id.shard(SHARDS)])
            .get(&query.id)
            .copied();
        if let Some(value) = id.filter(|&value| id_until_ms(value) > now_ms) {
            return Answer::Known(if value & USED == 0 {
                TokenState::Revoked
            } else {
                TokenState::Used
            });
        }
        // 2. The subject's cutoff.
        let cutoff = read(&self.cutoffs).get(&query.subject).copied();
        if cutoff.is_some_and(|cutoff| {
            cutoff.until_ms > now_ms
                && query
                    .issued_at
                    .is_none_or(|issued_at| issued_at < cutoff.at)
        }) {
            return Answer::Known(TokenState::IssuedBeforeCutoff);
        }
        // 3. The latest slot.
        if let Some((slot, token)) = query.latest {
            let latest = read(&self.latest).get(&slot).copied();
            if latest.is_some_and(|latest| latest.until_ms > now_ms && latest.token != token) {
                return Answer::Known(TokenState::Superseded);
            }
        }
        // 4. The family.
        if let Some(family) = query.family {
            let Some(family) = read(&self.families).get(&family).copied() else {
                return Answer::Unknown;
            };
            if family.revoked || family.until_ms <= now_ms {
                return Answer::Known(TokenState::FamilyRevoked);
            }
        }
        // 5. The epoch.
        let Some(issued_at) = query.issued_at else {
            return Answer::Known(TokenState::Live);
        };
        if issued_at >= self.max_epoch.load(Ordering::Acquire) {
            return Answer::Known(TokenState::Live);
        }
        let Some(epoch) = slot_epoch.or_else(|| self.epoch_of((query.slot)())) else {
            return Answer::Unknown;
        };
        Answer::Known(if issued_at < epoch {
            TokenState::IssuedBeforeStoreEpoch
        } else {
            TokenState::Live
        })
    }

    /// Drops every entry whose `until` is at or before `now_ms` (all
    /// shards, one at a time).
    pub(crate) fn purge(&self, now_ms: i64) {
        let mut removed = 0;
        for shard in &self.ids {
            removed += retain(&mut write(shard), |&value| id_until_ms(value) > now_ms);
        }
        removed += retain(&mut write(&self.cutoffs), |cutoff| cutoff.until_ms > now_ms);
        removed += retain(&mut write(&self.latest), |latest| latest.until_ms > now_ms);
        removed += retain(&mut write(&self.families), |family| {
            family.until_ms > now_ms
        });
        self.entries.fetch_sub(removed, Ordering::AcqRel);
    }

    /// Empties the table, before a rebuild: no entries, every epoch
    /// unknown, not overflowed. The maps' memory is freed.
    pub(crate) fn clear(&self) {
        self.unknown_epochs
            .store(usize::from(SLOTS), Ordering::Release);
        for epoch in &self.epochs {
            epoch.store(0, Ordering::Release);
        }
        self.max_epoch.store(0, Ordering::Release);
        for shard in &self.ids {
            *write(shard) = Map::default();
        }
        *write(&self.cutoffs) = Map::default();
        *write(&self.latest) = Map::default();
        *write(&self.families) = Map::default();
        self.entries.store(0, Ordering::Release);
        self.overflowed.store(false, Ordering::Release);
    }

    /// How many entries the table holds: ids, cutoffs, latest slots and
    /// families (epochs are not entries).
    pub(crate) fn entries(&self) -> usize {
        self.entries.load(Ordering::Acquire)
    }

    /// An estimate of the table's memory, in bytes, from its maps'
    /// capacities (buckets and control bytes) and its fixed parts.
    pub(crate) fn bytes(&self) -> usize {
        let ids: usize = self.ids.iter().map(|shard| map_bytes(&read(shard))).sum();
        size_of::<Self>()
            + size_of::<RwLock<Map<u32>>>() * self.ids.len()
            + size_of::<AtomicI64>() * self.epochs.len()
            + ids
            + map_bytes(&read(&self.cutoffs))
            + map_bytes(&read(&self.latest))
            + map_bytes(&read(&self.families))
    }

    /// Whether a change was dropped for want of room: the table no longer
    /// holds everything, and answers [`Answer::Unknown`] until cleared.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Merges a revoked (`used` 0) or spent (`used` [`USED`]) id.
    fn apply_id(&self, id: Digest, used: u32, until_ms: i64) {
        let until = id_until(until_ms);
        let mut shard = write(&self.ids[id.shard(SHARDS)]);
        if let Some(held) = shard.get_mut(&id) {
            *held = id_value((*held & USED) | used, (*held & UNTIL).max(until));
        } else if self.admit() {
            shard.insert(id, id_value(used, until));
        }
    }

    /// Records a slot's epoch, read from its marker: the greater of the
    /// held one and `epoch`. An epoch below 1, or a slot past the last,
    /// changes nothing.
    pub(crate) fn apply_epoch(&self, slot: u16, epoch: i64) {
        let Some(held) = self.epochs.get(usize::from(slot)) else {
            return;
        };
        if epoch < 1 {
            return;
        }
        if held.fetch_max(epoch, Ordering::AcqRel) == 0 {
            self.unknown_epochs.fetch_sub(1, Ordering::AcqRel);
        }
        self.max_epoch.fetch_max(epoch, Ordering::AcqRel);
    }

    /// Whether some slot's epoch is unknown (its marker was missing when
    /// last read).
    pub(crate) fn has_unknown_epochs(&self) -> bool {
        self.unknown_epochs.load(Ordering::Acquire) > 0
    }

    /// A slot's epoch, `None` while unknown (or past the last slot).
    pub(crate) fn epoch_of(&self, slot: u16) -> Option<i64> {
        self.epochs
            .get(usize::from(slot))
            .map(|epoch| epoch.load(Ordering::Acquire))
            .filter(|&epoch| epoch != 0)
    }

    /// Counts one more entry, unless the table is full: then it overflows
    /// and the entry is not stored.
    fn admit(&self) -> bool {
        if self.entries.fetch_add(1, Ordering::AcqRel) < self.max_entries {
            return true;
        }
        self.entries.fetch_sub(1, Ordering::AcqRel);
        self.overflowed.store(true, Ordering::Release);
        false
    }
}

impl fmt::Debug for MirrorTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorTable")
            .field("entries", &self.entries())
            .field("max_entries", &self.max_entries)
            .field("overflowed", &self.overflowed())
            .field(
                "unknown_epochs",
                &self.unknown_epochs.load(Ordering::Acquire),
            )
            .field("max_epoch", &self.max_epoch.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

/// An id's `until` as whole seconds since [`ORIGIN_MS`], rounded up (so
/// never before Redis's), 0 before the origin, saturating at [`UNTIL`].
fn id_until(until_ms: i64) -> u32 {
    let since = u64::try_from(until_ms.saturating_sub(ORIGIN_MS)).unwrap_or(0);
    u32::try_from(since.div_ceil(1000))
        .unwrap_or(UNTIL)
        .min(UNTIL)
}

/// An id's value: `used` (0 or [`USED`]) and `until` (at most [`UNTIL`])
/// share no bit, so a mutant putting `^` for this `|` is equivalent.
fn id_value(used: u32, until: u32) -> u32 {
    used | until
}

/// The unix ms an id's value holds until.
fn id_until_ms(value: u32) -> i64 {
    ORIGIN_MS + i64::from(value & UNTIL) * 1000
}

/// Keeps the entries `keep` accepts; returns how many it dropped.
fn retain<V>(map: &mut Map<V>, mut keep: impl FnMut(&V) -> bool) -> usize {
    let before = map.len();
    map.retain(|_, value| keep(value));
    before - map.len()
}

/// A map's memory from its capacity, as hashbrown lays it out: a power of
/// two of buckets, at most 7/8 full (the small tables of 4 and 8 buckets
/// hold 3 and 7, which the same formula gives), each an entry and a control
/// byte, and one more group of control bytes.
///
/// An estimate: `capacity()` leaves out the buckets that removals left as
/// tombstones (hashbrown marks a removed bucket deleted, not empty, when its
/// group is full), so after a purge the estimate can be low until the map
/// grows or rehashes; the benchmark measures the process's memory too.
fn map_bytes<V>(map: &Map<V>) -> usize {
    let capacity = map.capacity();
    if capacity == 0 {
        return 0;
    }
    // Equivalent mutant: `capacity + 8 / 7` (capacity + 1) rounds up to the
    // same power of two for every capacity a table without tombstones
    // reports (3, 7, and 7/8 of each power of two from 16 on).
    let buckets = (capacity * 8 / 7).next_power_of_two();
    buckets * (size_of::<(Digest, V)>() + 1) + GROUP
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// Now: 2026-12-06T20:00:00Z, a whole second.
    const NOW: i64 = 1_796_587_200_000;
    /// An hour later.
    const LATER: i64 = NOW + 3_600_000;
    /// Every slot's epoch in [`known_epochs`].
    const EPOCH: i64 = 1_796_000_000;
    const SLOT: u16 = 4_242;

    /// One check's inputs, with the subject's slot.
    #[derive(Clone, Copy)]
    struct Ask {
        id: Digest,
        subject: Digest,
        issued_at: Option<i64>,
        latest: Option<(Digest, Digest)>,
        family: Option<Digest>,
        slot: u16,
    }

    fn token(name: &str) -> Ask {
        Ask {
            id: Digest::token(Some("alice"), name),
            subject: Digest::subject(Some("alice")),
            issued_at: Some(EPOCH + 100),
            latest: None,
            family: None,
            slot: SLOT,
        }
    }

    /// The answer, and how many times it computed the slot.
    fn ask(table: &MirrorTable, ask: Ask, now_ms: i64) -> (Answer, usize) {
        let calls = Cell::new(0);
        let slot = || {
            calls.set(calls.get() + 1);
            ask.slot
        };
        let query = Query {
            id: ask.id,
            subject: ask.subject,
            issued_at: ask.issued_at,
            latest: ask.latest,
            family: ask.family,
            slot: &slot,
        };
        let answer = table.answer(&query, now_ms);
        (answer, calls.get())
    }

    fn answer(table: &MirrorTable, query: Ask) -> Answer {
        ask(table, query, NOW).0
    }

    fn known(state: TokenState) -> Answer {
        Answer::Known(state)
    }

    /// A table whose every slot's epoch is [`EPOCH`].
    fn table() -> MirrorTable {
        let table = MirrorTable::new(1_000);
        for slot in 0..SLOTS {
            table.apply_epoch(slot, EPOCH);
        }
        table
    }

    fn revoke(table: &MirrorTable, query: Ask, until_ms: i64) {
        table.apply(&Change::Revoked {
            id: query.id,
            until_ms,
        });
    }

    fn spend(table: &MirrorTable, query: Ask, until_ms: i64) {
        table.apply(&Change::Used {
            id: query.id,
            until_ms,
        });
    }

    fn cutoff(table: &MirrorTable, query: Ask, cutoff: i64, until_ms: i64) {
        table.apply(&Change::Cutoff {
            subject: query.subject,
            cutoff,
            until_ms,
        });
    }

    fn slot_of(name: &str) -> Digest {
        Digest::latest(Some("alice"), name)
    }

    fn latest(table: &MirrorTable, slot: &str, token: &str, until_ms: i64) {
        table.apply(&Change::Latest {
            slot: slot_of(slot),
            token: Digest::token_id(token),
            until_ms,
        });
    }

    fn asking_latest(mut query: Ask, slot: &str, token: &str) -> Ask {
        query.latest = Some((slot_of(slot), Digest::token_id(token)));
        query
    }

    fn family(name: &str) -> Digest {
        Digest::family(Some("alice"), name)
    }

    fn in_family(mut query: Ask, name: &str) -> Ask {
        query.family = Some(family(name));
        query
    }

    #[test]
    fn an_empty_table_with_known_epochs_answers_live() {
        let table = table();
        assert_eq!(answer(&table, token("j")), known(TokenState::Live));
        assert_eq!(table.entries(), 0);
    }

    #[test]
    fn a_revoked_or_spent_id_is_refused() {
        let table = table();
        revoke(&table, token("r"), LATER);
        spend(&table, token("u"), LATER);
        assert_eq!(answer(&table, token("r")), known(TokenState::Revoked));
        assert_eq!(answer(&table, token("u")), known(TokenState::Used));
        assert_eq!(answer(&table, token("other")), known(TokenState::Live));
        let mut other_subject = token("r");
        other_subject.id = Digest::token(Some("bob"), "r");
        assert_eq!(answer(&table, other_subject), known(TokenState::Live));
        assert_eq!(table.entries(), 2);
    }

    #[test]
    fn spent_wins_over_revoked_in_either_order_and_the_later_until_is_kept() {
        let table = table();
        revoke(&table, token("a"), NOW + 5_000);
        spend(&table, token("a"), NOW + 2_000);
        spend(&table, token("b"), NOW + 2_000);
        revoke(&table, token("b"), NOW + 5_000);
        for name in ["a", "b"] {
            assert_eq!(
                ask(&table, token(name), NOW + 4_999).0,
                known(TokenState::Used)
            );
            assert_eq!(
                ask(&table, token(name), NOW + 5_000).0,
                known(TokenState::Live)
            );
        }
        // A shorter until later does not shorten the entry.
        revoke(&table, token("b"), NOW + 1_000);
        assert_eq!(
            ask(&table, token("b"), NOW + 4_999).0,
            known(TokenState::Used)
        );
        assert_eq!(table.entries(), 2);
    }

    #[test]
    fn the_same_change_twice_keeps_its_kind_and_the_later_until() {
        let table = table();
        revoke(&table, token("r"), NOW + 5_000);
        revoke(&table, token("r"), NOW + 2_000);
        spend(&table, token("u"), NOW + 2_000);
        spend(&table, token("u"), NOW + 5_000);
        assert_eq!(
            ask(&table, token("r"), NOW + 4_999).0,
            known(TokenState::Revoked)
        );
        assert_eq!(
            ask(&table, token("u"), NOW + 4_999).0,
            known(TokenState::Used)
        );
        assert_eq!(
            ask(&table, token("r"), NOW + 5_000).0,
            known(TokenState::Live)
        );
        assert_eq!(
            ask(&table, token("u"), NOW + 5_000).0,
            known(TokenState::Live)
        );
        assert_eq!(table.entries(), 2);
    }

    #[test]
    fn a_revoked_id_comes_before_the_cutoff() {
        let table = table();
        revoke(&table, token("j"), LATER);
        spend(&table, token("k"), LATER);
        cutoff(&table, token("j"), EPOCH + 200, LATER);
        assert_eq!(answer(&table, token("j")), known(TokenState::Revoked));
        assert_eq!(answer(&table, token("k")), known(TokenState::Used));
        assert_eq!(
            answer(&table, token("l")),
            known(TokenState::IssuedBeforeCutoff)
        );
    }

    #[test]
    fn the_cutoff_refuses_tokens_issued_before_it_or_without_iat() {
        let table = table();
        cutoff(&table, token("j"), EPOCH + 100, LATER);
        let mut query = token("j");
        query.issued_at = Some(EPOCH + 99);
        assert_eq!(answer(&table, query), known(TokenState::IssuedBeforeCutoff));
        query.issued_at = Some(EPOCH + 100);
        assert_eq!(answer(&table, query), known(TokenState::Live));
        query.issued_at = None;
        assert_eq!(answer(&table, query), known(TokenState::IssuedBeforeCutoff));
        let mut bob = token("j");
        bob.subject = Digest::subject(Some("bob"));
        bob.issued_at = Some(EPOCH + 1);
        assert_eq!(answer(&table, bob), known(TokenState::Live));
    }

    #[test]
    fn the_later_cutoff_and_the_later_until_are_kept() {
        let table = table();
        cutoff(&table, token("j"), EPOCH + 100, NOW + 2_000);
        cutoff(&table, token("j"), EPOCH + 50, NOW + 5_000);
        let mut query = token("j");
        query.issued_at = Some(EPOCH + 99);
        assert_eq!(
            ask(&table, query, NOW + 4_999).0,
            known(TokenState::IssuedBeforeCutoff)
        );
        assert_eq!(ask(&table, query, NOW + 5_000).0, known(TokenState::Live));
        cutoff(&table, token("j"), EPOCH + 200, NOW + 1_000);
        query.issued_at = Some(EPOCH + 150);
        assert_eq!(
            ask(&table, query, NOW + 4_999).0,
            known(TokenState::IssuedBeforeCutoff)
        );
        assert_eq!(table.entries(), 1);
    }

    #[test]
    fn another_token_of_the_slot_is_superseded_and_the_newest_change_wins() {
        let table = table();
        latest(&table, "magic", "t1", LATER);
        assert_eq!(
            answer(&table, asking_latest(token("t1"), "magic", "t1")),
            known(TokenState::Live)
        );
        assert_eq!(
            answer(&table, asking_latest(token("t0"), "magic", "t0")),
            known(TokenState::Superseded)
        );
        latest(&table, "magic", "t2", LATER);
        assert_eq!(
            answer(&table, asking_latest(token("t1"), "magic", "t1")),
            known(TokenState::Superseded)
        );
        assert_eq!(
            answer(&table, asking_latest(token("t2"), "magic", "t2")),
            known(TokenState::Live)
        );
        // Another slot, or not asking: no answer from it.
        assert_eq!(
            answer(&table, asking_latest(token("t1"), "other", "t1")),
            known(TokenState::Live)
        );
        assert_eq!(answer(&table, token("t1")), known(TokenState::Live));
        assert_eq!(table.entries(), 1);
    }

    #[test]
    fn the_cutoff_comes_before_the_latest_slot() {
        let table = table();
        cutoff(&table, token("j"), EPOCH + 200, LATER);
        latest(&table, "magic", "other", LATER);
        assert_eq!(
            answer(&table, asking_latest(token("t"), "magic", "t")),
            known(TokenState::IssuedBeforeCutoff)
        );
    }

    #[test]
    fn the_latest_slot_comes_before_an_unknown_family() {
        let table = table();
        latest(&table, "magic", "other", LATER);
        let query = in_family(asking_latest(token("t"), "magic", "t"), "unknown");
        assert_eq!(answer(&table, query), known(TokenState::Superseded));
        let query = in_family(asking_latest(token("t"), "magic", "other"), "unknown");
        assert_eq!(answer(&table, query), Answer::Unknown);
    }

    #[test]
    fn a_family_is_live_known_revoked_or_unknown() {
        let table = table();
        assert_eq!(answer(&table, in_family(token("t"), "f")), Answer::Unknown);
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: LATER,
        });
        assert_eq!(
            answer(&table, in_family(token("t"), "f")),
            known(TokenState::Live)
        );
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), LATER - 1).0,
            known(TokenState::Live)
        );
        // Past its end its record is gone: Redis answers "revoked".
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), LATER).0,
            known(TokenState::FamilyRevoked)
        );
        table.apply(&Change::FamilyRevoked {
            family: family("f"),
            until_ms: LATER,
        });
        assert_eq!(
            answer(&table, in_family(token("t"), "f")),
            known(TokenState::FamilyRevoked)
        );
        assert_eq!(answer(&table, in_family(token("t"), "g")), Answer::Unknown);
        assert_eq!(table.entries(), 1);
    }

    #[test]
    fn a_revoked_family_stays_revoked_and_an_unknown_one_is_recorded_revoked() {
        let table = table();
        table.apply(&Change::FamilyRevoked {
            family: family("f"),
            until_ms: LATER,
        });
        assert_eq!(
            answer(&table, in_family(token("t"), "f")),
            known(TokenState::FamilyRevoked)
        );
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: LATER + 1,
        });
        assert_eq!(
            answer(&table, in_family(token("t"), "f")),
            known(TokenState::FamilyRevoked)
        );
        // The later until of the two is kept while revoked.
        table.purge(LATER);
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), LATER).0,
            known(TokenState::FamilyRevoked)
        );
        table.apply(&Change::FamilyRevoked {
            family: family("f"),
            until_ms: NOW,
        });
        table.purge(LATER);
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), LATER).0,
            known(TokenState::FamilyRevoked)
        );
        table.purge(LATER + 1);
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), LATER + 1).0,
            Answer::Unknown
        );
    }

    #[test]
    fn a_family_created_again_takes_its_new_end() {
        let table = table();
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: LATER,
        });
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: NOW + 10,
        });
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), NOW + 10).0,
            known(TokenState::FamilyRevoked)
        );
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: LATER,
        });
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), NOW + 10).0,
            known(TokenState::Live)
        );
    }

    #[test]
    fn the_family_comes_before_the_epoch() {
        let table = table();
        table.apply(&Change::FamilyRevoked {
            family: family("f"),
            until_ms: LATER,
        });
        let mut query = in_family(token("t"), "f");
        query.issued_at = Some(EPOCH - 1);
        assert_eq!(answer(&table, query), known(TokenState::FamilyRevoked));
        // And the id comes before the family.
        revoke(&table, query, LATER);
        assert_eq!(answer(&table, query), known(TokenState::Revoked));
    }

    #[test]
    fn a_token_issued_before_its_slots_epoch_is_refused() {
        let table = table();
        table.apply_epoch(SLOT, EPOCH + 500);
        let mut query = token("t");
        query.issued_at = Some(EPOCH + 499);
        assert_eq!(
            ask(&table, query, NOW),
            (known(TokenState::IssuedBeforeStoreEpoch), 1)
        );
        query.issued_at = Some(EPOCH + 500);
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Live), 0));
        // Another slot, whose epoch is older: live, after computing the slot.
        query.issued_at = Some(EPOCH + 499);
        query.slot = SLOT + 1;
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Live), 1));
        query.issued_at = Some(EPOCH - 1);
        assert_eq!(
            ask(&table, query, NOW),
            (known(TokenState::IssuedBeforeStoreEpoch), 1)
        );
    }

    #[test]
    fn the_slot_is_computed_only_when_an_epoch_must_be_read() {
        let table = table();
        let mut query = token("t");
        // No iat: live without any epoch.
        query.issued_at = None;
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Live), 0));
        // At or after the greatest epoch.
        query.issued_at = Some(EPOCH);
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Live), 0));
        // Refused by an entry before the epoch is read.
        query.issued_at = Some(EPOCH - 1);
        revoke(&table, query, LATER);
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Revoked), 0));
    }

    #[test]
    fn an_unknown_epoch_of_the_subjects_slot_is_unknown_before_anything_else() {
        let table = MirrorTable::new(100);
        for slot in (0..SLOTS).filter(|&slot| slot != SLOT) {
            table.apply_epoch(slot, EPOCH);
        }
        let query = token("t");
        revoke(&table, query, LATER);
        // Redis's guard finds the marker missing before reading the id.
        assert_eq!(ask(&table, query, NOW), (Answer::Unknown, 1));
        let mut elsewhere = query;
        elsewhere.slot = SLOT + 1;
        assert_eq!(ask(&table, elsewhere, NOW), (known(TokenState::Revoked), 1));
        // The slot is computed once, also when the epoch then decides.
        let mut before = token("u");
        before.slot = SLOT + 1;
        before.issued_at = Some(EPOCH - 1);
        assert_eq!(
            ask(&table, before, NOW),
            (known(TokenState::IssuedBeforeStoreEpoch), 1)
        );
        before.issued_at = Some(EPOCH);
        assert_eq!(ask(&table, before, NOW), (known(TokenState::Live), 1));
        before.issued_at = None;
        assert_eq!(ask(&table, before, NOW), (known(TokenState::Live), 1));
        // Its epoch arrives: every slot known, nothing computed for a
        // token at or after the greatest epoch.
        table.apply_epoch(SLOT, EPOCH - 10);
        assert_eq!(ask(&table, token("v"), NOW), (known(TokenState::Live), 0));
    }

    #[test]
    fn a_new_table_knows_no_epoch() {
        let table = MirrorTable::new(100);
        assert_eq!(ask(&table, token("t"), NOW), (Answer::Unknown, 1));
        let mut no_iat = token("t");
        no_iat.issued_at = None;
        assert_eq!(ask(&table, no_iat, NOW), (Answer::Unknown, 1));
    }

    #[test]
    fn an_epoch_only_grows_and_the_greatest_is_kept() {
        let table = table();
        table.apply_epoch(SLOT, EPOCH + 500);
        table.apply_epoch(SLOT, EPOCH + 100);
        let mut query = token("t");
        query.issued_at = Some(EPOCH + 499);
        assert_eq!(
            ask(&table, query, NOW),
            (known(TokenState::IssuedBeforeStoreEpoch), 1)
        );
        // The greatest epoch is another slot's: this slot's is compared.
        table.apply_epoch(0, EPOCH + 900);
        query.issued_at = Some(EPOCH + 500);
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Live), 1));
        query.issued_at = Some(EPOCH + 900);
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Live), 0));
    }

    #[test]
    fn an_epoch_below_one_or_past_the_last_slot_changes_nothing() {
        let table = MirrorTable::new(100);
        for slot in (0..SLOTS).filter(|&slot| slot != SLOT) {
            table.apply_epoch(slot, EPOCH);
        }
        table.apply_epoch(SLOT, 0);
        table.apply_epoch(SLOT, -5);
        table.apply_epoch(SLOTS, EPOCH);
        table.apply_epoch(u16::MAX, EPOCH);
        assert_eq!(ask(&table, token("t"), NOW), (Answer::Unknown, 1));
        let mut past_the_last = token("t");
        past_the_last.slot = SLOTS;
        assert_eq!(ask(&table, past_the_last, NOW), (Answer::Unknown, 1));
        table.apply_epoch(SLOT, 1);
        assert_eq!(ask(&table, token("t"), NOW), (known(TokenState::Live), 0));
        // A slot out of range asked of a table that knows every epoch.
        let mut query = token("t");
        query.slot = SLOTS;
        query.issued_at = Some(EPOCH - 1);
        assert_eq!(ask(&table, query, NOW), (Answer::Unknown, 1));
    }

    #[test]
    fn an_entry_expires_at_its_until() {
        let table = table();
        // Whole seconds: gone at exactly `until`.
        revoke(&table, token("r"), NOW + 1_000);
        assert_eq!(
            ask(&table, token("r"), NOW + 999).0,
            known(TokenState::Revoked)
        );
        assert_eq!(
            ask(&table, token("r"), NOW + 1_000).0,
            known(TokenState::Live)
        );
        let table = self::table();
        cutoff(&table, token("r"), EPOCH + 200, NOW + 1_000);
        assert_eq!(
            ask(&table, token("c"), NOW + 999).0,
            known(TokenState::IssuedBeforeCutoff)
        );
        assert_eq!(
            ask(&table, token("c"), NOW + 1_000).0,
            known(TokenState::Live)
        );
        let table = self::table();
        latest(&table, "magic", "other", NOW + 1_000);
        let query = asking_latest(token("l"), "magic", "l");
        assert_eq!(
            ask(&table, query, NOW + 999).0,
            known(TokenState::Superseded)
        );
        assert_eq!(ask(&table, query, NOW + 1_000).0, known(TokenState::Live));
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: NOW + 1_000,
        });
        let query = in_family(token("f"), "f");
        assert_eq!(ask(&table, query, NOW + 999).0, known(TokenState::Live));
        assert_eq!(
            ask(&table, query, NOW + 1_000).0,
            known(TokenState::FamilyRevoked)
        );
    }

    #[test]
    fn an_ids_until_is_rounded_up_to_the_second_never_down() {
        let table = table();
        revoke(&table, token("r"), NOW + 1);
        assert_eq!(
            ask(&table, token("r"), NOW + 999).0,
            known(TokenState::Revoked)
        );
        assert_eq!(
            ask(&table, token("r"), NOW + 1_000).0,
            known(TokenState::Live)
        );
        assert_eq!(id_until(ORIGIN_MS), 0);
        assert_eq!(id_until(ORIGIN_MS + 1), 1);
        assert_eq!(id_until(ORIGIN_MS + 1_000), 1);
        assert_eq!(id_until(ORIGIN_MS + 1_001), 2);
        assert_eq!(id_until(ORIGIN_MS - 1), 0);
        assert_eq!(id_until(i64::MIN), 0);
        assert_eq!(id_until(i64::MAX), UNTIL);
        assert_eq!(id_until(ORIGIN_MS + i64::from(UNTIL) * 1_000), UNTIL);
        assert_eq!(id_until(ORIGIN_MS + i64::from(UNTIL) * 1_000 + 1), UNTIL);
        assert_eq!(id_until_ms(USED | 3), ORIGIN_MS + 3_000);
        // Saturated: held until 2092, past any now this code sees.
        revoke(&table, token("forever"), i64::MAX);
        assert_eq!(
            ask(&table, token("forever"), 3_500_000_000_000).0,
            known(TokenState::Revoked)
        );
        // Until before the origin: already gone.
        revoke(&table, token("old"), ORIGIN_MS - 5);
        assert_eq!(
            ask(&table, token("old"), ORIGIN_MS).0,
            known(TokenState::Live)
        );
    }

    #[test]
    fn purge_drops_what_has_expired_and_keeps_the_rest() {
        let table = table();
        revoke(&table, token("short"), NOW + 1_000);
        revoke(&table, token("long"), LATER);
        spend(&table, token("spent"), NOW + 1_000);
        cutoff(&table, token("x"), EPOCH + 200, NOW + 1_000);
        latest(&table, "magic", "other", NOW + 1_000);
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: NOW + 1_000,
        });
        table.apply(&Change::FamilyCreated {
            family: family("g"),
            until_ms: LATER,
        });
        assert_eq!(table.entries(), 7);
        table.purge(NOW + 999);
        assert_eq!(table.entries(), 7);
        table.purge(NOW + 1_000);
        assert_eq!(table.entries(), 2);
        assert_eq!(
            ask(&table, token("long"), NOW + 1_000).0,
            known(TokenState::Revoked)
        );
        assert_eq!(
            ask(&table, in_family(token("t"), "g"), NOW + 1_000).0,
            known(TokenState::Live)
        );
        // Purged, the expired family is unknown again: Redis decides.
        assert_eq!(
            ask(&table, in_family(token("t"), "f"), NOW + 1_000).0,
            Answer::Unknown
        );
        // What was purged is gone even asked at an earlier instant.
        assert_eq!(ask(&table, token("short"), NOW).0, known(TokenState::Live));
        assert_eq!(ask(&table, token("spent"), NOW).0, known(TokenState::Live));
        assert_eq!(ask(&table, token("c"), NOW).0, known(TokenState::Live));
        assert_eq!(
            ask(&table, asking_latest(token("l"), "magic", "l"), NOW).0,
            known(TokenState::Live)
        );
        table.purge(LATER);
        assert_eq!(table.entries(), 0);
    }

    #[test]
    fn clear_empties_everything_and_forgets_every_epoch() {
        let table = MirrorTable::new(3);
        for slot in 0..SLOTS {
            table.apply_epoch(slot, EPOCH);
        }
        revoke(&table, token("r"), LATER);
        cutoff(&table, token("r"), EPOCH + 200, LATER);
        latest(&table, "magic", "other", LATER);
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: LATER,
        });
        assert!(table.overflowed());
        let full = table.bytes();
        table.clear();
        assert_eq!(table.entries(), 0);
        assert!(!table.overflowed());
        assert!(table.bytes() < full);
        assert_eq!(table.bytes(), MirrorTable::new(3).bytes());
        assert_eq!(ask(&table, token("r"), NOW), (Answer::Unknown, 1));
        for slot in 0..SLOTS {
            table.apply_epoch(slot, 10);
        }
        let mut query = asking_latest(token("r"), "magic", "r");
        query.issued_at = Some(5);
        assert_eq!(
            ask(&table, query, NOW),
            (known(TokenState::IssuedBeforeStoreEpoch), 1)
        );
        query.issued_at = Some(10);
        assert_eq!(ask(&table, query, NOW), (known(TokenState::Live), 0));
        assert_eq!(
            ask(&table, in_family(query, "f"), NOW),
            (Answer::Unknown, 0)
        );
    }

    #[test]
    fn more_entries_than_the_maximum_overflow_the_table() {
        let table = MirrorTable::new(4);
        for slot in 0..SLOTS {
            table.apply_epoch(slot, EPOCH);
        }
        revoke(&table, token("a"), LATER);
        cutoff(&table, token("a"), EPOCH, LATER);
        latest(&table, "magic", "a", LATER);
        table.apply(&Change::FamilyRevoked {
            family: family("f"),
            until_ms: LATER,
        });
        assert_eq!(table.entries(), 4);
        assert!(!table.overflowed());
        // Changes to held entries, and epochs, take no room.
        spend(&table, token("a"), LATER);
        cutoff(&table, token("a"), EPOCH + 1, LATER);
        latest(&table, "magic", "b", LATER);
        table.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: LATER,
        });
        table.apply(&Change::FamilyRevoked {
            family: family("f"),
            until_ms: LATER,
        });
        table.apply_epoch(0, EPOCH + 1);
        assert!(!table.overflowed());
        assert_eq!(answer(&table, token("a")), known(TokenState::Used));
        revoke(&table, token("b"), LATER);
        assert!(table.overflowed());
        assert_eq!(table.entries(), 4);
        // Incomplete: it answers nothing from memory, not even what it holds.
        assert_eq!(ask(&table, token("a"), NOW), (Answer::Unknown, 0));
        assert_eq!(ask(&table, token("b"), NOW), (Answer::Unknown, 0));
        table.purge(LATER);
        assert_eq!(table.entries(), 0);
        assert!(table.overflowed());
    }

    #[test]
    fn every_kind_of_new_entry_can_overflow() {
        let changes = [
            Change::Revoked {
                id: token("x").id,
                until_ms: LATER,
            },
            Change::Used {
                id: token("x").id,
                until_ms: LATER,
            },
            Change::Cutoff {
                subject: token("x").subject,
                cutoff: 1,
                until_ms: LATER,
            },
            Change::Latest {
                slot: slot_of("s"),
                token: token("x").id,
                until_ms: LATER,
            },
            Change::FamilyCreated {
                family: family("f"),
                until_ms: LATER,
            },
            Change::FamilyRevoked {
                family: family("f"),
                until_ms: LATER,
            },
        ];
        for change in changes {
            let table = MirrorTable::new(0);
            table.apply(&change);
            assert!(table.overflowed(), "{change:?}");
            assert_eq!(table.entries(), 0);
            assert_eq!(table.bytes(), MirrorTable::new(0).bytes(), "{change:?}");
        }
    }

    #[test]
    fn the_memory_estimate_follows_the_maps_capacity() {
        let empty = MirrorTable::new(10);
        let fixed = size_of::<MirrorTable>()
            + size_of::<RwLock<Map<u32>>>() * SHARDS
            + size_of::<AtomicI64>() * usize::from(SLOTS);
        assert_eq!(empty.bytes(), fixed);
        assert_eq!(size_of::<(Digest, u32)>(), 20);
        let map: Map<u32> = Map::with_capacity_and_hasher(28_672, DigestHasher::default());
        assert_eq!(map.capacity(), 28_672);
        assert_eq!(map_bytes(&map), 32_768 * 21 + GROUP);
        let small: Map<u32> = Map::with_capacity_and_hasher(1, DigestHasher::default());
        assert_eq!(small.capacity(), 3);
        assert_eq!(map_bytes(&small), 4 * 21 + GROUP);
        let seven: Map<u32> = Map::with_capacity_and_hasher(4, DigestHasher::default());
        assert_eq!(seven.capacity(), 7);
        assert_eq!(map_bytes(&seven), 8 * 21 + GROUP);
        let fourteen: Map<u32> = Map::with_capacity_and_hasher(8, DigestHasher::default());
        assert_eq!(fourteen.capacity(), 14);
        assert_eq!(map_bytes(&fourteen), 16 * 21 + GROUP);
        assert_eq!(map_bytes(&Map::<u32>::default()), 0);
        revoke(&empty, token("r"), LATER);
        let one = empty.bytes() - fixed;
        cutoff(&empty, token("r"), 1, LATER);
        latest(&empty, "s", "t", LATER);
        empty.apply(&Change::FamilyCreated {
            family: family("f"),
            until_ms: LATER,
        });
        let four = empty.bytes() - fixed;
        assert_eq!(
            one,
            map_bytes(&read(&empty.ids[token("r").id.shard(SHARDS)]))
        );
        assert_eq!(
            four - one,
            map_bytes(&read(&empty.cutoffs))
                + map_bytes(&read(&empty.latest))
                + map_bytes(&read(&empty.families))
        );
        assert!(four > one);
    }

    /// The issue's goal: a million revoked ids in at most 64 MiB.
    #[test]
    fn a_million_revoked_ids_fit_in_64_mib() {
        const IDS: u64 = 1_000_000;
        let table = MirrorTable::new(usize::try_from(IDS).expect("fits"));
        for slot in 0..SLOTS {
            table.apply_epoch(slot, EPOCH);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut digest = || {
            // Uniform digests without the cost of hashing in a debug build.
            let mut bytes = [0_u8; 16];
            for half in bytes.chunks_exact_mut(8) {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                half.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
            }
            Digest::from_bytes(bytes)
        };
        let mut first = None;
        for _ in 0..IDS {
            let id = digest();
            first.get_or_insert(id);
            table.apply(&Change::Revoked {
                id,
                until_ms: LATER,
            });
        }
        assert!(!table.overflowed());
        assert_eq!(table.entries(), 1_000_000);
        let bytes = table.bytes();
        assert!(bytes <= 64 << 20, "{bytes} bytes");
        // About 42 MiB (44 MB): 64 shards of 32,768 buckets of 21 bytes.
        assert!(bytes >= SHARDS * 32_768 * 21, "{bytes} bytes");
        let mut query = token("x");
        query.id = first.expect("one");
        assert_eq!(answer(&table, query), known(TokenState::Revoked));
    }

    #[test]
    fn debug_shows_counts_not_entries() {
        let table = MirrorTable::new(9);
        table.apply_epoch(1, 77);
        revoke(&table, token("r"), LATER);
        assert_eq!(
            format!("{table:?}"),
            "MirrorTable { entries: 1, max_entries: 9, overflowed: false, \
             unknown_epochs: 16383, max_epoch: 77, .. }"
        );
    }

    #[test]
    fn the_table_is_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<MirrorTable>();
        let table = std::sync::Arc::new(table());
        let writer = {
            let table = std::sync::Arc::clone(&table);
            std::thread::spawn(move || {
                for n in 0..1_000 {
                    revoke(&table, token(&n.to_string()), LATER);
                }
            })
        };
        writer.join().expect("the writer");
        assert_eq!(answer(&table, token("999")), known(TokenState::Revoked));
        assert_eq!(table.entries(), 1_000);
    }
}
