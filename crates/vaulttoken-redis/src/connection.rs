//! One connection type over a single server and a cluster.

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::{Cmd, RedisResult, ScriptInvocation, Value};

/// A handle on Redis: cheap to clone, shared by every call.
#[derive(Clone)]
pub(crate) enum Connection {
    /// One server, through a manager that reconnects in the background.
    Single(ConnectionManager),
    /// A cluster: each call goes to the primary of its key's slot.
    Cluster(ClusterConnection),
}

impl Connection {
    /// Runs a script (`EVALSHA`, loading it first if the server lacks it).
    pub(crate) async fn run(&self, script: &ScriptInvocation<'_>) -> RedisResult<Value> {
        match self {
            Self::Single(manager) => script.invoke_async(&mut manager.clone()).await,
            Self::Cluster(cluster) => script.invoke_async(&mut cluster.clone()).await,
        }
    }

    /// Sends one keyed command (to its key's node on a cluster).
    pub(crate) async fn query(&self, command: &Cmd) -> RedisResult<Value> {
        match self {
            Self::Single(manager) => command.query_async(&mut manager.clone()).await,
            Self::Cluster(cluster) => command.query_async(&mut cluster.clone()).await,
        }
    }

    /// Sends `command` to the node that holds `key` (the server itself on a
    /// single server): for `WAIT` after a write of that key.
    pub(crate) async fn query_at(&self, key: &str, command: Cmd) -> RedisResult<Value> {
        match self {
            Self::Single(manager) => command.query_async(&mut manager.clone()).await,
            Self::Cluster(cluster) => {
                let route = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                cluster.clone().route_command(command, routing).await
            }
        }
    }

    /// Sends `command` to every primary; one answer each (an error reply as
    /// [`Value::ServerError`] on a cluster, as an `Err` on a single server).
    pub(crate) async fn query_each_primary(&self, command: Cmd) -> RedisResult<Vec<Value>> {
        match self {
            Self::Single(manager) => Ok(vec![command.query_async(&mut manager.clone()).await?]),
            Self::Cluster(cluster) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                match cluster.clone().route_command(command, routing).await? {
                    Value::Map(by_node) => {
                        Ok(by_node.into_iter().map(|(_, value)| value).collect())
                    }
                    other => Ok(vec![other]),
                }
            }
        }
    }

    /// Whether this is a cluster connection.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}
