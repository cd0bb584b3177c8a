//! The revocation mirror's metrics (`VAULTTOKEN_MIRROR_MAX_STALENESS_MS`):
//! read from [`MirroredStore::status`] at each scrape by a collector, so the
//! counters are the mirror's own (never a copy moved by differences) and
//! the seconds since it last heard from Redis are those of the scrape.
//! Registered only when the server runs with a mirror.

use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use vaulttoken_redis::{MirrorStatus, MirroredStore};

/// What the metrics read of a mirror: its status and its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MirrorReading {
    /// Whether checks answer from memory now.
    pub(crate) current: bool,
    /// How long ago the mirror last heard from Redis (`None`: never).
    pub(crate) heard_ago: Option<Duration>,
    /// The staleness bound.
    pub(crate) max_staleness: Duration,
    /// Entries held.
    pub(crate) entries: usize,
    /// An estimate of the memory they take, in bytes.
    pub(crate) table_bytes: usize,
    /// Whether the mirror met more entries than it may hold.
    pub(crate) overflowed: bool,
    /// Rebuilds since connect.
    pub(crate) rebuilds: u64,
    /// Replays that found changes missing that trimming does not explain.
    pub(crate) unexplained_gaps: u64,
    /// Checks answered from memory.
    pub(crate) answered: u64,
    /// Checks sent to Redis because the mirror was not current.
    pub(crate) stale: u64,
    /// Checks sent to Redis because the mirror could not tell.
    pub(crate) unknown: u64,
}

impl MirrorReading {
    /// What `store`'s mirror reports now.
    pub(crate) fn of(store: &MirroredStore) -> Self {
        let MirrorStatus {
            current,
            heard_ago,
            entries,
            table_bytes,
            overflowed,
            rebuilds,
            unexplained_gaps,
            answered,
            stale,
            unknown,
            ..
        } = store.status();
        Self {
            current,
            heard_ago,
            max_staleness: store.mirror_options().max_staleness,
            entries,
            table_bytes,
            overflowed,
            rebuilds,
            unexplained_gaps,
            answered,
            stale,
            unknown,
        }
    }
}

/// Encodes a mirror's reading, taken by `read` at each scrape.
pub(crate) struct MirrorCollector<F>(pub(crate) F);

impl<F> std::fmt::Debug for MirrorCollector<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MirrorCollector")
    }
}

impl<F> Collector for MirrorCollector<F>
where
    F: Fn() -> MirrorReading + Send + Sync + 'static,
{
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reading = (self.0)();
        let mut checks = encoder.encode_descriptor(
            "mirror_checks",
            "Token checks the revocation mirror saw, by outcome: answered (from memory), stale \
             (sent to Redis: the mirror was not current: not heard from Redis within its bound, \
             rebuilding, or not since this instance's last write of the subject that changed \
             the mirror), unknown (sent to Redis: the mirror could not tell)",
            None,
            MetricType::Counter,
        )?;
        for (outcome, count) in [
            ("answered", reading.answered),
            ("stale", reading.stale),
            ("unknown", reading.unknown),
        ] {
            ConstCounter::new(count).encode(checks.encode_family(&[("outcome", outcome)])?)?;
        }
        counter(
            &mut encoder,
            "mirror_rebuilds",
            "Times the revocation mirror cleared itself and replayed the change streams (data \
             lost, a stream replaced, a change out of sequence)",
            reading.rebuilds,
        )?;
        counter(
            &mut encoder,
            "mirror_unexplained_gaps",
            "Replays of the revocation mirror that found changes missing that trimming does not \
             explain (the stream trimmed or deleted by hand): it answers nothing from memory \
             until what they described has expired",
            reading.unexplained_gaps,
        )?;
        let seconds = Some(&Unit::Seconds);
        gauge(
            &mut encoder,
            "mirror_staleness",
            "Seconds since the revocation mirror last heard from Redis (NaN: never); past \
             vaulttoken_mirror_max_staleness_seconds its checks go to Redis",
            seconds,
            reading.heard_ago.map_or(f64::NAN, |ago| ago.as_secs_f64()),
        )?;
        gauge(
            &mut encoder,
            "mirror_max_staleness",
            "The revocation mirror's staleness bound (VAULTTOKEN_MIRROR_MAX_STALENESS_MS), in \
             seconds",
            seconds,
            reading.max_staleness.as_secs_f64(),
        )?;
        gauge(
            &mut encoder,
            "mirror_current",
            "1 if the revocation mirror answers checks from memory now, else 0",
            None,
            i64::from(reading.current),
        )?;
        gauge(
            &mut encoder,
            "mirror_entries",
            "Entries the revocation mirror holds (revoked and spent ids, cutoffs, latest \
             tokens, families)",
            None,
            reading.entries,
        )?;
        gauge(
            &mut encoder,
            "mirror_memory",
            "An estimate of the memory the revocation mirror's entries take, in bytes",
            Some(&Unit::Bytes),
            reading.table_bytes,
        )?;
        gauge(
            &mut encoder,
            "mirror_overflowed",
            "1 if the revocation mirror met more entries than it may hold (it then answers \
             nothing from memory), else 0",
            None,
            i64::from(reading.overflowed),
        )
    }
}

/// One counter without labels.
fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One gauge without labels.
fn gauge<N: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: N,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
}
