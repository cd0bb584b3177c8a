//! The configuration every extractor and layer shares, and the one pass that
//! checks a request: token source, key (by `kid`), cryptography and rules,
//! token store, binding.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::request::Parts;
use vaulttoken::binding::Binding;
use vaulttoken::error::BindingError;
use vaulttoken::footer::Footer;
use vaulttoken::service::{ServicePurpose, TokenService, VerifiedToken};

use crate::client_ip::TrustedProxies;
use crate::rejection::{AuthRejection, RejectionKind, is_valid_realm};
use crate::source::{DEFAULT_MAX_CREDENTIAL_LEN, TokenSource, is_cookie_name};

/// The `Retry-After` of a 503 unless configured: 5 seconds.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// The `tracing` target of this crate's own events (a refusal before or
/// after decoding). vaulttoken reports decode failures on `vaulttoken::audit`.
pub const TRACING_TARGET: &str = "vaulttoken_axum";

/// What a decode returns, boxed so one [`Authenticator`] type serves both
/// purposes.
type DecodeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<VerifiedToken, vaulttoken::Error>> + Send + 'a>>;

/// A token service of either purpose, behind one type.
trait Decode: Send + Sync + fmt::Debug {
    fn decode<'a>(
        &'a self,
        token: &'a str,
        expected_footer: Option<&'a Footer>,
        implicit: &'a [u8],
    ) -> DecodeFuture<'a>;
}

impl<P: ServicePurpose> Decode for TokenService<P> {
    fn decode<'a>(
        &'a self,
        token: &'a str,
        expected_footer: Option<&'a Footer>,
        implicit: &'a [u8],
    ) -> DecodeFuture<'a> {
        Box::pin(self.decode_async_with(token, expected_footer, implicit))
    }
}

/// Builds a request's binding from its parts and its client IP; `None` when
/// the request cannot supply the context (then it is refused).
type BindingFn = dyn Fn(&Parts, Option<IpAddr>) -> Option<Binding> + Send + Sync;

/// Which [`Authenticator`] made a verdict: given once, when the authenticator
/// is made ([`Authenticator::new`], [`AuthenticatorBuilder::build`]), shared
/// by its clones, and never given to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AuthenticatorId(u64);

impl AuthenticatorId {
    /// An id no authenticator had. A `u64` counter does not wrap: at a
    /// billion authenticators a second, that would take 584 years.
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// How requests are authenticated: a vaulttoken service (`v4.local` or
/// `v4.public`, with its keys, rules and token store), where the token is
/// read, the expected footer, the context binding, and the trusted proxies.
/// Cheap to clone (one `Arc`).
///
/// The extractors find it in the router's state ([`axum::extract::FromRef`]):
/// use it as the state, or give your state a field and a `FromRef` impl. The
/// [layer](crate::AuthLayer) holds its own.
///
/// # One decode per authenticator
///
/// Each authenticator made by [`Authenticator::new`] or
/// [`AuthenticatorBuilder::build`] is its own, and only it and its clones
/// reuse its verdict on a request: give the layer and the router state
/// clones of one authenticator, and a request is decoded once. Any other
/// authenticator decodes the request for itself, even behind a layer that
/// accepted it, and even when it is configured the same way: a stricter one
/// (another audience, issuer, key ring, store, footer, binding or token
/// source) never takes a more lenient one's word.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use vaulttoken::{LocalKey, LocalService};
/// use vaulttoken_axum::{Authenticator, TokenSource, TrustedProxies};
///
/// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
/// let auth = Authenticator::builder(service)
///     .token_source(TokenSource::cookie("session"))
///     .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"])?)
///     .realm("example")
///     .build()?;
/// assert!(format!("{auth:?}").contains("Cookie(\"session\")"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A layer for every signed-in caller, and a stricter authenticator for the
/// admin routes: a token for `api` passes the layer, never `/admin`.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, body::Body, routing::get};
/// use http::Request;
/// use tower::ServiceExt;
/// use vaulttoken::rules::RuleSet;
/// use vaulttoken::{Claims, LocalKey, LocalService};
/// use vaulttoken_axum::{AuthLayer, Authenticator, Verified};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let key = Arc::new(LocalKey::generate()?);
/// let for_audiences = |audiences: &[&str]| {
///     let rules = RuleSet::default().for_any_audience(audiences.iter().copied());
///     Arc::new(LocalService::builder(Arc::clone(&key)).rules(rules).build())
/// };
/// let general = Authenticator::new(for_audiences(&["api", "admin"]));
/// let admin = Authenticator::new(for_audiences(&["admin"]));
/// let hello = |v: Verified| async move { v.token().claims().subject().unwrap().to_owned() };
/// let app = Router::new()
///     .route("/admin", get(hello))
///     .with_state(admin)
///     .merge(Router::new().route("/me", get(hello)).with_state(general.clone()))
///     .layer(AuthLayer::new(general));
///
/// let issuer = for_audiences(&["api", "admin"]);
/// let call = |path: &str, audience: &str| {
///     let claims = Claims::builder().subject("alice").audience(audience).build().unwrap();
///     let token = issuer.encode(&claims).unwrap();
///     let request = Request::get(path).header("authorization", format!("Bearer {token}"));
///     app.clone().oneshot(request.body(Body::empty()).unwrap())
/// };
/// assert_eq!(call("/me", "api").await?.status(), 200);
/// assert_eq!(call("/admin", "api").await?.status(), 401);
/// assert_eq!(call("/admin", "admin").await?.status(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Authenticator(Arc<Config>);

struct Config {
    id: AuthenticatorId,
    service: Arc<dyn Decode>,
    source: TokenSource,
    expected_footer: Option<Footer>,
    binding: Option<Arc<BindingFn>>,
    proxies: TrustedProxies,
    realm: Option<Arc<str>>,
    retry_after_secs: u64,
    max_credential_len: usize,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.0;
        f.debug_struct("Authenticator")
            .field("service", &config.service)
            .field("source", &config.source)
            .field("expected_footer", &config.expected_footer.is_some())
            .field("binding", &config.binding.is_some())
            .field("trusted_proxies", &config.proxies)
            .field("realm", &config.realm)
            .field("retry_after_secs", &config.retry_after_secs)
            .field("max_credential_len", &config.max_credential_len)
            .finish()
    }
}

