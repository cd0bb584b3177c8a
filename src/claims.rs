//! Claims: the registered PASETO claims, typed, plus any custom JSON claims.
//!
//! On the wire a payload is a UTF-8 JSON object with unique keys at every depth;
//! `exp`, `nbf` and `iat` are RFC 3339 strings. [`Claims::builder`] has secure
//! defaults: `iat` and `nbf` are now, `exp` is one hour from now, and a token with
//! no expiry needs the visibly named [`ClaimsBuilder::without_expiry`].

use core::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

mod typed;

use crate::clock::{Clock, SystemClock};
use crate::encoding;
use crate::error::{Error, PayloadError};
use crate::json::{self, JsonError};
use crate::primitives::random_array;

/// The registered claim names, reserved at the top level of a payload.
pub const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The validity a service gives a token whose claims have no `exp`, unless
/// told otherwise: 1 hour.
pub const DEFAULT_VALIDITY: Duration = Duration::hours(1);

/// The claims of one token: registered claims with their types, custom claims as
/// JSON.
///
/// # Examples
///
/// ```
/// use vaulttoken::Claims;
///
/// let claims = Claims::builder()
///     .subject("user-42")
///     .claim("role", "admin")
///     .build()?;
/// assert_eq!(claims.subject(), Some("user-42"));
/// assert_eq!(claims.custom_str("role"), Some("admin"));
/// // No times yet: the service that issues the claims stamps them.
/// assert!(claims.expiration().is_none());
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone)]
pub struct Claims {
    /// `iss`, `sub`, `aud` and `jti`.
    strings: Strings,
    expiration: Option<OffsetDateTime>,
    not_before: Option<OffsetDateTime>,
    issued_at: Option<OffsetDateTime>,
    custom: Map<String, Value>,
    /// The claims declare they never expire: a service issues them without
    /// an `exp` instead of filling one in.
    never_expires: bool,
}

/// Claims compare by what they say. Whether they declared no expiry is an
/// instruction to the issuing service, not a claim a token carries.
impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.strings == other.strings
            && self.expiration == other.expiration
            && self.not_before == other.not_before
            && self.issued_at == other.issued_at
            && self.custom == other.custom
    }
}

/// The string claims `iss`, `sub`, `aud` and `jti` (in that order) in one
/// allocation: a decode makes one string instead of four.
#[derive(Clone, Default)]
#[cfg_attr(test, derive(Debug))]
struct Strings {
    /// The present claims, one after another.
    text: String,
    /// Where each claim is in `text`, if present.
    spans: [Option<(usize, usize)>; 4],
}

impl Strings {
    const ISS: usize = 0;
    const SUB: usize = 1;
    const AUD: usize = 2;
    const JTI: usize = 3;

    fn new(claims: [Option<&str>; 4]) -> Self {
        let len = claims.iter().flatten().map(|claim| claim.len()).sum();
        let mut text = String::with_capacity(len);
        let spans = claims.map(|claim| {
            claim.map(|claim| {
                let start = text.len();
                text.push_str(claim);
                (start, text.len())
            })
        });
        Self { text, spans }
    }

    fn get(&self, claim: usize) -> Option<&str> {
        self.spans[claim].and_then(|(start, end)| self.text.get(start..end))
    }
}

impl PartialEq for Strings {
    fn eq(&self, other: &Self) -> bool {
        (0..4).all(|claim| self.get(claim) == other.get(claim))
    }
}

impl fmt::Debug for Claims {
    /// Claim names only: a `v4.local` payload is confidential, and `Debug` output
    /// ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registered = [
            ("iss", self.issuer().is_some()),
            ("sub", self.subject().is_some()),
            ("aud", self.audience().is_some()),
            ("exp", self.expiration.is_some()),
            ("nbf", self.not_before.is_some()),
            ("iat", self.issued_at.is_some()),
            ("jti", self.token_id().is_some()),
        ];
        let names: Vec<&str> = registered
            .iter()
            .filter(|(_, present)| *present)
            .map(|(name, _)| *name)
            .chain(self.custom.keys().map(String::as_str))
            .collect();
        f.debug_struct("Claims")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

