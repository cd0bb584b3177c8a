//! `GET /metrics`: what the server counts, in the Prometheus text format
//! (0.0.4), through `prometheus-client`. Every name starts with
//! `vaulttoken_`; docs/API.md lists them all.
//!
//! The counts come from three hooks, none of them in a handler's logic:
//! - [`http::record`], a layer over the token and trust routes, counts each
//!   answer by its operation and outcome (the `error` code of an
//!   [`OAuthError`](crate::OAuthError), `ok`, or for introspection `active`
//!   or `inactive`), with what a handler notes on the way
//!   ([`inactive`], [`note_trust_kind`]);
//! - [`MeteredStore`] wraps the token store: every call is timed and
//!   counted by outcome, refresh reuse and grace replays are counted from
//!   the store's own answer, and the data losses it reports are counted;
//! - the rate limiter counts its refusals ([`Metrics::rate_limit_refusals`]).
//!
//! The gauges (key ages, the shared ring's last sync, whether the store
//! answers) are read when `/metrics` is asked ([`Metrics::encode`]); with a
//! revocation mirror, its counts and gauges are read from its status then
//! too ([`Metrics::register_mirror`]).
//!
//! Labels are bounded: operation and outcome names are fixed strings, a
//! trust-token kind is one of the four built-in ones (or `unknown`), and no
//! label holds a client id, a subject, a token or an address.

mod http;
mod mirror;
mod store;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

pub(crate) use self::http::{Operation, inactive, note_refresh_grant, note_trust_kind, record};
pub(crate) use self::mirror::MirrorReading;
pub(crate) use self::store::MeteredStore;

/// The `Content-Type` of `GET /metrics`: the Prometheus text format 0.0.4.
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// One label: its name and a value from a fixed set.
type Label = (&'static str, &'static str);

/// A gauge of seconds (or any fraction).
type Seconds = Gauge<f64, AtomicU64>;

/// The upper bounds of the store latency histogram, in seconds: 100 µs to
/// 5 s (the longest store deadline is 60 s; slower calls land in `+Inf`).
const STORE_BUCKETS: [f64; 15] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

fn store_histogram() -> Histogram {
    Histogram::new(STORE_BUCKETS)
}

/// Every metric of one server, and the registry that encodes them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// `tokens_issued_total`, `tokens_refreshed_total`,
    /// `tokens_revoked_total`, `tokens_introspected_total`: by `outcome`.
    issued: Family<[Label; 1], Counter>,
    refreshed: Family<[Label; 1], Counter>,
    revoked: Family<[Label; 1], Counter>,
    introspected: Family<[Label; 1], Counter>,
    /// `trust_tokens_total`: by `operation`, `kind` and `outcome`.
    trust: Family<[Label; 3], Counter>,
    /// `rate_limit_refusals_total`: by `key` (`ip`, `client`) and `reason`
    /// (`limited`, `unavailable`).
    rate_limit_refusals: Family<[Label; 2], Counter>,
    /// What the store wrapper counts.
    pub(crate) store: store::StoreMeter,
    /// `key_age_seconds`: by `ring`.
    key_age: Family<[Label; 1], Seconds>,
    /// `key_ring_sync_age_seconds`.
    sync_age: Seconds,
}

