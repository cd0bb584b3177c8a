//! A `tracing` event recorder for the tests: every event, with its level,
//! target and fields as text, so a test can assert what was logged.
//!
//! ```
//! use vaulttoken_test_redis::EventRecorder;
//!
//! let recorder = EventRecorder::default();
//! {
//!     let _guard = recorder.install();
//!     tracing::error!(target: "vaulttoken::audit", event = "store_data_lost", "lost");
//! }
//! tracing::error!(target: "vaulttoken::audit", event = "not_recorded");
//! let found = recorder.events_named("store_data_lost");
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].level, tracing::Level::ERROR);
//! assert_eq!(found[0].target, "vaulttoken::audit");
//! assert!(recorder.events_named("not_recorded").is_empty());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Metadata, Subscriber};

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Its level.
    pub level: Level,
    /// Its target.
    pub target: String,
    /// Its fields (the message as `message`), as text.
    pub fields: BTreeMap<String, String>,
}

/// Records every event while installed (on the installing thread).
#[derive(Debug, Clone, Default)]
pub struct EventRecorder(Arc<Mutex<Vec<RecordedEvent>>>);

impl EventRecorder {
    /// Records the events of this thread until the guard drops. An async
    /// test's own future runs on its thread (`block_on`), so what the code
    /// under test emits while the test awaits it is recorded.
    #[must_use = "events are recorded only while the guard lives"]
    pub fn install(&self) -> DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    /// Every event recorded so far.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The recorded events whose `event` field is `name` (an audit event).
    pub fn events_named(&self, name: &str) -> Vec<RecordedEvent> {
        self.events()
            .into_iter()
            .filter(|event| event.fields.get("event").map(String::as_str) == Some(name))
            .collect()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for EventRecorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let metadata = event.metadata();
        let recorded = RecordedEvent {
            level: *metadata.level(),
            target: metadata.target().to_owned(),
            fields,
        };
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recorded);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