impl Claims {
    /// Starts a builder. It sets only the times you ask for: the service that
    /// issues the claims fills in a missing `iat` and `nbf` (now, by its clock)
    /// and `exp` (`iat` plus its default validity), unless the claims declare
    /// they never expire ([`ClaimsBuilder::without_expiry`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::clock::FixedClock;
    /// use vaulttoken::{Claims, LocalKey, LocalService};
    ///
    /// let claims = Claims::builder().subject("u").build()?;
    /// assert_eq!((claims.issued_at(), claims.expiration()), (None, None));
    ///
    /// let now = datetime!(2030-01-01 0:00 UTC);
    /// let service = LocalService::builder(LocalKey::generate()?).clock(FixedClock::new(now)).build();
    /// let issued = service.decode(&service.encode(&claims)?)?;
    /// assert_eq!(issued.claims().issued_at(), Some(now));
    /// assert_eq!(issued.claims().expiration(), Some(now + time::Duration::hours(1)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn builder() -> ClaimsBuilder {
        // Equivalent mutant: `Default::default()` is this very body.
        ClaimsBuilder::default()
    }

    /// Parses a payload: UTF-8, a JSON object, unique keys at every depth, and
    /// registered claims of the right types.
    ///
    /// # Errors
    ///
    /// [`Error::Payload`] naming the first problem found.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, Error, error::PayloadError};
    ///
    /// let claims = Claims::from_payload(br#"{"sub":"a","exp":"2039-01-01T00:00:00+00:00"}"#)?;
    /// assert_eq!(claims.subject(), Some("a"));
    ///
    /// let err = Claims::from_payload(br#"{"exp":1700000000}"#).unwrap_err();
    /// assert!(matches!(err, Error::Payload(PayloadError::WrongType { claim: "exp", .. })));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_payload(payload: &[u8]) -> Result<Self, Error> {
        // One pass: registered claims are read straight into their fields, the
        // rest into `custom`. Syntax errors and duplicate keys stop the parse; a
        // registered claim of the wrong type is reported below, in the fixed order
        // iss, sub, aud, exp, nbf, iat, jti, once the whole payload has parsed, as
        // when the payload was parsed first and typed afterwards.
        let parsed =
            json::parse_object_taking(payload, REGISTERED_CLAIMS).map_err(|err| match err {
                JsonError::NotUtf8 => PayloadError::NotUtf8,
                JsonError::Syntax { line, column } => PayloadError::NotJson { line, column },
                JsonError::DuplicateKey => PayloadError::DuplicateKey,
                JsonError::NotAnObject => PayloadError::NotAnObject,
            })?;
        let [iss, sub, aud, exp, nbf, iat, jti] = parsed.reserved;
        let (iss, sub, aud) = (
            parse::string(&iss, "iss")?,
            parse::string(&sub, "sub")?,
            parse::string(&aud, "aud")?,
        );
        let (expiration, not_before, issued_at) = (
            parse::time(exp, "exp")?,
            parse::time(nbf, "nbf")?,
            parse::time(iat, "iat")?,
        );
        let jti = parse::string(&jti, "jti")?;
        Ok(Self {
            strings: Strings::new([iss, sub, aud, jti]),
            expiration,
            not_before,
            issued_at,
            custom: parsed.rest,
            never_expires: false,
        })
    }

    /// The same claims, declared never to expire: any `exp` is removed, and a
    /// service issues them without one (its rules must allow that, see
    /// [`RuleSet::allow_non_expiring`](crate::rules::RuleSet::allow_non_expiring)).
    ///
    /// # Security
    ///
    /// A stolen non-expiring token stays valid until its key is retired.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Device { sub: &'static str }
    ///
    /// let claims = vaulttoken::Claims::from_serializable(&Device { sub: "d-1" })?.without_expiry();
    /// assert!(claims.never_expires());
    /// assert_eq!(claims.expiration(), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn without_expiry(mut self) -> Self {
        self.expiration = None;
        self.never_expires = true;
        self
    }

    /// Sets `jti`, keeping the other claims.
    pub(crate) fn set_token_id(&mut self, token_id: &str) {
        self.strings = Strings::new([
            self.issuer(),
            self.subject(),
            self.audience(),
            Some(token_id),
        ]);
    }

    /// Whether the claims declare they never expire
    /// ([`Claims::without_expiry`], [`ClaimsBuilder::without_expiry`]).
    /// Decoded claims never do: a token carries no such declaration.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::Claims;
    ///
    /// assert!(Claims::builder().without_expiry().build()?.never_expires());
    /// assert!(!Claims::builder().build()?.never_expires());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn never_expires(&self) -> bool {
        self.never_expires
    }

    /// The claims with a missing `iat` set to `now`, a missing `nbf` to `iat`
    /// and a missing `exp` to `iat` + `validity` (unless they never expire),
    /// or `None` when nothing is missing.
    pub(crate) fn with_times_filled(
        &self,
        now: OffsetDateTime,
        validity: Duration,
    ) -> Result<Option<Self>, Error> {
        let wants_expiration = self.expiration.is_none() && !self.never_expires;
        if self.issued_at.is_some() && self.not_before.is_some() && !wants_expiration {
            return Ok(None);
        }
        let mut filled = self.clone();
        let issued_at = match self.issued_at {
            Some(issued_at) => issued_at,
            None => whole_seconds("iat", now)?,
        };
        filled.issued_at = Some(issued_at);
        filled.not_before = Some(self.not_before.unwrap_or(issued_at));
        if wants_expiration {
            filled.expiration = Some(add("exp", issued_at, validity)?);
        }
        Ok(Some(filled))
    }

    /// Serializes the claims as a JSON payload, every key in name order.
    ///
    /// # Errors
    ///
    /// [`PayloadError::TimeOutOfRange`] if a time cannot be written as RFC 3339.
    ///
    /// # Examples
    ///
    /// ```
    /// let claims = vaulttoken::Claims::builder().subject("s").without_expiry().build()?;
    /// let payload = claims.to_payload()?;
    /// assert_eq!(vaulttoken::Claims::from_payload(&payload)?, claims);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn to_payload(&self) -> Result<Vec<u8>, Error> {
        let format = |claim, time: Option<OffsetDateTime>| {
            time.map(|time| format_time(claim, time)).transpose()
        };
        let (exp, iat, nbf) = (
            format("exp", self.expiration)?,
            format("iat", self.issued_at)?,
            format("nbf", self.not_before)?,
        );
        let payload = Payload {
            registered: [
                ("aud", self.audience()),
                ("exp", exp.as_deref()),
                ("iat", iat.as_deref()),
                ("iss", self.issuer()),
                ("jti", self.token_id()),
                ("nbf", nbf.as_deref()),
                ("sub", self.subject()),
            ],
            custom: &self.custom,
        };
        serde_json::to_vec(&payload).map_err(|_| unreachable!("claims always serialize"))
    }

    /// `iss`: who issued the token.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().issuer("auth.example").build()?;
    /// assert_eq!(c.issuer(), Some("auth.example"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.strings.get(Strings::ISS)
    }

    /// `sub`: whom the token is about.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().subject("u1").build()?;
    /// assert_eq!(c.subject(), Some("u1"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.strings.get(Strings::SUB)
    }

    /// `aud`: whom the token is for.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().audience("api").build()?;
    /// assert_eq!(c.audience(), Some("api"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn audience(&self) -> Option<&str> {
        self.strings.get(Strings::AUD)
    }

    /// `exp`: when the token expires; `None` for a non-expiring token.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().without_expiry().build()?;
    /// assert_eq!(c.expiration(), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn expiration(&self) -> Option<OffsetDateTime> {
        self.expiration
    }

    /// `nbf`: when the token becomes valid.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().build()?;
    /// assert_eq!(c.not_before(), c.issued_at());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn not_before(&self) -> Option<OffsetDateTime> {
        self.not_before
    }

    /// `iat`: when the token was issued.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().expires_in(time::Duration::hours(1)).build()?;
    /// assert_eq!(c.issued_at().unwrap().nanosecond(), 0);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn issued_at(&self) -> Option<OffsetDateTime> {
        self.issued_at
    }

    /// `jti`: the token's unique identifier.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().random_token_id().build()?;
    /// assert_eq!(c.token_id().unwrap().len(), 43);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn token_id(&self) -> Option<&str> {
        self.strings.get(Strings::JTI)
    }

    /// A custom claim as raw JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().claim("n", 5).build()?;
    /// assert_eq!(c.custom("n"), Some(&serde_json::json!(5)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom(&self, name: &str) -> Option<&Value> {
        self.custom.get(name)
    }

    /// A custom string claim; `None` if absent or not a string.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().claim("r", "admin").claim("n", 1).build()?;
    /// assert_eq!(c.custom_str("r"), Some("admin"));
    /// assert_eq!(c.custom_str("n"), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom_str(&self, name: &str) -> Option<&str> {
        self.custom(name)?.as_str()
    }

    /// A custom integer claim; `None` if absent or not an integer in `i64`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().claim("n", -3).claim("f", 1.5).build()?;
    /// assert_eq!(c.custom_i64("n"), Some(-3));
    /// assert_eq!(c.custom_i64("f"), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom_i64(&self, name: &str) -> Option<i64> {
        self.custom(name)?.as_i64()
    }

    /// A custom number claim as `f64`; `None` if absent or not a number.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().claim("f", 1.5).build()?;
    /// assert_eq!(c.custom_f64("f"), Some(1.5));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom_f64(&self, name: &str) -> Option<f64> {
        self.custom(name)?.as_f64()
    }

    /// A custom boolean claim; `None` if absent or not a boolean.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().claim("b", true).build()?;
    /// assert_eq!(c.custom_bool("b"), Some(true));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom_bool(&self, name: &str) -> Option<bool> {
        self.custom(name)?.as_bool()
    }

    /// A custom object claim; `None` if absent or not an object.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder()
    ///     .claim("o", serde_json::json!({"k": [1, 2]}))
    ///     .build()?;
    /// assert_eq!(c.custom_object("o").unwrap()["k"][1], 2);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom_object(&self, name: &str) -> Option<&Map<String, Value>> {
        self.custom(name)?.as_object()
    }

    /// A custom array claim; `None` if absent or not an array.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().claim("a", ["x", "y"]).build()?;
    /// assert_eq!(c.custom_array("a").unwrap().len(), 2);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom_array(&self, name: &str) -> Option<&Vec<Value>> {
        self.custom(name)?.as_array()
    }

    /// All custom claims.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().claim("a", 1).build()?;
    /// assert_eq!(c.custom_claims().len(), 1);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn custom_claims(&self) -> &Map<String, Value> {
        &self.custom
    }

    /// Deserializes the custom claims into your own type.
    ///
    /// # Errors
    ///
    /// [`PayloadError::CustomType`], naming the field, if they do not fit `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct Session { role: String, tenant: u32 }
    ///
    /// let mine = Session { role: "admin".into(), tenant: 7 };
    /// let claims = vaulttoken::Claims::builder().custom_claims_from(&mine).build()?;
    /// assert_eq!(claims.deserialize_custom::<Session>()?, mine);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn deserialize_custom<T: DeserializeOwned>(&self) -> Result<T, Error> {
        typed::from_value(&Value::Object(self.custom.clone()), None)
    }

    /// One custom claim, deserialized into any type; `None` if it is absent.
    ///
    /// # Errors
    ///
    /// [`PayloadError::CustomType`], naming the field, if the claim does not fit `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct Limits { requests: u32, burst: u32 }
    ///
    /// let limits = Limits { requests: 100, burst: 10 };
    /// let claims = vaulttoken::Claims::builder().claim("limits", &limits).build()?;
    /// assert_eq!(claims.custom_as::<Limits>("limits")?, Some(limits));
    /// assert_eq!(claims.custom_as::<Limits>("absent")?, None);
    /// assert!(claims.custom_as::<String>("limits").is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn custom_as<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Error> {
        self.custom
            .get(name)
            .map(|value| typed::from_value(value, Some(name)))
            .transpose()
    }

    /// Claims from your own serializable type, registered claims included: its
    /// fields become the claims, and `iss`, `sub`, `aud`, `jti` (strings) and
    /// `exp`, `nbf`, `iat` (RFC 3339 strings, e.g. with
    /// `#[serde(with = "time::serde::rfc3339")]`) are checked exactly as they are
    /// in a token's payload.
    ///
    /// # Errors
    ///
    /// [`PayloadError::NotSerializable`] if the value does not serialize,
    /// [`PayloadError::NotAnObject`] if it is not a struct or map, and any error
    /// [`Claims::from_payload`] gives, such as a registered claim of the wrong
    /// type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    /// use vaulttoken::Claims;
    ///
    /// #[derive(Serialize, Deserialize, PartialEq, Debug)]
    /// struct Session {
    ///     sub: String,
    ///     aud: String,
    ///     role: String,
    ///     #[serde(with = "time::serde::rfc3339")]
    ///     exp: time::OffsetDateTime,
    /// }
    ///
    /// let session = Session {
    ///     sub: "user-7".into(),
    ///     aud: "api".into(),
    ///     role: "admin".into(),
    ///     exp: time::macros::datetime!(2030-01-01 0:00 UTC),
    /// };
    /// let claims = Claims::from_serializable(&session)?;
    /// assert_eq!(claims.subject(), Some("user-7"));
    /// assert_eq!(claims.expiration(), Some(session.exp));
    /// assert_eq!(claims.deserialize::<Session>()?, session);
    ///
    /// #[derive(Serialize)]
    /// struct Wrong { aud: Vec<&'static str> }
    /// assert!(Claims::from_serializable(&Wrong { aud: vec!["a", "b"] }).is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn from_serializable<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        let payload = serde_json::to_vec(value).map_err(|_| PayloadError::NotSerializable)?;
        Self::from_payload(&payload)
    }

    /// All the claims, registered ones included, deserialized into your own
    /// type: the reverse of [`Claims::from_serializable`]. Times arrive as the
    /// RFC 3339 strings of the payload.
    ///
    /// # Errors
    ///
    /// [`PayloadError::CustomType`], naming the field, if the claims do not fit `T`, and
    /// [`PayloadError::TimeOutOfRange`] for a time RFC 3339 cannot write.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::Deserialize;
    /// use vaulttoken::Claims;
    ///
    /// #[derive(Deserialize)]
    /// struct Session { sub: String, role: String, exp: String }
    ///
    /// let exp = time::macros::datetime!(2030-01-01 0:00 UTC);
    /// let claims = Claims::builder()
    ///     .subject("user-7")
    ///     .claim("role", "admin")
    ///     .expires_at(exp)
    ///     .build()?;
    /// let session: Session = claims.deserialize()?;
    /// assert_eq!((session.sub.as_str(), session.role.as_str()), ("user-7", "admin"));
    /// assert_eq!(session.exp, "2030-01-01T00:00:00Z");
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct NeedsTenant { tenant: String }
    /// assert!(claims.deserialize::<NeedsTenant>().is_err());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        typed::from_payload(&self.to_payload()?)
    }

    /// A fresh random token identifier: 256 bits from the OS, base64url-encoded.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if the OS cannot supply random bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = vaulttoken::Claims::generate_token_id()?;
    /// assert_ne!(a, vaulttoken::Claims::generate_token_id()?);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn generate_token_id() -> Result<String, Error> {
        let bytes = random_array::<32>()?;
        Ok(encoding::encode_base64url(bytes.as_ref()))
    }
}

