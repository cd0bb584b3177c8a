//! Leases of a window's budget: what an instance took from a shared counter
//! in Redis ahead of its requests, and spends in memory.
//!
//! A lease is counted in Redis when it is taken, so the sum of every
//! instance's leases never passes a limit: the fleet admits at most the
//! limit, exactly as with one count a request. What a lease leaves unspent
//! when its window ends is lost, which can only refuse early: at most
//! [`LeaseBook::cap`]` - 1` requests of a key a window per instance.
//!
//! A lease grows with its key's traffic: one that was spent within
//! [`HOT`] of being taken is followed by one twice its size (up to the
//! cap), one that lasted longer than [`COOL`] by one half its size. A key
//! that sees a request now and then takes a lease of one, which is one
//! count a request as before; a busy key settles at a few leases a second.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Key;

/// A lease spent faster than this is followed by one twice its size.
pub(crate) const HOT: Duration = Duration::from_millis(100);

/// A lease that lasted longer than this is followed by one half its size.
pub(crate) const COOL: Duration = Duration::from_secs(1);

/// A lease is at most this share of its limit: `limit / CAP_SHARE`, at
/// least 1.
pub(crate) const CAP_SHARE: u32 = 64;

/// What the book holds for a key: its budget in the current window.
#[derive(Debug)]
struct Lease {
    /// The window the budget belongs to.
    slot: u64,
    /// Requests this instance may still admit in that window.
    left: u32,
    /// The size of the next lease.
    size: u32,
    /// When the last lease of `size > cost` was granted.
    granted_at: Option<Instant>,
    /// A lease of the full size is being taken.
    in_flight: bool,
    /// Redis refused this key in `slot`, until then.
    full_until: Option<Instant>,
}

/// The outcome of [`LeaseBook::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Counted against the local budget.
    Taken,
    /// The key's window is spent: retry after this many seconds.
    Full(u64),
    /// No budget left: lease from Redis.
    Lease(Ask),
}

/// A lease to ask Redis for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ask {
    /// How much: at least the cost.
    pub(crate) wanted: u32,
    /// The key's lease of its full size (the one that grows and shrinks),
    /// rather than a request's own cost while that one is on its way.
    pub(crate) sized: bool,
}

/// The leases of an instance, one per key, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct LeaseBook {
    leases: HashMap<Key, Lease>,
    capacity: usize,
    /// The window the book was last swept in: a second sweep in the same
    /// window would find nothing (every lease left is of that window or on
    /// its way), so a book kept full by new keys is swept once a window,
    /// not once a request.
    swept: Option<u64>,
    #[cfg(test)]
    sweeps: usize,
}

