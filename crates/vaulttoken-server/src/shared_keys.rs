//! The key document shared by every instance through Redis: one string key
//! holding the same KEK-wrapped document as the key file, replaced only by
//! compare-and-set, read back by polling.
//!
//! Why polling rather than pub/sub: a pub/sub message is fire-and-forget,
//! so an instance that is reconnecting when a rotation is announced would
//! miss it and keep serving an old ring until restarted. A poll (one `GET`
//! of a few kilobytes every `VAULTTOKEN_KEYS_POLL_SECS`) always converges,
//! bounds the delay, and needs no second connection.

use core::fmt;

use redis::Script;

use crate::redis_connection::RedisConnection;

/// The Redis key of the shared document (one key: on a cluster, one slot).
pub const SHARED_KEYS_KEY: &str = "vaulttoken:server:keys";

/// Sets the key to `ARGV[2]` only if it holds `ARGV[1]` (`""`: absent).
const REPLACE: &str = r"
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// The shared document's place in Redis.
#[derive(Clone)]
pub(crate) struct SharedKeys {
    connection: RedisConnection,
    replace: Script,
}

impl fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeys")
            .field("key", &SHARED_KEYS_KEY)
            .finish_non_exhaustive()
    }
}

/// A Redis call that failed, as a category (never the URL).
#[derive(Debug)]
pub(crate) struct SharedKeysError(pub(crate) &'static str);

impl fmt::Display for SharedKeysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A call's answer, its failure as a category. The connection bounds each
/// command by the key ring's deadline (`VAULTTOKEN_KEYS_DEADLINE_MS`).
async fn within<T>(
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, SharedKeysError> {
    match call.await {
        Ok(value) => Ok(value),
        Err(error) if error.is_timeout() => Err(SharedKeysError("Redis did not answer in time")),
        Err(_) => Err(SharedKeysError("Redis refused or failed the call")),
    }
}

impl SharedKeys {
    /// The shared document over `connection`.
    pub(crate) fn new(connection: RedisConnection) -> Self {
        Self {
            connection,
            replace: Script::new(REPLACE),
        }
    }

    /// The shared document, `None` if there is none yet.
    pub(crate) async fn get(&self) -> Result<Option<String>, SharedKeysError> {
        let mut connection = self.connection.clone();
        within(
            redis::cmd("GET")
                .arg(SHARED_KEYS_KEY)
                .query_async(&mut connection),
        )
        .await
    }

    /// Replaces the document with `new` if it still is `old` (`None`: if
    /// there is none); whether it did.
    pub(crate) async fn replace(
        &self,
        old: Option<&str>,
        new: &str,
    ) -> Result<bool, SharedKeysError> {
        let mut connection = self.connection.clone();
        let mut invocation = self.replace.key(SHARED_KEYS_KEY);
        invocation.arg(old.unwrap_or_default()).arg(new);
        let replaced: i64 = within(invocation.invoke_async(&mut connection)).await?;
        Ok(replaced == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_timeout_and_other_failures_are_told_apart() {
        let timed_out: redis::RedisError =
            std::io::Error::new(std::io::ErrorKind::TimedOut, "late").into();
        let late = within(async { Err::<(), _>(timed_out) }).await.unwrap_err();
        assert_eq!(late.0, "Redis did not answer in time");
        let refused: redis::RedisError =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "no").into();
        let failed = within(async { Err::<(), _>(refused) }).await.unwrap_err();
        assert_eq!(failed.0, "Redis refused or failed the call");
        assert_eq!(within(async { Ok(7) }).await.unwrap(), 7);
    }

    #[test]
    fn an_error_shows_its_category_only() {
        assert_eq!(
            SharedKeysError("the shared keys cannot be read").to_string(),
            "the shared keys cannot be read"
        );
    }
}