/// Builds [`Claims`] with secure defaults. Every setter returns the builder; the
/// first error (a reserved name, an unserializable value) is reported by `build`.
///
/// # Examples
///
/// ```
/// use time::Duration;
///
/// let claims = vaulttoken::Claims::builder()
///     .issuer("auth.example")
///     .audience("api.example")
///     .expires_in(Duration::minutes(5))
///     .build()?;
/// assert_eq!(claims.expiration().unwrap() - claims.issued_at().unwrap(), Duration::minutes(5));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClaimsBuilder {
    issuer: Option<String>,
    subject: Option<String>,
    audience: Option<String>,
    token_id: Option<String>,
    expiry: Expiry,
    not_before: Option<OffsetDateTime>,
    issued_at: Option<OffsetDateTime>,
    custom: Map<String, Value>,
    random_token_id: bool,
    clock: Option<Arc<dyn Clock>>,
    error: Option<Error>,
}

#[derive(Debug, Default)]
enum Expiry {
    #[default]
    Default,
    In(Duration),
    At(OffsetDateTime),
    Never,
}

impl ClaimsBuilder {
    /// Sets `iss`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().issuer("i").build()?;
    /// assert_eq!(c.issuer(), Some("i"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets `sub`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().subject("s").build()?;
    /// assert_eq!(c.subject(), Some("s"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets `aud`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().audience("a").build()?;
    /// assert_eq!(c.audience(), Some("a"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets `jti`.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().token_id("t-1").build()?;
    /// assert_eq!(c.token_id(), Some("t-1"));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn token_id(mut self, token_id: impl Into<String>) -> Self {
        self.token_id = Some(token_id.into());
        self.random_token_id = false;
        self
    }

    /// Sets `jti` to a fresh random identifier (see [`Claims::generate_token_id`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().random_token_id().build()?;
    /// assert!(c.token_id().is_some());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn random_token_id(mut self) -> Self {
        self.random_token_id = true;
        self
    }

    /// Sets `exp` to `iat` + `validity`, and `iat` to now if it is not set. (Without
    /// it, the issuing service sets `exp` from its default validity.)
    ///
    /// Any `validity` is safe: one that takes `exp` outside what RFC 3339 can
    /// write (years 0000 to 9999), such as [`Duration::MAX`], makes
    /// [`build`](Self::build) fail with [`PayloadError::TimeOutOfRange`].
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().expires_in(time::Duration::days(1)).build()?;
    /// assert_eq!(c.expiration().unwrap() - c.issued_at().unwrap(), time::Duration::days(1));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn expires_in(mut self, validity: Duration) -> Self {
        self.expiry = Expiry::In(validity);
        self
    }

    /// Sets `exp` to a fixed time (truncated to whole seconds). A time RFC 3339
    /// cannot write makes [`build`](Self::build) fail with
    /// [`PayloadError::TimeOutOfRange`].
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    ///
    /// let c = vaulttoken::Claims::builder().expires_at(datetime!(2039-01-01 0:00 UTC)).build()?;
    /// assert_eq!(c.expiration(), Some(datetime!(2039-01-01 0:00 UTC)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn expires_at(mut self, expiration: OffsetDateTime) -> Self {
        self.expiry = Expiry::At(expiration);
        self
    }

    /// Builds claims with no `exp`: the token never expires.
    ///
    /// # Security
    ///
    /// A stolen non-expiring token stays valid until its key is retired. Decoding
    /// also requires the rule set to allow non-expiring tokens explicitly.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = vaulttoken::Claims::builder().without_expiry().build()?;
    /// assert_eq!(c.expiration(), None);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn without_expiry(mut self) -> Self {
        self.expiry = Expiry::Never;
        self
    }

    /// Sets `nbf` (the issuing service sets it to `iat` otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    ///
    /// let c = vaulttoken::Claims::builder().not_before(datetime!(2030-01-01 0:00 UTC)).build()?;
    /// assert_eq!(c.not_before(), Some(datetime!(2030-01-01 0:00 UTC)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn not_before(mut self, not_before: OffsetDateTime) -> Self {
        self.not_before = Some(not_before);
        self
    }

    /// Sets `iat` (by default the issuing service stamps it, or
    /// [`expires_in`](Self::expires_in) sets it to the builder's now).
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    ///
    /// let c = vaulttoken::Claims::builder()
    ///     .issued_at(datetime!(2030-01-01 0:00 UTC))
    ///     .expires_in(time::Duration::hours(1))
    ///     .build()?;
    /// assert_eq!(c.expiration(), Some(datetime!(2030-01-01 1:00 UTC)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn issued_at(mut self, issued_at: OffsetDateTime) -> Self {
        self.issued_at = Some(issued_at);
        self
    }

    /// Adds one custom claim. Registered names are refused (use the typed setters).
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{Claims, Error, error::PayloadError};
    ///
    /// let c = Claims::builder().claim("tags", ["a", "b"]).build()?;
    /// assert_eq!(c.custom_array("tags").unwrap().len(), 2);
    ///
    /// let err = Claims::builder().claim("exp", 0).build().unwrap_err();
    /// assert!(matches!(err, Error::Payload(PayloadError::ReservedName { .. })));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn claim(mut self, name: impl Into<String>, value: impl Serialize) -> Self {
        let name = name.into();
        match serde_json::to_value(value) {
            Ok(value) => self.insert_custom(name, value),
            Err(_) => self.fail(PayloadError::CustomNotAnObject.into()),
        }
        self
    }

    /// Adds every field of a serializable struct (or map) as custom claims.
    ///
    /// # Examples
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Extra { plan: &'static str, seats: u8 }
    ///
    /// let c = vaulttoken::Claims::builder().custom_claims_from(&Extra { plan: "pro", seats: 5 }).build()?;
    /// assert_eq!(c.custom_i64("seats"), Some(5));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn custom_claims_from(mut self, claims: &impl Serialize) -> Self {
        match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => {
                for (name, value) in map {
                    self.insert_custom(name, value);
                }
            }
            _ => self.fail(PayloadError::CustomNotAnObject.into()),
        }
        self
    }

    /// Builds the claims with the system clock.
    ///
    /// # Errors
    ///
    /// The first error a setter recorded, [`PayloadError::TimeOutOfRange`] for a time
    /// RFC 3339 cannot express, or [`Error::Randomness`] for a random `jti`.
    ///
    /// # Examples
    ///
    /// ```
    /// let claims = vaulttoken::Claims::builder().subject("u").build()?;
    /// assert_eq!((claims.subject(), claims.issued_at()), (Some("u"), None));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn build(self) -> Result<Claims, Error> {
        match self.clock.clone() {
            Some(clock) => self.build_with_clock(clock),
            None => self.build_with_clock(SystemClock),
        }
    }

    /// Reads "now" from `clock` when built, instead of the system clock: the
    /// start of [`expires_in`](Self::expires_in).
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::Claims;
    /// use vaulttoken::clock::FixedClock;
    ///
    /// let at = datetime!(2030-01-01 0:00 UTC);
    /// let claims = Claims::builder()
    ///     .clock(FixedClock::new(at))
    ///     .expires_in(time::Duration::hours(1))
    ///     .build()?;
    /// assert_eq!(claims.issued_at(), Some(at));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Builds the claims with `clock` as the source of "now".
    ///
    /// # Errors
    ///
    /// As for [`ClaimsBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// use time::macros::datetime;
    /// use vaulttoken::{Claims, clock::FixedClock};
    ///
    /// let clock = FixedClock::new(datetime!(2030-01-01 0:00:00.75 UTC));
    /// let c = Claims::builder().expires_in(time::Duration::hours(1)).build_with_clock(clock)?;
    /// assert_eq!(c.issued_at(), Some(datetime!(2030-01-01 0:00 UTC)));
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn build_with_clock(self, clock: impl Clock) -> Result<Claims, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        // `expires_in` counts from `iat`, so it sets `iat` (now, unless given).
        let issued_at = match (self.issued_at, &self.expiry) {
            (Some(issued_at), _) => Some(whole_seconds("iat", issued_at)?),
            (None, Expiry::In(_)) => Some(whole_seconds("iat", clock.now())?),
            (None, _) => None,
        };
        let not_before = match self.not_before {
            Some(not_before) => Some(whole_seconds("nbf", not_before)?),
            None => None,
        };
        let never_expires = matches!(self.expiry, Expiry::Never);
        let expiration = match (self.expiry, issued_at) {
            (Expiry::In(validity), Some(issued_at)) => Some(add("exp", issued_at, validity)?),
            (Expiry::At(at), _) => Some(whole_seconds("exp", at)?),
            _ => None,
        };
        let token_id = if self.random_token_id {
            Some(Claims::generate_token_id()?)
        } else {
            self.token_id
        };
        Ok(Claims {
            strings: Strings::new([
                self.issuer.as_deref(),
                self.subject.as_deref(),
                self.audience.as_deref(),
                token_id.as_deref(),
            ]),
            expiration,
            not_before,
            issued_at,
            custom: self.custom,
            never_expires,
        })
    }

    fn insert_custom(&mut self, name: String, value: Value) {
        if REGISTERED_CLAIMS.contains(&name.as_str()) {
            self.fail(PayloadError::ReservedName { claim: name }.into());
        } else {
            self.custom.insert(name, value);
        }
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }
}