impl Metrics {
    /// Every metric at zero, registered.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("vaulttoken");
        let issued = Family::default();
        registry.register(
            "tokens_issued",
            "POST /token answers, by outcome: ok, or the error code",
            issued.clone(),
        );
        let refreshed = Family::default();
        registry.register(
            "tokens_refreshed",
            "POST /token/refresh answers, by outcome: ok, or the error code",
            refreshed.clone(),
        );
        let revoked = Family::default();
        registry.register(
            "tokens_revoked",
            "POST /token/revoke answers, by outcome: ok (RFC 7009: unknown tokens too), or the \
             error code",
            revoked.clone(),
        );
        let introspected = Family::default();
        registry.register(
            "tokens_introspected",
            "POST /token/introspect answers, by outcome: active, inactive, or the error code",
            introspected.clone(),
        );
        let trust = Family::default();
        registry.register(
            "trust_tokens",
            "Trust-token answers, by operation (issue, verify, consume), kind (unknown when \
             refused before the kind was read) and outcome: ok, or the error code",
            trust.clone(),
        );
        let rate_limit_refusals = Family::default();
        registry.register(
            "rate_limit_refusals",
            "Requests refused by a rate limit, by key (ip, client) and reason: limited (429), \
             or unavailable (the shared counters did not answer: 503)",
            rate_limit_refusals.clone(),
        );
        let store = store::StoreMeter::register(&mut registry);
        let key_age = Family::default();
        registry.register_with_unit(
            "key_age",
            "Seconds since the active key of each ring (access, refresh, trust) began signing",
            Unit::Seconds,
            key_age.clone(),
        );
        // The series an operator alerts on exist from the start, at zero.
        for family in [&issued, &refreshed, &revoked] {
            drop(family.get_or_create(&[("outcome", "ok")]));
        }
        for outcome in ["active", "inactive"] {
            drop(introspected.get_or_create(&[("outcome", outcome)]));
        }
        for operation in ["issue", "verify", "consume"] {
            for kind in http::TRUST_KINDS {
                drop(trust.get_or_create(&[
                    ("operation", operation),
                    ("kind", kind),
                    ("outcome", "ok"),
                ]));
            }
        }
        for key in ["ip", "client"] {
            for reason in ["limited", "unavailable"] {
                drop(rate_limit_refusals.get_or_create(&[("key", key), ("reason", reason)]));
            }
        }
        let sync_age = Seconds::default();
        registry.register_with_unit(
            "key_ring_sync_age",
            "Seconds since this instance last read the shared key ring in Redis (NaN without \
             Redis)",
            Unit::Seconds,
            sync_age.clone(),
        );
        Self {
            registry,
            issued,
            refreshed,
            revoked,
            introspected,
            trust,
            rate_limit_refusals,
            store,
            key_age,
            sync_age,
        }
    }

    /// Counts one answer of `operation`.
    fn answered(&self, operation: Operation, kind: &'static str, outcome: &'static str) {
        let single = |family: &Family<[Label; 1], Counter>| {
            family.get_or_create(&[("outcome", outcome)]).inc();
        };
        match operation {
            Operation::Issue => single(&self.issued),
            Operation::Refresh => single(&self.refreshed),
            Operation::Revoke => single(&self.revoked),
            Operation::Introspect => single(&self.introspected),
            Operation::TrustIssue | Operation::TrustVerify | Operation::TrustConsume => {
                self.trust
                    .get_or_create(&[
                        ("operation", operation.trust_name()),
                        ("kind", kind),
                        ("outcome", outcome),
                    ])
                    .inc();
            }
        }
    }

    /// Reports a revocation mirror's counts and gauges (the
    /// `vaulttoken_mirror_*` names), read by `read` at each scrape.
    pub(crate) fn register_mirror(
        &mut self,
        read: impl Fn() -> MirrorReading + Send + Sync + 'static,
    ) {
        self.registry
            .register_collector(Box::new(mirror::MirrorCollector(read)));
    }

    /// The refusal counter of the rate limiter.
    pub(crate) fn rate_limit_refusals(&self) -> Family<[Label; 2], Counter> {
        self.rate_limit_refusals.clone()
    }

    /// Sets the age of the active key of `ring` (`access`, `refresh`,
    /// `trust`).
    pub(crate) fn set_key_age(&self, ring: &'static str, seconds: f64) {
        self.key_age.get_or_create(&[("ring", ring)]).set(seconds);
    }

    /// Sets the seconds since the last read of the shared ring (`None`:
    /// there is none).
    pub(crate) fn set_sync_age(&self, seconds: Option<f64>) {
        self.sync_age.set(seconds.unwrap_or(f64::NAN));
    }

    /// Every metric in the Prometheus text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String does not fail, and every name and label is
        // fixed: an error here is a bug, answered with what was written.
        if prometheus_text::encode(&mut text, &self.registry).is_err() {
            tracing::error!("the metrics could not be encoded");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_named_with_the_prefix_and_documented() {
        let metrics = Metrics::new();
        // As a scrape sets them.
        metrics.set_key_age("access", 1.0);
        let text = metrics.encode();
        for name in [
            "vaulttoken_tokens_issued_total counter",
            "vaulttoken_tokens_refreshed_total counter",
            "vaulttoken_tokens_revoked_total counter",
            "vaulttoken_tokens_introspected_total counter",
            "vaulttoken_trust_tokens_total counter",
            "vaulttoken_rate_limit_refusals_total counter",
            "vaulttoken_store_calls_total counter",
            "vaulttoken_store_call_duration_seconds histogram",
            "vaulttoken_refresh_reuse_detected_total counter",
            "vaulttoken_refresh_grace_replays_total counter",
            "vaulttoken_store_data_losses_total counter",
            "vaulttoken_store_up gauge",
            "vaulttoken_key_age_seconds gauge",
            "vaulttoken_key_ring_sync_age_seconds gauge",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name}\n")),
                "{name}:\n{text}"
            );
        }
        every_name_is_in_the_api_docs(&text);
    }

    /// Every metric name `text` declares (`# TYPE <name> …`) is in API.md.
    fn every_name_is_in_the_api_docs(text: &str) {
        let docs = include_str!("../../../docs/API.md");
        for line in text.lines().filter(|line| line.starts_with("# TYPE ")) {
            let name = line.split(' ').nth(2).unwrap();
            assert!(
                docs.contains(&format!("`{name}`")),
                "{name} is not in API.md"
            );
        }
    }

    #[test]
    fn answers_are_counted_by_operation_and_outcome() {
        let metrics = Metrics::new();
        metrics.answered(Operation::Issue, "unknown", "ok");
        metrics.answered(Operation::Issue, "unknown", "ok");
        metrics.answered(Operation::Refresh, "unknown", "invalid_grant");
        metrics.answered(Operation::Revoke, "unknown", "ok");
        metrics.answered(Operation::Introspect, "unknown", "inactive");
        metrics.answered(Operation::TrustConsume, "magic_link", "invalid_grant");
        let text = metrics.encode();
        for line in [
            "vaulttoken_tokens_issued_total{outcome=\"ok\"} 2",
            "vaulttoken_tokens_refreshed_total{outcome=\"invalid_grant\"} 1",
            "vaulttoken_tokens_revoked_total{outcome=\"ok\"} 1",
            "vaulttoken_tokens_introspected_total{outcome=\"inactive\"} 1",
            "vaulttoken_trust_tokens_total{operation=\"consume\",kind=\"magic_link\",outcome=\"invalid_grant\"} 1",
        ] {
            assert!(text.lines().any(|sent| sent == line), "{line}:\n{text}");
        }
    }

    /// A mirror's reading with every field apart.
    fn reading() -> MirrorReading {
        MirrorReading {
            current: true,
            heard_ago: Some(std::time::Duration::from_millis(125)),
            max_staleness: std::time::Duration::from_millis(2_000),
            entries: 7,
            table_bytes: 308,
            overflowed: false,
            rebuilds: 2,
            unexplained_gaps: 1,
            answered: 40,
            stale: 3,
            unknown: 5,
        }
    }

    #[test]
    fn a_mirror_is_reported_from_its_reading_at_each_scrape_and_only_with_one() {
        let plain = Metrics::new().encode();
        assert!(!plain.contains("vaulttoken_mirror_"), "{plain}");

        let mut metrics = Metrics::new();
        let shared = std::sync::Arc::new(std::sync::Mutex::new(reading()));
        let read = std::sync::Arc::clone(&shared);
        metrics.register_mirror(move || *read.lock().unwrap());
        // Named in the registry's Debug, never with a reading.
        let debug = format!("{metrics:?}");
        assert!(debug.contains("MirrorCollector"), "{debug}");
        assert!(!debug.contains("308"), "{debug}");
        let text = metrics.encode();
        for line in [
            "# TYPE vaulttoken_mirror_checks_total counter",
            "vaulttoken_mirror_checks_total{outcome=\"answered\"} 40",
            "vaulttoken_mirror_checks_total{outcome=\"stale\"} 3",
            "vaulttoken_mirror_checks_total{outcome=\"unknown\"} 5",
            "# TYPE vaulttoken_mirror_rebuilds_total counter",
            "vaulttoken_mirror_rebuilds_total 2",
            "# TYPE vaulttoken_mirror_unexplained_gaps_total counter",
            "vaulttoken_mirror_unexplained_gaps_total 1",
            "# TYPE vaulttoken_mirror_staleness_seconds gauge",
            "vaulttoken_mirror_staleness_seconds 0.125",
            "# TYPE vaulttoken_mirror_max_staleness_seconds gauge",
            "vaulttoken_mirror_max_staleness_seconds 2.0",
            "# TYPE vaulttoken_mirror_current gauge",
            "vaulttoken_mirror_current 1",
            "# TYPE vaulttoken_mirror_entries gauge",
            "vaulttoken_mirror_entries 7",
            "# TYPE vaulttoken_mirror_memory_bytes gauge",
            "vaulttoken_mirror_memory_bytes 308",
            "# TYPE vaulttoken_mirror_overflowed gauge",
            "vaulttoken_mirror_overflowed 0",
        ] {
            assert!(text.lines().any(|sent| sent == line), "{line}:\n{text}");
        }
        every_name_is_in_the_api_docs(&text);

        // Read again at the next scrape: never heard is NaN.
        *shared.lock().unwrap() = MirrorReading {
            current: false,
            heard_ago: None,
            overflowed: true,
            answered: 41,
            ..reading()
        };
        let text = metrics.encode();
        for line in [
            "vaulttoken_mirror_checks_total{outcome=\"answered\"} 41",
            "vaulttoken_mirror_staleness_seconds NaN",
            "vaulttoken_mirror_current 0",
            "vaulttoken_mirror_overflowed 1",
        ] {
            assert!(text.lines().any(|sent| sent == line), "{line}:\n{text}");
        }
    }

    #[test]
    fn gauges_are_set_as_given() {
        let metrics = Metrics::new();
        metrics.set_key_age("access", 12.5);
        metrics.set_sync_age(Some(0.25));
        let text = metrics.encode();
        assert!(
            text.contains("vaulttoken_key_age_seconds{ring=\"access\"} 12.5\n"),
            "{text}"
        );
        assert!(
            text.contains("vaulttoken_key_ring_sync_age_seconds 0.25\n"),
            "{text}"
        );
        metrics.set_sync_age(None);
        assert!(
            metrics
                .encode()
                .contains("vaulttoken_key_ring_sync_age_seconds NaN\n"),
            "{}",
            metrics.encode()
        );
    }
}
