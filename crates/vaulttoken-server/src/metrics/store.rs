//! The token store, timed and counted: [`MeteredStore`] wraps the store the
//! server was given and passes every call on, unchanged, to the same method
//! of the store it wraps (the epoch-aware `consume_issued_at` and `health`
//! included: a default would skip the wrapped store's own).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use time::OffsetDateTime;
use vaulttoken::error::StoreError;
use vaulttoken::store::{
    Check, Consumption, NewFamily, Rotated, Rotation, StoreFuture, StoreHealth, TokenState,
    TokenStore,
};

use super::{Label, store_histogram};

/// The `call` label's values: one per [`TokenStore`] method
/// (`consume_issued_at` counts as `consume`).
const CALLS: [&str; 9] = [
    "check",
    "revoke",
    "consume",
    "revoke_issued_before",
    "supersede",
    "create_family",
    "rotate_family",
    "revoke_family",
    "health",
];

/// The store's counters, shared by the wrapper and the registry.
#[derive(Debug, Clone)]
pub(crate) struct StoreMeter {
    /// `store_calls_total`: by `call` and `outcome`.
    calls: Family<[Label; 2], Counter>,
    /// `store_call_duration_seconds`: by `call`.
    latency: Family<[Label; 1], Histogram, fn() -> Histogram>,
    /// `refresh_reuse_detected_total`.
    reuse: Counter,
    /// `refresh_grace_replays_total`.
    grace: Counter,
    /// `store_data_losses_total`.
    losses: Counter,
    /// The most losses a health answer reported so far: `losses` is moved
    /// by the difference, once.
    losses_seen: Arc<AtomicU64>,
    /// `store_up`: 1 if the last health check was answered, else 0.
    up: Gauge,
}

impl StoreMeter {
    /// The store's metrics, registered in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let meter = Self {
            calls: Family::default(),
            latency: Family::new_with_constructor(store_histogram),
            reuse: Counter::default(),
            grace: Counter::default(),
            losses: Counter::default(),
            losses_seen: Arc::new(AtomicU64::new(0)),
            up: Gauge::default(),
        };
        for call in CALLS {
            drop(
                meter
                    .calls
                    .get_or_create(&[("call", call), ("outcome", "ok")]),
            );
            drop(meter.latency.get_or_create(&[("call", call)]));
        }
        registry.register(
            "store_calls",
            "Token store calls, by call and outcome: ok, or why the store did not answer \
             (timeout, unreachable, full, protocol)",
            meter.calls.clone(),
        );
        registry.register_with_unit(
            "store_call_duration",
            "How long token store calls took, answered or not, by call",
            Unit::Seconds,
            meter.latency.clone(),
        );
        registry.register(
            "refresh_reuse_detected",
            "Refresh tokens presented again after their family moved on: each revoked its family",
            meter.reuse.clone(),
        );
        registry.register(
            "refresh_grace_replays",
            "Refresh tokens presented again inside the grace window: the same successor again",
            meter.grace.clone(),
        );
        registry.register(
            "store_data_losses",
            "Times this process found the token store's data lost (Redis restarted empty, \
             flushed or replaced); counted when a health check (readiness or a scrape) reports it",
            meter.losses.clone(),
        );
        registry.register(
            "store_up",
            "1 if the token store answered its last health check (readiness or a scrape), else 0",
            meter.up.clone(),
        );
        meter
    }

    /// Records one call: its duration and its outcome.
    fn record<T>(&self, call: &'static str, took: Duration, result: &Result<T, StoreError>) {
        self.latency
            .get_or_create(&[("call", call)])
            .observe(took.as_secs_f64());
        let outcome = match result {
            Ok(_) => "ok",
            Err(StoreError::Timeout { .. }) => "timeout",
            Err(StoreError::Unreachable { .. }) => "unreachable",
            Err(StoreError::Full { .. }) => "full",
            Err(StoreError::Protocol { .. }) => "protocol",
            Err(_) => "error",
        };
        self.calls
            .get_or_create(&[("call", call), ("outcome", outcome)])
            .inc();
    }

    /// Counts what a rotation's answer says: reuse, or a grace replay.
    fn rotated(&self, rotated: Rotated) {
        match rotated {
            Rotated::ReuseDetected => {
                self.reuse.inc();
            }
            Rotated::GraceReplay { .. } => {
                self.grace.inc();
            }
            _ => {}
        }
    }

    /// Takes up a health answer: whether the store answered, and the losses
    /// it reports (each counted once).
    fn health(&self, health: Option<&StoreHealth>) {
        let Some(health) = health else {
            self.up.set(0);
            return;
        };
        self.up.set(1);
        let times = health.data_lost.map_or(0, |loss| loss.times);
        let before = self.losses_seen.fetch_max(times, Ordering::Relaxed);
        // `>=` for `>` is an equivalent mutant: when equal, it adds 0.
        if times > before {
            self.losses.inc_by(times - before);
        }
    }
}

