//! Structured JSON logs: one JSON object a line on stdout.
//!
//! Each line has the shape of `tracing-subscriber`'s JSON format with the
//! current span: `{"timestamp", "level", "fields": {…}, "target",
//! "span": {…, "name"}}`. It is written by [`json_lines`] rather than by that
//! format, which parses the span's stored fields back from JSON for every
//! line; here they are stored as JSON text and copied as they are.

mod json_lines;

use tracing_subscriber::EnvFilter;

use self::json_lines::{JsonFields, JsonLines};

/// Installs a JSON log subscriber on stdout, filtered by `RUST_LOG`
/// (default `info`). Does nothing if one is installed already.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .fmt_fields(JsonFields)
        .event_format(JsonLines)
        .with_env_filter(filter)
        .try_init();
}
