//! Where "now" comes from: an injectable [`Clock`], so tests and callers can
//! evaluate tokens as of any time.
//!
//! Every API that reads the time takes a clock the same way, as
//! `impl Clock + 'static` by value: a [`SystemClock`], a [`FixedClock`], a
//! [`ManualClock`] (one test clock, shared by cloning, that rules, claims and key
//! rings all read), or an `Arc` of any clock.

use core::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

/// A source of the current time.
///
/// Services, rule sets, claims builders and key rings take a `Clock` so that
/// tests can pin or move time and callers can evaluate a token "as of" a moment.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::clock::{Clock, FixedClock};
///
/// let clock = FixedClock::new(datetime!(2030-01-01 0:00 UTC));
/// assert_eq!(clock.now(), datetime!(2030-01-01 0:00 UTC));
/// ```
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's wall clock.
///
/// # Examples
///
/// ```
/// use vaulttoken::clock::{Clock, SystemClock};
///
/// assert!(SystemClock.now().year() >= 2024);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the one place the wall clock is read"
    )]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that always reads the same instant.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::clock::{Clock, FixedClock};
///
/// let clock = FixedClock::new(datetime!(2030-06-01 12:00 UTC));
/// assert_eq!(clock.now().hour(), 12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(OffsetDateTime);

impl FixedClock {
    /// A clock stopped at `instant`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    ///
    /// use vaulttoken::clock::{Clock, FixedClock};
    ///
    /// let clock = FixedClock::new(datetime!(2030-01-01 0:00 UTC));
    /// assert_eq!(clock.now(), datetime!(2030-01-01 0:00 UTC));
    /// assert_eq!(clock.now(), clock.now());
    /// ```
    #[must_use]
    pub const fn new(instant: OffsetDateTime) -> Self {
        Self(instant)
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// An `Arc` of a clock is that clock, so one clock can be shared as a value.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use time::macros::datetime;
/// use vaulttoken::Claims;
/// use vaulttoken::clock::{Clock, FixedClock};
/// use vaulttoken::rules::{Mode, RuleSet};
///
/// let shared: Arc<dyn Clock> = Arc::new(FixedClock::new(datetime!(2030-01-01 0:00 UTC)));
/// let rules = RuleSet::default().with_clock(Arc::clone(&shared));
/// assert_eq!(shared.now(), datetime!(2030-01-01 0:00 UTC));
/// // The rule set reads the shared clock: a token that expired in 2029 is refused.
/// let claims = Claims::builder().expires_at(datetime!(2029-12-31 0:00 UTC)).build()?;
/// assert!(rules.check(&claims, &Default::default(), Mode::Decode).is_err());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

/// A borrowed clock is that clock, for one-off reads such as
/// `ClaimsBuilder::build_with_clock(&clock)`.
///
/// # Examples
///
/// ```
/// use time::macros::datetime;
/// use vaulttoken::Claims;
/// use vaulttoken::clock::FixedClock;
///
/// let clock = FixedClock::new(datetime!(2030-01-01 0:00 UTC));
/// let claims = Claims::builder().expires_in(time::Duration::hours(1)).build_with_clock(&clock)?;
/// assert_eq!(claims.issued_at(), Some(datetime!(2030-01-01 0:00 UTC)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}

/// A test clock that moves only when told to. Clones share one reading, so a
/// single `ManualClock` handed to a rule set, a claims builder and a key ring
/// drives all of them.
///
/// # Examples
///
/// ```
/// use time::Duration;
/// use time::macros::datetime;
/// use vaulttoken::clock::{Clock, ManualClock};
/// use vaulttoken::error::RuleId;
/// use vaulttoken::rules::{Mode, RuleSet};
/// use vaulttoken::{Claims, Error};
///
/// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
/// let rules = RuleSet::default().with_clock(clock.clone());
/// let claims = Claims::builder()
///     .expires_in(Duration::hours(1))
///     .build_with_clock(&clock)?;
/// rules.check(&claims, &Default::default(), Mode::Decode)?;
///
/// // Moving this clone moves the rule set's clock too.
/// clock.advance(Duration::hours(2));
/// assert_eq!(clock.now(), datetime!(2030-01-01 2:00 UTC));
/// let Err(Error::Claims(violations)) = rules.check(&claims, &Default::default(), Mode::Decode) else {
///     panic!("expired an hour ago");
/// };
/// assert!(violations.contains(&RuleId::NotExpired));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock reading `start` until moved.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::clock::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// assert_eq!(clock.now(), datetime!(2030-01-01 0:00 UTC));
    /// ```
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    /// Moves every clone of this clock by `by` (which may be negative). A move
    /// past the end of the range `time` represents stops at that end.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::Duration;
    /// use time::macros::datetime;
    /// use vaulttoken::clock::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let other = clock.clone();
    /// clock.advance(Duration::minutes(90));
    /// assert_eq!(other.now(), datetime!(2030-01-01 1:30 UTC));
    /// other.advance(Duration::minutes(-30));
    /// assert_eq!(clock.now(), datetime!(2030-01-01 1:00 UTC));
    /// clock.advance(Duration::MAX);
    /// assert_eq!(clock.now(), time::PrimitiveDateTime::MAX.assume_utc());
    /// ```
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add(by).unwrap_or(if by.is_negative() {
            time::PrimitiveDateTime::MIN.assume_utc()
        } else {
            time::PrimitiveDateTime::MAX.assume_utc()
        });
    }

    /// Sets every clone of this clock to `at`.
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::clock::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
    /// let other = clock.clone();
    /// clock.set(datetime!(2020-06-01 12:00 UTC));
    /// assert_eq!(other.now(), datetime!(2020-06-01 12:00 UTC));
    /// ```
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn clones_of_a_manual_clock_share_one_reading() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        let other = clock.clone();
        clock.advance(Duration::minutes(90));
        assert_eq!(other.now(), datetime!(2030-01-01 1:30 UTC));
        other.advance(Duration::minutes(-30));
        assert_eq!(clock.now(), datetime!(2030-01-01 1:00 UTC));
        other.set(datetime!(2040-05-05 5:05 UTC));
        assert_eq!(clock.now(), datetime!(2040-05-05 5:05 UTC));
    }

    #[test]
    fn a_manual_clock_stops_at_the_ends_of_time() {
        let clock = ManualClock::new(datetime!(2030-01-01 0:00 UTC));
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), time::PrimitiveDateTime::MAX.assume_utc());
        clock.advance(Duration::MIN);
        clock.advance(Duration::MIN);
        assert_eq!(clock.now(), time::PrimitiveDateTime::MIN.assume_utc());
    }

    #[test]
    fn an_arc_of_a_clock_reads_the_clock() {
        let shared: Arc<dyn Clock> = Arc::new(FixedClock::new(datetime!(2030-01-01 0:00 UTC)));
        assert_eq!(Arc::clone(&shared).now(), datetime!(2030-01-01 0:00 UTC));
    }
}