impl Authenticator {
    /// An authenticator with every default: bearer tokens, no expected footer,
    /// no binding, no trusted proxy, no realm, `Retry-After: 5`, an 8 KiB
    /// credential cap.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{PublicService, SecretKey};
    /// use vaulttoken_axum::Authenticator;
    ///
    /// let verifier = PublicService::verifier(SecretKey::generate()?.public_key()).build();
    /// let auth = Authenticator::new(Arc::new(verifier));
    /// assert!(format!("{auth:?}").contains("Bearer"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn new<P: ServicePurpose>(service: Arc<TokenService<P>>) -> Self {
        Self(Arc::new(Config {
            id: AuthenticatorId::new(),
            service,
            source: TokenSource::default(),
            expected_footer: None,
            binding: None,
            proxies: TrustedProxies::default(),
            realm: None,
            retry_after_secs: DEFAULT_RETRY_AFTER.as_secs(),
            max_credential_len: DEFAULT_MAX_CREDENTIAL_LEN,
        }))
    }

    /// A builder starting from the defaults of [`Authenticator::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::Authenticator;
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::builder(service).build()?;
    /// # let _ = auth;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder<P: ServicePurpose>(service: Arc<TokenService<P>>) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            service,
            source: TokenSource::default(),
            expected_footer: None,
            binding: None,
            proxies: TrustedProxies::default(),
            realm: None,
            retry_after: DEFAULT_RETRY_AFTER,
            max_credential_len: DEFAULT_MAX_CREDENTIAL_LEN,
        }
    }

    /// A rejection of `kind`, with this authenticator's realm and
    /// `Retry-After`: for handlers that refuse a request themselves.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{Authenticator, RejectionKind};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::new(service);
    /// assert_eq!(auth.reject(RejectionKind::InsufficientScope).kind().status(), 403);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn reject(&self, kind: RejectionKind) -> AuthRejection {
        AuthRejection::new(kind, self.0.realm.clone(), self.0.retry_after_secs)
    }

    /// The trusted proxies, to resolve client IPs the same way elsewhere (for
    /// example when issuing a token bound to the client's network).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{Authenticator, TrustedProxies};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::new(service);
    /// assert_eq!(auth.trusted_proxies(), &TrustedProxies::none());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.0.proxies
    }

    /// Authenticates a request, reusing the verdict that this authenticator
    /// (or a clone of it) left in its extensions as a layer or an earlier
    /// extractor, and otherwise decoding and leaving its own there, on top of
    /// the verdicts of others.
    ///
    /// `Ok(None)` when no token was sent; then `check` is not run.
    pub(crate) async fn authenticate(
        &self,
        parts: &mut Parts,
        check: fn(&VerifiedToken) -> bool,
    ) -> Result<Option<Authenticated>, AuthRejection> {
        let id = self.0.id;
        let own = parts
            .extensions
            .get::<Authenticated>()
            .and_then(|latest| latest.made_by(id))
            .cloned();
        let verified = match own {
            Some(verified) => verified,
            None => {
                let Some(token) = self.verify(parts).await? else {
                    return Ok(None);
                };
                let verified = Authenticated(Arc::new(Verdict {
                    token,
                    by: id,
                    earlier: parts.extensions.remove::<Authenticated>(),
                }));
                parts.extensions.insert(verified.clone());
                verified
            }
        };
        if !check(verified.token()) {
            tracing::info!(
                target: TRACING_TARGET,
                reason = "insufficient_scope",
                "a claims check refused a token"
            );
            return Err(self.reject(RejectionKind::InsufficientScope));
        }
        Ok(Some(verified))
    }

    /// The one pass: read the token, build the binding, then decode (key by
    /// `kid`, cryptography, rules, token store).
    async fn verify(&self, parts: &Parts) -> Result<Option<VerifiedToken>, AuthRejection> {
        let config = &*self.0;
        let token = match config.source.read(parts, config.max_credential_len) {
            Ok(Some(token)) => token,
            Ok(None) => return Ok(None),
            Err(_) => {
                tracing::info!(
                    target: TRACING_TARGET,
                    reason = "unreadable_credentials",
                    "refused a request whose credentials cannot be read"
                );
                return Err(self.reject(RejectionKind::MalformedToken));
            }
        };
        let implicit = match &config.binding {
            None => None,
            Some(bind) => {
                let client_ip = config.proxies.client_ip(parts);
                let Some(binding) = bind(parts, client_ip) else {
                    tracing::info!(
                        target: TRACING_TARGET,
                        reason = "binding_context_missing",
                        has_client_ip = client_ip.is_some(),
                        "refused a request whose binding context is missing"
                    );
                    return Err(self.reject(RejectionKind::InvalidToken));
                };
                match binding.implicit_assertion() {
                    Ok(implicit) => Some(implicit),
                    // A value from the request over the limit is the client's doing.
                    Err(vaulttoken::Error::Binding(BindingError::ValueTooLong { .. })) => {
                        tracing::info!(
                            target: TRACING_TARGET,
                            reason = "binding_value_too_long",
                            "refused a request whose binding context is too long"
                        );
                        return Err(self.reject(RejectionKind::InvalidToken));
                    }
                    Err(error) => {
                        tracing::error!(
                            target: TRACING_TARGET,
                            %error,
                            "the configured binding is invalid"
                        );
                        return Err(self.reject(RejectionKind::ServerError));
                    }
                }
            }
        };
        let implicit = implicit.as_ref().map_or(&b""[..], |a| a.as_bytes());
        match config
            .service
            .decode(&token, config.expected_footer.as_ref(), implicit)
            .await
        {
            Ok(verified) => Ok(Some(verified)),
            Err(error) => {
                let kind = RejectionKind::of(&error);
                if kind == RejectionKind::ServerError {
                    tracing::error!(
                        target: TRACING_TARGET,
                        %error,
                        "a token could not be checked"
                    );
                }
                Err(self.reject(kind))
            }
        }
    }
}

