//! Follows a vaulttoken issuer's published key set (the document its
//! `GET /keys` serves, `vaulttoken::keyring::KeySet`) from any Rust service:
//! axum, tonic, actix or none.
//!
//! [`RemoteKeySet::builder`] takes the set's URL and the issuer it must
//! name, fetches it once, and gives a [`PublicService`] whose key ring it
//! keeps up to date:
//!
//! - **configured, authenticated source**: the URL is configured, never taken
//!   from a token, and must be `https` (plain `http` only to a loopback
//!   host); redirects are not followed. A document that is not a valid
//!   `public` key set naming the configured issuer is refused, logged at
//!   ERROR, and the keys held are kept.
//! - **background refresh**: the set is fetched again when 90% of its
//!   `cache_seconds` has passed (conditionally, with `If-None-Match`), so a
//!   key the issuer announces as `next` is in the ring before it signs.
//!   The `Cache-Control` header is not read: `cache_seconds` is the
//!   issuer's own word, in the document every reader gets.
//! - **bounded staleness, failing closed**: when the set cannot be fetched,
//!   the keys held are served until their cache time plus
//!   [`max_stale`](RemoteKeySetBuilder::max_stale) has passed; then every
//!   decode fails with [`Error::KeysUnavailable`] (503 at the HTTP layer,
//!   never "invalid token") until a fetch succeeds.
//! - **unknown key ids**: [`TokenService::decode_async`](vaulttoken::service::TokenService::decode_async)
//!   of a token whose `kid` the ring lacks waits for one fetch, then decodes
//!   once more. At most one fetch is in flight, and lookups start at most one
//!   per [`min_lookup_interval`](RemoteKeySetBuilder::min_lookup_interval):
//!   a flood of made-up ids costs the issuer one request per interval, and
//!   tokens with a known `kid` never wait on anything.
//! - **bounded answers**: at most [`MAX_KEY_SET_LEN`](vaulttoken::keyring::MAX_KEY_SET_LEN)
//!   bytes, read incrementally and abandoned past it; each fetch bounded by
//!   [`fetch_timeout`](RemoteKeySetBuilder::fetch_timeout).
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use vaulttoken::rules::RuleSet;
//! use vaulttoken_keyset::RemoteKeySet;
//!
//! let keys = RemoteKeySet::builder("https://auth.example/keys")
//!     .issuer("https://auth.example")
//!     .build()
//!     .await?;
//! let service = keys
//!     .service_builder()
//!     .rules(RuleSet::default().issued_by("https://auth.example").for_audience("orders"))
//!     .build();
//! # let token = "";
//! let verified = service.decode_async(token).await?;
//! # drop(verified);
//! # Ok(())
//! # }
//! ```
//!
//! The tests of this crate run the whole behaviour against a local HTTP
//! server (see `tests/`); the example of each item below does too where a
//! server is needed.

#![forbid(unsafe_code)]

use core::fmt;
use std::sync::Arc;

use vaulttoken::Error;
use vaulttoken::PublicService;
use vaulttoken::keyring::PublicKeyRing;
use vaulttoken::service::{LookUp, Providers, RemoteKeys, ServiceBuilder};
use vaulttoken::v4::Public;

mod builder;
mod endpoint;
mod error;
mod fetch;
mod follower;

pub use self::builder::{
    DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_STALE, DEFAULT_MAX_TOKEN_LIFETIME,
    DEFAULT_MIN_LOOKUP_INTERVAL, RemoteKeySetBuilder,
};
pub use self::error::{BuildError, FetchError};
pub use self::follower::FetchCounts;
use self::follower::Follower;

