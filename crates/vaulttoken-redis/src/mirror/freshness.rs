//! Whether the mirror may answer: it has heard from Redis within
//! `max_staleness`, after this process's own last write, and holds a whole
//! state.
//!
//! "Heard at t" means: every change committed in Redis before the instant
//! t (of this process's monotonic clock) has been applied. The feed sets it
//! to the instant it *sent* a read whose answer held every change there was
//! (an empty blocking read, or one short of its count), so it never runs
//! ahead of Redis, and Redis's own clock plays no part.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vaulttoken::clock::{Clock as _, SystemClock};

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
    /// The stamp of the instant this process's last write through the
    /// mirror returned; 0 before the first.
    wrote: AtomicU64,
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
            wrote: AtomicU64::new(0),
            whole: AtomicBool::new(false),
            whole_from: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether a check at `now` may answer from the table.
    pub(crate) fn current(&self, now: Instant) -> bool {
        self.current_at(now).is_some()
    }

    /// If a check at `now` may answer from the table, the unix time of
    /// `now` in milliseconds ([`Freshness::wall_millis`]): one reading of
    /// the monotonic clock for both, on every check.
    pub(crate) fn current_at(&self, now: Instant) -> Option<i64> {
        if !self.whole.load(Ordering::Acquire) {
            return None;
        }
        let heard = self.heard.load(Ordering::Acquire);
        if heard == 0 || heard < self.wrote.load(Ordering::Acquire) {
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

    /// A write through the mirror returned at `at`: until the feed hears
    /// from a later send, checks go to Redis, so this process reads its
    /// own writes.
    pub(crate) fn wrote(&self, at: Instant) {
        self.wrote.fetch_max(self.stamp(at), Ordering::AcqRel);
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

    #[test]
    fn after_its_own_write_a_process_waits_for_a_later_send() {
        let freshness = Freshness::new(BOUND);
        let start = freshness.base;
        freshness.whole_from(start);
        freshness.heard(start + Duration::from_millis(10));
        freshness.wrote(start + Duration::from_millis(20));
        assert!(!freshness.current(start + Duration::from_millis(30)));
        freshness.heard(start + Duration::from_millis(20));
        assert!(freshness.current(start + Duration::from_millis(30)));
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
        assert_eq!(freshness.current_at(start), None);
        freshness.whole_from(start);
        freshness.heard(start);
        let later = start + Duration::from_millis(250);
        assert_eq!(freshness.current_at(later), Some(freshness.base_ms + 250));
        assert_eq!(freshness.wall_millis(later), freshness.base_ms + 250);
        assert_eq!(freshness.current_at(start + BOUND), None);
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
