//! The JSON line format: [`JsonFields`] stores a span's fields as JSON text
//! once, when the span is made, and [`JsonLines`] writes each event as one
//! line, copying that text in. Every string is escaped as JSON (quotes,
//! backslashes, every control character), so no value can end a line or
//! forge a field.

use core::fmt::{self, Write};

use time::OffsetDateTime;

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use vaulttoken::clock::{Clock as _, SystemClock};

/// A span's fields as the members of a JSON object, without its braces:
/// `"method":"POST","path":"/token"`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonFields;

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut members = Members::new(writer, true);
        fields.record(&mut members);
        members.result
    }

    /// Fields recorded later are more members (after a comma).
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut members = Members::new(current.as_writer(), first);
        fields.record(&mut members);
        members.result
    }
}

/// One JSON object a line: `{"timestamp":"…Z","level":"INFO","fields":{…},
/// "target":"…","span":{…,"name":"…"}}`, the span being the event's
/// current one (none outside a span).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        match timestamp(SystemClock.now()) {
            Some(text) => writer.write_str(core::str::from_utf8(&text).map_err(|_| fmt::Error)?)?,
            None => SystemTime.format_time(&mut writer)?,
        }
        write!(
            writer,
            "\",\"level\":\"{}\",\"fields\":{{",
            metadata.level()
        )?;
        let mut members = Members::new(&mut writer, true);
        event.record(&mut members);
        members.result?;
        writer.write_str("},\"target\":")?;
        string(&mut writer, metadata.target())?;
        if let Some(span) = ctx.parent_span() {
            writer.write_str(",\"span\":{")?;
            let extensions = span.extensions();
            if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>()
                && !fields.fields.is_empty()
            {
                writer.write_str(&fields.fields)?;
                writer.write_char(',')?;
            }
            writer.write_str("\"name\":")?;
            string(&mut writer, span.name())?;
            writer.write_char('}')?;
        }
        writer.write_str("}\n")
    }
}

/// `at` as tracing-subscriber's `SystemTime` writes it,
/// `2026-12-07T11:09:51.123456Z` (UTC, microseconds), without the
/// formatting machinery (a tenth of the instructions); `None` for a year
/// before 0 or after 9999 (a clock set wrong), which `SystemTime` then
/// writes.
fn timestamp(at: OffsetDateTime) -> Option<[u8; 27]> {
    let at = at.to_offset(time::UtcOffset::UTC);
    let (year, month, day) = at.to_calendar_date();
    let year = u32::try_from(year).ok().filter(|year| *year <= 9999)?;
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    digits(&mut text[0..4], year);
    digits(&mut text[5..7], u32::from(u8::from(month)));
    digits(&mut text[8..10], u32::from(day));
    digits(&mut text[11..13], u32::from(at.hour()));
    digits(&mut text[14..16], u32::from(at.minute()));
    digits(&mut text[17..19], u32::from(at.second()));
    digits(&mut text[20..26], at.microsecond());
    Some(text)
}

/// The last `out.len()` decimal digits of `value` into `out`, with
/// leading zeros.
fn digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789"[(value % 10) as usize];
        value /= 10;
    }
}

/// Writes the fields it visits as JSON object members to `out`; the first
/// error is kept, and nothing is written after it.
struct Members<W> {
    out: W,
    first: bool,
    result: fmt::Result,
}

impl<W: Write> Members<W> {
    fn new(out: W, first: bool) -> Self {
        Self {
            out,
            first,
            result: Ok(()),
        }
    }

    /// `"name":` and then the value `write_value` writes.
    fn member(&mut self, field: &Field, write_value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { "," };
        self.first = false;
        self.result = self
            .out
            .write_str(separator)
            .and_then(|()| string(&mut self.out, field.name()))
            .and_then(|()| self.out.write_char(':'))
            .and_then(|()| write_value(&mut self.out));
    }
}

impl<W: Write> Visit for Members<W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| string(out, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.member(field, |out| write!(out, "{value}"));
    }

    /// A finite number as it is (Rust writes no exponent, which JSON
    /// allows either way); NaN and the infinities, which JSON has no
    /// numbers for, as `null`.
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| {
            if value.is_finite() {
                write!(out, "{value}")
            } else {
                out.write_str("null")
            }
        });
    }

    /// Anything else (`%display`, `?debug`, the message) as a string.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(Escaped(&mut *out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

/// `value` as a JSON string.
fn string<W: Write>(out: &mut W, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_str(value)?;
    out.write_char('"')
}

/// Writes what it is given to `W` escaped for the inside of a JSON string
/// (RFC 8259 §7): `"` and `\`, and every control character (C0 and DEL),
/// those that have one by their short escape (`\n`), as `serde_json`
/// writes them (which leaves DEL as it is).
struct Escaped<W>(W);