/// A key set followed over HTTP: the ring it keeps up to date, and the
/// [`RemoteKeys`] a service built from that ring consults. Clones share one
/// follower; its background refresher stops when the last clone (and every
/// service built from it) is dropped.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use std::io::{Read, Write};
/// use time::Duration;
/// use vaulttoken::keyring::{KeySet, SigningKeyRing};
/// use vaulttoken::{Claims, PublicService, SecretKey};
/// use vaulttoken_keyset::RemoteKeySet;
///
/// // An issuer's ring and its published key set...
/// let signing = std::sync::Arc::new(SigningKeyRing::new(Duration::minutes(15))?);
/// signing.promote(&signing.add(SecretKey::generate()?)?)?;
/// let document = KeySet::of_ring("https://auth.example", Duration::minutes(5), &*signing)?.to_json();
/// // ...served once on a loopback port (any HTTP server does).
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let url = format!("http://{}/keys", listener.local_addr()?);
/// std::thread::spawn(move || {
///     let (mut stream, _) = listener.accept().unwrap();
///     stream.read(&mut [0; 4096]).unwrap();
///     let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", document.len());
///     stream.write_all(head.as_bytes()).unwrap();
///     stream.write_all(document.as_bytes()).unwrap();
/// });
///
/// let keys = RemoteKeySet::builder(url).issuer("https://auth.example").build().await?;
/// let verifier = keys.service();
/// let issuer = PublicService::from_ring(signing).build();
/// let token = issuer.encode(&Claims::builder().subject("u").build()?)?;
/// assert_eq!(verifier.decode_async(&token).await?.claims().subject(), Some("u"));
/// assert_eq!(keys.counts().fetches, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RemoteKeySet {
    follower: Arc<Follower>,
}

impl fmt::Debug for RemoteKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RemoteKeySet").field(&self.follower).finish()
    }
}

impl RemoteKeySet {
    /// A builder following the key set at `url` (`https`, or `http` to a
    /// loopback host).
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = vaulttoken_keyset::RemoteKeySet::builder("https://auth.example/keys");
    /// assert!(format!("{builder:?}").contains("auth.example"));
    /// ```
    pub fn builder(url: impl Into<String>) -> RemoteKeySetBuilder {
        RemoteKeySetBuilder::new(url.into())
    }

    pub(crate) fn from_follower(follower: Arc<Follower>) -> Self {
        Self { follower }
    }