/// Truncates to whole seconds and checks RFC 3339 can write the time.
fn whole_seconds(claim: &'static str, time: OffsetDateTime) -> Result<OffsetDateTime, Error> {
    let time = time
        .replace_nanosecond(0)
        .map_err(|_| PayloadError::TimeOutOfRange { claim })?;
    format_time(claim, time)?;
    Ok(time)
}

fn add(claim: &'static str, time: OffsetDateTime, span: Duration) -> Result<OffsetDateTime, Error> {
    let sum = time
        .checked_add(span)
        .ok_or(PayloadError::TimeOutOfRange { claim })?;
    whole_seconds(claim, sum)
}

/// The claims as [`Claims::to_payload`] writes them, straight from their
/// fields: no intermediate JSON map, no copied values.
struct Payload<'a> {
    /// The registered claims present or not, in name order.
    registered: [(&'static str, Option<&'a str>); 7],
    /// The other claims, in name order (a `serde_json` map is sorted), never
    /// named like a registered one.
    custom: &'a Map<String, Value>,
}

impl Serialize for Payload<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;

        let mut registered = self
            .registered
            .iter()
            .filter_map(|&(name, value)| Some((name, value?)))
            .peekable();
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.custom {
            while let Some((claim, text)) = registered.next_if(|&(claim, _)| claim < name.as_str())
            {
                map.serialize_entry(claim, text)?;
            }
            map.serialize_entry(name, value)?;
        }
        for (claim, text) in registered {
            map.serialize_entry(claim, text)?;
        }
        map.end()
    }
}

fn format_time(claim: &'static str, time: OffsetDateTime) -> Result<String, Error> {
    time.format(&Rfc3339)
        .map_err(|_| PayloadError::TimeOutOfRange { claim }.into())
}

/// Typing the registered claims that [`json::parse_object_taking`] read.
mod parse {
    use time::OffsetDateTime;

    use super::parse_time;
    use crate::error::{Error, PayloadError};
    use crate::json::Reserved;

