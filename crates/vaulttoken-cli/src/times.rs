//! Durations (`90s`, `15m`, `24h`, `7d`) and instants (RFC 3339, a duration
//! from now, or `now`) as the command line gives them.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The longest duration accepted: about 100 years, far below `time`'s range.
const MAX_SECONDS: i64 = 100 * 366 * 24 * 3600;

/// Parses `<digits><unit>` with unit `s`, `m`, `h` or `d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}: expected e.g. 90s, 15m, 24h or 7d");
    let split = text
        .char_indices()
        .last()
        .map(|(index, _)| index)
        .ok_or_else(invalid)?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let count: i64 = digits.parse().map_err(|_| invalid())?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    let seconds = count
        .checked_mul(unit_seconds)
        .filter(|seconds| *seconds <= MAX_SECONDS)
        .ok_or_else(|| format!("duration {text:?} is longer than 100 years"))?;
    Ok(Duration::seconds(seconds))
}

/// Parses an instant: `now`, an RFC 3339 time, or a duration from `now`.
pub(crate) fn parse_instant(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    if text == "now" {
        return Ok(now);
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    let duration = parse_duration(text).map_err(|_| {
        format!("invalid time {text:?}: expected RFC 3339 (2030-01-01T00:00:00Z), a duration from now (15m, 24h, 7d) or `now`")
    })?;
    now.checked_add(duration)
        .ok_or_else(|| format!("time {text:?} is out of range"))
}

/// An instant as RFC 3339.
pub(crate) fn format_instant(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| "(out of range)".to_owned())
}

/// A duration for people: `1h 2m 3s`, `-5m` when negative.
pub(crate) fn format_duration(duration: Duration) -> String {
    let sign = if duration.is_negative() { "-" } else { "" };
    let total = duration.whole_seconds().unsigned_abs();
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes}m"));
    }
    if seconds > 0 || parts.is_empty() {
        parts.push(format!("{seconds}s"));
    }
    format!("{sign}{}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations_take_each_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::minutes(15)));
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_refuse_anything_else() {
        for text in [
            "", "s", "15", "15x", "-5m", "+5m", "1.5h", " 5m", "5 m", "5M", "٣m", "1h30m",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn durations_are_bounded() {
        assert!(parse_duration("36600d").is_ok());
        assert!(parse_duration("36601d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(parse_duration("9223372036854775807d").is_err());
    }

    #[test]
    fn instants_are_rfc3339_durations_from_now_or_now() {
        let now = datetime!(2030-01-01 12:00 UTC);
        assert_eq!(parse_instant("now", now), Ok(now));
        assert_eq!(
            parse_instant("15m", now),
            Ok(datetime!(2030-01-01 12:15 UTC))
        );
        assert_eq!(
            parse_instant("2031-02-03T04:05:06Z", now),
            Ok(datetime!(2031-02-03 04:05:06 UTC))
        );
        assert!(parse_instant("tomorrow", now).is_err());
        assert!(parse_instant("2031-02-03", now).is_err());
    }

    #[test]
    fn durations_print_for_people() {
        assert_eq!(format_duration(Duration::seconds(0)), "0s");
        assert_eq!(format_duration(Duration::seconds(59)), "59s");
        assert_eq!(format_duration(Duration::seconds(3600)), "1h");
        assert_eq!(format_duration(Duration::seconds(90_061)), "1d 1h 1m 1s");
        assert_eq!(format_duration(Duration::seconds(-300)), "-5m");
    }

    #[test]
    fn instants_print_as_rfc3339() {
        assert_eq!(
            format_instant(datetime!(2030-01-01 12:00 UTC)),
            "2030-01-01T12:00:00Z"
        );
    }
}