    /// The ring this key set keeps up to date (all of its keys verify
    /// only).
    ///
    /// # Examples
    ///
    /// See [`RemoteKeySet`]: after the first fetch, the ring holds the
    /// issuer's key.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::io::{Read, Write};
    /// # use time::Duration;
    /// # use vaulttoken::keyring::{KeySet, SigningKeyRing};
    /// # let signing = SigningKeyRing::new(Duration::minutes(15))?;
    /// # let id = signing.add(vaulttoken::SecretKey::generate()?)?;
    /// # let document = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing)?.to_json();
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let url = format!("http://{}/keys", listener.local_addr()?);
    /// # std::thread::spawn(move || {
    /// #     let (mut stream, _) = listener.accept().unwrap();
    /// #     stream.read(&mut [0; 4096]).unwrap();
    /// #     let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", document.len());
    /// #     stream.write_all(head.as_bytes()).unwrap();
    /// #     stream.write_all(document.as_bytes()).unwrap();
    /// # });
    /// let keys = vaulttoken_keyset::RemoteKeySet::builder(url).issuer("https://auth.example").build().await?;
    /// assert!(keys.ring().status(&id).is_some());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn ring(&self) -> Arc<PublicKeyRing> {
        Arc::clone(self.follower.ring())
    }

    /// A builder for a service that verifies with this key set's ring and
    /// follows it ([`ServiceBuilder::remote_keys`]): add rules, a store,
    /// then build.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::io::{Read, Write};
    /// # use time::Duration;
    /// # use vaulttoken::keyring::{KeySet, SigningKeyRing};
    /// # let signing = std::sync::Arc::new(SigningKeyRing::new(Duration::minutes(15))?);
    /// # signing.promote(&signing.add(vaulttoken::SecretKey::generate()?)?)?;
    /// # let document = KeySet::of_ring("https://auth.example", Duration::minutes(5), &*signing)?.to_json();
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let url = format!("http://{}/keys", listener.local_addr()?);
    /// # std::thread::spawn(move || {
    /// #     let (mut stream, _) = listener.accept().unwrap();
    /// #     stream.read(&mut [0; 4096]).unwrap();
    /// #     let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", document.len());
    /// #     stream.write_all(head.as_bytes()).unwrap();
    /// #     stream.write_all(document.as_bytes()).unwrap();
    /// # });
    /// use vaulttoken::rules::RuleSet;
    /// use vaulttoken::{Claims, Error, PublicService};
    ///
    /// let keys = vaulttoken_keyset::RemoteKeySet::builder(url).issuer("https://auth.example").build().await?;
    /// let verifier = keys.service_builder().rules(RuleSet::default().issued_by("https://auth.example")).build();
    /// let issuer = PublicService::from_ring(signing).build();
    /// let stranger = issuer.encode(&Claims::builder().issuer("https://elsewhere").build()?)?;
    /// assert!(matches!(verifier.decode_async(&stranger).await, Err(Error::Claims(_))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn service_builder(&self) -> ServiceBuilder<Public, Providers> {
        PublicService::from_ring(self.ring()).remote_keys(Arc::new(self.clone()))
    }

    /// A service that verifies with this key set's ring and follows it,
    /// with the default rules: [`RemoteKeySet::service_builder`], built.
    ///
    /// # Examples
    ///
    /// See [`RemoteKeySet`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::io::{Read, Write};
    /// # use time::Duration;
    /// # use vaulttoken::keyring::{KeySet, SigningKeyRing};
    /// # let signing = SigningKeyRing::new(Duration::minutes(15))?;
    /// # signing.add(vaulttoken::SecretKey::generate()?)?;
    /// # let document = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing)?.to_json();
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let url = format!("http://{}/keys", listener.local_addr()?);
    /// # std::thread::spawn(move || {
    /// #     let (mut stream, _) = listener.accept().unwrap();
    /// #     stream.read(&mut [0; 4096]).unwrap();
    /// #     let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", document.len());
    /// #     stream.write_all(head.as_bytes()).unwrap();
    /// #     stream.write_all(document.as_bytes()).unwrap();
    /// # });
    /// let keys = vaulttoken_keyset::RemoteKeySet::builder(url).issuer("https://auth.example").build().await?;
    /// let service = keys.service();
    /// // The service cannot issue: it only verifies.
    /// assert!(service.encode(&vaulttoken::Claims::builder().build()?).is_err());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn service(&self) -> PublicService {
        self.service_builder().build()
    }

    /// How many fetches were made, failed, and answered `304 Not Modified`.
    ///
    /// # Examples
    ///
    /// See [`RemoteKeySet`]: one fetch after the build.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::io::{Read, Write};
    /// # use time::Duration;
    /// # use vaulttoken::keyring::{KeySet, SigningKeyRing};
    /// # let signing = SigningKeyRing::new(Duration::minutes(15))?;
    /// # signing.add(vaulttoken::SecretKey::generate()?)?;
    /// # let document = KeySet::of_ring("https://auth.example", Duration::minutes(5), &signing)?.to_json();
    /// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// # let url = format!("http://{}/keys", listener.local_addr()?);
    /// # std::thread::spawn(move || {
    /// #     let (mut stream, _) = listener.accept().unwrap();
    /// #     stream.read(&mut [0; 4096]).unwrap();
    /// #     let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", document.len());
    /// #     stream.write_all(head.as_bytes()).unwrap();
    /// #     stream.write_all(document.as_bytes()).unwrap();
    /// # });
    /// let keys = vaulttoken_keyset::RemoteKeySet::builder(url).issuer("https://auth.example").build().await?;
    /// let counts = keys.counts();
    /// assert_eq!((counts.fetches, counts.failures, counts.not_modified), (1, 0, 0));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn counts(&self) -> FetchCounts {
        self.follower.counts()
    }
}

impl RemoteKeys for RemoteKeySet {
    fn vouch(&self) -> Result<(), Error> {
        self.follower.vouch()
    }

    fn look_up<'a>(&'a self, kid: &'a str) -> LookUp<'a> {
        Box::pin(self.follower.look_up(kid))
    }
}
