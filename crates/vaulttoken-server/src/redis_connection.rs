//! The server's own connection to Redis, for the shared key ring and the
//! rate limits (the token store has its own: vaulttoken-redis runs only its
//! commands): one server through a connection that reconnects by itself, or
//! a Redis Cluster through the cluster client, which sends each key to the
//! primary of its slot. Either way every command is bounded by a deadline.
//!
//! Fail fast: the single-server connection makes one connection attempt
//! when it finds itself lost, not a series with growing pauses. A call
//! while Redis is down then waits for that one attempt only, which a
//! closed port refuses at once, so it fails at once instead of at its
//! deadline; and the next call tries again, so the first call after Redis
//! is back succeeds. (With retries, every call waited for the whole
//! series: up to its deadline.)

use core::fmt;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::config::{REDIS_CLUSTER_URLS_VAR, REDIS_URL_VAR, RedisDeadlines, RedisTarget};
use crate::start_error::StartError;

/// A handle on Redis: cheap to clone (clones share the connection), each
/// command failing with a timeout error (`is_timeout()`) after its
/// deadline. Usable wherever redis-rs takes an async connection.
#[derive(Clone)]
pub(crate) struct RedisConnection {
    link: Link,
    deadline: Duration,
}

#[derive(Clone)]
enum Link {
    /// One server.
    Single(ConnectionManager),
    /// A cluster.
    Cluster(ClusterConnection),
}

impl fmt::Debug for RedisConnection {
    /// The mode and the deadline: never a URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("cluster", &self.is_cluster())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Connects to `target` (within `VAULTTOKEN_REDIS_CONNECT_TIMEOUT_MS`), its
    /// commands bounded by the longest of the rate-limit and key-ring
    /// deadlines until [`RedisConnection::with_deadline`] sets another.
    ///
    /// # Errors
    ///
    /// A [`StartError`] naming the setting (never its value).
    pub(crate) async fn connect(
        target: &RedisTarget,
        deadlines: &RedisDeadlines,
    ) -> Result<Self, StartError> {
        let deadline = deadlines.rate_limit.max(deadlines.keys);
        let (name, link) = match target {
            RedisTarget::Server(url) => {
                let client = redis::Client::open(url.expose())
                    .map_err(|_| StartError::new(format!("{REDIS_URL_VAR}: not a Redis URL")))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(deadline))
                    .set_response_timeout(Some(deadline))
                    .set_number_of_retries(0);
                let link = async {
                    ConnectionManager::new_with_config(client, config)
                        .await
                        .map(Link::Single)
                };
                (REDIS_URL_VAR, within_connect(deadlines.connect, link).await)
            }
            RedisTarget::Cluster(urls) => {
                let client = ClusterClientBuilder::new(urls.iter().map(|url| url.expose()))
                    .connection_timeout(deadline)
                    .response_timeout(deadline)
                    .build()
                    .map_err(|_| {
                        StartError::new(format!(
                            "{REDIS_CLUSTER_URLS_VAR}: not a list of Redis URLs"
                        ))
                    })?;
                let link = async { client.get_async_connection().await.map(Link::Cluster) };
                (
                    REDIS_CLUSTER_URLS_VAR,
                    within_connect(deadlines.connect, link).await,
                )
            }
        };
        let link = link.map_err(|reason| StartError::new(format!("{name}: {reason}")))?;
        Ok(Self { link, deadline })
    }

    /// The same connection, each command bounded by `deadline`.
    pub(crate) fn with_deadline(&self, deadline: Duration) -> Self {
        Self {
            link: self.link.clone(),
            deadline,
        }
    }

    /// How long one command may take.
    pub(crate) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Whether this is a cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }
}

/// Connecting, within `timeout`; a failure as a category (never a server
/// message or the URL).
async fn within_connect(
    timeout: Duration,
    link: impl Future<Output = RedisResult<Link>>,
) -> Result<Link, &'static str> {
    match tokio::time::timeout(timeout, link).await {
        Ok(Ok(link)) => Ok(link),
        Ok(Err(error)) if error.is_timeout() => Err("Redis did not answer in time"),
        Ok(Err(_)) => Err("Redis cannot be reached"),
        Err(_) => Err("Redis did not answer in time"),
    }
}

