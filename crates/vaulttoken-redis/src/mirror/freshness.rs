//! Whether the mirror may answer: it has heard from Redis within
//! `max_staleness`, after this process's own last write of the subject
//! checked, and holds a whole state.
//!
//! "Heard at t" means: every change committed in Redis before the instant
//! t (of this process's monotonic clock) has been applied. The feed sets it
//! to the instant it *sent* a read whose answer held every change there was
//! (an empty blocking read, or one short of its count), so it never runs
//! ahead of Redis, and Redis's own clock plays no part.
//!
//! Own writes are stamped by subject: a write changes only its subject's
//! entries, so after it only checks of that subject wait for the feed (and
//! a write that appends no change, as a refresh that moves its family on,
//! is not stamped: there is nothing to read back).
//! Subjects share [`WRITE_GROUPS`] groups by their digest (two in one
//! group wait for each other: only slower, never wrong). A write that
//! failed may have done anything, a new epoch for every slot included, and
//! holds back every check.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};

use crate::digest::Digest;

/// How many groups own writes are stamped in, by subject: 512 KiB of
/// stamps. On one saturated core refreshing 15,000 distinct subjects a
/// second, when each refresh still stamped its subject, the feed heard
/// 0.3 to 0.5 s behind (it read no change, and waited a heartbeat each
/// time), and 8 % of the checks found their group written since (96 % with
/// 1,024 groups); a refresh that moves its family on now stamps nothing.
pub(crate) const WRITE_GROUPS: usize = 65_536;

/// The mirror's freshness, shared by the feed (which sets it) and every
/// check (which reads it: a few atomic loads).
#[derive(Debug)]
pub(crate) struct Freshness {
    /// The zero of the instants below.
    base: Instant,
    /// The unix time of `base`, in milliseconds: the table's expiries are
    /// compared with `base_ms` plus the monotonic time since (one clock
    /// reading per check).
    base_ms: i64,
    max_staleness: Duration,
    /// The stamp ([`Freshness::stamp`]) of the last send the feed heard
    /// back from; 0 before the first.
    heard: AtomicU64,
    /// The stamp of the instant this process's last failed write through
    /// the mirror returned (which holds back every check); 0 before the
    /// first.
    failed_write: AtomicU64,
    /// By the subject's group ([`Digest::group`]): the stamp of the instant
    /// this process's last write of a subject of that group returned.
    wrote: Box<[AtomicU64]>,
    /// Whether the table holds a whole state: false while the feed
    /// replays; after a gap it cannot explain, whole only from the stamp
    /// `whole_from`.
    whole: AtomicBool,
    whole_from: AtomicU64,
    /// How many times the table stopped being whole: a check that read the
    /// table while it was being cleared sees this move, and asks Redis.
    generation: AtomicU64,
}

