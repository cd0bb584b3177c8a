//! Restarting a cluster node empty, as after a crash of a node that saves
//! nothing: it comes back with its place in the cluster (its `nodes.conf`)
//! but without its data.

use crate::RedisCluster;

impl RedisCluster {
    /// Kills node `index` and starts it again on the same port, empty (it
    /// saves nothing), and waits until every node reports `cluster_state:ok`
    /// again.
    ///
    /// # Panics
    ///
    /// If there is no such node, or the cluster is not ok again in time.
    pub fn restart_node_empty(&mut self, index: usize) {
        self.nodes[index].restart();
        self.wait_until_ok();
    }

    /// The index of the node whose keys match `pattern` (`SCAN`), if one
    /// holds any.
    pub fn node_holding(&self, pattern: &str) -> Option<usize> {
        self.nodes.iter().position(|node| {
            !node
                .cli(&["--scan", "--pattern", pattern])
                .trim()
                .is_empty()
        })
    }
}
