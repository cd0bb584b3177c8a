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
//!   (default 10000): the follower's bounds;
//! - `REDIS_URL`, or `REDIS_CLUSTER_URLS` (the nodes, comma-separated), as
//!   the token server takes them (optional): every token is also checked
//!   against the token server's store, so a revoked token is refused;
//! - `MIRROR_MAX_STALENESS_MS` (optional, 160 to 60000, with a Redis
//!   setting; the token server's `VAULTTOKEN_MIRROR_MAX_STALENESS_MS`):
//!   the checks answer from a revocation mirror
//!   (`vaulttoken_redis::MirroredStore`) in this process's memory, at most
//!   this old, instead of a Redis round trip per request; `GET
//!   /mirror/status` then shows what it does.
//!
//! The store is opened read-only (`StoreOptions::read_only`): a resource
//! server only checks. Give it the read-only Redis user of
//! docs/OPERATIONS.md ("Revocations at resource servers", and the mirror's
//! few more reads in "The revocation mirror"), never the token server's
//! user: `REDIS_URL=redis://reader:password@host:6379`. Redis 7 or newer.
//! When Redis does not answer (and, with the mirror, once the mirror is
//! older than its bound) requests get 503 with `Retry-After`, never 200.
//!
//! Run it against a token server with
//! `KEY_SET_URL=http://127.0.0.1:8080/keys ISSUER=http://127.0.0.1:8080 cargo run -p vaulttoken-axum --example resource_server`.
//! The token server's soak test (`crates/vaulttoken-server/tests/soak.rs`)
//! starts three of these.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use vaulttoken::rules::RuleSet;
use vaulttoken::store::TokenStore;
use vaulttoken_axum::{Authenticator, Verified};
use vaulttoken_keyset::RemoteKeySet;
use vaulttoken_redis::{MirrorOptions, MirroredStore, RedisStore, StoreOptions};

/// The mirror's bound, in milliseconds, as the token server takes it: at
/// least eight of the mirror's shortest heartbeat, at most a minute.
const MIRROR_STALENESS_MS: core::ops::RangeInclusive<u64> = 160..=60_000;

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

async fn mirror_status(State(mirror): State<MirroredStore>) -> String {
    let status = mirror.status();
    let heard_ms = status
        .heard_ago
        .map_or_else(|| "null".to_owned(), |ago| ago.as_millis().to_string());
    format!(
        r#"{{"current":{},"heard_ms_ago":{heard_ms},"entries":{},"answered":{},"stale":{},"unknown":{},"rebuilds":{},"unexplained_gaps":{}}}"#,
        status.current,
        status.entries,
        status.answered,
        status.stale,
        status.unknown,
        status.rebuilds,
        status.unexplained_gaps,
    )
}

/// Where the token server's store is: one server or a cluster's nodes.
enum Redis {
    Server(String),
    Cluster(Vec<String>),
}

/// The Redis settings, if any (never both); the values are never repeated
/// in an error (they may hold a password).
fn redis() -> Result<Option<Redis>, String> {
    match (
        std::env::var("REDIS_URL"),
        std::env::var("REDIS_CLUSTER_URLS"),
    ) {
        (Ok(_), Ok(_)) => Err("set either REDIS_URL or REDIS_CLUSTER_URLS, not both".into()),
        (Ok(url), Err(_)) => Ok(Some(Redis::Server(url))),
        (Err(_), Ok(list)) => {
            let nodes: Vec<String> = list.split(',').map(|node| node.trim().to_owned()).collect();
            if nodes.iter().any(String::is_empty) {
                return Err("REDIS_CLUSTER_URLS: an empty entry".into());
            }
            Ok(Some(Redis::Cluster(nodes)))
        }
        (Err(_), Err(_)) => Ok(None),
    }
}

/// The mirror's bound, if set.
fn mirror_bound() -> Result<Option<Duration>, String> {
    const NAME: &str = "MIRROR_MAX_STALENESS_MS";
    if std::env::var_os(NAME).is_none() {
        return Ok(None);
    }
    let millis = number(NAME, "")?;
    if !MIRROR_STALENESS_MS.contains(&millis) {
        return Err(format!(
            "{NAME} must be from {} to {} milliseconds",
            MIRROR_STALENESS_MS.start(),
            MIRROR_STALENESS_MS.end()
        ));
    }
    Ok(Some(Duration::from_millis(millis)))
}

/// The token store every token is checked against (read-only, through the
/// mirror if a bound is set), and the mirror.
async fn store()
-> Result<Option<(Arc<dyn TokenStore>, Option<MirroredStore>)>, Box<dyn std::error::Error>> {
    let (redis, bound) = (redis()?, mirror_bound()?);
    let options = StoreOptions::default().read_only(true);
    let Some(redis) = redis else {
        if bound.is_some() {
            return Err("MIRROR_MAX_STALENESS_MS needs REDIS_URL or REDIS_CLUSTER_URLS".into());
        }
        return Ok(None);
    };
    let Some(bound) = bound else {
        let store = match redis {
            Redis::Server(url) => RedisStore::connect(&url, options).await?,
            Redis::Cluster(nodes) => RedisStore::connect_cluster(&nodes, options).await?,
        };
        return Ok(Some((Arc::new(store), None)));
    };
    let mirror = MirrorOptions::default().max_staleness(bound);
    let store = match redis {
        Redis::Server(url) => MirroredStore::connect(&url, options, mirror).await?,
        Redis::Cluster(nodes) => MirroredStore::connect_cluster(&nodes, options, mirror).await?,
    };
    Ok(Some((Arc::new(store.clone()), Some(store))))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = setting("KEY_SET_URL", None)?;
    let issuer = setting("ISSUER", None)?;
    let store = store().await?;
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
    let mut service = keys.service_builder().rules(rules);
    let mut app = Router::new();
    if let Some((store, mirror)) = store {
        service = service.store(store);
        if let Some(mirror) = mirror {
            app = app.merge(
                Router::new()
                    .route("/mirror/status", get(mirror_status))
                    .with_state(mirror),
            );
        }
    }
    let auth = Authenticator::builder(Arc::new(service.build()))
        .realm("resources")
        .build()?;
    let app = app
        .merge(Router::new().route("/me", get(me)).with_state(auth))
        .merge(
            Router::new()
                .route("/key-set/counts", get(counts))
                .with_state(keys),
        );
    let listener = tokio::net::TcpListener::bind(setting("LISTEN", Some("127.0.0.1:0"))?).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
