//! Structured JSON logs.

use tracing_subscriber::EnvFilter;

/// Installs a JSON log subscriber on stdout, filtered by `RUST_LOG`
/// (default `info`). Does nothing if one is installed already.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .try_init();
}