/// `call`, failing with a timeout error after `deadline`.
fn bounded<'a, T: Send + 'a>(deadline: Duration, call: RedisFuture<'a, T>) -> RedisFuture<'a, T> {
    Box::pin(async move {
        match tokio::time::timeout(deadline, call).await {
            Ok(answer) => answer,
            Err(_) => Err(timed_out()),
        }
    })
}

/// The error of a command past its deadline: `is_timeout()` says so.
fn timed_out() -> RedisError {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer within the deadline",
    )
    .into()
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let deadline = self.deadline;
        match &mut self.link {
            Link::Single(manager) => bounded(deadline, manager.req_packed_command(cmd)),
            Link::Cluster(cluster) => bounded(deadline, cluster.req_packed_command(cmd)),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let deadline = self.deadline;
        match &mut self.link {
            Link::Single(manager) => bounded(
                deadline,
                manager.req_packed_commands(pipeline, offset, count),
            ),
            Link::Cluster(cluster) => bounded(
                deadline,
                cluster.req_packed_commands(pipeline, offset, count),
            ),
        }
    }

    // Equivalent mutants (any constant): redis-rs asks `get_db` of sync
    // connections only; this async connection's answer is never read.
    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(manager) => manager.get_db(),
            Link::Cluster(cluster) => cluster.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_past_its_deadline_is_a_timeout_error() {
        let never: RedisFuture<'_, Value> = Box::pin(std::future::pending());
        let started = std::time::Instant::now();
        let error = bounded(Duration::from_millis(50), never)
            .await
            .expect_err("past the deadline");
        assert!(error.is_timeout(), "{error:?}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        let quick: RedisFuture<'_, Value> = Box::pin(async { Ok(Value::Okay) });
        let answer = bounded(Duration::from_millis(50), quick).await;
        assert_eq!(answer.ok(), Some(Value::Okay));
    }

    #[tokio::test]
    async fn a_refused_connection_is_named_by_its_setting_only() {
        let limits = deadlines(500);
        let closed = "redis://:hunter2@127.0.0.1:1";
        let server = RedisTarget::Server(crate::secret::Secret::new(closed));
        // A closed port is refused at once: one attempt, no retries.
        let started = std::time::Instant::now();
        let error = RedisConnection::connect(&server, &limits)
            .await
            .expect_err("nothing listens on port 1");
        assert_eq!(error.to_string(), "REDIS_URL: Redis cannot be reached");
        assert!(started.elapsed() < Duration::from_secs(1));
        let cluster = RedisTarget::Cluster(vec![crate::secret::Secret::new(closed)]);
        let error = RedisConnection::connect(&cluster, &limits)
            .await
            .expect_err("nothing listens on port 1")
            .to_string();
        assert!(error.starts_with("REDIS_CLUSTER_URLS: Redis "), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let bad = RedisTarget::Server(crate::secret::Secret::new("http://hunter2@x"));
        let error = RedisConnection::connect(&bad, &limits)
            .await
            .expect_err("not a Redis URL");
        assert_eq!(error.to_string(), "REDIS_URL: not a Redis URL");
    }

    fn deadlines(millis: u64) -> RedisDeadlines {
        RedisDeadlines {
            store: Duration::from_millis(millis),
            rate_limit: Duration::from_millis(millis),
            keys: Duration::from_millis(millis),
            connect: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout_at_its_deadline() {
        // Accepts connections and never answers the handshake.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().take(8) {
                held.push(stream);
            }
        });
        let url = format!("redis://:hunter2@127.0.0.1:{port}");
        let target = RedisTarget::Server(crate::secret::Secret::new(url));
        let started = std::time::Instant::now();
        let error = RedisConnection::connect(&target, &deadlines(300))
            .await
            .expect_err("no answer");
        assert_eq!(error.to_string(), "REDIS_URL: Redis did not answer in time");
        // The connection's own deadline, not the 5 s connect timeout.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn debug_shows_the_mode_and_the_deadline_never_the_url() {
        use vaulttoken_test_redis::{RedisCluster, RedisServer, redis_available};
        if !redis_available("debug_shows_the_mode_and_the_deadline_never_the_url") {
            return;
        }
        let bounded = tokio::time::timeout(Duration::from_secs(60), async {
            let server = RedisServer::start_with(&["--requirepass", "hunter2-secret"]);
            let url = format!("redis://:hunter2-secret@127.0.0.1:{}", server.port());
            let target = RedisTarget::Server(crate::secret::Secret::new(url));
            let connection = RedisConnection::connect(&target, &deadlines(700))
                .await
                .unwrap();
            let shown = format!("{:?}", connection.with_deadline(Duration::from_millis(250)));
            assert_eq!(
                shown,
                "RedisConnection { cluster: false, deadline: 250ms, .. }"
            );
            assert_eq!(connection.deadline(), Duration::from_millis(700));
            let mut each = connection.clone();
            let pong: String = redis::cmd("PING").query_async(&mut each).await.unwrap();
            assert_eq!(pong, "PONG");

            let cluster = RedisCluster::start();
            let target = RedisTarget::Cluster(
                cluster
                    .urls()
                    .into_iter()
                    .map(crate::secret::Secret::new)
                    .collect(),
            );
            let connection = RedisConnection::connect(&target, &deadlines(700))
                .await
                .unwrap();
            assert_eq!(
                format!("{connection:?}"),
                "RedisConnection { cluster: true, deadline: 700ms, .. }"
            );
            let mut each = connection.clone();
            let set: String = redis::cmd("SET")
                .arg("vaulttoken:test")
                .arg("1")
                .query_async(&mut each)
                .await
                .unwrap();
            assert_eq!(set, "OK");
        })
        .await;
        assert!(bounded.is_ok(), "bounded in time");
    }
}
