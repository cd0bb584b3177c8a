//! The data losses this process found: each one reported (the audit event
//! `store_data_lost`, and an error line that says so in words) and
//! remembered for [`TokenStore::health`](vaulttoken::store::TokenStore::health).

use std::sync::{Mutex, PoisonError};

use vaulttoken::audit;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::store::DataLoss;

/// How a loss was found: an epoch marker missing where others are not, or
/// where a script expected one.
const REASON: &str = "epoch-marker-missing";

/// The losses found so far, shared by every clone of a store.
#[derive(Debug, Default)]
pub(crate) struct Losses(Mutex<Option<DataLoss>>);

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
        let mut record = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *record = Some(match *record {
            Some(loss) => loss.again(now),
            None => DataLoss::new(1, now),
        });
    }

    /// The losses found so far, if any.
    pub(crate) fn record(&self) -> Option<DataLoss> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
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
}
