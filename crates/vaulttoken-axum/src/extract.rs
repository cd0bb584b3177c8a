//! The extractors: `Verified<T, C>` and its `Option` form.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::{DeserializeOwned, IgnoredAny};
use vaulttoken::service::VerifiedToken;

use crate::authenticator::{Authenticated, Authenticator, TRACING_TARGET};
use crate::check::ClaimsCheck;
use crate::rejection::{AuthRejection, RejectionKind};

/// The verified claims of the request's token, deserialized into `T`, that
/// passed the check `C` (default `()`: none).
///
/// The [`Authenticator`] comes from the router's state
/// ([`FromRef`]). A verdict that this authenticator (or a clone of it)
/// already made on the request, as the [layer](crate::AuthLayer) or an
/// earlier extractor, is reused from the request's extensions, and only `C`
/// and `T` are checked here. A verdict of any other authenticator is not
/// used: behind a layer with another authenticator, the extractor decodes
/// the request itself, with its own service, footer, binding and token
/// source.
///
/// - No token: 401 `missing_token`. Use `Option<Verified<T, C>>` for optional
///   authentication: `None` when no token was sent, and still a rejection
///   when one was sent but is not valid.
/// - A token that is not valid, or whose claims do not fit `T`: 401.
/// - A check `C` that refuses it: 403 `insufficient_scope`.
/// - A token store that cannot answer: 503 with `Retry-After`.
///
/// `T` defaults to [`IgnoredAny`], for handlers that need only the token
/// ([`Verified::token`]).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, body::Body, routing::get};
/// use http::Request;
/// use serde::Deserialize;
/// use tower::ServiceExt;
/// use vaulttoken::{Claims, LocalKey, LocalService};
/// use vaulttoken_axum::{Authenticator, Verified};
///
/// #[derive(Deserialize)]
/// struct Session {
///     sub: String,
/// }
///
/// async fn hello(session: Verified<Session>) -> String {
///     format!("hello {}", session.sub)
/// }
///
/// async fn maybe(session: Option<Verified<Session>>) -> String {
///     session.map_or("hello stranger".to_owned(), |s| format!("hello {}", s.sub))
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
/// let token = service.encode(&Claims::builder().subject("alice").build()?)?;
/// let app = Router::new()
///     .route("/hello", get(hello))
///     .route("/maybe", get(maybe))
///     .with_state(Authenticator::new(service));
///
/// let request = Request::get("/hello").header("authorization", format!("Bearer {token}"));
/// let response = app.clone().oneshot(request.body(Body::empty())?).await?;
/// assert_eq!(response.status(), 200);
///
/// let anonymous = app.clone().oneshot(Request::get("/hello").body(Body::empty())?).await?;
/// assert_eq!(anonymous.status(), 401);
/// assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
///
/// let optional = app.oneshot(Request::get("/maybe").body(Body::empty())?).await?;
/// assert_eq!(optional.status(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Verified<T = IgnoredAny, C = ()> {
    claims: T,
    token: Authenticated,
    check: PhantomData<fn() -> C>,
}

impl<T: fmt::Debug, C> fmt::Debug for Verified<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("claims", &self.claims)
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl<T: Clone, C> Clone for Verified<T, C> {
    fn clone(&self) -> Self {
        Self {
            claims: self.claims.clone(),
            token: self.token.clone(),
            check: PhantomData,
        }
    }
}

impl<T, C> Deref for Verified<T, C> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.claims
    }
}

impl<T, C> Verified<T, C> {
    /// The claims, as `T`.
    ///
    /// # Examples
    ///
    /// See [`Verified`]; `verified.claims()` is `&*verified`.
    #[must_use]
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// The claims, as `T`, by value.
    ///
    /// # Examples
    ///
    /// See [`Verified`].
    #[must_use]
    pub fn into_claims(self) -> T {
        self.claims
    }

    /// The verified token: every claim and the footer.
    ///
    /// # Examples
    ///
    /// See [`Verified::key_id`].
    #[must_use]
    pub fn token(&self) -> &VerifiedToken {
        self.token.token()
    }

    /// The key id (`kid`) of the key that verified the token, if its footer
    /// names one.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken_axum::Verified;
    ///
    /// async fn handler(verified: Verified) -> String {
    ///     let subject = verified.token().claims().subject().unwrap_or("-");
    ///     format!("{subject} via {}", verified.key_id().unwrap_or("no kid"))
    /// }
    /// # let _ = handler;
    /// ```
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        self.token.key_id()
    }
}

impl<T, C> Verified<T, C>
where
    T: DeserializeOwned,
    C: ClaimsCheck,
{
    /// Authenticates a request with `auth`; `Ok(None)` when no token was sent.
    async fn extract(
        parts: &mut Parts,
        auth: &Authenticator,
    ) -> Result<Option<Self>, AuthRejection> {
        let Some(token) = auth.authenticate(parts, C::check).await? else {
            return Ok(None);
        };
        match token.token().deserialize_claims::<T>() {
            Ok(claims) => Ok(Some(Self {
                claims,
                token,
                check: PhantomData,
            })),
            Err(_) => {
                tracing::info!(
                    target: TRACING_TARGET,
                    reason = "claims_type",
                    "verified claims do not fit the extractor's type"
                );
                Err(auth.reject(RejectionKind::InvalidToken))
            }
        }
    }
}

impl<S, T, C> FromRequestParts<S> for Verified<T, C>
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
    C: ClaimsCheck,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthRejection> {
        let auth = Authenticator::from_ref(state);
        Self::extract(parts, &auth)
            .await?
            .ok_or_else(|| auth.reject(RejectionKind::MissingToken))
    }
}

impl<S, T, C> OptionalFromRequestParts<S> for Verified<T, C>
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
    C: ClaimsCheck,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, AuthRejection> {
        Self::extract(parts, &Authenticator::from_ref(state)).await
    }
}
