//! Whether a server is a primary. A replica answers reads from data that may
//! be stale (a revocation made on the primary unseen), so the store only
//! talks to primaries: it reads the `role:` line of `INFO replication` at
//! connect and after an error only a replica gives (`READONLY`,
//! `MASTERDOWN`), and every script asks the same question first
//! ([`PRIMARY_GUARD`]).

use redis::{ErrorKind, RedisError, ServerErrorKind, Value};

/// The first lines of every script: a server that is not a primary refuses
/// with the error code [`NOT_PRIMARY_CODE`], before reading or writing
/// anything. `INFO replication` starts with `# Replication` then `role:…`.
pub(crate) const PRIMARY_GUARD: &str = r"
if not string.find(redis.call('INFO', 'replication'), '\nrole:master\r', 1, true) then
  return redis.error_reply('NOTPRIMARY this server is a replica')
end";

/// The error code of [`PRIMARY_GUARD`]'s refusal.
pub(crate) const NOT_PRIMARY_CODE: &str = "NOTPRIMARY";

/// What the store says about a server that is not a primary (never its URL).
pub(crate) const NOT_PRIMARY: &str =
    "the Redis URL points at a read-only replica, not a primary: point the store at the primary";

/// Whether an `INFO replication` answer says `role:master`.
pub(crate) fn is_primary(info: &str) -> bool {
    info.lines().any(|line| line.trim_end() == "role:master")
}

/// Whether an `INFO replication` answer (a bulk string in RESP2, a
/// verbatim string in RESP3) says `role:master`; anything else is not a
/// primary.
pub(crate) fn answer_is_primary(answer: &Value) -> bool {
    match answer {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).is_ok_and(is_primary),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => is_primary(text),
        _ => false,
    }
}

/// Whether `error` is one only a replica gives: a write refused
/// (`READONLY`), or a replica without its primary that serves no stale data
/// (`MASTERDOWN`).
pub(crate) fn from_a_replica(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(reply: &str) -> RedisError {
        match redis::parse_redis_value(reply.as_bytes()) {
            Ok(redis::Value::ServerError(error)) => error.into(),
            other => panic!("not a server error: {other:?}"),
        }
    }

    #[test]
    fn only_role_master_is_a_primary() {
        assert!(is_primary(
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
        ));
        assert!(!is_primary(
            "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n"
        ));
        assert!(!is_primary("# Replication\r\nrole:master_of_none\r\n"));
        assert!(!is_primary("# Replication\r\nmaster_role:master\r\n"));
        assert!(!is_primary(""));
    }

    #[test]
    fn every_string_kind_of_answer_is_read() {
        let primary = "# Replication\r\nrole:master\r\n";
        let replica = "# Replication\r\nrole:slave\r\n";
        assert!(answer_is_primary(&Value::BulkString(primary.into())));
        assert!(!answer_is_primary(&Value::BulkString(replica.into())));
        assert!(!answer_is_primary(&Value::BulkString(vec![0xff])));
        assert!(answer_is_primary(&Value::SimpleString(primary.into())));
        assert!(answer_is_primary(&Value::VerbatimString {
            format: redis::VerbatimFormat::Text,
            text: primary.into(),
        }));
        assert!(!answer_is_primary(&Value::VerbatimString {
            format: redis::VerbatimFormat::Text,
            text: replica.into(),
        }));
        assert!(!answer_is_primary(&Value::Nil));
    }

    #[test]
    fn readonly_and_masterdown_come_from_a_replica() {
        assert!(from_a_replica(&server("-READONLY no writes\r\n")));
        assert!(from_a_replica(&server("-MASTERDOWN link down\r\n")));
        assert!(!from_a_replica(&server("-ERR other\r\n")));
        assert!(!from_a_replica(&server("-NOTPRIMARY replica\r\n")));
        assert!(!from_a_replica(&server("-MOVED 1 127.0.0.1:1\r\n")));
    }

    #[test]
    fn the_guard_refuses_with_its_code() {
        assert!(PRIMARY_GUARD.contains(NOT_PRIMARY_CODE));
        assert!(PRIMARY_GUARD.contains("role:master"));
    }
}