impl Freshness {
    pub(crate) fn new(max_staleness: Duration) -> Self {
        let now = SystemClock.now();
        Self {
            base: Instant::now(),
            base_ms: i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0),
            max_staleness,
            heard: AtomicU64::new(0),
            failed_write: AtomicU64::new(0),
            wrote: (0..WRITE_GROUPS).map(|_| AtomicU64::new(0)).collect(),
            whole: AtomicBool::new(false),
            whole_from: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether the table may answer at `now`, but for checks of the
    /// subjects this process wrote since the feed last heard from Redis.
    pub(crate) fn current(&self, now: Instant) -> bool {
        self.current_at(now, None).is_some()
    }

    /// If a check at `now` of the subject whose digest is `subject` may
    /// answer from the table (`None`: any check but of a subject written
    /// meanwhile), the unix time of `now` in milliseconds
    /// ([`Freshness::wall_millis`]): one reading of the monotonic clock for
    /// both, on every check.
    pub(crate) fn current_at(&self, now: Instant, subject: Option<Digest>) -> Option<i64> {
        if !self.whole.load(Ordering::Acquire) {
            return None;
        }
        let heard = self.heard.load(Ordering::Acquire);
        let wrote = subject.map_or(0, |subject| {
            self.wrote[subject.group(WRITE_GROUPS)].load(Ordering::Acquire)
        });
        if heard == 0 || heard < wrote || heard < self.failed_write.load(Ordering::Acquire) {
            return None;
        }
        let stamp = self.stamp(now);
        let current = stamp >= self.whole_from.load(Ordering::Acquire)
            && stamp.saturating_sub(heard) < self.max_staleness_nanos();
        current.then(|| self.wall_millis_of(stamp))
    }

    /// The feed heard back from a read it sent at `sent`.
    pub(crate) fn heard(&self, sent: Instant) {
        self.heard.fetch_max(self.stamp(sent), Ordering::AcqRel);
    }

    /// A write through the mirror of the subject whose digest is `subject`
    /// returned done at `at`: until the feed hears from a later send,
    /// checks of that subject go to Redis, so this process reads its own
    /// writes.
    pub(crate) fn wrote(&self, at: Instant, subject: Digest) {
        self.wrote[subject.group(WRITE_GROUPS)].fetch_max(self.stamp(at), Ordering::AcqRel);
    }

    /// A write through the mirror returned failed at `at`: it may have
    /// done anything, so until the feed hears from a later send, every
    /// check goes to Redis.
    pub(crate) fn write_failed(&self, at: Instant) {
        self.failed_write
            .fetch_max(self.stamp(at), Ordering::AcqRel);
    }

    /// The table no longer holds a whole state (a rebuild begins): call it
    /// before changing the table, so a check that read the changed table
    /// sees the [`Freshness::generation`] move.
    pub(crate) fn broken(&self) {
        self.whole.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// How many times the table stopped being whole. A check reads it
    /// before [`Freshness::current_at`] and again after reading the table:
    /// if it moved, the table may have been cleared under the check, whose
    /// answer must not be used.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The table holds a whole state again, but answers only from `from`
    /// (at once when `from` is now or earlier): until then, a gap in the
    /// stream may hide changes that still matter.
    pub(crate) fn whole_from(&self, from: Instant) {
        self.whole_from.store(self.stamp(from), Ordering::Release);
        self.whole.store(true, Ordering::Release);
    }

    /// How long ago the feed last heard from Redis, if ever.
    pub(crate) fn heard_ago(&self, now: Instant) -> Option<Duration> {
        match self.heard.load(Ordering::Acquire) {
            0 => None,
            heard => Some(Duration::from_nanos(self.stamp(now).saturating_sub(heard))),
        }
    }

    /// The unix time of `at`, in milliseconds, by the monotonic clock
    /// since the mirror began.
    pub(crate) fn wall_millis(&self, at: Instant) -> i64 {
        self.wall_millis_of(self.stamp(at))
    }

    /// [`Freshness::wall_millis`] of a stamp.
    fn wall_millis_of(&self, stamp: u64) -> i64 {
        let since = i64::try_from(stamp / 1_000_000).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(since)
    }

    /// Nanoseconds from `base` to `at`, plus one: never 0, which the
    /// fields keep for "never".
    fn stamp(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.base).as_nanos();
        u64::try_from(nanos).map_or(u64::MAX, |nanos| nanos.saturating_add(1))
    }

    fn max_staleness_nanos(&self) -> u64 {
        u64::try_from(self.max_staleness.as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_millis(500);

    #[test]
    fn current_only_when_whole_and_heard_within_the_bound() {
        let freshness = Freshness::new(BOUND);
        let start = freshness.base;
        assert!(!freshness.current(start), "never heard");
        freshness.heard(start);
        assert!(!freshness.current(start), "not whole yet");
        freshness.whole_from(start);
        assert!(freshness.current(start));
        assert!(freshness.current(start + BOUND - Duration::from_nanos(1)));
        assert!(!freshness.current(start + BOUND), "the bound is exclusive");
        freshness.heard(start + BOUND);
        assert!(freshness.current(start + BOUND));
        freshness.broken();
        assert!(!freshness.current(start + BOUND));
    }

    #[test]
    fn heard_never_goes_back() {
        let freshness = Freshness::new(BOUND);
        let start = freshness.base;
        freshness.whole_from(start);
        freshness.heard(start + BOUND);
        freshness.heard(start);
        assert!(freshness.current(start + BOUND * 3 / 2));
        assert_eq!(
            freshness.heard_ago(start + BOUND * 2),
            Some(BOUND),
            "from the later send"
        );
    }

    /// A freshness whole from its start and heard from 10 ms after it,
    /// with two subjects in different groups; `at(ms)` is the instant `ms`
    /// after its start.
    struct Written {
        freshness: Freshness,
        alice: Digest,
        bob: Digest,
    }

    impl Written {
        fn new() -> Self {
            let freshness = Freshness::new(BOUND);
            let alice = Digest::subject(Some("alice"));
            let bob = (0..1_000)
                .map(|n| Digest::subject(Some(&format!("user-{n}"))))
                .find(|other| other.group(WRITE_GROUPS) != alice.group(WRITE_GROUPS))
                .expect("another group");
            let written = Self {
                freshness,
                alice,
                bob,
            };
            written.freshness.whole_from(written.at(0));
            written.freshness.heard(written.at(10));
            written
        }

        fn at(&self, millis: u64) -> Instant {
            self.freshness.base + Duration::from_millis(millis)
        }
    }

    #[test]
    fn after_its_own_write_a_process_waits_for_a_later_send_for_that_subject() {
        let written = Written::new();
        let (freshness, alice, bob) = (&written.freshness, written.alice, written.bob);
        let at = |millis| written.at(millis);
        freshness.wrote(at(20), alice);
        assert_eq!(freshness.current_at(at(30), Some(alice)), None);
        assert!(freshness.current_at(at(30), Some(bob)).is_some());
        assert!(freshness.current(at(30)), "but for alice's checks");
        freshness.heard(at(19));
        assert_eq!(
            freshness.current_at(at(30), Some(alice)),
            None,
            "sent before"
        );
        freshness.heard(at(20));
        assert!(freshness.current_at(at(30), Some(alice)).is_some());
    }

    #[test]
    fn after_a_failed_write_every_check_waits_for_a_later_send() {
        let written = Written::new();
        let (freshness, alice, bob) = (&written.freshness, written.alice, written.bob);
        let at = |millis| written.at(millis);
        freshness.write_failed(at(20));
        for subject in [Some(alice), Some(bob), None] {
            assert_eq!(freshness.current_at(at(30), subject), None);
        }
        freshness.heard(at(20));
        for subject in [Some(alice), Some(bob), None] {
            assert!(freshness.current_at(at(30), subject).is_some());
        }
    }

    #[test]
    fn a_table_whole_from_later_answers_only_from_then() {
        let freshness = Freshness::new(BOUND);
        let start = freshness.base;
        let from = start + Duration::from_millis(100);
        freshness.whole_from(from);
        freshness.heard(from);
        assert!(!freshness.current(from - Duration::from_nanos(1)));
        assert!(freshness.current(from));
    }

    #[test]
    fn a_current_check_reads_the_wall_time_from_the_same_instant() {
        let freshness = Freshness::new(BOUND);
        let start = freshness.base;
        assert_eq!(freshness.current_at(start, None), None);
        freshness.whole_from(start);
        freshness.heard(start);
        let later = start + Duration::from_millis(250);
        assert_eq!(
            freshness.current_at(later, None),
            Some(freshness.base_ms + 250)
        );
        assert_eq!(freshness.wall_millis(later), freshness.base_ms + 250);
        assert_eq!(freshness.current_at(start + BOUND, None), None);
    }

    #[test]
    fn each_break_moves_the_generation() {
        let freshness = Freshness::new(BOUND);
        let first = freshness.generation();
        freshness.whole_from(freshness.base);
        assert_eq!(
            freshness.generation(),
            first,
            "becoming whole is not a break"
        );
        freshness.broken();
        assert_eq!(freshness.generation(), first + 1);
        freshness.broken();
        assert_eq!(freshness.generation(), first + 2);
    }

    #[test]
    fn heard_ago_is_none_before_the_first_answer() {
        let freshness = Freshness::new(BOUND);
        assert_eq!(freshness.heard_ago(Instant::now()), None);
        freshness.heard(freshness.base);
        assert_eq!(freshness.heard_ago(freshness.base + BOUND), Some(BOUND));
    }
}
