//! The router, its layers, the store, and serving with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use vaulttoken::store::{MemoryStore, TokenStore};
use vaulttoken_redis::{ConnectError, MirrorOptions, MirroredStore, RedisStore, StoreOptions};

use crate::config::{Config, RedisTarget};
use crate::routes::{self, MAX_BODY_LEN};
use crate::secret::Secret;
use crate::start_error::StartError;
use crate::state::AppState;

/// The request-id header, set when a request comes without one and copied
/// to its response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes the id of a request that comes without one: a random (v4) UUID,
/// its header value marked sensitive. HTTP/2 never puts a sensitive value
/// in its header compression table (HPACK, RFC 7541 §7.1.3): an id is
/// never sent twice, so indexing it would only make each answer search
/// and grow the table, and push out the entries that are sent again
/// (`content-type`, `cache-control`).
#[derive(Debug, Clone, Copy, Default)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let mut text = uuid::Uuid::encode_buffer();
        let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
        let mut value = HeaderValue::from_str(text).ok()?;
        value.set_sensitive(true);
        Some(RequestId::new(value))
    }
}

/// The token store the server runs on ([`connect_store`]), and its
/// revocation mirror when it has one, whose status `GET /metrics` reports
/// (the `vaulttoken_mirror_*` names). Any store converts into one, without
/// a mirror. Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use vaulttoken::store::MemoryStore;
/// use vaulttoken_server::ServerStore;
///
/// let store = ServerStore::from(Arc::new(MemoryStore::new()));
/// assert!(store.mirror().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct ServerStore {
    tokens: Arc<dyn TokenStore>,
    mirror: Option<MirroredStore>,
}

impl ServerStore {
    /// `store`, with no mirror.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::store::{MemoryStore, TokenStore};
    /// use vaulttoken_server::ServerStore;
    ///
    /// let memory: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    /// let store = ServerStore::new(Arc::clone(&memory));
    /// assert!(Arc::ptr_eq(store.tokens(), &memory));
    /// assert!(store.mirror().is_none());
    /// ```
    #[must_use]
    pub fn new(store: Arc<dyn TokenStore>) -> Self {
        Self {
            tokens: store,
            mirror: None,
        }
    }

    /// `store`, checking through its mirror, which the metrics report.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use vaulttoken_redis::{MirrorOptions, MirroredStore, StoreOptions};
    /// use vaulttoken_server::ServerStore;
    ///
    /// # async fn run() -> Result<(), vaulttoken_redis::ConnectError> {
    /// let url = "redis://127.0.0.1:6379";
    /// let mirror = MirroredStore::connect(url, StoreOptions::default(), MirrorOptions::default()).await?;
    /// let store = ServerStore::mirrored(mirror);
    /// assert!(store.mirror().is_some());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn mirrored(store: MirroredStore) -> Self {
        Self {
            tokens: Arc::new(store.clone()),
            mirror: Some(store),
        }
    }

    /// The store every token operation goes through.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken_server::ServerStore;
    ///
    /// let store = ServerStore::from(Arc::new(MemoryStore::new()));
    /// assert_eq!(Arc::strong_count(store.tokens()), 1);
    /// ```
    #[must_use]
    pub fn tokens(&self) -> &Arc<dyn TokenStore> {
        &self.tokens
    }

    /// The revocation mirror, if the store has one.
    ///
    /// # Examples
    ///
    /// See [`ServerStore::mirrored`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::store::MemoryStore;
    /// use vaulttoken_server::ServerStore;
    ///
    /// assert!(ServerStore::from(Arc::new(MemoryStore::new())).mirror().is_none());
    /// ```
    #[must_use]
    pub fn mirror(&self) -> Option<&MirroredStore> {
        self.mirror.as_ref()
    }
}

impl From<Arc<dyn TokenStore>> for ServerStore {
    fn from(store: Arc<dyn TokenStore>) -> Self {
        Self::new(store)
    }
}