    /// `iss`, `sub`, `aud` or `jti`: a string.
    pub(super) fn string<'a>(
        value: &'a Option<Reserved<'_>>,
        claim: &'static str,
    ) -> Result<Option<&'a str>, Error> {
        match value {
            None => Ok(None),
            Some(Reserved::Text(text)) => Ok(Some(text)),
            Some(Reserved::Other) => Err(PayloadError::WrongType {
                claim,
                expected: "a string",
            }
            .into()),
        }
    }

    /// `exp`, `nbf` or `iat`: an RFC 3339 string, as [`parse_time`] reads it.
    pub(super) fn time(
        value: Option<Reserved<'_>>,
        claim: &'static str,
    ) -> Result<Option<OffsetDateTime>, Error> {
        match value {
            None => Ok(None),
            Some(Reserved::Text(text)) => parse_time(&text)
                .map(Some)
                .ok_or_else(|| PayloadError::InvalidTime { claim }.into()),
            Some(Reserved::Other) => Err(PayloadError::WrongType {
                claim,
                expected: "an RFC 3339 date-time string",
            }
            .into()),
        }
    }
}

/// The parser [`Claims::from_payload`] used before the one-pass parser: the whole
/// payload into a strict map, then each registered claim taken out of it. Kept
/// as the reference the one-pass parser is tested against.
#[cfg(test)]
fn from_payload_reference(payload: &[u8]) -> Result<Claims, Error> {
    let mut custom = json::parse_object(payload).map_err(|err| match err {
        JsonError::NotUtf8 => PayloadError::NotUtf8,
        JsonError::Syntax { line, column } => PayloadError::NotJson { line, column },
        JsonError::DuplicateKey => PayloadError::DuplicateKey,
        JsonError::NotAnObject => PayloadError::NotAnObject,
    })?;
    let (iss, sub, aud) = (
        take_string(&mut custom, "iss")?,
        take_string(&mut custom, "sub")?,
        take_string(&mut custom, "aud")?,
    );
    let (expiration, not_before, issued_at) = (
        take_time(&mut custom, "exp")?,
        take_time(&mut custom, "nbf")?,
        take_time(&mut custom, "iat")?,
    );
    let jti = take_string(&mut custom, "jti")?;
    Ok(Claims {
        strings: Strings::new([
            iss.as_deref(),
            sub.as_deref(),
            aud.as_deref(),
            jti.as_deref(),
        ]),
        expiration,
        not_before,
        issued_at,
        custom,
        never_expires: false,
    })
}

