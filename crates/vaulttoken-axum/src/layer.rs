//! A tower layer that protects every request to the service it wraps, for
//! any `http::Request<B>` (an axum router, a tonic server, a bare hyper
//! service).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use vaulttoken::service::VerifiedToken;

use crate::authenticator::Authenticator;
use crate::check::ClaimsCheck;
use crate::rejection::{AuthRejection, RejectionKind};

/// Turns a rejection into a response of the wrapped service's body type.
///
/// Implemented by [`JsonBody`] (the default: bodies made from a `String`,
/// axum's included), [`EmptyBody`] (bodies with a `Default`, such as a tonic
/// body: gRPC clients read the status), and any
/// `Fn(AuthRejection) -> http::Response<B>`.
pub trait Respond<B> {
    /// The response for `rejection`.
    fn respond(&self, rejection: AuthRejection) -> Response<B>;
}

/// Answers with the JSON body ([`AuthRejection::json_response`]): for any
/// body type made from a `String`. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody;

impl<B: From<String>> Respond<B> for JsonBody {
    fn respond(&self, rejection: AuthRejection) -> Response<B> {
        rejection.json_response()
    }
}

/// Answers with the status and headers only, and an empty body
/// ([`Default`]): for body types that cannot be made from a `String`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyBody;

impl<B: Default> Respond<B> for EmptyBody {
    fn respond(&self, rejection: AuthRejection) -> Response<B> {
        rejection.response_with(B::default())
    }
}

impl<B, F> Respond<B> for F
where
    F: Fn(AuthRejection) -> Response<B>,
{
    fn respond(&self, rejection: AuthRejection) -> Response<B> {
        self(rejection)
    }
}

/// Requires a valid token on every request, with the same checks as
/// [`Verified`](crate::Verified); a request without one never reaches the
/// wrapped service. The verified token goes into the request's extensions
/// ([`Authenticated`](crate::Authenticated)), where extractors with the same
/// authenticator (a clone of it) find it instead of decoding again; an inner
/// layer or an extractor with another authenticator decodes for itself.
///
/// It works on any `http::Request<B>`, so it protects a tonic server or a
/// plain tower service as well as an axum router. Pick the rejection body
/// with [`AuthLayer::respond_with`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, body::Body, routing::get};
/// use http::Request;
/// use tower::ServiceExt;
/// use vaulttoken::{Claims, LocalKey, LocalService};
/// use vaulttoken_axum::{AuthLayer, Authenticator, Verified};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
/// let token = service.encode(&Claims::builder().subject("alice").build()?)?;
/// let auth = Authenticator::new(service);
/// let app = Router::new()
///     .route("/a", get(|| async { "a" }))
///     // The state is a clone of the layer's authenticator: the extractor
///     // reuses the layer's verdict, no second decode.
///     .route("/b", get(|v: Verified| async move { v.token().claims().subject().unwrap().to_owned() }))
///     .layer(AuthLayer::new(auth.clone()))
///     .with_state(auth);
///
/// let refused = app.clone().oneshot(Request::get("/a").body(Body::empty())?).await?;
/// assert_eq!(refused.status(), 401);
/// let request = Request::get("/b").header("authorization", format!("Bearer {token}"));
/// assert_eq!(app.oneshot(request.body(Body::empty())?).await?.status(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AuthLayer<R = JsonBody> {
    auth: Authenticator,
    check: fn(&VerifiedToken) -> bool,
    respond: R,
}

impl<R> fmt::Debug for AuthLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// A layer that requires a valid token, and answers rejections with
    /// [`JsonBody`].
    ///
    /// # Examples
    ///
    /// See [`AuthLayer`].
    #[must_use]
    pub fn new(auth: Authenticator) -> Self {
        Self {
            auth,
            check: <() as ClaimsCheck>::check,
            respond: JsonBody,
        }
    }
}

impl<R> AuthLayer<R> {
    /// Also requires the check `C` (403 `insufficient_scope` when it fails),
    /// replacing any earlier one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::service::VerifiedToken;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{AuthLayer, Authenticator, ClaimsCheck};
    ///
    /// struct Admin;
    /// impl ClaimsCheck for Admin {
    ///     fn check(token: &VerifiedToken) -> bool {
    ///         token.claims().custom_str("role") == Some("admin")
    ///     }
    /// }
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let admin_only = AuthLayer::new(Authenticator::new(service)).require::<Admin>();
    /// # let _ = admin_only;
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn require<C: ClaimsCheck>(mut self) -> Self {
        self.check = C::check;
        self
    }

    /// Answers rejections with `respond`: [`EmptyBody`] for a tonic server,
    /// or a closure of your own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{AuthLayer, Authenticator, EmptyBody};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let grpc = AuthLayer::new(Authenticator::new(Arc::clone(&service))).respond_with(EmptyBody);
    /// let text = AuthLayer::new(Authenticator::new(service))
    ///     .respond_with(|r: vaulttoken_axum::AuthRejection| r.response_with(r.kind().code().to_owned()));
    /// # let _ = (grpc, text);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn respond_with<R2>(self, respond: R2) -> AuthLayer<R2> {
        AuthLayer {
            auth: self.auth,
            check: self.check,
            respond,
        }
    }
}

impl<S, R: Clone> Layer<S> for AuthLayer<R> {
    type Service = AuthService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
            check: self.check,
            respond: self.respond.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Clone)]
pub struct AuthService<S, R = JsonBody> {
    inner: S,
    auth: Authenticator,
    check: fn(&VerifiedToken) -> bool,
    respond: R,
}

impl<S, R> fmt::Debug for AuthService<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl<S, R, B, ResBody> Service<Request<B>> for AuthService<S, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
    R: Respond<ResBody> + Clone + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone stays here; the service that was polled ready goes.
        let clone = self.inner.clone();
        let mut inner = core::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let check = self.check;
        let respond = self.respond.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match auth.authenticate(&mut parts, check).await {
                Ok(Some(_)) => inner.call(Request::from_parts(parts, body)).await,
                Ok(None) => Ok(respond.respond(auth.reject(RejectionKind::MissingToken))),
                Err(rejection) => Ok(respond.respond(rejection)),
            }
        })
    }
}
