//! Whether a server is a Redis Cluster node. A single-server connection to
//! one reaches only the slots that node serves (every other key answers
//! `MOVED`), so [`RedisStore::connect`](crate::RedisStore::connect) refuses
//! it and names the cluster connection instead.

use redis::{Value, cmd};

use crate::connection::Connection;

/// Whether an `INFO cluster` answer says `cluster_enabled:1`; anything else
/// (a server without cluster support answers `cluster_enabled:0`) is not a
/// cluster node.
pub(crate) fn says_cluster_node(info: &str) -> bool {
    info.lines()
        .any(|line| line.trim_end() == "cluster_enabled:1")
}

/// Whether an `INFO cluster` answer (a bulk string in RESP2, a verbatim
/// string in RESP3) says the server is a cluster node.
pub(crate) fn answer_is_cluster_node(answer: &Value) -> bool {
    match answer {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).is_ok_and(says_cluster_node),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => says_cluster_node(text),
        _ => false,
    }
}

/// Asks the server behind a single-server `connection` whether it is a
/// cluster node.
pub(crate) async fn is_cluster_node(connection: &Connection) -> redis::RedisResult<bool> {
    let mut info = cmd("INFO");
    info.arg("cluster");
    let answer = connection.query(&info).await?;
    Ok(answer_is_cluster_node(&answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cluster_enabled_1_is_a_cluster_node() {
        assert!(says_cluster_node("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(says_cluster_node("cluster_enabled:1"));
        assert!(!says_cluster_node("# Cluster\r\ncluster_enabled:0\r\n"));
        assert!(!says_cluster_node("# Cluster\r\ncluster_enabled:10\r\n"));
        assert!(!says_cluster_node("# Cluster\r\nmy_cluster_enabled:1\r\n"));
        assert!(!says_cluster_node(""));
    }

    #[test]
    fn every_string_kind_of_answer_is_read() {
        let node = "# Cluster\r\ncluster_enabled:1\r\n";
        let plain = "# Cluster\r\ncluster_enabled:0\r\n";
        assert!(answer_is_cluster_node(&Value::BulkString(node.into())));
        assert!(!answer_is_cluster_node(&Value::BulkString(plain.into())));
        assert!(!answer_is_cluster_node(&Value::BulkString(vec![0xff])));
        assert!(answer_is_cluster_node(&Value::SimpleString(node.into())));
        assert!(!answer_is_cluster_node(&Value::SimpleString(plain.into())));
        assert!(answer_is_cluster_node(&Value::VerbatimString {
            format: redis::VerbatimFormat::Text,
            text: node.into(),
        }));
        assert!(!answer_is_cluster_node(&Value::VerbatimString {
            format: redis::VerbatimFormat::Text,
            text: plain.into(),
        }));
        assert!(!answer_is_cluster_node(&Value::Nil));
    }
}