/// The writer [`Claims::to_payload`] used before it wrote straight from the
/// fields: every claim copied into one JSON map, then the map serialized.
/// Kept as the reference the direct writer is tested against.
#[cfg(test)]
fn to_payload_reference(claims: &Claims) -> Result<Vec<u8>, Error> {
    let mut object = Map::new();
    let strings = [
        ("iss", claims.issuer()),
        ("sub", claims.subject()),
        ("aud", claims.audience()),
        ("jti", claims.token_id()),
    ];
    for (name, value) in strings {
        if let Some(value) = value {
            object.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
    let times = [
        ("exp", claims.expiration),
        ("nbf", claims.not_before),
        ("iat", claims.issued_at),
    ];
    for (name, time) in times {
        if let Some(time) = time {
            object.insert(name.to_owned(), Value::String(format_time(name, time)?));
        }
    }
    object.extend(claims.custom.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(serde_json::to_vec(&Value::Object(object)).expect("a JSON value always serializes"))
}

#[cfg(test)]
fn take_string(
    custom: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<String>, Error> {
    match custom.remove(claim) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(PayloadError::WrongType {
            claim,
            expected: "a string",
        }
        .into()),
    }
}

#[cfg(test)]
fn take_time(
    custom: &mut Map<String, Value>,
    claim: &'static str,
) -> Result<Option<OffsetDateTime>, Error> {
    match custom.remove(claim) {
        None => Ok(None),
        Some(Value::String(text)) => parse_time(&text)
            .map(Some)
            .ok_or_else(|| PayloadError::InvalidTime { claim }.into()),
        Some(_) => Err(PayloadError::WrongType {
            claim,
            expected: "an RFC 3339 date-time string",
        }
        .into()),
    }
}

/// RFC 3339 `date-time` as PASETO writes it: the `T` separator (the `time` crate
/// accepts any byte there) and, for UTC, `Z`, both in upper case only.
fn parse_time(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    let upper_case = bytes.get(10) == Some(&b'T') && bytes.last() != Some(&b'z');
    upper_case
        .then(|| OffsetDateTime::parse(text, &Rfc3339).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    #[test]
    fn floats_in_custom_claims_round_trip_exactly() {
        // Found by the claims_parse fuzzer (fuzz/regressions/claims_parse/): without
        // serde_json's `float_roundtrip`, these drifted in the last place on every
        // write-and-read.
        let payload = br#"{"big":184467440737036854775808,"neg":-92233720322222222122222222222222222222222222222222222226854775808,"e":1e300,"tiny":5e-324}"#;
        let first = super::Claims::from_payload(payload).unwrap();
        let second = super::Claims::from_payload(&first.to_payload().unwrap()).unwrap();
        let third = super::Claims::from_payload(&second.to_payload().unwrap()).unwrap();
        assert_eq!(first, second);
        assert_eq!(second, third);
        assert_eq!(
            first.custom_f64("big"),
            Some(184_467_440_737_036_854_775_808.0)
        );
    }

    use time::macros::datetime;

    use super::*;
    use crate::clock::FixedClock;

    fn clock() -> FixedClock {
        FixedClock::new(datetime!(2030-01-01 12:00:00.999 UTC))
    }

    #[test]
    fn the_builder_sets_only_the_times_asked_for() {
        let c = Claims::builder().build_with_clock(clock()).unwrap();
        assert_eq!(
            (c.issued_at(), c.not_before(), c.expiration()),
            (None, None, None)
        );
        assert!(!c.never_expires());

        let c = Claims::builder()
            .expires_in(Duration::minutes(5))
            .build_with_clock(clock())
            .unwrap();
        assert_eq!(c.issued_at(), Some(datetime!(2030-01-01 12:00 UTC)));
        assert_eq!(c.expiration(), Some(datetime!(2030-01-01 12:05 UTC)));
        assert_eq!(c.not_before(), None);

        let at = datetime!(2031-06-01 0:00 UTC);
        let c = Claims::builder()
            .issued_at(at)
            .expires_in(Duration::minutes(5))
            .build_with_clock(clock())
            .unwrap();
        assert_eq!(c.expiration(), Some(at + Duration::minutes(5)));

        let c = Claims::builder()
            .expires_in(Duration::minutes(5))
            .without_expiry()
            .build_with_clock(clock())
            .unwrap();
        assert_eq!((c.issued_at(), c.expiration()), (None, None));
        assert!(c.never_expires());
    }

    #[test]
    fn missing_times_are_filled_from_now_and_the_validity() {
        let now = datetime!(2030-01-01 12:00:00.9 UTC);
        let second = datetime!(2030-01-01 12:00 UTC);
        let hour = Duration::hours(1);
        let filled = Claims::builder()
            .build()
            .unwrap()
            .with_times_filled(now, hour)
            .unwrap()
            .unwrap();
        assert_eq!(filled.issued_at(), Some(second));
        assert_eq!(filled.not_before(), Some(second));
        assert_eq!(filled.expiration(), Some(second + hour));

        // Given times are kept, and `exp` counts from the given `iat`.
        let iat = datetime!(2029-12-31 0:00 UTC);
        let nbf = datetime!(2029-12-31 6:00 UTC);
        let given = Claims::builder().issued_at(iat).build().unwrap();
        let filled = given.with_times_filled(now, hour).unwrap().unwrap();
        assert_eq!(filled.issued_at(), Some(iat));
        assert_eq!(filled.not_before(), Some(iat));
        assert_eq!(filled.expiration(), Some(iat + hour));
        let given = Claims::builder().not_before(nbf).build().unwrap();
        let filled = given.with_times_filled(now, hour).unwrap().unwrap();
        assert_eq!(filled.not_before(), Some(nbf));

        // Each missing time alone is filled; nothing missing fills nothing.
        let complete = filled.clone();
        assert_eq!(complete.with_times_filled(now, hour).unwrap(), None);
        for json in [
            r#"{"nbf":"2030-01-01T12:00:00Z","exp":"2030-01-01T13:00:00Z"}"#,
            r#"{"iat":"2030-01-01T12:00:00Z","exp":"2030-01-01T13:00:00Z"}"#,
            r#"{"iat":"2030-01-01T12:00:00Z","nbf":"2030-01-01T12:00:00Z"}"#,
        ] {
            let partial = Claims::from_payload(json.as_bytes()).unwrap();
            let filled = partial.with_times_filled(now, hour).unwrap().unwrap();
            assert!(
                filled.issued_at().is_some()
                    && filled.not_before().is_some()
                    && filled.expiration().is_some(),
                "{json}"
            );
        }

        // Claims that never expire get no `exp`.
        let forever = Claims::builder().without_expiry().build().unwrap();
        let filled = forever.with_times_filled(now, hour).unwrap().unwrap();
        assert_eq!(filled.expiration(), None);
        assert!(filled.issued_at().is_some());
        let stamped = filled.clone();
        assert_eq!(stamped.with_times_filled(now, hour).unwrap(), None);

        // A now or a validity beyond what RFC 3339 can write is an error.
        let beyond = time::PrimitiveDateTime::MAX.assume_offset(time::macros::offset!(-23:59:59));
        assert!(matches!(
            Claims::builder()
                .build()
                .unwrap()
                .with_times_filled(beyond, hour),
            Err(Error::Payload(PayloadError::TimeOutOfRange {
                claim: "iat"
            }))
        ));
        assert!(matches!(
            Claims::builder()
                .build()
                .unwrap()
                .with_times_filled(now, Duration::MAX),
            Err(Error::Payload(PayloadError::TimeOutOfRange {
                claim: "exp"
            }))
        ));
    }

    #[test]
    fn declaring_no_expiry_is_not_a_claim() {
        let with_exp = Claims::builder()
            .expires_at(datetime!(2030-01-01 13:00 UTC))
            .build()
            .unwrap();
        let forever = with_exp.clone().without_expiry();
        assert_eq!(forever.expiration(), None);
        assert!(forever.never_expires() && !with_exp.never_expires());
        // Equal to the same claims read back from a token, which carries no
        // declaration; but not to claims that still have their `exp`.
        let decoded = Claims::from_payload(&forever.to_payload().unwrap()).unwrap();
        assert!(!decoded.never_expires());
        assert_eq!(decoded, forever);
        assert_ne!(with_exp, forever);
    }

    #[test]
    fn times_are_rfc3339_on_the_wire() {
        let c = Claims::builder()
            .expires_in(Duration::hours(1))
            .build_with_clock(clock())
            .unwrap();
        let payload = String::from_utf8(c.to_payload().unwrap()).unwrap();
        assert!(
            payload.contains(r#""exp":"2030-01-01T13:00:00Z""#),
            "{payload}"
        );
        assert!(
            payload.contains(r#""iat":"2030-01-01T12:00:00Z""#),
            "{payload}"
        );
    }

    #[test]
    fn payload_round_trips_every_claim_kind() {
        let c = Claims::builder()
            .issuer("i")
            .subject("s")
            .audience("a")
            .token_id("j")
            .claim("n", serde_json::Value::Null)
            .claim("nested", serde_json::json!({"a": [1, {"b": false}]}))
            .build_with_clock(clock())
            .unwrap();
        assert_eq!(Claims::from_payload(&c.to_payload().unwrap()).unwrap(), c);
    }

    #[test]
    fn registered_claims_of_the_wrong_type_are_refused() {
        for (payload, claim) in [
            (&br#"{"iss":1}"#[..], "iss"),
            (br#"{"sub":null}"#, "sub"),
            (br#"{"aud":["a"]}"#, "aud"),
            (br#"{"jti":{}}"#, "jti"),
            (br#"{"exp":1700000000}"#, "exp"),
            (br#"{"nbf":true}"#, "nbf"),
        ] {
            let err = Claims::from_payload(payload).unwrap_err();
            assert!(
                matches!(err, Error::Payload(PayloadError::WrongType { claim: c, .. }) if c == claim),
                "{claim}: {err:?}"
            );
        }
    }

    #[test]
    fn time_claims_must_be_rfc3339() {
        for text in [
            "2030-01-01",
            "2030-01-01 00:00:00Z",
            "2030-01-01x00:00:00Z",
            "yesterday",
            "2030-13-01T00:00:00Z",
            "",
        ] {
            let payload = format!(r#"{{"iat":"{text}"}}"#);
            assert!(matches!(
                Claims::from_payload(payload.as_bytes()),
                Err(Error::Payload(PayloadError::InvalidTime { claim: "iat" }))
            ));
        }
        let offset = Claims::from_payload(br#"{"exp":"2039-01-01T00:00:00+02:00"}"#).unwrap();
        assert_eq!(offset.expiration(), Some(datetime!(2038-12-31 22:00 UTC)));
    }

    #[test]
    fn lower_case_t_and_z_are_refused() {
        for text in [
            "2030-01-01t00:00:00Z",
            "2030-01-01T00:00:00z",
            "2030-01-01t00:00:00z",
            "2030-01-01t00:00:00+01:00",
        ] {
            let payload = format!(r#"{{"exp":"{text}"}}"#);
            assert!(
                matches!(
                    Claims::from_payload(payload.as_bytes()),
                    Err(Error::Payload(PayloadError::InvalidTime { claim: "exp" }))
                ),
                "{text}"
            );
        }
        for text in [
            "2030-01-01T00:00:00Z",
            "2030-01-01T00:00:00+01:00",
            "2030-01-01T00:00:00.5Z",
        ] {
            let payload = format!(r#"{{"exp":"{text}"}}"#);
            assert!(Claims::from_payload(payload.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn debug_shows_claim_names_but_no_values() {
        let claims = Claims::builder()
            .subject("alice@example.com")
            .claim("ssn", "123-45-6789")
            .not_before(datetime!(2030-01-01 12:00 UTC))
            .expires_in(Duration::hours(1))
            .build_with_clock(clock())
            .unwrap();
        let debug = format!("{claims:?}");
        for name in ["sub", "exp", "nbf", "iat", "ssn"] {
            assert!(debug.contains(name), "{debug}");
        }
        assert!(
            !debug.contains("alice") && !debug.contains("123-45") && !debug.contains("2030"),
            "{debug}"
        );
        assert!(!debug.contains("iss") && !debug.contains("jti"), "{debug}");
    }

    #[test]
    fn payload_shape_errors_are_named() {
        assert!(matches!(
            Claims::from_payload(b"[]"),
            Err(Error::Payload(PayloadError::NotAnObject))
        ));
        assert!(matches!(
            Claims::from_payload(b"\xc3\x28"),
            Err(Error::Payload(PayloadError::NotUtf8))
        ));
        assert!(matches!(
            Claims::from_payload(br#"{"a":{"b":1,"b":2}}"#),
            Err(Error::Payload(PayloadError::DuplicateKey))
        ));
        assert!(matches!(
            Claims::from_payload(b"{"),
            Err(Error::Payload(PayloadError::NotJson { line: 1, .. }))
        ));
    }

    #[test]
    fn custom_claims_cannot_use_registered_names() {
        #[derive(Serialize)]
        struct Sneaky {
            exp: u64,
        }
        for builder in [
            Claims::builder().claim("sub", "x"),
            Claims::builder().custom_claims_from(&Sneaky { exp: 1 }),
        ] {
            assert!(matches!(
                builder.build_with_clock(clock()),
                Err(Error::Payload(PayloadError::ReservedName { .. }))
            ));
        }
    }

    #[test]
    fn non_object_custom_claims_are_refused() {
        assert!(matches!(
            Claims::builder()
                .custom_claims_from(&[1, 2])
                .build_with_clock(clock()),
            Err(Error::Payload(PayloadError::CustomNotAnObject))
        ));
    }

    #[test]
    fn out_of_range_times_are_errors_not_panics() {
        let far = Claims::builder()
            .issued_at(datetime!(9999-12-31 23:30 UTC))
            .expires_in(Duration::hours(1))
            .build_with_clock(clock());
        assert!(matches!(
            far,
            Err(Error::Payload(PayloadError::TimeOutOfRange {
                claim: "exp"
            }))
        ));
        let huge = Claims::builder()
            .expires_in(Duration::MAX)
            .build_with_clock(clock());
        assert!(matches!(
            huge,
            Err(Error::Payload(PayloadError::TimeOutOfRange {
                claim: "exp"
            }))
        ));
    }

    fn out_of_range(result: Result<Claims, Error>) -> Option<&'static str> {
        match result {
            Err(Error::Payload(PayloadError::TimeOutOfRange { claim })) => Some(claim),
            other => panic!("expected TimeOutOfRange, got {other:?}"),
        }
    }

    #[test]
    fn huge_validities_are_errors_at_both_ends_of_the_range() {
        let first = datetime!(0000-01-01 0:00 UTC);
        let last = datetime!(9999-12-31 23:59:59 UTC);
        let cases = [
            (clock().now(), Duration::MIN),
            (first, Duration::seconds(-1)),
            (first, Duration::MIN),
            (last, Duration::seconds(1)),
            (last, Duration::MAX),
            (last, Duration::days(366 * 20_000)),
            (first, Duration::days(-366 * 20_000)),
        ];
        for (iat, validity) in cases {
            let built = Claims::builder()
                .issued_at(iat)
                .expires_in(validity)
                .build_with_clock(clock());
            assert_eq!(out_of_range(built), Some("exp"), "{iat} + {validity}");
        }
        // The very ends themselves are fine.
        let whole_range = Claims::builder()
            .issued_at(first)
            .expires_at(last)
            .build_with_clock(clock())
            .unwrap();
        assert_eq!(whole_range.expiration(), Some(last));
        assert_eq!(
            Claims::builder()
                .issued_at(last)
                .expires_in(Duration::ZERO)
                .build_with_clock(clock())
                .unwrap()
                .expiration(),
            Some(last)
        );
    }

    #[test]
    fn times_beyond_rfc3339_are_errors_not_panics() {
        use time::PrimitiveDateTime;
        use time::macros::offset;

        let beyond = [
            PrimitiveDateTime::MIN.assume_utc(),
            PrimitiveDateTime::MAX.assume_offset(offset!(-23:59:59)),
            datetime!(0000-01-01 0:00 +00:00:01),
        ];
        for time in beyond {
            let exp = Claims::builder().expires_at(time).build_with_clock(clock());
            assert_eq!(out_of_range(exp), Some("exp"), "{time}");
            let nbf = Claims::builder().not_before(time).build_with_clock(clock());
            assert_eq!(out_of_range(nbf), Some("nbf"), "{time}");
            let iat = Claims::builder().issued_at(time).build_with_clock(clock());
            assert_eq!(out_of_range(iat), Some("iat"), "{time}");
            let from_clock = Claims::builder()
                .expires_in(Duration::hours(1))
                .build_with_clock(FixedClock::new(time));
            assert_eq!(out_of_range(from_clock), Some("iat"), "{time}");
        }
        // The last second of 9999 truncates, then its hour of validity overflows.
        let last_instant = FixedClock::new(PrimitiveDateTime::MAX.assume_utc());
        assert_eq!(
            out_of_range(
                Claims::builder()
                    .expires_in(Duration::hours(1))
                    .build_with_clock(last_instant)
            ),
            Some("exp")
        );
    }

    #[test]
    fn the_parsers_extreme_times_round_trip() {
        for text in [
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-23:59",
        ] {
            let payload = format!(r#"{{"exp":"{text}","nbf":"{text}","iat":"{text}"}}"#);
            let claims = Claims::from_payload(payload.as_bytes()).unwrap();
            assert_eq!(
                Claims::from_payload(&claims.to_payload().unwrap()).unwrap(),
                claims,
                "{text}"
            );
        }
        // A leap second at the very end parses (as the last nanosecond), too.
        let leap = Claims::from_payload(br#"{"exp":"9999-12-31T23:59:60Z"}"#).unwrap();
        assert_eq!(leap.expiration().unwrap().year(), 9999);
    }

    #[test]
    fn typed_getters_return_none_on_a_type_mismatch() {
        let c = Claims::builder()
            .claim("s", "x")
            .build_with_clock(clock())
            .unwrap();
        assert_eq!(c.custom_i64("s"), None);
        assert_eq!(c.custom_bool("s"), None);
        assert_eq!(c.custom_object("s"), None);
        assert_eq!(c.custom_array("s"), None);
        assert_eq!(c.custom_f64("s"), None);
        assert_eq!(c.custom_str("missing"), None);
    }

    /// The direct writer against the old copy-into-a-map one, byte for byte,
    /// with each registered claim present or absent and custom claims named to
    /// sort before, between and after every registered name.
    #[test]
    fn direct_writer_agrees_with_the_reference_writer() {
        let custom_names = [
            "", "a", "aud0", "b", "exp\u{0}", "f", "iat~", "iq", "isz", "j", "jtj", "n", "nbf-",
            "s", "sub_", "t", "z", "\u{e9}",
        ];
        let at = datetime!(2031-01-01 0:00 UTC);
        for mask in 0u8..128 {
            let has = |bit: u8| mask & (1 << bit) != 0;
            let mut builder = Claims::builder();
            if has(0) {
                builder = builder.issuer("issuer \"quoted\"");
            }
            if has(1) {
                builder = builder.subject("subject");
            }
            if has(2) {
                builder = builder.audience("audience");
            }
            if has(3) {
                builder = builder.token_id("id");
            }
            builder = if has(4) {
                builder.expires_at(at + Duration::hours(1))
            } else {
                builder.without_expiry()
            };
            if has(5) {
                builder = builder.not_before(at);
            }
            if has(6) {
                builder = builder.issued_at(at);
            }
            // Every other mask carries custom claims, in three different sets.
            for (i, name) in custom_names.iter().enumerate() {
                if (usize::from(mask) + i) % 3 == 0 {
                    builder = builder.claim(*name, serde_json::json!({ "n": i, "l": [1, "x"] }));
                }
            }
            let claims = builder.build_with_clock(clock()).unwrap();
            let payload = claims.to_payload().unwrap();
            assert_eq!(
                String::from_utf8(payload.clone()).unwrap(),
                String::from_utf8(to_payload_reference(&claims).unwrap()).unwrap(),
                "mask {mask}"
            );
            assert_eq!(Claims::from_payload(&payload).unwrap(), claims);
        }
    }

    /// The one-pass parser against the old parse-then-take one, on every payload
    /// of a grammar of edge cases and on every truncation of some of them.
    #[test]
    fn one_pass_parser_agrees_with_the_reference_parser() {
        fn same(payload: &[u8]) {
            let new = Claims::from_payload(payload);
            let old = from_payload_reference(payload);
            match (&new, &old) {
                (Ok(new), Ok(old)) => {
                    assert_eq!(new, old, "{}", String::from_utf8_lossy(payload));
                    assert_eq!(new.custom, old.custom);
                }
                (Err(new), Err(old)) => {
                    assert_eq!(
                        format!("{new:?}"),
                        format!("{old:?}"),
                        "{}",
                        String::from_utf8_lossy(payload)
                    );
                }
                _ => panic!("{}: {new:?} vs {old:?}", String::from_utf8_lossy(payload)),
            }
        }

        let keys = [
            "iss",
            "sub",
            "aud",
            "exp",
            "nbf",
            "iat",
            "jti",
            r"\u0069ss",
            r"e\u0078p",
            "role",
            "x",
            "",
        ];
        let values = [
            r#""a""#,
            r#""a\"b\u00e9""#,
            r#""2039-01-01T00:00:00Z""#,
            r#""2039-01-01t00:00:00Z""#,
            r#""2039-01-01T00:00:00z""#,
            r#""2039-01-01T00:00:00+01:00""#,
            r#""2039-13-01T00:00:00Z""#,
            r#""2039-01-01T00:00:00\u005a""#,
            "1700000000",
            "-1",
            "1.5",
            "1e400",
            "true",
            "null",
            "[]",
            r#"[1,"a",{"b":1}]"#,
            r#"[{"b":1,"b":2}]"#,
            "{}",
            r#"{"iss":1,"k":{"k":2}}"#,
            r#"{"k":1,"k":2}"#,
            r#"{"exp":"x","exp":"y"}"#,
            "[1,",
            r#""unterminated"#,
        ];
        let mut payloads: Vec<Vec<u8>> = vec![
            CLAIMS_FIXTURE.to_vec(),
            b"".to_vec(),
            b" ".to_vec(),
            b"{}".to_vec(),
            b"{} x".to_vec(),
            b"{}}".to_vec(),
            b"[]".to_vec(),
            b"[1]".to_vec(),
            b"[1] x".to_vec(),
            br#"[{"a":1,"a":2}]"#.to_vec(),
            br#"[{"a":1,"a":2}] x"#.to_vec(),
            br#""s""#.to_vec(),
            b"1".to_vec(),
            b"1e400".to_vec(),
            b"true".to_vec(),
            b"null".to_vec(),
            b"\xff{}".to_vec(),
            b"{\"sub\":\"\xff\"}".to_vec(),
            b"{\"a\":\"\xc3\"}".to_vec(),
            br#"{"iss":1,"iss":1}"#.to_vec(),
            br#"{"iss":1,"\u0069ss":"a"}"#.to_vec(),
            br#"{"jti":1,"iss":2}"#.to_vec(),
            br#"{"exp":"bad","sub":1}"#.to_vec(),
            br#"{"exp":1,"a":{"b":1,"b":2}}"#.to_vec(),
            br#"{"exp":1,"a":1,"a":2}"#.to_vec(),
            br#"{"exp":1,"a":[1,}"#.to_vec(),
            br#"{"exp":1} x"#.to_vec(),
            br#"{"exp":1 "a":2}"#.to_vec(),
            br#"{1:2}"#.to_vec(),
            br#"{"a" 1}"#.to_vec(),
            format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200)).into_bytes(),
            format!("{{\"exp\":{}{}}}", "[".repeat(200), "]".repeat(200)).into_bytes(),
            format!("{{\"sub\":{}1{}}}", "[".repeat(126), "]".repeat(126)).into_bytes(),
            format!("{{\"sub\":{}1{}}}", "[".repeat(127), "]".repeat(127)).into_bytes(),
        ];
        // Every key with every value, alone and followed by a second entry.
        for key in keys {
            for value in values {
                payloads.push(format!("{{\"{key}\":{value}}}").into_bytes());
                payloads.push(format!("{{\"{key}\":{value},\"iss\":7}}").into_bytes());
                payloads.push(format!("{{\"{key}\":{value},\"{key}\":\"a\"}}").into_bytes());
                payloads.push(format!("{{\"nbf\":true, \"{key}\" : {value} }}").into_bytes());
                payloads.push(format!("[{{\"{key}\":{value}}}]").into_bytes());
            }
        }
        // Pairs and triples of registered claims of mixed types, in both orders.
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                for (va, vb) in [("1", r#""x""#), (r#""x""#, "[]"), ("null", "{}")] {
                    payloads.push(format!("{{\"{a}\":{va},\"{b}\":{vb}}}").into_bytes());
                    payloads.push(format!("{{\"{b}\":{vb},\"{a}\":{va}}}").into_bytes());
                    payloads
                        .push(format!("{{\"{b}\":{vb},\"{a}\":{va},\"{b}\":{vb}}}").into_bytes());
                }
            }
        }
        // Every truncation of some of them.
        let whole: Vec<Vec<u8>> = vec![
            CLAIMS_FIXTURE.to_vec(),
            br#"{"exp":1,"a":[{"b":"\u00e9","c":null}],"iss":"x"}"#.to_vec(),
            "{\"sub\":\"é\",\"r\":[1,2.5,-3e2]}".as_bytes().to_vec(),
        ];
        for payload in &whole {
            for end in 0..payload.len() {
                payloads.push(payload[..end].to_vec());
            }
        }
        for payload in &payloads {
            same(payload);
        }
        assert!(payloads.len() > 1000, "{}", payloads.len());
    }

    #[test]
    fn string_claims_in_one_allocation_compare_by_claim() {
        let a = Strings::new([Some("ab"), None, Some(""), None]);
        assert_eq!(a.get(Strings::ISS), Some("ab"));
        assert_eq!(a.get(Strings::SUB), None);
        assert_eq!(a.get(Strings::AUD), Some(""));
        assert_eq!(a.get(Strings::JTI), None);
        assert_eq!(a, Strings::new([Some("ab"), None, Some(""), None]));
        assert_ne!(a, Strings::new([Some("a"), Some("b"), Some(""), None]));
        assert_ne!(a, Strings::new([Some("ab"), None, None, None]));
        assert_eq!(Strings::default(), Strings::new([None; 4]));
        let parsed = Claims::from_payload(br#"{"jti":"j","aud":"","iss":"i\u00e9"}"#).unwrap();
        assert_eq!(parsed.issuer(), Some("i\u{e9}"));
        assert_eq!(parsed.subject(), None);
        assert_eq!(parsed.audience(), Some(""));
        assert_eq!(parsed.token_id(), Some("j"));
    }

    const CLAIMS_FIXTURE: &[u8] = br#"{"iss":"https://auth.example.com","sub":"user:8f14e45f-ceea","aud":"api.example.com","exp":"2039-01-01T00:00:00Z","nbf":"2024-01-01T00:00:00Z","iat":"2024-01-01T00:00:00Z","jti":"c2a7d5e1-93b4-4f0a-8e61-0d9b2f7c4a38","role":"admin","tenant":"acme"}"#;

    #[test]
    fn typed_getters_read_claims_of_their_own_type() {
        let c = Claims::builder()
            .claim("n", -3)
            .claim("b", true)
            .claim("o", serde_json::json!({"k": [1, 2]}))
            .claim("a", ["x", "y"])
            .build_with_clock(clock())
            .unwrap();
        assert_eq!(c.custom_i64("n"), Some(-3));
        assert_eq!(c.custom_bool("b"), Some(true));
        assert_eq!(
            c.custom_object("o"),
            serde_json::json!({"k": [1, 2]}).as_object()
        );
        assert_eq!(
            c.custom_array("a"),
            Some(&vec![Value::from("x"), Value::from("y")])
        );
        let mut names: Vec<&str> = c.custom_claims().keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["a", "b", "n", "o"]);
    }

    #[test]
    fn a_random_token_id_is_32_fresh_random_bytes_in_base64url() {
        let ids: Vec<String> = (0..2)
            .map(|_| {
                let claims = Claims::builder()
                    .random_token_id()
                    .build_with_clock(clock())
                    .unwrap();
                claims.token_id().unwrap().to_owned()
            })
            .collect();
        assert_ne!(ids[0], ids[1]);
        for id in &ids {
            let bytes = crate::encoding::decode_base64url(id).unwrap();
            assert_eq!(bytes.len(), 32, "{id}");
        }
    }
}