impl<T: TokenStore + 'static> From<Arc<T>> for ServerStore {
    fn from(store: Arc<T>) -> Self {
        Self::new(store)
    }
}

/// The server as a [`Router`]: loads (or creates) the keys named by
/// `config` (with Redis: shared through it, polled for rotations made by
/// other instances) and serves every endpoint over `store` (any
/// `Arc<impl TokenStore>`, or a [`ServerStore`] from [`connect_store`],
/// whose revocation mirror `GET /metrics` then reports). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` for client IPs.
///
/// # Errors
///
/// A [`StartError`] if the keys cannot be loaded, created or shared.
pub async fn app(config: Config, store: impl Into<ServerStore>) -> Result<Router, StartError> {
    let metrics_here = config.metrics_listen.is_none();
    Ok(router(
        AppState::new(config, store.into()).await?,
        metrics_here,
    ))
}

/// `GET /metrics`.
fn metrics_route() -> Router<AppState> {
    Router::new().route("/metrics", get(routes::health::metrics))
}

/// The router over `state`: every endpoint (`/metrics` if `metrics_here`,
/// else it has its own listener), a 16 KiB body limit, the answers of the
/// token and trust endpoints counted, a request id on every response, a
/// span per request that records the method, the path (never the query
/// string: `/trust/verify` carries a token there) and the request id;
/// `Authorization` and cookies marked sensitive.
fn router(state: AppState, metrics_here: bool) -> Router {
    let metrics = Arc::clone(&state.metrics);
    let metrics_route = if metrics_here {
        metrics_route()
    } else {
        Router::new()
    };
    Router::new()
        .route("/token", post(routes::token::issue))
        .route("/token/refresh", post(routes::token::refresh))
        .route("/token/revoke", post(routes::token::revoke))
        .route("/token/introspect", post(routes::token::introspect))
        .route("/keys", get(routes::keys::list))
        .route(
            "/.well-known/oauth-authorization-server",
            get(routes::metadata::authorization_server),
        )
        .route("/keys/rotate", post(routes::keys::rotate))
        .route("/keys/retire", post(routes::keys::retire))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route("/trust/verify", get(routes::trust::verify))
        .route("/trust/consume", post(routes::trust::consume))
        .route("/trust/{kind}", post(routes::trust::issue))
        .route_layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::record,
        ))
        .merge(metrics_route)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_LEN))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default();
                    // Recorded as strings, not through `Display`: the
                    // same JSON strings, without the formatting machinery.
                    tracing::info_span!(
                        "request",
                        method = request.method().as_str(),
                        path = request.uri().path(),
                        request_id = id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
        .layer(SetSensitiveHeadersLayer::new([
            header::AUTHORIZATION,
            header::PROXY_AUTHORIZATION,
            header::COOKIE,
            header::SET_COOKIE,
        ]))
}

