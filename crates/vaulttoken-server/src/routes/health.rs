//! `GET /healthz`.

use axum::Json;
use serde_json::{Value, json};

/// The process answers: it is alive. (It does not ask the token store, so a
/// store outage does not take every instance out of a load balancer.)
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
