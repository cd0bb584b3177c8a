//! A three-primary cluster whose nodes keep their data on disk (AOF,
//! fsync'd at every write) and keep serving their own slots while another
//! primary is down (`cluster-require-full-coverage no`): the set-up of a
//! test that kills one primary, checks the others, and restarts it from its
//! append-only file.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{RedisCluster, RedisServer, START_TIMEOUT, TempDir, free_port};

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
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                let dir = TempDir::new();
                let config = dir.0.join("nodes.conf");
                let mut extra: Vec<String> = vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    config.to_string_lossy().into_owned(),
                ];
                extra.extend(DURABLE.iter().map(|arg| (*arg).to_owned()));
                let mut server = RedisServer {
                    child: None,
                    port: free_port(true),
                    extra,
                    dir,
                };
                for _ in 0..5 {
                    if server.try_spawn() {
                        return server;
                    }
                    server.port = free_port(true);
                }
                panic!("a cluster node did not start")
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_until_ok();
        cluster
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

    /// Waits until every node reports `cluster_state:ok`.
    fn wait_until_ok(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        for node in &self.nodes {
            while !node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                assert!(Instant::now() < deadline, "cluster_state never became ok");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
