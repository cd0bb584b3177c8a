//! What the data-loss tests share: waiting out a reconnect, stepping into
//! the next second, and the refusal of a token a store cannot vouch for.
//! Declared with `#[path = "support/loss.rs"] mod loss;`.

use std::future::Future;
use std::time::Duration;

use vaulttoken::Error;
use vaulttoken::clock::{Clock as _, SystemClock};
use vaulttoken::error::Denial;
use vaulttoken::service::VerifiedToken;

/// `call` again while the store is unreachable (the connection is being
/// re-established after a restart): its first answer that is not a store
/// error.
pub(crate) async fn answered<F, Fut>(mut call: F) -> Result<VerifiedToken, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<VerifiedToken, Error>>,
{
    loop {
        match call().await {
            Err(Error::Store(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            other => return other,
        }
    }
}

/// Sleeps into the next whole second: a token issued then is after a loss
/// noticed now.
pub(crate) async fn next_second() {
    let now = SystemClock.now();
    let left = 1_000 - i64::from(now.millisecond()) + 20;
    tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
}

/// Whether `result` is the refusal of a token the store cannot vouch for.
pub(crate) fn refused_as_lost(result: &Result<VerifiedToken, Error>) -> bool {
    matches!(result, Err(Error::Denied(Denial::IssuedBeforeStoreEpoch)))
}