impl LeaseBook {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            leases: HashMap::new(),
            capacity,
            swept: None,
            #[cfg(test)]
            sweeps: 0,
        }
    }

    /// The largest lease of a key limited to `limit`.
    pub(crate) fn cap(limit: u32) -> u32 {
        (limit / CAP_SHARE).max(1)
    }

    /// Counts `cost` against `key`'s budget in window `slot` if it has
    /// enough; otherwise says how much to lease. Only one lease larger
    /// than the cost is taken at a time: while it is on its way, other
    /// requests lease their own cost.
    pub(crate) fn take(
        &mut self,
        key: &Key,
        limit: u32,
        slot: u64,
        cost: u32,
        now: Instant,
    ) -> Take {
        // The cheap tests first: a book with room (the usual case) does
        // not hash the key here as well as below.
        if self.leases.len() >= self.capacity
            && self.swept != Some(slot)
            && !self.leases.contains_key(key)
        {
            self.swept = Some(slot);
            self.leases
                .retain(|_, lease| lease.slot >= slot || lease.in_flight);
            #[cfg(test)]
            {
                self.sweeps += 1;
            }
        }
        let lease = if let Some(lease) = self.leases.get_mut(key) {
            lease
        } else if self.leases.len() < self.capacity {
            self.leases.entry(key.clone()).or_insert(Lease {
                slot,
                left: 0,
                size: 1,
                granted_at: None,
                in_flight: false,
                full_until: None,
            })
        } else {
            // No room to remember a lease: count this request alone.
            return Take::Lease(Ask {
                wanted: cost,
                sized: false,
            });
        };
        if lease.slot != slot {
            lease.slot = slot;
            lease.left = 0;
            lease.full_until = None;
        }
        if lease.left >= cost {
            lease.left -= cost;
            return Take::Taken;
        }
        if let Some(until) = lease.full_until {
            let wait = until.saturating_duration_since(now);
            return Take::Full((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1));
        }
        if lease.in_flight {
            return Take::Lease(Ask {
                wanted: cost,
                sized: false,
            });
        }
        if let Some(granted_at) = lease.granted_at {
            let lasted = now.saturating_duration_since(granted_at);
            if lasted < HOT {
                lease.size = lease.size.saturating_mul(2).min(Self::cap(limit));
            } else if lasted > COOL {
                lease.size = (lease.size / 2).max(1);
            }
        }
        lease.in_flight = true;
        Take::Lease(Ask {
            wanted: lease.size.max(cost),
            sized: true,
        })
    }

    /// Redis granted `granted` of what `ask` asked for, in `slot`; `cost`
    /// of it is spent by the request that asked, the rest is budget.
    pub(crate) fn granted(
        &mut self,
        key: &Key,
        slot: u64,
        ask: Ask,
        granted: u32,
        cost: u32,
        now: Instant,
    ) {
        let Some(lease) = self.leases.get_mut(key) else {
            return;
        };
        if ask.sized {
            lease.in_flight = false;
            lease.granted_at = Some(now);
        }
        if lease.slot == slot {
            lease.left = lease.left.saturating_add(granted.saturating_sub(cost));
        }
    }

    /// What `ask` asked for was not granted (Redis refused it, or could
    /// not be reached): the next request may ask for the full size again.
    pub(crate) fn not_granted(&mut self, key: &Key, ask: Ask) {
        if ask.sized
            && let Some(lease) = self.leases.get_mut(key)
        {
            lease.in_flight = false;
        }
    }

    /// Redis refused `key` in `slot`: once what it holds is spent, it
    /// refuses it here too until `until`, or the window ends.
    pub(crate) fn full(&mut self, key: &Key, slot: u64, until: Instant) {
        if let Some(lease) = self.leases.get_mut(key)
            && lease.slot == slot
        {
            lease.full_until = Some(until);
        }
    }

    /// Takes up to `cost` of `key`'s budget in `slot`, whatever is left;
    /// answers what could not be taken.
    pub(crate) fn spend(&mut self, key: &Key, slot: u64, cost: u32) -> u32 {
        match self.leases.get_mut(key) {
            Some(lease) if lease.slot == slot => {
                let taken = lease.left.min(cost);
                lease.left -= taken;
                cost - taken
            }
            _ => cost,
        }
    }

    /// Gives back `cost` counted against `key` in `slot` by a request that
    /// was refused at a key before it.
    pub(crate) fn refund(&mut self, key: &Key, slot: u64, cost: u32) {
        if let Some(lease) = self.leases.get_mut(key)
            && lease.slot == slot
        {
            lease.left = lease.left.saturating_add(cost);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.leases.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn ip(last: u8) -> Key {
        Key::Ip(IpAddr::from([192, 0, 2, last]))
    }

    const LIMIT: u32 = 64 * 1024;

    /// What a take asks for.
    fn ask(wanted: u32, sized: bool) -> Ask {
        Ask { wanted, sized }
    }

    /// The key's sized lease of `wanted`.
    fn sized(wanted: u32) -> Take {
        Take::Lease(ask(wanted, true))
    }

    /// A request's own cost of `wanted`, while the sized lease is away.
    fn own(wanted: u32) -> Take {
        Take::Lease(ask(wanted, false))
    }

    /// Takes the lease `take` asks for in window 7, granted whole, at
    /// `now`; answers its size.
    fn lease(book: &mut LeaseBook, key: &Key, now: Instant) -> u32 {
        match book.take(key, LIMIT, 7, 1, now) {
            Take::Lease(ask) => {
                book.granted(key, 7, ask, ask.wanted, 1, now);
                ask.wanted
            }
            other => panic!("{other:?}"),
        }
    }

    /// Spends what is left of `key`'s budget in window 7 at `now`.
    fn spend_all(book: &mut LeaseBook, key: &Key, left: u32, now: Instant) {
        for _ in 0..left {
            assert_eq!(book.take(key, LIMIT, 7, 1, now), Take::Taken);
        }
    }

    #[test]
    fn a_busy_key_doubles_its_lease_up_to_the_cap_and_a_quiet_one_halves_it() {
        let mut book = LeaseBook::new(16);
        let key = ip(1);
        let start = Instant::now();
        let mut sizes = Vec::new();
        for _ in 0..12 {
            let size = lease(&mut book, &key, start);
            sizes.push(size);
            spend_all(&mut book, &key, size - 1, start);
        }
        assert_eq!(sizes, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024]);
        assert_eq!(LeaseBook::cap(LIMIT), 1024);
        // Spent in exactly HOT: kept.
        let hot = start + HOT;
        assert_eq!(lease(&mut book, &key, hot), 1024);
        spend_all(&mut book, &key, 1023, hot);
        // Spent in exactly COOL: kept.
        let cool = hot + COOL;
        assert_eq!(lease(&mut book, &key, cool), 1024);
        spend_all(&mut book, &key, 1023, cool);
        // Spent in longer than COOL: halved, then halved again, down to 1.
        let mut now = cool;
        let mut sizes = Vec::new();
        for _ in 0..12 {
            now += COOL + Duration::from_nanos(1);
            let size = lease(&mut book, &key, now);
            sizes.push(size);
            spend_all(&mut book, &key, size - 1, now);
        }
        assert_eq!(sizes, [512, 256, 128, 64, 32, 16, 8, 4, 2, 1, 1, 1]);
        // Just under HOT: doubled again.
        let size = lease(&mut book, &key, now + HOT - Duration::from_nanos(1));
        assert_eq!(size, 2);
    }

    #[test]
    fn a_lease_spent_in_exactly_hot_or_cool_keeps_its_size() {
        let mut book = LeaseBook::new(4);
        let key = ip(1);
        let start = Instant::now();
        assert_eq!(lease(&mut book, &key, start), 1);
        assert_eq!(lease(&mut book, &key, start + HOT), 1);
        assert_eq!(lease(&mut book, &key, start + HOT), 2);
        spend_all(&mut book, &key, 1, start + HOT);
        assert_eq!(lease(&mut book, &key, start + HOT + COOL), 2);
        spend_all(&mut book, &key, 1, start + HOT + COOL);
    }

    #[test]
    fn the_cap_is_a_64th_of_the_limit_and_at_least_one() {
        assert_eq!(LeaseBook::cap(0), 1);
        assert_eq!(LeaseBook::cap(127), 1);
        assert_eq!(LeaseBook::cap(128), 2);
        assert_eq!(LeaseBook::cap(600), 9);
        assert_eq!(LeaseBook::cap(u32::MAX), u32::MAX / 64);
        // A small limit never leases ahead: one count a request.
        let mut book = LeaseBook::new(4);
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(book.take(&ip(1), 120, 7, 1, start), sized(1));
            book.granted(&ip(1), 7, ask(1, true), 1, 1, start);
        }
    }

    #[test]
    fn one_sized_lease_at_a_time_and_others_lease_their_cost() {
        let mut book = LeaseBook::new(4);
        let key = ip(1);
        let now = Instant::now();
        lease(&mut book, &key, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(2));
        // While that lease is on its way, the others count themselves.
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), own(1));
        assert_eq!(book.take(&key, LIMIT, 7, 2, now), own(2));
        // Their grants are spent by them: no budget, and no growth.
        book.granted(&key, 7, ask(1, false), 1, 1, now);
        book.granted(&key, 7, ask(2, false), 2, 2, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), own(1));
        book.granted(&key, 7, ask(2, true), 2, 1, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), Take::Taken);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(4));
        // A lease not granted frees the way for the next sized one.
        book.not_granted(&key, ask(1, false));
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), own(1));
        book.not_granted(&key, ask(4, true));
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(8));
    }

    #[test]
    fn a_partial_grant_is_budget_and_a_new_window_starts_empty() {
        let mut book = LeaseBook::new(4);
        let key = ip(1);
        let now = Instant::now();
        lease(&mut book, &key, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(2));
        book.granted(&key, 7, ask(2, true), 2, 1, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), Take::Taken);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(4));
        // Three of four: two left.
        book.granted(&key, 7, ask(4, true), 3, 1, now);
        spend_all(&mut book, &key, 2, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(8));
        book.granted(&key, 7, ask(8, true), 8, 1, now);
        // The next window: the seven left are gone.
        assert_eq!(book.take(&key, LIMIT, 8, 1, now), sized(16));
        // A grant of a past window is not budget in this one.
        book.granted(&key, 7, ask(16, true), 16, 1, now);
        assert_eq!(book.take(&key, LIMIT, 8, 1, now), sized(32));
    }

    #[test]
    fn a_full_key_is_refused_here_until_its_time_or_the_next_window() {
        let mut book = LeaseBook::new(4);
        let key = ip(1);
        let now = Instant::now();
        lease(&mut book, &key, now);
        book.full(&key, 7, now + Duration::from_millis(2_500));
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), Take::Full(3));
        let at = |millis| now + Duration::from_millis(millis);
        assert_eq!(book.take(&key, LIMIT, 7, 1, at(1_000)), Take::Full(2));
        assert_eq!(book.take(&key, LIMIT, 7, 1, at(1_500)), Take::Full(1));
        assert_eq!(book.take(&key, LIMIT, 7, 1, at(9_000)), Take::Full(1));
        // The next window forgets it, and a refusal of a past one is not kept.
        assert!(matches!(book.take(&key, LIMIT, 8, 1, now), Take::Lease(_)));
        book.full(&key, 7, now + Duration::from_secs(60));
        assert!(matches!(book.take(&key, LIMIT, 8, 1, now), Take::Lease(_)));
        // Nor is one of a key the book does not hold.
        book.full(&ip(2), 8, now + Duration::from_secs(60));
        assert_eq!(book.take(&ip(2), LIMIT, 8, 1, now), sized(1));
    }

    #[test]
    fn a_full_key_spends_what_it_holds_first() {
        let mut book = LeaseBook::new(4);
        let key = ip(1);
        let now = Instant::now();
        lease(&mut book, &key, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(2));
        // While it is away, another request's own lease is refused.
        book.full(&key, 7, now + Duration::from_secs(5));
        book.granted(&key, 7, ask(2, true), 2, 1, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), Take::Taken);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), Take::Full(5));
    }

    #[test]
    fn spending_takes_what_is_left_and_answers_the_rest() {
        let mut book = LeaseBook::new(4);
        let key = ip(1);
        let now = Instant::now();
        assert_eq!(book.spend(&key, 7, 3), 3);
        assert_eq!(lease(&mut book, &key, now), 1);
        assert_eq!(lease(&mut book, &key, now), 2);
        spend_all(&mut book, &key, 1, now);
        // Three left.
        assert_eq!(lease(&mut book, &key, now), 4);
        assert_eq!(book.spend(&key, 7, 2), 0);
        assert_eq!(book.spend(&key, 7, 3), 2);
        assert_eq!(book.spend(&key, 7, 1), 1);
        assert_eq!(lease(&mut book, &key, now), 8);
        assert_eq!(book.spend(&key, 8, 1), 1);
    }

    #[test]
    fn a_refund_is_budget_in_its_window_only() {
        let mut book = LeaseBook::new(4);
        let key = ip(1);
        let now = Instant::now();
        book.refund(&key, 7, 1);
        assert_eq!(book.len(), 0);
        lease(&mut book, &key, now);
        book.refund(&key, 7, 2);
        spend_all(&mut book, &key, 2, now);
        assert_eq!(book.take(&key, LIMIT, 7, 1, now), sized(2));
        book.refund(&key, 6, 1);
        assert_eq!(book.spend(&key, 7, 1), 1);
    }

    #[test]
    fn a_book_with_room_sweeps_nothing() {
        let mut book = LeaseBook::new(4);
        let now = Instant::now();
        for size in [1, 2, 4] {
            assert_eq!(lease(&mut book, &ip(1), now), size);
            spend_all(&mut book, &ip(1), size - 1, now);
        }
        // A new key in the next window: ip 1's lease of the last window is
        // kept, and with it its size.
        assert_eq!(book.take(&ip(2), LIMIT, 8, 1, now), sized(1));
        assert_eq!(book.len(), 2);
        assert_eq!(book.take(&ip(1), LIMIT, 8, 1, now), sized(8));
        assert_eq!(book.sweeps, 0);
    }

    #[test]
    fn the_book_is_bounded_and_sweeps_past_windows() {
        let mut book = LeaseBook::new(2);
        let now = Instant::now();
        lease(&mut book, &ip(1), now);
        assert_eq!(book.take(&ip(2), LIMIT, 7, 1, now), sized(1));
        assert_eq!(book.len(), 2);
        // Full of this window's leases: a third key counts itself alone.
        assert_eq!(book.take(&ip(3), LIMIT, 7, 1, now), own(1));
        book.granted(&ip(3), 7, ask(1, false), 1, 1, now);
        assert_eq!(book.len(), 2);
        // In the next window the past leases are swept for it, but one
        // that is on its way.
        assert_eq!(book.take(&ip(3), LIMIT, 8, 1, now), sized(1));
        assert_eq!(book.len(), 2);
        // ip 1 was swept; it finds no room while ip 2's lease is away, and
        // the book is not swept again in this window, even once ip 2's
        // lease is back.
        assert_eq!(book.take(&ip(1), LIMIT, 8, 1, now), own(1));
        book.granted(&ip(2), 7, ask(1, true), 1, 1, now);
        assert_eq!(book.take(&ip(1), LIMIT, 8, 1, now), own(1));
        assert_eq!(book.sweeps, 2);
        // The next window sweeps it.
        assert_eq!(book.take(&ip(1), LIMIT, 9, 1, now), sized(1));
        assert_eq!(book.sweeps, 3);
        assert_eq!(book.len(), 2);
    }

    #[test]
    fn a_book_kept_full_by_new_keys_is_swept_once_a_window() {
        let mut book = LeaseBook::new(2);
        let now = Instant::now();
        lease(&mut book, &ip(1), now);
        lease(&mut book, &ip(2), now);
        for last in 3..100 {
            assert_eq!(book.take(&ip(last), LIMIT, 7, 1, now), own(1));
        }
        assert_eq!(book.sweeps, 1);
        assert_eq!(book.len(), 2);
    }
}
