//! A three-primary cluster whose nodes keep their data on disk (AOF,
//! fsync'd at every write) and keep serving their own slots while another
//! primary is down (`cluster-require-full-coverage no`): the set-up of a
//! test that kills one primary, checks the others, and restarts it from its
//! append-only file.

use crate::RedisCluster;

/// The arguments of every durable node.
const DURABLE: [&str; 8] = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--cluster-require-full-coverage",
    "no",
    "--cluster-node-timeout",
    "2000",
];

impl RedisCluster {
    /// Starts three durable nodes (see the module) and joins them
    /// (`redis-cli --cluster create`).
    ///
    /// # Panics
    ///
    /// If a node does not start or the cluster is not ok in time.
    pub fn start_durable() -> Self {
        Self::start_with_args(&DURABLE)
    }

    /// Starts node `index` again on its port from its own files (its
    /// append-only file and `nodes.conf`) after a kill, and waits until
    /// every node reports `cluster_state:ok`. A node of
    /// [`RedisCluster::start`] saves nothing, so it comes back empty.
    ///
    /// # Panics
    ///
    /// If there is no such node, it does not start, or the cluster is not
    /// ok again in time.
    pub fn restart_node_from_disk(&mut self, index: usize) {
        self.nodes[index].kill();
        self.nodes[index].spawn();
        self.wait_until_ok();
    }
}
