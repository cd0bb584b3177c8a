//! Where "now" comes from: an injectable [`Clock`], so tests and callers can
//! evaluate tokens as of any time.

use core::fmt;

use time::OffsetDateTime;

/// A source of the current time.
///
/// Services and rule sets take a `Clock` so that tests can pin time with
/// [`FixedClock`] and callers can evaluate a token "as of" a moment.
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
    /// let clock = vaulttoken::clock::FixedClock::new(datetime!(2030-01-01 0:00 UTC));
    /// # let _ = clock;
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
