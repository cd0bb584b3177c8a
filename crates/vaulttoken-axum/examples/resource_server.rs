//! A resource server on a real port that follows its issuer's published key
//! set: `GET /me` for any holder of a valid `v4.public` access token, and
//! `GET /key-set/counts` with the follower's fetch counters (to watch it, as
//! an operator would). Settings come from the environment:
//!
//! - `KEY_SET_URL` (required): the issuer's `GET /keys`, such as
//!   `https://auth.example/keys` (`http` only on loopback);
//! - `ISSUER` (required): the issuer the key set and every token must name;
//! - `AUDIENCE` (optional): the `aud` every token must name;
//! - `LISTEN` (default `127.0.0.1:0`): printed as `listening on <addr>`;
//! - `MAX_TOKEN_LIFETIME_SECS` (default 3600) and `MIN_LOOKUP_INTERVAL_MS`
//!   (default 10000): the follower's bounds.
//!
//! Run it against a token server with
//! `KEY_SET_URL=http://127.0.0.1:8080/keys ISSUER=http://127.0.0.1:8080 cargo run -p vaulttoken-axum --example resource_server`.
//! The token server's soak test (`crates/vaulttoken-server/tests/soak.rs`)
//! starts three of these.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use vaulttoken::rules::RuleSet;
use vaulttoken_axum::{Authenticator, Verified};
use vaulttoken_keyset::RemoteKeySet;

/// The claims this service reads.
#[derive(Deserialize)]
struct User {
    sub: String,
}

async fn me(user: Verified<User>) -> String {
    format!("you are {}", user.sub)
}

async fn counts(State(keys): State<RemoteKeySet>) -> String {
    let counts = keys.counts();
    format!(
        r#"{{"fetches":{},"failures":{},"not_modified":{}}}"#,
        counts.fetches, counts.failures, counts.not_modified
    )
}

/// A setting from the environment, or its default.
fn setting(name: &str, default: Option<&str>) -> Result<String, String> {
    match (std::env::var(name), default) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(default)) => Ok(default.to_owned()),
        (Err(_), None) => Err(format!("{name} is required")),
    }
}

fn number(name: &str, default: &str) -> Result<u64, String> {
    setting(name, Some(default))?
        .parse()
        .map_err(|_| format!("{name} must be a whole number"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = setting("KEY_SET_URL", None)?;
    let issuer = setting("ISSUER", None)?;
    let keys = RemoteKeySet::builder(url)
        .issuer(issuer.clone())
        .max_token_lifetime(Duration::from_secs(number(
            "MAX_TOKEN_LIFETIME_SECS",
            "3600",
        )?))
        .min_lookup_interval(Duration::from_millis(number(
            "MIN_LOOKUP_INTERVAL_MS",
            "10000",
        )?))
        .build()
        .await?;
    let mut rules = RuleSet::default().issued_by(issuer);
    if let Ok(audience) = std::env::var("AUDIENCE") {
        rules = rules.for_audience(audience);
    }
    let service = keys.service_builder().rules(rules).build();
    let auth = Authenticator::builder(std::sync::Arc::new(service))
        .realm("resources")
        .build()?;
    let app = Router::new().route("/me", get(me)).with_state(auth).merge(
        Router::new()
            .route("/key-set/counts", get(counts))
            .with_state(keys),
    );
    let listener = tokio::net::TcpListener::bind(setting("LISTEN", Some("127.0.0.1:0"))?).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
