//! An [`Authenticator`] that follows an issuer's published key set (feature
//! `remote`): the `vaulttoken-keyset` follower, a service on its ring with
//! your rules, and the authenticator, in one call.

use std::sync::Arc;

use vaulttoken::rules::RuleSet;
use vaulttoken_keyset::{BuildError, RemoteKeySetBuilder};

use crate::{Authenticator, AuthenticatorBuilder};

impl Authenticator {
    /// A builder for an authenticator that verifies `v4.public` tokens with
    /// the keys of the key set `key_set` follows, under `rules` (give them
    /// `issued_by` and `for_audience`). It builds the follower (one fetch:
    /// no keys, no authenticator), a service on its ring that follows it,
    /// and [`Authenticator::builder`] of that service, for the realm, the
    /// token source and the rest.
    ///
    /// Keys announced by the issuer are followed without a restart; a token
    /// whose `kid` is not known yet waits for one fetch. When the key set
    /// cannot be fetched for longer than its cache time plus its stale
    /// bound, every request gets 503 with `Retry-After`
    /// ([`RejectionKind::Unavailable`](crate::RejectionKind::Unavailable)),
    /// never 401.
    ///
    /// # Errors
    ///
    /// Any [`BuildError`] of [`RemoteKeySetBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::io::{Read, Write};
    /// use std::sync::Arc;
    /// use vaulttoken::keyring::{KeySet, SigningKeyRing};
    /// use vaulttoken::rules::RuleSet;
    /// use vaulttoken::time::Duration;
    /// use vaulttoken_axum::Authenticator;
    /// use vaulttoken_keyset::RemoteKeySet;
    ///
    /// // The issuer's key set, served once on a loopback port for the example.
    /// let signing = Arc::new(SigningKeyRing::new(Duration::minutes(15))?);
    /// signing.promote(&signing.add(vaulttoken::SecretKey::generate()?)?)?;
    /// let document = KeySet::of_ring("https://auth.example", Duration::minutes(5), &*signing)?.to_json();
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
    /// let auth = Authenticator::remote(
    ///     RemoteKeySet::builder(url).issuer("https://auth.example"),
    ///     RuleSet::default().issued_by("https://auth.example"),
    /// )
    /// .await?
    /// .realm("orders")
    /// .build()?;
    /// assert!(format!("{auth:?}").contains("RemoteKeySet"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn remote(
        key_set: RemoteKeySetBuilder,
        rules: RuleSet,
    ) -> Result<AuthenticatorBuilder, BuildError> {
        let keys = key_set.build().await?;
        let service = keys.service_builder().rules(rules).build();
        Ok(Self::builder(Arc::new(service)))
    }
}