/// Configures an [`Authenticator`]; [`Authenticator::builder`] makes one.
#[must_use = "a builder does nothing until `build` is called"]
pub struct AuthenticatorBuilder {
    service: Arc<dyn Decode>,
    source: TokenSource,
    expected_footer: Option<Footer>,
    binding: Option<Arc<BindingFn>>,
    proxies: TrustedProxies,
    realm: Option<String>,
    retry_after: Duration,
    max_credential_len: usize,
}

impl fmt::Debug for AuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("source", &self.source)
            .field("binding", &self.binding.is_some())
            .field("trusted_proxies", &self.proxies)
            .finish_non_exhaustive()
    }
}

impl AuthenticatorBuilder {
    /// Where the token is read from (default [`TokenSource::bearer`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{Authenticator, TokenSource};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::builder(service).token_source(TokenSource::cookie("sid")).build()?;
    /// # let _ = auth;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.source = source;
        self
    }

    /// The footer every token must have, compared in constant time before
    /// the payload is accepted (default: any footer the service accepts).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::Authenticator;
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::builder(service).expected_footer(Footer::Text("api-v1".into())).build()?;
    /// # let _ = auth;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expected_footer(mut self, footer: Footer) -> Self {
        self.expected_footer = Some(footer);
        self
    }

    /// Binds tokens to the request's context: `bind` gets the request's parts
    /// and its client IP ([`TrustedProxies`]), and returns the
    /// [`Binding`] whose implicit assertion the token must have been issued
    /// with. A token from another context is refused like a forgery (401).
    ///
    /// Return `None` when the request cannot supply the context (no client IP
    /// because the server was not run with `ConnectInfo`, a missing device
    /// header): the request is refused with 401 `invalid_token` before any
    /// decoding. Fails closed. So is a binding whose value from the request
    /// is over [`MAX_VALUE_LEN`](vaulttoken::binding::MAX_VALUE_LEN). A
    /// binding that is itself invalid (a bad or repeated name, too many
    /// values) is a server error (500).
    ///
    /// Only the strict values of the binding matter here; observed values are
    /// for [`Observer::drift`](vaulttoken::binding::Observer::drift) in your
    /// handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::binding::{Binding, IpPrefix};
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::Authenticator;
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::builder(service)
    ///     .binding(|parts, client_ip| {
    ///         let device = parts.headers.get("x-device-id")?.as_bytes();
    ///         Some(Binding::new().strict("device", device).strict_ip("ip", client_ip?, IpPrefix::default()))
    ///     })
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn binding<F>(mut self, bind: F) -> Self
    where
        F: Fn(&Parts, Option<IpAddr>) -> Option<Binding> + Send + Sync + 'static,
    {
        self.binding = Some(Arc::new(bind));
        self
    }

    /// The proxies whose `X-Forwarded-For` entries are believed when finding
    /// the client IP for a binding (default: none).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{Authenticator, TrustedProxies};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let proxies = TrustedProxies::parse(["10.0.0.0/8"])?;
    /// let auth = Authenticator::builder(service).trusted_proxies(proxies.clone()).build()?;
    /// assert_eq!(auth.trusted_proxies(), &proxies);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = proxies;
        self
    }

    /// The `realm` of every challenge (default: none). Visible ASCII and
    /// spaces, without `"` or `\` (checked by [`AuthenticatorBuilder::build`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{Authenticator, ConfigError};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let bad = Authenticator::builder(service).realm("say \"hi\"").build();
    /// assert_eq!(bad.unwrap_err(), ConfigError::InvalidRealm);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The `Retry-After` of a 503 when the token store is unavailable
    /// (default [`DEFAULT_RETRY_AFTER`], 5 seconds), rounded up to whole
    /// seconds, at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{Authenticator, RejectionKind};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::builder(service).retry_after(Duration::from_millis(1500)).build()?;
    /// let response = auth.reject(RejectionKind::Unavailable).response_with(());
    /// assert_eq!(response.headers()["retry-after"], "2");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = delay;
        self
    }

    /// The longest credential read, in bytes (default
    /// [`DEFAULT_MAX_CREDENTIAL_LEN`], 8 KiB): the whole `Authorization`
    /// value, a cookie's value, or a custom source's token. Longer is
    /// malformed. The service's own limit
    /// ([`ServiceBuilder::max_token_len`](vaulttoken::service::ServiceBuilder::max_token_len))
    /// still applies.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::Authenticator;
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let auth = Authenticator::builder(service).max_credential_len(2048).build()?;
    /// assert!(format!("{auth:?}").contains("max_credential_len: 2048"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_credential_len(mut self, max_len: usize) -> Self {
        self.max_credential_len = max_len;
        self
    }

    /// The finished authenticator.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidRealm`] for a realm that cannot be quoted as is;
    /// [`ConfigError::InvalidCookieName`] for a cookie source whose name is
    /// not an RFC 6265 token.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use vaulttoken::{LocalKey, LocalService};
    /// use vaulttoken_axum::{Authenticator, ConfigError, TokenSource};
    ///
    /// let service = Arc::new(LocalService::builder(LocalKey::generate()?).build());
    /// let bad = Authenticator::builder(service).token_source(TokenSource::cookie("a b")).build();
    /// assert_eq!(bad.unwrap_err(), ConfigError::InvalidCookieName);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        if self
            .realm
            .as_deref()
            .is_some_and(|realm| !is_valid_realm(realm))
        {
            return Err(ConfigError::InvalidRealm);
        }
        if self
            .source
            .cookie_name()
            .is_some_and(|name| !is_cookie_name(name))
        {
            return Err(ConfigError::InvalidCookieName);
        }
        let mut retry_after_secs = self.retry_after.as_secs();
        if self.retry_after.subsec_nanos() > 0 || retry_after_secs == 0 {
            retry_after_secs = retry_after_secs.saturating_add(1);
        }
        Ok(Authenticator(Arc::new(Config {
            id: AuthenticatorId::new(),
            service: self.service,
            source: self.source,
            expected_footer: self.expected_footer,
            binding: self.binding,
            proxies: self.proxies,
            realm: self.realm.map(Arc::from),
            retry_after_secs,
            max_credential_len: self.max_credential_len,
        })))
    }
}

