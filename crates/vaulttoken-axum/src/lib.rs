//! Accept [vaulttoken] (PASETO v4) bearer tokens in an axum or tower service:
//! extractors, a tower layer, and answers HTTP clients expect.
//!
//! - [`Authenticator`]: the configuration. A vaulttoken service of either
//!   purpose (its key ring, rules and token store), the [`TokenSource`]
//!   (`Authorization: Bearer`, a cookie, or your own), an expected footer, a
//!   context binding, and the [`TrustedProxies`] for the client IP.
//! - [`Verified<T, C>`](Verified): an extractor giving the verified claims as
//!   `T`, after the [`ClaimsCheck`] `C`. `Option<Verified<T, C>>` is optional
//!   authentication: `None` when no token was sent, a rejection when an
//!   invalid one was.
//! - [`AuthLayer`]: protects a whole router, or any tower service over
//!   `http::Request<B>` (a tonic server too), with the same checks.
//! - [`AuthRejection`]: the one rejection, see [`RejectionKind`] for each
//!   status, challenge and code.
//! - `Authenticator::remote` (feature `remote`): an authenticator whose
//!   service follows the issuer's published key set (`vaulttoken-keyset`),
//!   in one call.
//!
//! # One pass
//!
//! Every [`Authenticator`] checks a request once, in this order: the token
//! is read from its source (a malformed header is refused here, before
//! anything is decoded); the binding is built from the request (refused if
//! its context is missing); then vaulttoken's
//! [`decode_async_with`](vaulttoken::service::TokenService::decode_async_with)
//! chooses the key by `kid`, checks the cryptography (the binding is the
//! implicit assertion, so a token from another context fails here like a
//! forgery), runs the rules, and asks the token store about revocation. The
//! verdict is stored in the request's extensions ([`Authenticated`]) with
//! the authenticator that made it: a layer and any number of extractors that
//! hold clones of one authenticator share one decode. Another authenticator
//! (a stricter inner layer or extractor: another audience, issuer, key ring,
//! store, footer, binding or token source) never takes that verdict; it
//! decodes the request for itself.
//!
//! # Where the extractors find the configuration
//!
//! In the router's state, through [`FromRef`](axum::extract::FromRef): use
//! the [`Authenticator`] as the state, or a field of your state with a
//! `FromRef` impl. A router without it does not compile, rather than fail
//! at run time. The layer holds its own [`Authenticator`]; behind it, an
//! extractor whose state holds a clone of that authenticator reuses the
//! layer's verdict, and one with another authenticator decodes for itself.
//!
//! # Answers
//!
//! 401 with `WWW-Authenticate: Bearer error="invalid_token"` for a token that
//! is malformed, does not verify, has an unknown key id, is expired or not
//! yet valid, breaks a rule, is revoked or spent, or is bound to another
//! context. A request with no token at all gets 401 with a bare
//! `WWW-Authenticate: Bearer` (and the realm, if set) and the body code
//! `missing_token`: RFC 6750 §3.1 asks that a request with no authentication
//! information get a challenge with no error code. A failed [`ClaimsCheck`]
//! is 403 `insufficient_scope`; a token store that cannot answer, or followed
//! keys too stale to vouch for (`Error::KeysUnavailable`), is 503 with
//! `Retry-After`; a server misconfiguration is 500. The body is JSON with a
//! stable code and a fixed description, never the token or a claim; the
//! details are in vaulttoken's audit events (`tracing` target
//! `vaulttoken::audit`) and this crate's ([`TRACING_TARGET`]).
//!
//! # Client IP
//!
//! For bindings, the client IP is the connection's peer from axum's
//! `ConnectInfo<SocketAddr>`, and `X-Forwarded-For` is read only when that
//! peer is a trusted proxy; see [`TrustedProxies`]. Without `ConnectInfo`
//! (serve with `into_make_service_with_connect_info::<SocketAddr>()`), there
//! is no client IP, and a binding that needs one refuses every request (401).
//!
//! # Examples
//!
//! A router with a bearer-protected route that requires a scope, and an
//! optional one.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use serde::Deserialize;
//! use tower::ServiceExt;
//! use vaulttoken::service::VerifiedToken;
//! use vaulttoken::{Claims, PublicService, SecretKey};
//! use vaulttoken_axum::{Authenticator, ClaimsCheck, Verified, has_scope};
//!
//! #[derive(Deserialize)]
//! struct User {
//!     sub: String,
//! }
//!
//! struct ReadOrders;
//!
//! impl ClaimsCheck for ReadOrders {
//!     fn check(token: &VerifiedToken) -> bool {
//!         has_scope(token.claims(), "orders:read")
//!     }
//! }
//!
//! async fn orders(user: Verified<User, ReadOrders>) -> String {
//!     format!("orders of {}", user.sub)
//! }
//!
//! async fn home(user: Option<Verified<User>>) -> String {
//!     user.map_or("welcome".to_owned(), |u| format!("welcome back {}", u.sub))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! // The issuer signs; this service only needs the public key.
//! let secret = SecretKey::generate()?;
//! let public = secret.public_key();
//! let issuer = PublicService::builder(secret).key_id("k1").build();
//! let verifier = PublicService::verifier(public).key_id("k1").build();
//! let app = Router::new()
//!     .route("/orders", get(orders))
//!     .route("/", get(home))
//!     .with_state(Authenticator::new(Arc::new(verifier)));
//!
//! let call = |path: &str, token: Option<&str>| {
//!     let mut request = Request::get(path);
//!     if let Some(token) = token {
//!         request = request.header("authorization", format!("Bearer {token}"));
//!     }
//!     app.clone().oneshot(request.body(Body::empty()).unwrap())
//! };
//! let reader = issuer.encode(&Claims::builder().subject("alice").claim("scope", "orders:read").build()?)?;
//! let other = issuer.encode(&Claims::builder().subject("bob").claim("scope", "profile").build()?)?;
//!
//! assert_eq!(call("/orders", Some(&reader)).await?.status(), 200);
//! let forbidden = call("/orders", Some(&other)).await?;
//! assert_eq!(forbidden.status(), 403);
//! assert_eq!(forbidden.headers()["www-authenticate"], r#"Bearer error="insufficient_scope""#);
//! assert_eq!(call("/orders", None).await?.status(), 401);
//! assert_eq!(call("/", None).await?.status(), 200);
//! assert_eq!(call("/", Some("v4.public.garbage")).await?.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [vaulttoken]: https://docs.rs/vaulttoken

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod check;
mod client_ip;
mod extract;
mod layer;
mod rejection;
#[cfg(feature = "remote")]
mod remote;
mod source;

pub use crate::authenticator::{
    Authenticated, Authenticator, AuthenticatorBuilder, ConfigError, DEFAULT_RETRY_AFTER,
    TRACING_TARGET,
};
pub use crate::check::{ClaimsCheck, has_scope};
pub use crate::client_ip::TrustedProxies;
pub use crate::extract::Verified;
pub use crate::layer::{AuthLayer, AuthService, EmptyBody, JsonBody, Respond};
pub use crate::rejection::{AuthRejection, RejectionKind};
pub use crate::source::{DEFAULT_MAX_CREDENTIAL_LEN, TokenSource, UnreadableToken};
