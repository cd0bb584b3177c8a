//! What a store says about itself to a readiness check: whether it can
//! answer now, and what it knows of data it lost.

use time::OffsetDateTime;

/// A store's answer to [`TokenStore::health`](super::TokenStore::health):
/// it answered (else the call fails with a
/// [`StoreError`](crate::error::StoreError)), and this is what it knows of
/// data it lost since this process connected.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::store::{DataLoss, StoreHealth};
///
/// let fine = StoreHealth::default();
/// assert!(fine.data_lost.is_none());
///
/// let lost = StoreHealth::new(Some(DataLoss::new(2, datetime!(2030-01-01 0:00 UTC))));
/// assert_eq!(lost.data_lost.map(|loss| loss.times), Some(2));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreHealth {
    /// The store's data losses found by this process, if any.
    pub data_lost: Option<DataLoss>,
}

impl StoreHealth {
    /// A store that answered, with the losses it found (`None`: none).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::store::StoreHealth;
    ///
    /// assert_eq!(StoreHealth::new(None), StoreHealth::default());
    /// ```
    #[must_use]
    pub fn new(data_lost: Option<DataLoss>) -> Self {
        Self { data_lost }
    }
}

/// Data a store found lost (for example Redis restarted without
/// persistence): how many times this process found a loss, and when it
/// last did. Each one is also reported as the audit event
/// `store_data_lost`.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::store::DataLoss;
///
/// let first = DataLoss::new(1, datetime!(2030-01-01 0:00 UTC));
/// let again = first.again(datetime!(2030-01-02 0:00 UTC));
/// assert_eq!((again.times, again.last_at), (2, datetime!(2030-01-02 0:00 UTC)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataLoss {
    /// How many losses this process found.
    pub times: u64,
    /// When it found the last one.
    pub last_at: OffsetDateTime,
}

impl DataLoss {
    /// `times` losses found, the last at `last_at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::store::DataLoss;
    ///
    /// let loss = DataLoss::new(1, datetime!(2030-01-01 0:00 UTC));
    /// assert_eq!(loss.times, 1);
    /// ```
    #[must_use]
    pub fn new(times: u64, last_at: OffsetDateTime) -> Self {
        Self { times, last_at }
    }

    /// This record with one more loss, found at `at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::store::DataLoss;
    ///
    /// let loss = DataLoss::new(1, datetime!(2030-01-01 0:00 UTC));
    /// assert_eq!(loss.again(datetime!(2030-01-03 0:00 UTC)).times, 2);
    /// ```
    #[must_use]
    pub fn again(self, at: OffsetDateTime) -> Self {
        Self {
            times: self.times.saturating_add(1),
            last_at: at,
        }
    }
}