/// A configuration this crate refuses.
///
/// # Examples
///
/// ```
/// use vaulttoken_axum::ConfigError;
///
/// assert_eq!(ConfigError::InvalidProxy { index: 2 }.to_string(), "trusted proxy #2 is not an IP address or CIDR range");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A realm with a quote, a backslash or a byte that is not visible ASCII
    /// or a space.
    InvalidRealm,
    /// A cookie name that is not an RFC 6265 token.
    InvalidCookieName,
    /// A trusted-proxy entry that is not an IP address or CIDR range.
    InvalidProxy {
        /// Its position in the list, from 0.
        index: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRealm => {
                f.write_str("the realm must be visible ASCII or spaces, without `\"` or `\\`")
            }
            Self::InvalidCookieName => f.write_str("the cookie name is not an RFC 6265 token"),
            Self::InvalidProxy { index } => {
                write!(
                    f,
                    "trusted proxy #{index} is not an IP address or CIDR range"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A request's verified token, left in its extensions by the layer or the
/// first extractor, so that the same [`Authenticator`] (or a clone of it)
/// never decodes a request twice. Only this crate makes one. A handler
/// behind the layer can take it as `Extension<Authenticated>`, or use
/// [`Verified`](crate::Verified).
///
/// A verdict records which authenticator made it, and only that one reuses
/// it; another decodes for itself and leaves its verdict on top. When
/// several authenticators checked a request (a general layer and a stricter
/// one inside it), `Extension<Authenticated>` is the verdict of the last one
/// that decoded, and `Verified` is the verdict of the authenticator in its
/// state.
///
/// # Examples
///
/// ```
/// use axum::Extension;
/// use vaulttoken_axum::Authenticated;
///
/// // Behind `AuthLayer`, in a handler:
/// async fn whoami(Extension(auth): Extension<Authenticated>) -> String {
///     auth.token().claims().subject().unwrap_or("anonymous").to_owned()
/// }
/// # let _ = whoami;
/// ```
#[derive(Clone)]
pub struct Authenticated(Arc<Verdict>);

/// One authenticator's verdict on a request.
struct Verdict {
    token: VerifiedToken,
    /// The authenticator that decoded `token`.
    by: AuthenticatorId,
    /// The verdict that was in the request's extensions before this one: of
    /// an outer layer, with another authenticator. A chain as long as the
    /// number of authenticators that decoded the request.
    earlier: Option<Authenticated>,
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Authenticated").field(&self.0.token).finish()
    }
}

impl Authenticated {
    /// The verified token: its claims and footer.
    ///
    /// # Examples
    ///
    /// See [`Authenticated`].
    #[must_use]
    pub fn token(&self) -> &VerifiedToken {
        &self.0.token
    }

    /// The verdict the authenticator `id` made on this request: this one or
    /// an earlier one.
    fn made_by(&self, id: AuthenticatorId) -> Option<&Self> {
        let mut verdict = self;
        loop {
            if verdict.0.by == id {
                return Some(verdict);
            }
            verdict = verdict.0.earlier.as_ref()?;
        }
    }

    /// The key id (`kid`) in the verified footer, if any.
    ///
    /// # Examples
    ///
    /// See [`Verified::key_id`](crate::Verified::key_id).
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        match self.0.token.footer() {
            Footer::Claims(claims) => claims.key_id(),
            _ => None,
        }
    }
}
