//! `GET /healthz` (liveness) and `GET /readyz` (readiness).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use vaulttoken::store::StoreHealth;

use crate::oauth_error::STORE_RETRY_AFTER_SECS;
use crate::state::AppState;

/// The process answers: it is alive. (It does not ask the token store, so a
/// store outage does not get every instance restarted.)
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Whether this instance can serve: 200 when the token store answers (within
/// its deadline), with the data losses it found (`store_data_lost`, `null`
/// if none); 503 with `Retry-After` when it cannot, so a load balancer sends
/// traffic elsewhere. A data loss is reported, not a reason to stop
/// serving: every instance shares the store, and the store already refuses
/// what it can no longer vouch for.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.health().await {
        Ok(health) => Json(ready(&health)).into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, STORE_RETRY_AFTER_SECS.to_string())],
            Json(json!({ "status": "unavailable", "store": "unavailable" })),
        )
            .into_response(),
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
    json!({ "status": "ready", "store": "ok", "store_data_lost": lost })
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
            json!({ "status": "ready", "store": "ok", "store_data_lost": null })
        );
        let lost = StoreHealth::new(Some(DataLoss::new(2, datetime!(2030-01-02 3:04:05 UTC))));
        assert_eq!(
            ready(&lost)["store_data_lost"],
            json!({ "times": 2, "last_at": "2030-01-02T03:04:05Z" })
        );
    }
}
