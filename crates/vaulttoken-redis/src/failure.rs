//! What a failed Redis call was, as a category: never the server's message,
//! which can name keys, and never the connection URL.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use vaulttoken::error::StoreError;

use crate::{role, write_deadline};

/// The category of a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer in time.
    Timeout,
    /// No connection, or the server refused the command.
    Unreachable(&'static str),
    /// An answer this crate cannot read or did not expect.
    Protocol(&'static str),
    /// The server is a replica, not a primary.
    NotPrimary,
}

impl Failure {
    /// The category of `error`.
    pub(crate) fn of(error: &RedisError) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        match error.kind() {
            ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => {
                Self::Unreachable("connection failed")
            }
            ErrorKind::AuthenticationFailed => Self::Unreachable("authentication failed"),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
                Self::Protocol("an unreadable reply")
            }
            ErrorKind::Server(kind) => Self::of_server(Some(kind), error.code()),
            ErrorKind::Extension => Self::of_server(None, error.code()),
            _ => Self::Unreachable("client error"),
        }
    }

    /// An error reply: a known kind, or only its code.
    fn of_server(kind: Option<ServerErrorKind>, code: Option<&str>) -> Self {
        match kind {
            Some(ServerErrorKind::NoPerm) => Self::Unreachable("permission denied"),
            Some(ServerErrorKind::BusyLoading) => Self::Unreachable("server loading"),
            Some(
                ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::Moved
                | ServerErrorKind::Ask,
            ) => Self::Unreachable("cluster unavailable"),
            Some(ServerErrorKind::CrossSlot) => {
                Self::Protocol("keys of one operation in several slots")
            }
            _ => match code {
                Some(role::NOT_PRIMARY_CODE) => Self::NotPrimary,
                Some(write_deadline::PAST_DEADLINE_CODE) => Self::Timeout,
                Some("WRONGTYPE") => Self::Protocol("a key holds a value this crate did not write"),
                Some("OOM") => Self::Unreachable("server out of memory"),
                Some("NOAUTH" | "WRONGPASS") => Self::Unreachable("authentication failed"),
                _ => Self::Unreachable("server refused the command"),
            },
        }
    }

    /// As a store error; `deadline` is the one that passed, for a timeout.
    pub(crate) fn into_store_error(self, deadline: std::time::Duration) -> StoreError {
        match self {
            Self::Timeout => StoreError::Timeout {
                deadline: time::Duration::try_from(deadline).unwrap_or(time::Duration::MAX),
            },
            Self::Unreachable(reason) => StoreError::Unreachable {
                reason: reason.into(),
            },
            Self::Protocol(reason) => StoreError::Protocol {
                reason: reason.into(),
            },
            Self::NotPrimary => StoreError::Unreachable {
                reason: role::NOT_PRIMARY.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn server(code: &str, detail: &str) -> RedisError {
        let reply = format!("-{code} {detail}\r\n");
        match redis::parse_redis_value(reply.as_bytes()) {
            Ok(redis::Value::ServerError(error)) => error.into(),
            other => panic!("not a server error: {other:?}"),
        }
    }

    #[test]
    fn connection_failures_are_unreachable() {
        let refused = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            Failure::of(&refused),
            Failure::Unreachable("connection failed")
        );
        let timed_out = RedisError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(Failure::of(&timed_out), Failure::Timeout);
    }

    #[test]
    fn unreadable_replies_are_protocol_errors() {
        let garbage = redis::parse_redis_value(b"?not resp\r\n").expect_err("not RESP");
        assert_eq!(
            Failure::of(&garbage),
            Failure::Protocol("an unreadable reply")
        );
        let mistyped = redis::from_redis_value::<i64>(redis::Value::Nil).expect_err("not a number");
        assert_eq!(
            Failure::of(&mistyped.into()),
            Failure::Protocol("an unreadable reply")
        );
    }

    #[test]
    fn server_errors_are_categories_without_detail() {
        let cases = [
            (
                "WRONGTYPE",
                Failure::Protocol("a key holds a value this crate did not write"),
            ),
            ("OOM", Failure::Unreachable("server out of memory")),
            ("NOAUTH", Failure::Unreachable("authentication failed")),
            ("WRONGPASS", Failure::Unreachable("authentication failed")),
            ("ERR", Failure::Unreachable("server refused the command")),
            ("NOPERM", Failure::Unreachable("permission denied")),
            ("LOADING", Failure::Unreachable("server loading")),
            ("CLUSTERDOWN", Failure::Unreachable("cluster unavailable")),
            ("MASTERDOWN", Failure::Unreachable("cluster unavailable")),
            ("TRYAGAIN", Failure::Unreachable("cluster unavailable")),
            ("READONLY", Failure::Unreachable("cluster unavailable")),
            ("NOTPRIMARY", Failure::NotPrimary),
            ("PASTDEADLINE", Failure::Timeout),
            (
                "CROSSSLOT",
                Failure::Protocol("keys of one operation in several slots"),
            ),
        ];
        for (code, expected) in cases {
            assert_eq!(
                Failure::of(&server(code, "secret-key-name")),
                expected,
                "{code}"
            );
        }
    }

    #[test]
    fn store_errors_carry_the_category_and_the_deadline() {
        let deadline = std::time::Duration::from_millis(250);
        assert_eq!(
            Failure::Timeout.into_store_error(deadline),
            StoreError::Timeout {
                deadline: time::Duration::milliseconds(250)
            }
        );
        assert_eq!(
            Failure::Unreachable("x").into_store_error(deadline),
            StoreError::Unreachable { reason: "x".into() }
        );
        assert_eq!(
            Failure::Protocol("y").into_store_error(deadline),
            StoreError::Protocol { reason: "y".into() }
        );
        assert_eq!(
            Failure::NotPrimary.into_store_error(deadline),
            StoreError::Unreachable {
                reason: role::NOT_PRIMARY.into()
            }
        );
        let forever = Failure::Timeout.into_store_error(std::time::Duration::MAX);
        assert_eq!(
            forever,
            StoreError::Timeout {
                deadline: time::Duration::MAX
            }
        );
    }
}
