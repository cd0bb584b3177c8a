//! The data losses this process found: each one reported (the audit event
//! `store_data_lost`, and an error line that says so in words) and
//! remembered for [`TokenStore::health`](vaulttoken::store::TokenStore::health).
//!
//! A writing store begins the new epoch as it finds a loss, so each loss is
//! found once. A read-only store cannot: it sees the same markers missing
//! until a writing store begins the new epoch, so it reports a loss when it
//! first sees a marker missing while no other is known missing
//! ([`Losses::marker_missing`]), and the loss is over once the markers it
//! saw missing are back ([`Losses::marker_present`], [`Losses::all_present`]).

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use vaulttoken::audit;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::DataLoss;

/// How a loss was found: an epoch marker missing where others are not, or
/// where a script expected one.
const REASON: &str = "epoch-marker-missing";

/// The losses found so far, shared by every clone of a store.
#[derive(Debug, Default)]
pub(crate) struct Losses {
    record: Mutex<Option<DataLoss>>,
    /// The epoch markers a read-only store saw missing and has not seen
    /// back (at most one per cluster slot).
    missing: Mutex<HashSet<String>>,
}

impl Losses {
    /// Reports a loss found now and remembers it.
    pub(crate) fn found(&self) {
        audit::report_store_data_lost(REASON);
        tracing::error!(
            target: "vaulttoken_redis",
            "Redis lost the token store's data (restarted without persistence, flushed or \
             replaced): revocations, spent ids and refresh families from before are gone, so \
             every token issued before now is refused and its users sign in again"
        );
        let now = SystemClock.now();
        let mut record = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        *record = Some(match *record {
            Some(loss) => loss.again(now),
            None => DataLoss::new(1, now),
        });
    }

    /// The losses found so far, if any.
    pub(crate) fn record(&self) -> Option<DataLoss> {
        *self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A read-only store saw `marker` missing: a loss is reported if no
    /// marker was known missing (one report per loss, however many checks
    /// see it before a writing store begins the new epoch).
    pub(crate) fn marker_missing(&self, marker: &str) {
        let first = {
            let mut missing = self.missing.lock().unwrap_or_else(PoisonError::into_inner);
            let first = missing.is_empty();
            missing.insert(marker.to_owned());
            first
        };
        if first {
            self.found();
        }
    }

    /// A read-only store saw `marker` there (again).
    pub(crate) fn marker_present(&self, marker: &str) {
        self.missing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(marker);
    }

    /// A read-only store's readiness check found every primary's marker
    /// there: a writing store has begun the new epoch everywhere.
    pub(crate) fn all_present(&self) {
        self.missing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_loss_is_counted_with_the_time_of_the_last() {
        let losses = Losses::default();
        assert_eq!(losses.record(), None);
        let before = SystemClock.now();
        losses.found();
        let first = losses.record().unwrap();
        assert_eq!(first.times, 1);
        assert!(first.last_at >= before);
        losses.found();
        let second = losses.record().unwrap();
        assert_eq!(second.times, 2);
        assert!(second.last_at >= first.last_at);
    }

    #[test]
    fn a_marker_seen_missing_again_and_again_is_one_loss() {
        let losses = Losses::default();
        losses.marker_present("a");
        assert_eq!(losses.record(), None);
        losses.marker_missing("a");
        losses.marker_missing("a");
        losses.marker_missing("b");
        assert_eq!(losses.record().map(|loss| loss.times), Some(1));
        // Back, but not all of them: the same loss.
        losses.marker_present("a");
        losses.marker_missing("a");
        assert_eq!(losses.record().map(|loss| loss.times), Some(1));
        // All back: the next missing marker is a new loss.
        losses.marker_present("a");
        losses.marker_present("b");
        losses.marker_missing("a");
        assert_eq!(losses.record().map(|loss| loss.times), Some(2));
        losses.all_present();
        losses.marker_missing("c");
        assert_eq!(losses.record().map(|loss| loss.times), Some(3));
    }
}