/// The token store: Redis at `REDIS_URL` or the cluster of
/// `REDIS_CLUSTER_URLS` (each call within `VAULTTOKEN_REDIS_DEADLINE_MS`;
/// with a revocation mirror when `VAULTTOKEN_MIRROR_MAX_STALENESS_MS` is
/// set), or else the in-memory store, with a loud warning.
///
/// # Errors
///
/// A [`StartError`] if Redis cannot be reached or is unfit (see
/// [`RedisStore::connect`]); `REDIS_URL` at a cluster node is refused,
/// naming `REDIS_CLUSTER_URLS`.
pub async fn connect_store(config: &Config) -> Result<ServerStore, StartError> {
    // One reconnect attempt when the connection is lost (no retries with
    // growing pauses): a call while Redis is down fails at once when the
    // port is closed, instead of waiting for the series up to its deadline.
    let options = StoreOptions::default()
        .deadline(config.redis_deadlines.store)
        .connect_timeout(config.redis_deadlines.connect)
        .reconnect_retries(0);
    let server_failure = |err| match err {
        ConnectError::ClusterNode => StartError::new(
            "REDIS_URL: points at a Redis Cluster node; set REDIS_CLUSTER_URLS to the \
             cluster's node URLs (comma-separated) instead of REDIS_URL",
        ),
        err => StartError::new(format!("REDIS_URL: {err}")),
    };
    let store = match &config.redis {
        Some(RedisTarget::Server(url)) => match config.mirror {
            Some(bound) => {
                let mirror = MirrorOptions::default().max_staleness(bound);
                let store = MirroredStore::connect(url.expose(), options, mirror)
                    .await
                    .map_err(server_failure)?;
                tracing::info!(
                    version = %store.store().server_check().version,
                    max_staleness_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX),
                    current = store.status().current,
                    "using the Redis token store, with a revocation mirror"
                );
                return Ok(ServerStore::mirrored(store));
            }
            None => RedisStore::connect(url.expose(), options)
                .await
                .map_err(server_failure)?,
        },
        Some(RedisTarget::Cluster(urls)) => {
            let nodes = urls.iter().map(Secret::expose);
            let cluster_failure = |err| match err {
                ConnectError::Unreachable { .. } => StartError::new(format!(
                    "REDIS_CLUSTER_URLS: {err} (a server without cluster support refuses \
                     the cluster's commands: for one server, set REDIS_URL instead)"
                )),
                err => StartError::new(format!("REDIS_CLUSTER_URLS: {err}")),
            };
            if let Some(bound) = config.mirror {
                let mirror = MirrorOptions::default().max_staleness(bound);
                let store = MirroredStore::connect_cluster(nodes, options, mirror)
                    .await
                    .map_err(cluster_failure)?;
                tracing::info!(
                    version = %store.store().server_check().version,
                    max_staleness_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX),
                    current = store.status().current,
                    "using the Redis Cluster token store, with a revocation mirror"
                );
                return Ok(ServerStore::mirrored(store));
            }
            RedisStore::connect_cluster(nodes, options)
                .await
                .map_err(cluster_failure)?
        }
        None => {
            tracing::warn!(
                "neither REDIS_URL nor REDIS_CLUSTER_URLS is set: revocations, refresh families \
                 and trust tokens live in this process's memory only. This suits a single \
                 instance: a second instance would not see them, and a restart forgets them."
            );
            return Ok(Arc::new(MemoryStore::new()).into());
        }
    };
    tracing::info!(
        version = %store.server_check().version,
        cluster = store.is_cluster(),
        "using the Redis token store"
    );
    Ok(Arc::new(store).into())
}

