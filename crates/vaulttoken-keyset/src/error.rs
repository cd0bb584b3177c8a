//! What can go wrong: building a follower ([`BuildError`]) and one fetch of
//! the key set ([`FetchError`]). No message carries a key or the document's
//! content.

use core::time::Duration;

/// A [`RemoteKeySet`](crate::RemoteKeySet) could not be built.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use vaulttoken_keyset::{BuildError, RemoteKeySet};
///
/// // Plain http to another host is refused before any request is made.
/// let refused = RemoteKeySet::builder("http://auth.example/keys")
///     .issuer("https://auth.example")
///     .build()
///     .await;
/// assert!(matches!(refused, Err(BuildError::InsecureUrl)));
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The URL does not parse, or is neither `https` nor `http`.
    #[error("the key set URL is not a valid http(s) URL")]
    InvalidUrl,
    /// Plain `http` to a host other than loopback (127.0.0.0/8, ::1,
    /// `localhost`): the keys would travel unauthenticated.
    #[error("the key set URL must use https (plain http only to a loopback host)")]
    InsecureUrl,
    /// The URL carries a user name or password, which would be printed in
    /// logs and `Debug`.
    #[error("the key set URL must not carry credentials")]
    CredentialsInUrl,
    /// [`RemoteKeySetBuilder::build`](crate::RemoteKeySetBuilder::build)
    /// was awaited outside a tokio runtime: the follower's fetches and its
    /// refresher need one.
    #[error("the key set follower must be built within a tokio runtime")]
    NoRuntime,
    /// No expected issuer was configured
    /// ([`RemoteKeySetBuilder::issuer`](crate::RemoteKeySetBuilder::issuer)).
    #[error("the expected issuer of the key set is not configured")]
    NoIssuer,
    /// A setting is out of range (named).
    #[error("the setting `{0}` is out of range")]
    Setting(&'static str),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    Client(#[source] reqwest::Error),
    /// The first fetch failed: a follower never starts without keys.
    #[error("the first fetch of the key set failed: {0}")]
    FirstFetch(#[source] FetchError),
}

/// One fetch of the key set failed; the keys held before are kept (and
/// vouched for until they are too stale).
///
/// # Examples
///
/// ```
/// use vaulttoken_keyset::FetchError;
///
/// let error = FetchError::TooLarge { max: 65_536 };
/// assert_eq!(error.to_string(), "the key set is larger than 65536 bytes");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request failed: no connection, a reset, a TLS failure.
    #[error("the key set's server could not be reached")]
    Unreachable(#[source] reqwest::Error),
    /// No complete answer within the configured timeout.
    #[error("no complete answer within {0:?}")]
    TimedOut(Duration),
    /// An answer other than 200 (or 304 to a conditional request); redirects
    /// are not followed.
    #[error("the key set's server answered HTTP {0}")]
    Status(u16),
    /// The answer is larger than
    /// [`MAX_KEY_SET_LEN`](vaulttoken::keyring::MAX_KEY_SET_LEN): reading
    /// stopped there.
    #[error("the key set is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The document is not a valid key set (the error names the field).
    #[error("the key set was refused: {0}")]
    Refused(#[source] vaulttoken::Error),
    /// The document names another issuer than the configured one.
    #[error("the key set names another issuer than the expected one")]
    WrongIssuer,
    /// A `local` key set: it has no keys to verify with.
    #[error("the key set is not a public one")]
    NotPublic,
}
