//! Instants and durations as the integers the scripts store: unix seconds for
//! the times a script compares, unix milliseconds for key expiries.
//!
//! Each rounding errs on the side of refusing: expiries round up (an entry is
//! kept at least as long as asked), cutoffs round up, and issue times round
//! down. Services pass whole seconds, where every rounding is exact.

use time::{Duration, OffsetDateTime};

/// `at` in whole unix seconds, rounded down.
pub(crate) fn seconds_floor(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

/// `at` in whole unix seconds, rounded up.
pub(crate) fn seconds_ceil(at: OffsetDateTime) -> i64 {
    let seconds = at.unix_timestamp();
    if at.nanosecond() > 0 {
        seconds.saturating_add(1)
    } else {
        seconds
    }
}

/// `at` in unix milliseconds, rounded up, for `PXAT` / `PEXPIREAT`: at least
/// 1 (an instant at or before 1970 is simply past; Redis refuses 0 and
/// negative expiries).
pub(crate) fn expiry_millis(at: OffsetDateTime) -> i64 {
    let nanos = at.unix_timestamp_nanos();
    let millis = nanos.div_euclid(1_000_000) + i128::from(nanos.rem_euclid(1_000_000) != 0);
    i64::try_from(millis.max(1)).unwrap_or(i64::MAX)
}

/// `duration` in whole seconds, rounded down (towards minus infinity): for a
/// whole number of seconds `x`, `x > d` exactly when `x > floor(d)`, and
/// `x <= d` exactly when `x <= floor(d)`.
pub(crate) fn duration_seconds_floor(duration: Duration) -> i64 {
    let seconds = duration.whole_seconds();
    if duration.subsec_nanoseconds() < 0 {
        seconds.saturating_sub(1)
    } else {
        seconds
    }
}

/// The instant of a unix second a script returned.
pub(crate) fn from_seconds(seconds: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn whole_seconds_are_exact() {
        let at = datetime!(2030-01-01 0:00 UTC);
        assert_eq!(seconds_floor(at), 1_893_456_000);
        assert_eq!(seconds_ceil(at), 1_893_456_000);
        assert_eq!(expiry_millis(at), 1_893_456_000_000);
        assert_eq!(from_seconds(1_893_456_000), Some(at));
    }

    #[test]
    fn fractions_round_towards_refusal() {
        let at = datetime!(2030-01-01 0:00:00.000_000_1 UTC);
        assert_eq!(seconds_floor(at), 1_893_456_000);
        assert_eq!(seconds_ceil(at), 1_893_456_001);
        assert_eq!(expiry_millis(at), 1_893_456_000_001);
        let just_under = datetime!(2030-01-01 0:00:00.999 UTC);
        assert_eq!(expiry_millis(just_under), 1_893_456_000_999);
    }

    #[test]
    fn expiry_before_1970_is_past_not_refused() {
        assert_eq!(expiry_millis(datetime!(1960-01-01 0:00 UTC)), 1);
        assert_eq!(expiry_millis(OffsetDateTime::UNIX_EPOCH), 1);
        let far = datetime!(9999-12-31 23:59:59.999_999_999 UTC);
        assert_eq!(expiry_millis(far), 253_402_300_800_000);
    }

    #[test]
    fn durations_round_down() {
        assert_eq!(duration_seconds_floor(Duration::seconds(30)), 30);
        assert_eq!(duration_seconds_floor(Duration::milliseconds(5_500)), 5);
        assert_eq!(duration_seconds_floor(Duration::milliseconds(-500)), -1);
        assert_eq!(duration_seconds_floor(Duration::seconds(-2)), -2);
        assert_eq!(duration_seconds_floor(Duration::MIN), i64::MIN);
    }

    #[test]
    fn unrepresentable_seconds_are_none() {
        assert_eq!(from_seconds(i64::MAX), None);
    }
}
