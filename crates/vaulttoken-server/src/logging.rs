//! Structured JSON logs: one JSON object a line on stdout.
//!
//! Each line has the shape of `tracing-subscriber`'s JSON format with the
//! current span: `{"timestamp", "level", "fields": {…}, "target",
//! "span": {…, "name"}}`. It is written by [`json_lines`] rather than by that
//! format, which parses the span's stored fields back from JSON for every
//! line; here they are stored as JSON text and copied as they are.
//!
//! The lines reach stdout in batches ([`batch`], `VAULTTOKEN_LOG_WRITES`
//! `batched`, the default): a `write` costs about as much server CPU as a
//! short request's other work, and a refresh logs four lines. A batch is
//! written when a tokio worker is about to park (idle), at 64 KiB, when a
//! line appended finds the oldest 50 ms old, by a background thread every
//! 100 ms, and at once with any `WARN` or `ERROR` line; `main` and the panic
//! hook write what is left. `line` writes each line at once.

mod batch;
mod json_lines;

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use self::batch::{Batch, Limits};
use self::json_lines::{JsonFields, JsonLines};

/// The variable that says when log lines reach stdout.
pub(crate) const LOG_WRITES_VAR: &str = "VAULTTOKEN_LOG_WRITES";

/// How often the background thread writes what is buffered.
const TICK: Duration = Duration::from_millis(100);

/// How long the panic hook waits for the buffer's locks.
const PANIC_PATIENCE: Duration = Duration::from_millis(100);

/// When log lines reach stdout (`VAULTTOKEN_LOG_WRITES`).
///
/// # Examples
///
/// ```
/// use vaulttoken_server::LogWrites;
///
/// assert_eq!(LogWrites::parse("line"), Some(LogWrites::Line));
/// assert_eq!(LogWrites::parse("Line"), None);
/// assert_eq!(LogWrites::default().name(), "batched");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogWrites {
    /// In batches (the default): a line reaches stdout when the server is
    /// idle, within about 100 ms under load, and at once at `WARN` and
    /// `ERROR`; a line may reach stdout after its request's answer.
    #[default]
    Batched,
    /// Each line at once, before the answer of its request is sent: one
    /// `write` a line.
    Line,
}

impl LogWrites {
    /// `batched` or `line`; anything else is `None`.
    ///
    /// # Examples
    ///
    /// See [`LogWrites`].
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "batched" => Some(Self::Batched),
            "line" => Some(Self::Line),
            _ => None,
        }
    }

    /// `batched` or `line`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_server::LogWrites;
    ///
    /// for writes in [LogWrites::Batched, LogWrites::Line] {
    ///     assert_eq!(LogWrites::parse(writes.name()), Some(writes));
    /// }
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Batched => "batched",
            Self::Line => "line",
        }
    }
}

/// The process's log buffer over stdout, from [`init_logging`]: sets when
/// lines are written, and writes what is buffered. Cheap to copy.
///
/// # Examples
///
/// ```
/// use vaulttoken_server::{LogWrites, init_logging};
///
/// let logs = init_logging();
/// tracing::info!("buffered until a flush");
/// logs.flush();
/// logs.set_writes(LogWrites::Line);
/// assert_eq!(logs.writes(), LogWrites::Line);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Logs(&'static Stdouts);

/// The buffer, and whether every line is written through.
#[derive(Debug)]
struct Stdouts {
    batch: Arc<Batch<Stdout>>,
    every_line: Arc<AtomicBool>,
}

impl Logs {
    /// Sets when lines are written; [`LogWrites::Line`] writes what is
    /// buffered with the next line.
    ///
    /// # Examples
    ///
    /// See [`Logs`].
    pub fn set_writes(self, writes: LogWrites) {
        self.0
            .every_line
            .store(writes == LogWrites::Line, Ordering::Relaxed);
    }

    /// When lines are written.
    ///
    /// # Examples
    ///
    /// See [`Logs`].
    #[must_use]
    pub fn writes(self) -> LogWrites {
        if self.0.every_line.load(Ordering::Relaxed) {
            LogWrites::Line
        } else {
            LogWrites::Batched
        }
    }

    /// Writes what is buffered to stdout, waiting for a write in progress
    /// first: when a worker is about to park, and before the process ends.
    ///
    /// # Examples
    ///
    /// See [`Logs`].
    pub fn flush(self) {
        self.0.batch.flush();
    }
}

/// Installs a JSON log subscriber on stdout, filtered by `RUST_LOG`
/// (default `info`), writing in batches unless `VAULTTOKEN_LOG_WRITES` is
/// `line` (read leniently here: the configuration validates it, and
/// [`Logs::set_writes`] applies a value from the configuration file).
/// Starts the thread that writes the buffer every 100 ms and a panic hook
/// that writes it before the default hook's message. The subscriber is not
/// installed if one is already; the buffer is made once.
///
/// # Examples
///
/// See [`Logs`].
pub fn init_logging() -> Logs {
    static STDOUTS: OnceLock<Stdouts> = OnceLock::new();
    let stdouts = STDOUTS.get_or_init(|| {
        let batch = Arc::new(Batch::new(io::stdout(), Limits::DEFAULT));
        let ticking = Arc::clone(&batch);
        let ticker = std::thread::Builder::new()
            .name("log-writes".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(TICK);
                    ticking.flush();
                }
            });
        let flushing = Arc::clone(&batch);
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            flushing.flush_within(PANIC_PATIENCE);
            default_hook(info);
        }));
        let setting = std::env::var(LOG_WRITES_VAR).ok();
        let every_line = every_line_at_start(setting.as_deref(), ticker.is_ok());
        Stdouts {
            batch,
            every_line: Arc::new(AtomicBool::new(every_line)),
        }
    });
    let logs = Logs(stdouts);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .fmt_fields(JsonFields)
        .event_format(JsonLines)
        .with_writer(BatchWriter::new(
            Arc::clone(&stdouts.batch),
            Arc::clone(&stdouts.every_line),
        ))
        .with_env_filter(filter)
        .try_init();
    logs
}