/// A [`TokenStore`] that times and counts every call of the store it wraps,
/// then answers as that store did.
#[derive(Debug)]
pub(crate) struct MeteredStore {
    inner: Arc<dyn TokenStore>,
    meter: StoreMeter,
}

impl MeteredStore {
    pub(crate) fn new(inner: Arc<dyn TokenStore>, meter: StoreMeter) -> Self {
        Self { inner, meter }
    }

    /// `call`, timed and counted; `inspect` sees its answer.
    fn metered<'a, T: Send + 'a>(
        &'a self,
        name: &'static str,
        call: StoreFuture<'a, T>,
        inspect: impl FnOnce(&StoreMeter, &T) + Send + 'a,
    ) -> StoreFuture<'a, T> {
        Box::pin(async move {
            let started = Instant::now();
            let result = call.await;
            self.meter.record(name, started.elapsed(), &result);
            if let Ok(answer) = &result {
                inspect(&self.meter, answer);
            }
            result
        })
    }
}

/// No more to count than the call itself.
fn nothing<T>(_: &StoreMeter, _: &T) {}

impl TokenStore for MeteredStore {
    fn check<'a>(&'a self, check: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
        self.metered("check", self.inner.check(check), nothing)
    }

    fn revoke<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        self.metered(
            "revoke",
            self.inner.revoke(subject, token_id, until),
            nothing,
        )
    }

    fn consume<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        let call = self.inner.consume(subject, token_id, until);
        self.metered("consume", call, nothing)
    }

    fn consume_issued_at<'a>(
        &'a self,
        subject: Option<&'a str>,
        token_id: &'a str,
        issued_at: Option<OffsetDateTime>,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, Consumption> {
        let call = self
            .inner
            .consume_issued_at(subject, token_id, issued_at, until);
        self.metered("consume", call, nothing)
    }

    fn revoke_issued_before<'a>(
        &'a self,
        subject: &'a str,
        cutoff: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        let call = self.inner.revoke_issued_before(subject, cutoff, until);
        self.metered("revoke_issued_before", call, nothing)
    }

    fn supersede<'a>(
        &'a self,
        subject: Option<&'a str>,
        slot: &'a str,
        token_id: &'a str,
        until: OffsetDateTime,
    ) -> StoreFuture<'a, ()> {
        let call = self.inner.supersede(subject, slot, token_id, until);
        self.metered("supersede", call, nothing)
    }

    fn create_family<'a>(&'a self, family: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
        self.metered("create_family", self.inner.create_family(family), nothing)
    }

    fn rotate_family<'a>(&'a self, rotation: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
        self.metered(
            "rotate_family",
            self.inner.rotate_family(rotation),
            |meter, rotated| meter.rotated(*rotated),
        )
    }

    fn revoke_family<'a>(
        &'a self,
        subject: Option<&'a str>,
        family_id: &'a str,
    ) -> StoreFuture<'a, ()> {
        let call = self.inner.revoke_family(subject, family_id);
        self.metered("revoke_family", call, nothing)
    }

    fn health(&self) -> StoreFuture<'_, StoreHealth> {
        Box::pin(async move {
            let started = Instant::now();
            let result = self.inner.health().await;
            self.meter.record("health", started.elapsed(), &result);
            self.meter.health(result.as_ref().ok());
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use time::macros::datetime;
    use vaulttoken::store::{DataLoss, MemoryStore, conformance};

    use super::*;

    /// A store that records each call by method name and answers what it
    /// is told to; `fail` makes every call fail.
    #[derive(Debug, Default)]
    struct Recorder {
        calls: Mutex<Vec<&'static str>>,
        rotated: Option<Rotated>,
        lost: Option<DataLoss>,
        fail: Option<StoreError>,
    }

    impl Recorder {
        fn answer<T: Send + 'static>(&self, call: &'static str, value: T) -> StoreFuture<'_, T> {
            self.calls.lock().unwrap().push(call);
            let answer = match &self.fail {
                Some(error) => Err(error.clone()),
                None => Ok(value),
            };
            Box::pin(core::future::ready(answer))
        }
    }

    impl TokenStore for Recorder {
        fn check<'a>(&'a self, _: &'a Check<'a>) -> StoreFuture<'a, TokenState> {
            self.answer("check", TokenState::Superseded)
        }
        fn revoke<'a>(
            &'a self,
            _: Option<&'a str>,
            _: &'a str,
            _: OffsetDateTime,
        ) -> StoreFuture<'a, ()> {
            self.answer("revoke", ())
        }
        fn consume<'a>(
            &'a self,
            _: Option<&'a str>,
            _: &'a str,
            _: OffsetDateTime,
        ) -> StoreFuture<'a, Consumption> {
            self.answer("consume", Consumption::AlreadyUsed)
        }
        fn consume_issued_at<'a>(
            &'a self,
            _: Option<&'a str>,
            _: &'a str,
            _: Option<OffsetDateTime>,
            _: OffsetDateTime,
        ) -> StoreFuture<'a, Consumption> {
            self.answer("consume_issued_at", Consumption::IssuedBeforeStoreEpoch)
        }
        fn revoke_issued_before<'a>(
            &'a self,
            _: &'a str,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> StoreFuture<'a, ()> {
            self.answer("revoke_issued_before", ())
        }
        fn supersede<'a>(
            &'a self,
            _: Option<&'a str>,
            _: &'a str,
            _: &'a str,
            _: OffsetDateTime,
        ) -> StoreFuture<'a, ()> {
            self.answer("supersede", ())
        }
        fn create_family<'a>(&'a self, _: &'a NewFamily<'a>) -> StoreFuture<'a, Vec<String>> {
            self.answer("create_family", vec!["old-family".to_owned()])
        }
        fn rotate_family<'a>(&'a self, _: &'a Rotation<'a>) -> StoreFuture<'a, Rotated> {
            self.answer("rotate_family", self.rotated.unwrap_or(Rotated::Revoked))
        }
        fn revoke_family<'a>(&'a self, _: Option<&'a str>, _: &'a str) -> StoreFuture<'a, ()> {
            self.answer("revoke_family", ())
        }
        fn health(&self) -> StoreFuture<'_, StoreHealth> {
            self.answer("health", StoreHealth::new(self.lost))
        }
    }

    const AT: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);

    fn metered(inner: Recorder) -> (Arc<Recorder>, MeteredStore, Registry) {
        let mut registry = Registry::default();
        let meter = StoreMeter::register(&mut registry);
        let inner = Arc::new(inner);
        let store = MeteredStore::new(Arc::clone(&inner) as Arc<dyn TokenStore>, meter);
        (inner, store, registry)
    }

    fn text(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, registry).unwrap();
        text
    }

    fn has(text: &str, line: &str) -> bool {
        text.lines().any(|sent| sent == line)
    }

    /// Every call reaches the same method of the wrapped store, and its
    /// answer comes back unchanged.
    #[tokio::test]
    async fn every_call_is_passed_on_to_the_same_method_and_answered_as_it_was() {
        let (inner, store, registry) = metered(Recorder {
            rotated: Some(Rotated::ReuseDetected),
            ..Recorder::default()
        });
        let check = Check::token(Some("alice"), "jti");
        assert_eq!(store.check(&check).await, Ok(TokenState::Superseded));
        assert_eq!(store.revoke(None, "jti", AT).await, Ok(()));
        assert_eq!(
            store.consume(None, "jti", AT).await,
            Ok(Consumption::AlreadyUsed)
        );
        assert_eq!(
            store.consume_issued_at(None, "jti", Some(AT), AT).await,
            Ok(Consumption::IssuedBeforeStoreEpoch)
        );
        assert_eq!(store.revoke_issued_before("alice", AT, AT).await, Ok(()));
        assert_eq!(store.supersede(None, "slot", "jti", AT).await, Ok(()));
        let family = NewFamily::new("alice", "fam", AT, AT);
        assert_eq!(
            store.create_family(&family).await,
            Ok(vec!["old-family".to_owned()])
        );
        let rotation = Rotation::new("alice", "fam", 0, AT);
        assert_eq!(
            store.rotate_family(&rotation).await,
            Ok(Rotated::ReuseDetected)
        );
        assert_eq!(store.revoke_family(None, "fam").await, Ok(()));
        assert_eq!(store.health().await, Ok(StoreHealth::default()));
        assert_eq!(
            *inner.calls.lock().unwrap(),
            [
                "check",
                "revoke",
                "consume",
                "consume_issued_at",
                "revoke_issued_before",
                "supersede",
                "create_family",
                "rotate_family",
                "revoke_family",
                "health",
            ]
        );
        let text = text(&registry);
        for call in CALLS {
            let calls = if call == "consume" { 2 } else { 1 };
            let counted = format!("store_calls_total{{call=\"{call}\",outcome=\"ok\"}} {calls}");
            assert!(has(&text, &counted), "{counted}\n{text}");
            let timed = format!("store_call_duration_seconds_count{{call=\"{call}\"}} {calls}");
            assert!(has(&text, &timed), "{timed}\n{text}");
        }
        assert!(has(&text, "refresh_reuse_detected_total 1"), "{text}");
        assert!(has(&text, "refresh_grace_replays_total 0"), "{text}");
        assert!(has(&text, "store_up 1"), "{text}");
    }

    #[tokio::test]
    async fn a_failed_call_is_counted_by_why_and_passed_on() {
        let cases = [
            (
                StoreError::Timeout {
                    deadline: time::Duration::milliseconds(5),
                },
                "timeout",
            ),
            (
                StoreError::Unreachable {
                    reason: "down".into(),
                },
                "unreachable",
            ),
            (StoreError::Full { capacity: 1 }, "full"),
            (
                StoreError::Protocol {
                    reason: "odd".into(),
                },
                "protocol",
            ),
        ];
        for (error, outcome) in cases {
            let (_, store, registry) = metered(Recorder {
                rotated: Some(Rotated::ReuseDetected),
                fail: Some(error.clone()),
                ..Recorder::default()
            });
            let rotation = Rotation::new("alice", "fam", 0, AT);
            assert_eq!(store.rotate_family(&rotation).await, Err(error.clone()));
            assert_eq!(store.health().await, Err(error));
            let text = text(&registry);
            for call in ["rotate_family", "health"] {
                let line = format!("store_calls_total{{call=\"{call}\",outcome=\"{outcome}\"}} 1");
                assert!(has(&text, &line), "{line}\n{text}");
                let timed = format!("store_call_duration_seconds_count{{call=\"{call}\"}} 1");
                assert!(has(&text, &timed), "{timed}\n{text}");
            }
            // Nothing is read from an answer that did not come.
            assert!(has(&text, "refresh_reuse_detected_total 0"), "{text}");
            assert!(has(&text, "store_up 0"), "{text}");
        }
    }

    #[tokio::test]
    async fn grace_replays_and_reuse_are_told_apart() {
        for (rotated, reuse, grace) in [
            (Rotated::ReuseDetected, 1, 0),
            (
                Rotated::GraceReplay {
                    generation: 2,
                    rotated_at: AT,
                },
                0,
                1,
            ),
            (
                Rotated::Advanced {
                    generation: 2,
                    rotated_at: AT,
                },
                0,
                0,
            ),
            (Rotated::Expired, 0, 0),
        ] {
            let (_, store, registry) = metered(Recorder {
                rotated: Some(rotated),
                ..Recorder::default()
            });
            let rotation = Rotation::new("alice", "fam", 1, AT);
            assert_eq!(store.rotate_family(&rotation).await, Ok(rotated));
            let text = text(&registry);
            let reused = format!("refresh_reuse_detected_total {reuse}");
            assert!(has(&text, &reused), "{rotated:?}: {text}");
            let replayed = format!("refresh_grace_replays_total {grace}");
            assert!(has(&text, &replayed), "{rotated:?}: {text}");
        }
    }

    /// A loss reported by health is counted once, however often it is
    /// reported; a new one adds one.
    #[tokio::test]
    async fn each_data_loss_is_counted_once() {
        let mut registry = Registry::default();
        let meter = StoreMeter::register(&mut registry);
        let answer = |times| {
            let lost = (times > 0).then(|| DataLoss::new(times, AT));
            StoreHealth::new(lost)
        };
        for (reported, counted) in [(0, 0), (1, 1), (1, 1), (3, 3), (2, 3), (3, 3)] {
            meter.health(Some(&answer(reported)));
            let text = text(&registry);
            let line = format!("store_data_losses_total {counted}");
            assert!(has(&text, &line), "{reported}: {text}");
        }
        meter.health(None);
        assert!(has(&text(&registry), "store_data_losses_total 3"));
    }

    /// The wrapper is a store like any other: the conformance suite, over
    /// the memory store.
    #[tokio::test]
    async fn a_metered_memory_store_passes_the_conformance_suite() {
        let mut registry = Registry::default();
        let meter = StoreMeter::register(&mut registry);
        let store = MeteredStore::new(Arc::new(MemoryStore::new()), meter);
        conformance::run_all(&store, "metered").await;
        let text = text(&registry);
        assert!(!has(
            &text,
            "store_calls_total{call=\"check\",outcome=\"ok\"} 0"
        ));
    }
}