impl<W: Write> Write for Escaped<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let short = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f | 0x7f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..at])?;
            if short.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(short)?;
            }
            plain = at + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    use serde_json::{Value, json};
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// What the subscriber wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[test]
    fn the_timestamp_is_written_as_tracing_writes_it() {
        let at = |nanos: i128| OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
        let text = |at| timestamp(at).map(|text| String::from_utf8(text.to_vec()).unwrap());
        let cases = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_868_799_999_999_999, "2000-02-29T23:59:59.999999Z"),
            (1_900_000_000_123_456_789, "2030-03-17T17:46:40.123456Z"),
            (1_512_345_678_087_654_000, "2017-12-04T00:01:18.087654Z"),
            (-1_000, "1969-12-31T23:59:59.999999Z"),
            (253_402_300_799_000_001_000, "9999-12-31T23:59:59.000001Z"),
        ];
        for (nanos, expected) in cases {
            assert_eq!(text(at(nanos)).as_deref(), Some(expected));
        }
        // In another offset: the same instant, written in UTC.
        let elsewhere = at(0).to_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap());
        assert_eq!(
            text(elsewhere).as_deref(),
            Some("1970-01-01T00:00:00.000000Z")
        );
        // Before year 0: left to tracing-subscriber.
        let ancient = time::Date::from_calendar_date(-1, time::Month::January, 1).unwrap();
        assert_eq!(text(ancient.midnight().assume_utc()), None);
        // Now, as tracing-subscriber writes it, read just before and just
        // after: the same to the minute as one of the two.
        let tracing = || {
            let mut text = String::new();
            SystemTime.format_time(&mut Writer::new(&mut text)).unwrap();
            text
        };
        let (before, ours, after) = (tracing(), text(SystemClock.now()).unwrap(), tracing());
        assert_eq!(ours.len(), before.len(), "{ours} {before}");
        assert!(
            [&before, &after]
                .iter()
                .any(|theirs| theirs[..16] == ours[..16]),
            "{before} {ours} {after}"
        );
    }

    /// The lines `emit` logs, each parsed as JSON.
    fn lines(emit: impl FnOnce()) -> Vec<Value> {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields)
            .event_format(JsonLines)
            .with_writer(captured.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
            .collect()
    }

    /// Every character a string can hold, the ones that must be escaped
    /// above all.
    const HOSTILE: &str =
        "a\"b\\c\nd\re\tf\u{0}g\u{1b}[31mh\u{7f}i\u{1f}j\u{2028}k é 🔑 }\n{\"level\":\"ERROR\"";

    #[test]
    fn a_line_is_the_event_its_target_and_its_span() {
        let logged = lines(|| {
            let span = tracing::info_span!("request", method = "POST", path = %"/token", n = 3_u64);
            let _entered = span.enter();
            tracing::info!(
                target: "vaulttoken::audit",
                event = "token_issued",
                count = 2_i64,
                big = u128::MAX,
                negative = i128::MIN,
                fine = true,
                ratio = 0.25_f64,
                nan = f64::NAN,
                shown = ?Some("x"),
                "issued {}",
                7
            );
        });
        let [line] = logged.as_slice() else {
            panic!("{logged:?}")
        };
        let timestamp = line["timestamp"].as_str().unwrap();
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["target"], "vaulttoken::audit");
        assert_eq!(
            line["fields"],
            json!({
                "message": "issued 7",
                "event": "token_issued",
                "count": 2,
                "big": u128::MAX.to_string().parse::<Value>().unwrap(),
                "negative": i128::MIN.to_string().parse::<Value>().unwrap(),
                "fine": true,
                "ratio": 0.25,
                "nan": null,
                "shown": "Some(\"x\")",
            })
        );
        assert_eq!(
            line["span"],
            json!({"method": "POST", "path": "/token", "n": 3, "name": "request"})
        );
        assert_eq!(line.as_object().unwrap().len(), 5, "{line}");
    }

    #[test]
    fn hostile_strings_stay_inside_their_field_on_one_line() {
        let logged = lines(|| {
            let span = tracing::info_span!("request", subject = HOSTILE);
            let _entered = span.enter();
            tracing::warn!(target: "x", value = HOSTILE, shown = %HOSTILE, "{HOSTILE}");
        });
        let [line] = logged.as_slice() else {
            panic!("{logged:?}")
        };
        assert_eq!(line["level"], "WARN");
        for field in ["value", "shown", "message"] {
            assert_eq!(line["fields"][field], HOSTILE, "{field}");
        }
        assert_eq!(line["span"]["subject"], HOSTILE);
        // Every escape is standard JSON: `serde_json` writes the same.
        let mut escaped = String::new();
        string(&mut escaped, HOSTILE).unwrap();
        assert_eq!(serde_json::from_str::<String>(&escaped).unwrap(), HOSTILE);
        assert!(!escaped.chars().any(char::is_control), "{escaped}");
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them_and_del_too() {
        let every_ascii: String = (0_u8..0x7f).map(char::from).collect();
        for text in [every_ascii.as_str(), "é 🔑 \u{2028}", ""] {
            let mut escaped = String::new();
            string(&mut escaped, text).unwrap();
            assert_eq!(escaped, serde_json::to_string(text).unwrap());
        }
        let mut del = String::new();
        string(&mut del, "a\u{7f}b").unwrap();
        assert_eq!(del, "\"a\\u007fb\"");
    }

    #[test]
    fn fields_recorded_later_join_the_span_and_no_span_is_no_member() {
        let logged = lines(|| {
            tracing::info!(target: "t", "outside");
            let span = tracing::info_span!("request", first = 1_u64, later = tracing::field::Empty);
            span.record("later", "yes");
            let _entered = span.enter();
            tracing::info!(target: "t", "inside");
            let bare = tracing::info_span!("bare");
            let _bare = bare.enter();
            tracing::info!(target: "t", "in a span without fields");
        });
        let [outside, inside, bare] = logged.as_slice() else {
            panic!("{logged:?}")
        };
        assert_eq!(outside.get("span"), None, "{outside}");
        assert_eq!(outside["fields"], json!({"message": "outside"}));
        assert_eq!(
            inside["span"],
            json!({"first": 1, "later": "yes", "name": "request"})
        );
        assert_eq!(bare["span"], json!({"name": "bare"}));
    }
}