/// Whether every line is written at once from the start: with
/// `VAULTTOKEN_LOG_WRITES=line` (read leniently: anything else is the
/// default, which the configuration then refuses), or without the
/// background thread (a line could otherwise wait for the next one).
fn every_line_at_start(setting: Option<&str>, ticker_started: bool) -> bool {
    !ticker_started || setting.and_then(LogWrites::parse) == Some(LogWrites::Line)
}

/// The subscriber's writer: each line it is given goes to the batch,
/// written through at `WARN` and `ERROR`, or always when `every_line`.
#[derive(Debug)]
struct BatchWriter<W> {
    batch: Arc<Batch<W>>,
    every_line: Arc<AtomicBool>,
}

impl<W> BatchWriter<W> {
    fn new(batch: Arc<Batch<W>>, every_line: Arc<AtomicBool>) -> Self {
        Self { batch, every_line }
    }
}

/// One line's writer: the subscriber writes each formatted line with one
/// `write_all`, so each `write` is a whole line.
#[derive(Debug)]
struct LineWriter<'a, W> {
    batch: &'a Batch<W>,
    through: bool,
}

impl<'a, W: io::Write + 'a> MakeWriter<'a> for BatchWriter<W> {
    type Writer = LineWriter<'a, W>;

    /// A line of unknown level is written through.
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            batch: &self.batch,
            through: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            batch: &self.batch,
            through: *meta.level() <= Level::WARN || self.every_line.load(Ordering::Relaxed),
        }
    }
}

impl<W: io::Write> io::Write for LineWriter<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.batch.append(bytes, self.through, Instant::now());
        Ok(bytes.len())
    }

    /// Nothing: the batch is written by its own rules.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, PoisonError};

    use super::*;

    /// What reached the sink, one entry a `write_all`.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<String>>>);

    impl Writes {
        fn all(&self) -> Vec<String> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    impl io::Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(String::from_utf8(bytes.to_vec()).unwrap());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A JSON subscriber over a batch on `Writes`, every line through or
    /// not; `emit` runs under it.
    fn logged(every_line: bool, emit: impl FnOnce(&Batch<Writes>)) -> Vec<String> {
        let writes = Writes::default();
        let batch = Arc::new(Batch::new(writes.clone(), Limits::DEFAULT));
        let writer = BatchWriter::new(Arc::clone(&batch), Arc::new(AtomicBool::new(every_line)));
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields)
            .event_format(JsonLines)
            .with_writer(writer)
            .with_max_level(Level::TRACE)
            .finish();
        tracing::subscriber::with_default(subscriber, || emit(&batch));
        writes.all()
    }

    /// The levels of the lines of each write.
    fn levels(writes: &[String]) -> Vec<Vec<String>> {
        writes
            .iter()
            .map(|write| {
                write
                    .lines()
                    .map(|line| {
                        let value: serde_json::Value = serde_json::from_str(line).unwrap();
                        value["level"].as_str().unwrap().to_owned()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn info_and_below_wait_and_warn_or_error_writes_them_with_itself() {
        let writes = logged(false, |batch| {
            tracing::trace!("t");
            tracing::debug!("d");
            tracing::info!("i");
            tracing::warn!("w");
            tracing::info!("after");
            tracing::error!("e");
            tracing::info!("last");
            batch.flush();
        });
        assert_eq!(
            levels(&writes),
            [
                vec!["TRACE", "DEBUG", "INFO", "WARN"],
                vec!["INFO", "ERROR"],
                vec!["INFO"],
            ]
        );
    }

    #[test]
    fn in_line_mode_each_line_is_its_own_write() {
        let writes = logged(true, |_| {
            tracing::debug!("d");
            tracing::info!("i");
            tracing::info!("j");
        });
        assert_eq!(levels(&writes), [vec!["DEBUG"], vec!["INFO"], vec!["INFO"]]);
    }

    #[test]
    fn a_line_of_unknown_level_is_written_through() {
        let writes = Writes::default();
        let batch = Arc::new(Batch::new(writes.clone(), Limits::DEFAULT));
        let maker = BatchWriter::new(batch, Arc::new(AtomicBool::new(false)));
        io::Write::write_all(&mut maker.make_writer(), b"unknown\n").unwrap();
        assert_eq!(writes.all(), ["unknown\n"]);
    }

    #[test]
    fn every_line_is_written_at_once_from_the_start_with_line_or_no_thread() {
        assert!(every_line_at_start(Some("line"), true));
        for setting in [None, Some("batched"), Some("lines"), Some("")] {
            assert!(!every_line_at_start(setting, true), "{setting:?}");
            assert!(every_line_at_start(setting, false), "{setting:?}");
        }
    }

    #[test]
    fn log_writes_reads_its_two_names_only() {
        assert_eq!(LogWrites::parse("batched"), Some(LogWrites::Batched));
        assert_eq!(LogWrites::parse("line"), Some(LogWrites::Line));
        for bad in ["", "lines", "BATCHED", " line"] {
            assert_eq!(LogWrites::parse(bad), None, "{bad:?}");
        }
        assert_eq!(LogWrites::Line.name(), "line");
        assert_eq!(LogWrites::Batched.name(), "batched");
    }
}