/// Connects the store, loads the keys, listens on the configured address and
/// serves until SIGTERM or Ctrl-C, then finishes the requests in flight
/// (for at most [`Config::drain`]).
///
/// # Errors
///
/// A [`StartError`] for the store, the key file or the listener.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let store = connect_store(&config).await?;
    let listen = config.listen;
    let metrics_listen = config.metrics_listen;
    let drain = config.drain;
    let state = AppState::new(config, store).await?;
    let listener = bind(listen, "VAULTTOKEN_LISTEN").await?.tap_io(no_delay);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics = match metrics_listen {
        Some(address) => {
            let listener = bind(address, "VAULTTOKEN_METRICS_LISTEN").await?;
            let metrics_app = metrics_route().with_state(state.clone());
            Some(tokio::spawn(async move {
                axum::serve(listener, metrics_app)
                    .with_graceful_shutdown(stop_requested(stopped))
                    .await
            }))
        }
        None => None,
    };
    let app = router(state, metrics.is_none());
    let (draining, drain_started) = tokio::sync::watch::channel(false);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = draining.send(true);
    });
    let served = tokio::select! {
        served = served.into_future() => served,
        () = drain_ended(drain_started, drain) => {
            tracing::warn!(
                drain_secs = drain.as_secs(),
                "connections still open at the end of the drain: stopping without them"
            );
            Ok(())
        }
    };
    // The metrics listener is kept until the requests in flight are
    // answered, then stopped too, its own connections given a drain as
    // long (a scraper holding one open does not keep the process up).
    let _ = stop.send(true);
    if let Some(metrics) = metrics {
        match tokio::time::timeout(drain, metrics).await {
            Ok(Ok(Err(err))) => tracing::warn!(error = %err, "serving the metrics failed"),
            Err(_) => tracing::warn!(
                drain_secs = drain.as_secs(),
                "metrics connections still open at the end of the drain: stopping without them"
            ),
            Ok(_) => {}
        }
    }
    served.map_err(|err| StartError::new(format!("serving failed: {err}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// The builder of the tokio runtime the server runs on: multi-threaded, one
/// worker per core the process may use (as `#[tokio::main]`), or, where it
/// may use one core only (its CPU affinity, as `taskset` sets it, or its
/// cgroup's CPU quota), current-thread. There a multi-threaded runtime has
/// one worker anyway, and its scheduler runs a task another task woke
/// first, ahead of the rest: an HTTP/2 connection's task then writes each
/// answer as soon as its stream's handler is done, one `write` an answer. A
/// current-thread runtime runs woken tasks in turn, so the connection writes
/// the answers of every stream served meanwhile at once (BENCHMARKS.md,
/// "Per-core figures").
///
/// # Examples
///
/// ```
/// let runtime = vaulttoken_server::runtime_builder().enable_all().build().unwrap();
/// assert_eq!(runtime.block_on(async { 6 * 7 }), 42);
/// ```
#[must_use]
pub fn runtime_builder() -> tokio::runtime::Builder {
    let one_core = std::thread::available_parallelism().is_ok_and(|cores| cores.get() == 1);
    if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

/// A listener on `address`, the variable `name` names (for the error).
async fn bind(address: SocketAddr, name: &str) -> Result<tokio::net::TcpListener, StartError> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|err| StartError::new(format!("{name}: cannot listen: {err}")))?;
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, variable = name, "listening");
    }
    Ok(listener)
}

/// Turns Nagle's algorithm off on an accepted connection, so each write of
/// an answer leaves at once. Without it, an HTTP/2 answer written after a
/// small frame still unacknowledged (a window update, say) waits for the
/// client's delayed acknowledgement: 40 ms on Linux.
fn no_delay(connection: &mut tokio::net::TcpStream) {
    if let Err(err) = connection.set_nodelay(true) {
        tracing::debug!(error = %err, "TCP_NODELAY could not be set on a connection");
    }
}

/// Resolves `drain` after `started` says the drain began (never if its
/// sender is gone first: the server stopped by itself).
async fn drain_ended(mut started: tokio::sync::watch::Receiver<bool>, drain: std::time::Duration) {
    if started.wait_for(|started| *started).await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(drain).await;
}

/// Resolves once `stopped` says so (or its sender is gone).
async fn stop_requested(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use axum::serve::{Listener as _, ListenerExt as _};

    use axum::body::Body;
    use axum::http::Request;
    use tower_http::request_id::MakeRequestId as _;

    use super::{NewRequestId, no_delay};

    #[test]
    fn a_new_request_id_is_a_random_uuid_never_indexed_by_http2() {
        let request = Request::new(Body::empty());
        let mut ids = (0..2).map(|_| {
            let id = NewRequestId.make_request_id(&request).unwrap();
            let value = id.header_value().clone();
            assert!(value.is_sensitive(), "{value:?}");
            let text = value.to_str().unwrap().to_owned();
            let parsed = uuid::Uuid::try_parse(&text).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "{text}");
            assert_eq!(text, parsed.hyphenated().to_string(), "lower case, hyphens");
            text
        });
        assert_ne!(ids.next(), ids.next());
    }

    #[tokio::test]
    async fn accepted_connections_send_without_delay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut listener = listener.tap_io(no_delay);
        let _client = tokio::net::TcpStream::connect(address).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap(), "Nagle's algorithm is still on");
    }
}
