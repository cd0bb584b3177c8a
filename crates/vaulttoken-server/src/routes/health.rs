//! The operator's endpoints: `GET /healthz` (liveness), `GET /readyz`
//! (readiness) and `GET /metrics` (Prometheus).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use vaulttoken::store::StoreHealth;

use crate::key_file::now;
use crate::metrics;
use crate::oauth_error::STORE_RETRY_AFTER_SECS;
use crate::state::AppState;

/// The process answers: it is alive. (It does not ask the token store, so a
/// store outage does not get every instance restarted.)
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Whether this instance can serve: 200 when the token store answers (within
/// its deadline) and, with Redis, the shared key ring was read within twice
/// `VAULTTOKEN_KEYS_POLL_SECS` (else this instance may sign with, or trust,
/// a ring the fleet has left), with the data losses the store found
/// (`store_data_lost`, `null` if none); 503 with `Retry-After` and the
/// reason when not, so a load balancer sends traffic elsewhere. A data loss
/// is reported, not a reason to stop serving: every instance shares the
/// store, and the store already refuses what it can no longer vouch for.
/// Nor is a revocation mirror that is not current: its checks go to Redis
/// then, as without a mirror, and whether Redis answers is asked here
/// (`GET /metrics` reports the mirror).
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let health = state.store.health().await;
    let ring = ring_state(state.keys.since_sync(), state.keys_poll);
    match (health, ring) {
        (Ok(health), RingState::Fresh) => Json(ready(&health)).into_response(),
        (health, ring) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, STORE_RETRY_AFTER_SECS.to_string())],
            Json(not_ready(health.is_ok(), ring)),
        )
            .into_response(),
    }
}

/// Whether the shared key ring was read recently enough.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RingState {
    /// Within twice the poll interval, or there is no shared ring.
    Fresh,
    /// Not read for this many seconds, more than twice the poll interval.
    Stale(u64),
}

/// The ring's state, read `since_sync` ago (`None`: no shared ring),
/// polled every `poll`.
fn ring_state(since_sync: Option<Duration>, poll: Duration) -> RingState {
    match since_sync {
        Some(since) if since > poll.saturating_mul(2) => RingState::Stale(since.as_secs()),
        _ => RingState::Fresh,
    }
}

/// The body of a ready answer.
fn ready(health: &StoreHealth) -> Value {
    let lost = health.data_lost.map(|loss| {
        json!({
            "times": loss.times,
            "last_at": loss.last_at.format(&Rfc3339).ok(),
        })
    });
    json!({ "status": "ready", "store": "ok", "key_ring": "ok", "store_data_lost": lost })
}

/// The body of a 503: what is wrong, and a short reason (the store first).
fn not_ready(store_answers: bool, ring: RingState) -> Value {
    let reason = match (store_answers, ring) {
        (false, _) => "the token store does not answer".to_owned(),
        (true, RingState::Stale(seconds)) => format!(
            "the shared key ring was last read {seconds} s ago, more than twice \
             VAULTTOKEN_KEYS_POLL_SECS"
        ),
        (true, RingState::Fresh) => "not ready".to_owned(),
    };
    json!({
        "status": "unavailable",
        "store": if store_answers { "ok" } else { "unavailable" },
        "key_ring": if ring == RingState::Fresh { "ok" } else { "stale" },
        "reason": reason,
    })
}

/// The metrics in the Prometheus text format (see [`crate::metrics`]). The
/// gauges are read now: the token store's health (whether it answers, and
/// the data losses it reports), the age of each ring's active key, and the
/// seconds since the shared ring was read.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    // Counted by the store wrapper; an outage is its answer.
    let _ = state.store.health().await;
    let ages = state.keys.key_ages(now());
    let gauges = &state.metrics;
    gauges.set_key_age("access", ages.access);
    if let Some(refresh) = ages.refresh {
        gauges.set_key_age("refresh", refresh);
    }
    gauges.set_key_age("trust", ages.trust);
    gauges.set_sync_age(state.keys.since_sync().map(|since| since.as_secs_f64()));
    let mut response = gauges.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    response
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use vaulttoken::store::DataLoss;

    use super::*;

    #[test]
    fn a_ready_body_names_the_losses_found() {
        assert_eq!(
            ready(&StoreHealth::default()),
            json!({ "status": "ready", "store": "ok", "key_ring": "ok", "store_data_lost": null })
        );
        let lost = StoreHealth::new(Some(DataLoss::new(2, datetime!(2030-01-02 3:04:05 UTC))));
        assert_eq!(
            ready(&lost)["store_data_lost"],
            json!({ "times": 2, "last_at": "2030-01-02T03:04:05Z" })
        );
    }

    #[test]
    fn the_ring_is_stale_past_twice_the_poll_interval_only() {
        let poll = Duration::from_secs(5);
        assert_eq!(ring_state(None, poll), RingState::Fresh);
        assert_eq!(ring_state(Some(Duration::ZERO), poll), RingState::Fresh);
        assert_eq!(
            ring_state(Some(Duration::from_secs(10)), poll),
            RingState::Fresh
        );
        assert_eq!(
            ring_state(Some(Duration::from_millis(10_001)), poll),
            RingState::Stale(10)
        );
        assert_eq!(
            ring_state(Some(Duration::from_secs(42)), poll),
            RingState::Stale(42)
        );
    }

    #[test]
    fn a_not_ready_body_says_what_is_wrong_store_first() {
        let down = not_ready(false, RingState::Stale(30));
        assert_eq!(down["status"], "unavailable");
        assert_eq!(down["store"], "unavailable");
        assert_eq!(down["key_ring"], "stale");
        assert_eq!(down["reason"], "the token store does not answer");
        let stale = not_ready(true, RingState::Stale(30));
        assert_eq!(stale["store"], "ok");
        assert_eq!(stale["key_ring"], "stale");
        assert_eq!(
            stale["reason"],
            "the shared key ring was last read 30 s ago, more than twice \
             VAULTTOKEN_KEYS_POLL_SECS"
        );
        let store_only = not_ready(false, RingState::Fresh);
        assert_eq!(store_only["key_ring"], "ok");
    }
}
