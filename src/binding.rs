//! Context binding: ties a token to the context it was issued in (a tenant, a
//! device, a client network, a user agent) without ever sending that context.
//!
//! A [`Binding`] lists named context values, each in one of two modes:
//!
//! - **Strict** ([`Binding::strict`], [`Binding::strict_ip`]): the values become
//!   the token's implicit assertion ([`Binding::implicit_assertion`]), which the
//!   MAC or signature covers and which is never on the wire. A token decoded in
//!   another context fails with [`Error::Verification`], exactly as a forgery
//!   does. Use it for values that must not change while a token lives: a tenant,
//!   a device id.
//! - **Observe** ([`Binding::observe`], [`Binding::observe_ip`]): an [`Observer`]
//!   puts a keyed hash of each value in the claims ([`Observer::claim_for`],
//!   under [`OBSERVED_CLAIM`]); after a decode, [`Observer::drift`] says which
//!   values changed, and rejects nothing. Use it for values that change
//!   legitimately: a client IP (NAT, mobile networks, IPv4/IPv6 switching), a
//!   user agent.
//!
//! The implicit assertion is `PAE("vaulttoken.binding.v1", name₁, value₁, …,
//! nameₙ, valueₙ)` over the strict values sorted by name. The order the values
//! were added in does not matter, and every name and value is its own
//! length-prefixed piece, so no two contexts give the same bytes. Names are
//! unique across both modes: a repeated name is an error
//! ([`BindingError::DuplicateName`]), never an overwrite.
//!
//! An IP address is bound by its prefix ([`IpPrefix`]: /24 for IPv4 and /56 for
//! IPv6 unless chosen), so a client that moves within its network keeps its
//! binding. An IPv4-mapped IPv6 address (`::ffff:192.0.2.7`) counts as the IPv4
//! address it maps.
//!
//! # Security
//!
//! Binding protects against a token lifted from one context and replayed in
//! another: a token taken from tenant A's logs is refused where tenant B's
//! context is bound, and a token copied off one device is refused when
//! presented with another device's id. The context is not on the wire (strict)
//! or only as a keyed hash (observe), so a token alone does not reveal it.
//!
//! It does not protect against:
//!
//! - an attacker in the same context: on the same device or network, behind the
//!   same NAT or in the same /24 (or /56), or holding the stolen device itself;
//! - an attacker who can send the same values. A user agent, or any header the
//!   client writes, is trivially forged. Bind values your service establishes
//!   itself: the tenant from the route, the device id from an attested key, the
//!   peer address your edge saw (not an `X-Forwarded-For` the client wrote);
//! - anything, in observe mode: it never blocks. A [`Drift`] is a signal to log,
//!   audit or answer with a step-up; acting on it is the caller's decision.
//!
//! Strict IP binding refuses legitimate clients whose address leaves the
//! prefix; prefer observe mode for addresses unless the network is fixed. The
//! observe key must be secret and shared by every issuer and verifier. Without
//! a key, a hash in a readable `v4.public` payload would give the address away
//! (an IPv4 /24 has 2²⁴ candidates). Changing the key makes every older token
//! drift.
//!
//! # Examples
//!
//! ```
//! use vaulttoken::binding::{Binding, IpPrefix, OBSERVED_CLAIM, Observer};
//! use vaulttoken::footer::Footer;
//! use vaulttoken::{Claims, Error, LocalKey, LocalService};
//!
//! let service = LocalService::builder(LocalKey::generate()?).build();
//! let observer = Observer::from_bytes(&[7; 32]); // from your secret store
//! let context = |tenant: &str, ip: [u8; 4]| {
//!     Binding::new()
//!         .strict("tenant", tenant)
//!         .observe_ip("ip", ip, IpPrefix::default())
//! };
//!
//! // Issue in tenant acme, from 192.0.2.7.
//! let issued = context("acme", [192, 0, 2, 7]);
//! let claims = Claims::builder()
//!     .claim(OBSERVED_CLAIM, observer.claim_for(&issued)?)
//!     .build()?;
//! let implicit = issued.implicit_assertion()?;
//! let token = service.encode_with(&claims, &Footer::None, implicit.as_bytes())?;
//!
//! // Same tenant, another network: accepted, and the drift is reported.
//! let now = context("acme", [198, 51, 100, 1]);
//! let verified = service.decode_with(&token, None, now.implicit_assertion()?.as_bytes())?;
//! let drift = observer.drift(verified.claims(), &now)?;
//! assert_eq!(drift.iter().map(|d| d.name()).collect::<Vec<_>>(), ["ip"]);
//!
//! // Another tenant: refused, exactly like a forgery.
//! let elsewhere = context("globex", [192, 0, 2, 7]).implicit_assertion()?;
//! assert!(matches!(
//!     service.decode_with(&token, None, elsewhere.as_bytes()),
//!     Err(Error::Verification)
//! ));
//! # Ok::<(), vaulttoken::Error>(())
//! ```
//!
//! [`Error::Verification`]: crate::Error::Verification

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use blake2::Blake2bMac;
use blake2::digest::Mac;
use blake2::digest::consts::U16;
use serde_json::{Map, Value};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::audit::{self, AuditEvent};
use crate::claims::Claims;
use crate::encoding;
use crate::error::{BindingError, Error};
use crate::pae;
use crate::primitives::keyed_blake2b;

/// The longest name a binding accepts: 64 bytes.
pub const MAX_NAME_LEN: usize = 64;

/// The longest value a binding accepts: 8 KiB, room for any user agent an HTTP
/// server lets through.
pub const MAX_VALUE_LEN: usize = 8 * 1024;

/// The most values one binding holds, strict and observed together: 16.
pub const MAX_VALUES: usize = 16;

/// The custom claim that carries the observed hashes: `ctx`.
pub const OBSERVED_CLAIM: &str = "ctx";

/// The IPv4 prefix length [`IpPrefix::default`] binds: 24 bits.
pub const DEFAULT_IPV4_PREFIX: u8 = 24;

/// The IPv6 prefix length [`IpPrefix::default`] binds: 56 bits.
pub const DEFAULT_IPV6_PREFIX: u8 = 56;

/// The first PAE piece of every implicit assertion.
const STRICT_DOMAIN: &[u8] = b"vaulttoken.binding.v1";

/// The first PAE piece of every observed hash.
const OBSERVE_DOMAIN: &[u8] = b"vaulttoken.binding.observe.v1";

/// Named context values, strict or observed. Build one from the same request
/// data when issuing and when decoding.
///
/// Every check (names, lengths, count, duplicates) runs when the binding is
/// used, by [`Binding::implicit_assertion`], [`Observer::claim_for`] and
/// [`Observer::drift`].
///
/// # Examples
///
/// ```
/// use vaulttoken::binding::Binding;
///
/// let a = Binding::new().strict("tenant", "acme").strict("device", "d-1");
/// let b = Binding::new().strict("device", "d-1").strict("tenant", "acme");
/// assert_eq!(a.implicit_assertion()?, b.implicit_assertion()?);
/// // Debug shows names, never values.
/// assert_eq!(format!("{a:?}"), r#"Binding { strict: ["tenant", "device"], observed: [], .. }"#);
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use = "a binding does nothing until its implicit assertion or observed claim is used"]
pub struct Binding {
    values: Vec<BoundValue>,
}

/// One named value and how it is bound.
#[derive(Clone)]
struct BoundValue {
    name: String,
    value: Vec<u8>,
    mode: Mode,
}

/// Strict values go into the implicit assertion, observed ones into the claims.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Observe,
}

impl Binding {
    /// An empty binding. Its implicit assertion is not empty: it still names
    /// the binding format, so it differs from `b""`.
    ///
    /// # Examples
    ///
    /// ```
    /// let empty = vaulttoken::binding::Binding::new().implicit_assertion()?;
    /// assert!(!empty.as_bytes().is_empty());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `value` under `name` strictly: a token decoded with another value
    /// fails with [`Error::Verification`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::binding::Binding;
    ///
    /// let acme = Binding::new().strict("tenant", "acme").implicit_assertion()?;
    /// let globex = Binding::new().strict("tenant", "globex").implicit_assertion()?;
    /// assert_ne!(acme, globex);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn strict(self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.with(name, value.as_ref().to_vec(), Mode::Strict)
    }

    /// Binds the `prefix` of `addr` under `name` strictly.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use vaulttoken::binding::{Binding, IpPrefix};
    ///
    /// let bind = |ip| Binding::new().strict_ip("ip", ip, IpPrefix::default()).implicit_assertion();
    /// assert_eq!(bind(Ipv4Addr::new(192, 0, 2, 7))?, bind(Ipv4Addr::new(192, 0, 2, 200))?);
    /// assert_ne!(bind(Ipv4Addr::new(192, 0, 2, 7))?, bind(Ipv4Addr::new(192, 0, 3, 7))?);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn strict_ip(
        self,
        name: impl Into<String>,
        addr: impl Into<IpAddr>,
        prefix: IpPrefix,
    ) -> Self {
        self.with(name, prefix.network(addr.into()).into_bytes(), Mode::Strict)
    }

    /// Observes `value` under `name`: see [`Observer`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::binding::Binding;
    ///
    /// // Observed values are not part of the implicit assertion.
    /// let strict = Binding::new().strict("tenant", "acme");
    /// let both = strict.clone().observe("ua", "curl/8.5.0");
    /// assert_eq!(strict.implicit_assertion()?, both.implicit_assertion()?);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn observe(self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.with(name, value.as_ref().to_vec(), Mode::Observe)
    }

    /// Observes the `prefix` of `addr` under `name`: see [`Observer`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    /// use vaulttoken::binding::{Binding, IpPrefix, Observer};
    ///
    /// let observer = Observer::from_bytes(&[7; 32]);
    /// let at = |ip: Ipv6Addr| Binding::new().observe_ip("ip", ip, IpPrefix::default());
    /// let claim = observer.claim_for(&at("2001:db8:0:1::1".parse().unwrap()))?;
    /// let same_56 = observer.claim_for(&at("2001:db8:0:ff::2".parse().unwrap()))?;
    /// assert_eq!(claim, same_56);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn observe_ip(
        self,
        name: impl Into<String>,
        addr: impl Into<IpAddr>,
        prefix: IpPrefix,
    ) -> Self {
        self.with(
            name,
            prefix.network(addr.into()).into_bytes(),
            Mode::Observe,
        )
    }

    /// The implicit assertion to pass to `encode_with` and `decode_with`:
    /// `PAE("vaulttoken.binding.v1", name₁, value₁, …)` over the strict values
    /// sorted by name.
    ///
    /// # Errors
    ///
    /// [`Error::Binding`] for an empty, too long or unprintable name, a repeated
    /// name, a value longer than [`MAX_VALUE_LEN`], or more than [`MAX_VALUES`]
    /// values.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::binding::Binding;
    /// use vaulttoken::footer::Footer;
    /// use vaulttoken::{Claims, LocalKey, LocalService};
    ///
    /// let service = LocalService::builder(LocalKey::generate()?).build();
    /// let device = Binding::new().strict("device", "d-1").implicit_assertion()?;
    /// let token = service.encode_with(&Claims::builder().build()?, &Footer::None, device.as_bytes())?;
    /// assert!(service.decode_with(&token, None, device.as_bytes()).is_ok());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn implicit_assertion(&self) -> Result<ImplicitAssertion, Error> {
        let sorted = self.checked()?;
        let mut pieces: Vec<&[u8]> = vec![STRICT_DOMAIN];
        for value in sorted.iter().filter(|value| value.mode == Mode::Strict) {
            pieces.push(value.name.as_bytes());
            pieces.push(&value.value);
        }
        let mut bytes = Vec::new();
        pae::feed(&pieces, &mut |piece| bytes.extend_from_slice(piece));
        Ok(ImplicitAssertion(bytes))
    }

    fn with(mut self, name: impl Into<String>, value: Vec<u8>, mode: Mode) -> Self {
        self.values.push(BoundValue {
            name: name.into(),
            value,
            mode,
        });
        self
    }

    /// Every value, sorted by name, once every check has passed.
    fn checked(&self) -> Result<Vec<&BoundValue>, Error> {
        if self.values.len() > MAX_VALUES {
            return Err(BindingError::TooManyValues { max: MAX_VALUES }.into());
        }
        let mut sorted: Vec<&BoundValue> = self.values.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut previous: Option<&str> = None;
        for value in &sorted {
            check_name(&value.name)?;
            if value.value.len() > MAX_VALUE_LEN {
                return Err(BindingError::ValueTooLong {
                    name: value.name.clone(),
                    max_len: MAX_VALUE_LEN,
                }
                .into());
            }
            if previous == Some(value.name.as_str()) {
                return Err(BindingError::DuplicateName {
                    name: value.name.clone(),
                }
                .into());
            }
            previous = Some(&value.name);
        }
        Ok(sorted)
    }

    /// The names bound in `mode`, in the order added.
    fn names(&self, mode: Mode) -> Vec<&str> {
        self.values
            .iter()
            .filter(|value| value.mode == mode)
            .map(|value| value.name.as_str())
            .collect()
    }
}

impl fmt::Debug for Binding {
    /// Names only: context values (addresses, user agents, device ids) are
    /// personal data, and `Debug` output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Binding")
            .field("strict", &self.names(Mode::Strict))
            .field("observed", &self.names(Mode::Observe))
            .finish_non_exhaustive()
    }
}

/// A name is 1 to [`MAX_NAME_LEN`] bytes of printable ASCII, so it is safe to
/// put in an error message or a log line.
fn check_name(name: &str) -> Result<(), BindingError> {
    if name.is_empty() {
        Err(BindingError::EmptyName)
    } else if name.len() > MAX_NAME_LEN {
        Err(BindingError::NameTooLong {
            max_len: MAX_NAME_LEN,
        })
    } else if !name.bytes().all(|byte| byte.is_ascii_graphic()) {
        Err(BindingError::InvalidName)
    } else {
        Ok(())
    }
}

/// The bytes of a [`Binding`]'s strict values, for `encode_with` and
/// `decode_with`. Never sent; `Debug` shows only its length.
///
/// # Examples
///
/// ```
/// use vaulttoken::binding::Binding;
///
/// let assertion = Binding::new().strict("tenant", "acme").implicit_assertion()?;
/// assert!(!assertion.as_bytes().is_empty());
/// assert!(!format!("{assertion:?}").contains("acme"));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ImplicitAssertion(Vec<u8>);

impl ImplicitAssertion {
    /// The bytes to pass as the implicit assertion.
    ///
    /// # Examples
    ///
    /// See [`Binding::implicit_assertion`].
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for ImplicitAssertion {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ImplicitAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImplicitAssertion")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// How much of an IP address is bound: the first `v4` bits of an IPv4 address,
/// the first `v6` bits of an IPv6 one. Defaults to [`DEFAULT_IPV4_PREFIX`] (/24)
/// and [`DEFAULT_IPV6_PREFIX`] (/56). An IPv4-mapped IPv6 address is bound as
/// the IPv4 address it maps.
///
/// # Examples
///
/// ```
/// use vaulttoken::binding::IpPrefix;
/// use vaulttoken::{Error, error::BindingError};
///
/// let exact = IpPrefix::new(32, 128)?;
/// assert_eq!((exact.v4(), exact.v6()), (32, 128));
/// assert_eq!((IpPrefix::default().v4(), IpPrefix::default().v6()), (24, 56));
/// assert!(matches!(
///     IpPrefix::new(33, 56),
///     Err(Error::Binding(BindingError::PrefixTooLong { family: "IPv4", max_len: 32 }))
/// ));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    v4: u8,
    v6: u8,
}

impl IpPrefix {
    /// Binds the first `v4` bits of IPv4 addresses and the first `v6` bits of
    /// IPv6 ones. A length of 0 binds only the address family.
    ///
    /// # Errors
    ///
    /// [`BindingError::PrefixTooLong`] if `v4` is over 32 or `v6` over 128.
    ///
    /// # Examples
    ///
    /// See [`IpPrefix`].
    pub fn new(v4: u8, v6: u8) -> Result<Self, Error> {
        if v4 > 32 {
            return Err(BindingError::PrefixTooLong {
                family: "IPv4",
                max_len: 32,
            }
            .into());
        }
        if v6 > 128 {
            return Err(BindingError::PrefixTooLong {
                family: "IPv6",
                max_len: 128,
            }
            .into());
        }
        Ok(Self { v4, v6 })
    }

    /// The IPv4 prefix length, in bits.
    ///
    /// # Examples
    ///
    /// See [`IpPrefix`].
    #[must_use]
    pub const fn v4(self) -> u8 {
        self.v4
    }

    /// The IPv6 prefix length, in bits.
    ///
    /// # Examples
    ///
    /// See [`IpPrefix`].
    #[must_use]
    pub const fn v6(self) -> u8 {
        self.v6
    }

    /// The network `addr` is in, as text: `192.0.2.0/24`, `2001:db8::/56`.
    fn network(self, addr: IpAddr) -> String {
        match addr.to_canonical() {
            IpAddr::V4(v4) => {
                let bits =
                    u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(self.v4)).unwrap_or(0);
                format!("{}/{}", Ipv4Addr::from(bits), self.v4)
            }
            IpAddr::V6(v6) => {
                let bits =
                    u128::from(v6) & u128::MAX.checked_shl(128 - u32::from(self.v6)).unwrap_or(0);
                format!("{}/{}", Ipv6Addr::from(bits), self.v6)
            }
        }
    }
}

impl Default for IpPrefix {
    fn default() -> Self {
        Self {
            v4: DEFAULT_IPV4_PREFIX,
            v6: DEFAULT_IPV6_PREFIX,
        }
    }
}

/// Records observed context values in a token's claims and reports, after a
/// decode, which of them changed ("drifted"), without rejecting anything.
///
/// Each observed value is recorded as a keyed hash, BLAKE2b-128 of
/// `PAE("vaulttoken.binding.observe.v1", name, value)`, in unpadded base64url,
/// in a [`OBSERVED_CLAIM`] object keyed by name. The 32-byte key must be secret
/// and the same for every issuer and verifier; it is wiped on drop and never
/// printed.
///
/// # Examples
///
/// ```
/// use vaulttoken::binding::{Binding, OBSERVED_CLAIM, Observer};
/// use vaulttoken::Claims;
///
/// let observer = Observer::from_bytes(&[7; 32]);
/// let issued = Binding::new().observe("ua", "app/1.0");
/// let claims = Claims::builder().claim(OBSERVED_CLAIM, observer.claim_for(&issued)?).build()?;
/// assert!(observer.drift(&claims, &issued)?.is_empty());
/// assert_eq!(format!("{observer:?}"), "Observer { .. }");
/// # Ok::<(), vaulttoken::Error>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Observer {
    key: [u8; 32],
}

impl Observer {
    /// An observer with this key. Load it from your secret store; every service
    /// that issues or checks the same tokens needs the same key.
    ///
    /// # Examples
    ///
    /// See [`Observer`].
    #[must_use]
    pub fn from_bytes(key: &[u8; 32]) -> Self {
        Self { key: *key }
    }

    /// The value of the [`OBSERVED_CLAIM`] claim for `binding`'s observed
    /// values: an object from each name to its keyed hash. Strict values are
    /// left out (they are never in the claims).
    ///
    /// # Errors
    ///
    /// As for [`Binding::implicit_assertion`].
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::binding::{Binding, Observer};
    ///
    /// let observer = Observer::from_bytes(&[7; 32]);
    /// let claim = observer.claim_for(&Binding::new().strict("tenant", "acme").observe("ua", "app/1.0"))?;
    /// let recorded = claim.as_object().unwrap();
    /// assert_eq!(recorded.keys().collect::<Vec<_>>(), ["ua"]);
    /// assert_eq!(recorded["ua"].as_str().unwrap().len(), 22); // 16 bytes, base64url
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn claim_for(&self, binding: &Binding) -> Result<Value, Error> {
        let mut recorded = Map::new();
        for value in binding.checked()? {
            if value.mode == Mode::Observe {
                let hash = self.hash(value).finalize().into_bytes();
                recorded.insert(
                    value.name.clone(),
                    Value::String(encoding::encode_base64url(&hash)),
                );
            }
        }
        Ok(Value::Object(recorded))
    }

    /// Which observed values differ between `claims` (from a verified token) and
    /// the `current` binding, sorted by name; empty when none do. Hashes are
    /// compared in constant time. A value observed on one side only is a drift
    /// too, and so is a recorded hash that is not one this format writes; a
    /// missing or non-object [`OBSERVED_CLAIM`] counts as recording nothing.
    /// Strict values of `current` are not compared (the decode already did).
    ///
    /// # Errors
    ///
    /// As for [`Binding::implicit_assertion`], for `current`.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::binding::{Binding, DriftKind, OBSERVED_CLAIM, Observer};
    /// use vaulttoken::Claims;
    ///
    /// let observer = Observer::from_bytes(&[7; 32]);
    /// let issued = Binding::new().observe("ua", "app/1.0").observe("lang", "en");
    /// let claims = Claims::builder().claim(OBSERVED_CLAIM, observer.claim_for(&issued)?).build()?;
    ///
    /// let now = Binding::new().observe("ua", "app/2.0").observe("tz", "UTC");
    /// let drift = observer.drift(&claims, &now)?;
    /// let seen: Vec<_> = drift.iter().map(|d| (d.name(), d.kind())).collect();
    /// assert_eq!(seen, [
    ///     ("lang", DriftKind::MissingInContext),
    ///     ("tz", DriftKind::MissingInToken),
    ///     ("ua", DriftKind::Changed),
    /// ]);
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    pub fn drift(&self, claims: &Claims, current: &Binding) -> Result<Vec<Drift>, Error> {
        let observed: Vec<&BoundValue> = current
            .checked()?
            .into_iter()
            .filter(|value| value.mode == Mode::Observe)
            .collect();
        let nothing = Map::new();
        let recorded = claims.custom_object(OBSERVED_CLAIM).unwrap_or(&nothing);
        let mut drift = Vec::new();
        for value in &observed {
            let kind = match recorded.get(&value.name) {
                None => DriftKind::MissingInToken,
                Some(hash) if self.matches(value, hash) => continue,
                Some(_) => DriftKind::Changed,
            };
            drift.push(Drift::new(&value.name, kind));
        }
        for name in recorded.keys() {
            if !observed.iter().any(|value| &value.name == name) {
                drift.push(Drift::new(name, DriftKind::MissingInContext));
            }
        }
        drift.sort_by(|a, b| a.name.cmp(&b.name));
        for found in &drift {
            audit::emit(
                AuditEvent::BindingDrift,
                &audit::Fields {
                    jti: claims.token_id(),
                    subject: claims.subject(),
                    context: Some(&found.name),
                    reason: Some(found.kind.code()),
                    ..audit::Fields::default()
                },
            );
        }
        Ok(drift)
    }

    /// The keyed hash of one observed value.
    fn hash(&self, value: &BoundValue) -> Blake2bMac<U16> {
        let mut mac = keyed_blake2b::<U16>(&self.key, &[]);
        pae::feed(
            &[OBSERVE_DOMAIN, value.name.as_bytes(), &value.value],
            &mut |piece| Mac::update(&mut mac, piece),
        );
        mac
    }

    /// Whether `recorded` is the base64url hash of `value`, compared in
    /// constant time (`verify_slice`, over `subtle`).
    fn matches(&self, value: &BoundValue, recorded: &Value) -> bool {
        let Some(hash) = recorded.as_str().and_then(encoding::decode_base64url) else {
            return false;
        };
        self.hash(value).verify_slice(&hash).is_ok()
    }
}

impl fmt::Debug for Observer {
    /// Never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer").finish_non_exhaustive()
    }
}

/// One observed value that differs between a token and the current context:
/// its name and how it differs, never the values.
///
/// # Examples
///
/// See [`Observer::drift`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    name: String,
    kind: DriftKind,
}

impl Drift {
    fn new(name: &str, kind: DriftKind) -> Self {
        Self {
            name: name.to_owned(),
            kind,
        }
    }

    /// The name of the value that drifted.
    ///
    /// # Examples
    ///
    /// See [`Observer::drift`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it drifted.
    ///
    /// # Examples
    ///
    /// See [`Observer::drift`].
    #[must_use]
    pub fn kind(&self) -> DriftKind {
        self.kind
    }
}

/// How an observed value drifted: see [`Drift`].
///
/// # Examples
///
/// See [`Observer::drift`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DriftKind {
    /// Observed on both sides, with different values.
    Changed,
    /// Observed now, but the token recorded no value under this name (it was
    /// issued before the value was observed, or without it).
    MissingInToken,
    /// Recorded in the token, but not observed now.
    MissingInContext,
}

impl DriftKind {
    /// A stable code, the `reason` of the `binding_drift` audit event.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::binding::DriftKind;
    ///
    /// assert_eq!(DriftKind::Changed.code(), "changed");
    /// assert_eq!(DriftKind::MissingInToken.code(), "missing-in-token");
    /// assert_eq!(DriftKind::MissingInContext.code(), "missing-in-context");
    /// ```
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::MissingInToken => "missing-in-token",
            Self::MissingInContext => "missing-in-context",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(binding: &Binding) -> Vec<u8> {
        binding.implicit_assertion().unwrap().as_bytes().to_vec()
    }

    fn binding_error(result: Result<ImplicitAssertion, Error>) -> BindingError {
        match result {
            Err(Error::Binding(error)) => error,
            other => panic!("expected a binding error, got {other:?}"),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn pae(pieces: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        pae::feed(pieces, &mut |piece| out.extend_from_slice(piece));
        out
    }

    #[test]
    fn assertion_is_pae_of_the_domain_and_the_strict_pairs_sorted_by_name() {
        let binding = Binding::new()
            .strict("tenant", "acme")
            .observe("ua", "curl")
            .strict("device", [0u8, 1]);
        assert_eq!(
            assertion(&binding),
            pae(&[
                b"vaulttoken.binding.v1",
                b"device",
                &[0, 1],
                b"tenant",
                b"acme"
            ])
        );
        assert_eq!(assertion(&Binding::new()), pae(&[b"vaulttoken.binding.v1"]));
    }

    #[test]
    fn same_pairs_in_any_order_give_the_same_assertion() {
        let pairs = [("tenant", "acme"), ("device", "d-1"), ("region", "eu")];
        let expected = assertion(
            &pairs
                .iter()
                .fold(Binding::new(), |b, (n, v)| b.strict(*n, v)),
        );
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let binding = order
                .iter()
                .fold(Binding::new(), |b, &i| b.strict(pairs[i].0, pairs[i].1));
            assert_eq!(assertion(&binding), expected, "{order:?}");
        }
    }

    #[test]
    fn moving_bytes_across_a_name_or_value_boundary_changes_the_assertion() {
        let one = |name: &str, value: &str| assertion(&Binding::new().strict(name, value));
        assert_ne!(one("ab", "c"), one("a", "bc"));
        assert_ne!(one("a", "b"), one("ab", ""));
        let two = |a: (&str, &str), b: (&str, &str)| {
            assertion(&Binding::new().strict(a.0, a.1).strict(b.0, b.1))
        };
        assert_ne!(two(("a", "bc"), ("d", "e")), two(("a", "b"), ("cd", "e")));
        assert_ne!(two(("a", "b"), ("c", "de")), two(("a", "bc"), ("d", "e")));
    }

    #[test]
    fn a_value_holding_an_encoded_pair_does_not_collide_with_two_pairs() {
        let two = assertion(&Binding::new().strict("a", "x").strict("b", "y"));
        // The value "x" followed by the PAE encoding of the pair ("b", "y").
        let mut smuggled = b"x".to_vec();
        smuggled.extend_from_slice(&pae::le64(1));
        smuggled.extend_from_slice(b"b");
        smuggled.extend_from_slice(&pae::le64(1));
        smuggled.extend_from_slice(b"y");
        let one = assertion(&Binding::new().strict("a", &smuggled));
        assert_ne!(one, two);
        // A separator a naive encoding might use is just a byte of the value.
        let joined = assertion(&Binding::new().strict("a", "x;b=y"));
        assert_ne!(joined, two);
    }

    #[test]
    fn the_assertion_depends_on_every_name_and_value() {
        let base = assertion(&Binding::new().strict("tenant", "acme"));
        assert_ne!(base, assertion(&Binding::new().strict("tenant", "acmf")));
        assert_ne!(base, assertion(&Binding::new().strict("tenanu", "acme")));
        assert_ne!(base, assertion(&Binding::new()));
    }

    #[test]
    fn observed_values_stay_out_of_the_assertion() {
        let strict = Binding::new().strict("tenant", "acme");
        let both = strict.clone().observe("ua", "curl").observe_ip(
            "ip",
            ip("192.0.2.1"),
            IpPrefix::default(),
        );
        assert_eq!(assertion(&strict), assertion(&both));
    }

    #[test]
    fn a_repeated_name_is_an_error_never_an_overwrite() {
        let twice = Binding::new().strict("tenant", "a").strict("tenant", "b");
        assert_eq!(
            binding_error(twice.implicit_assertion()),
            BindingError::DuplicateName {
                name: "tenant".into()
            }
        );
        let same_value = Binding::new().strict("tenant", "a").strict("tenant", "a");
        assert!(matches!(
            binding_error(same_value.implicit_assertion()),
            BindingError::DuplicateName { .. }
        ));
        // One namespace for both modes.
        let across = Binding::new().strict("ip", "x").observe("ip", "y");
        assert!(matches!(
            binding_error(across.implicit_assertion()),
            BindingError::DuplicateName { .. }
        ));
        let observer = Observer::from_bytes(&[1; 32]);
        let claims = Claims::builder().build().unwrap();
        assert!(matches!(
            observer.claim_for(&across),
            Err(Error::Binding(BindingError::DuplicateName { .. }))
        ));
        assert!(matches!(
            observer.drift(&claims, &across),
            Err(Error::Binding(BindingError::DuplicateName { .. }))
        ));
    }

    #[test]
    fn names_must_be_one_to_sixty_four_bytes_of_printable_ascii() {
        let named = |name: &str| Binding::new().strict(name, "v").implicit_assertion();
        assert_eq!(binding_error(named("")), BindingError::EmptyName);
        assert!(named(&"n".repeat(MAX_NAME_LEN)).is_ok());
        assert_eq!(
            binding_error(named(&"n".repeat(MAX_NAME_LEN + 1))),
            BindingError::NameTooLong { max_len: 64 }
        );
        for bad in ["a b", "a\nb", "tab\t", "\u{7f}", "é", "\0"] {
            assert_eq!(
                binding_error(named(bad)),
                BindingError::InvalidName,
                "{bad:?}"
            );
        }
        assert!(named("x-forwarded-for!~").is_ok());
    }

    #[test]
    fn values_and_bindings_have_length_limits() {
        let valued = |len| {
            Binding::new()
                .strict("ua", vec![b'x'; len])
                .implicit_assertion()
        };
        assert!(valued(MAX_VALUE_LEN).is_ok());
        assert_eq!(
            binding_error(valued(MAX_VALUE_LEN + 1)),
            BindingError::ValueTooLong {
                name: "ua".into(),
                max_len: 8192
            }
        );
        assert!(
            Binding::new()
                .strict("empty", "")
                .implicit_assertion()
                .is_ok()
        );
        let many = |count: usize| {
            (0..count)
                .fold(Binding::new(), |b, i| b.observe(format!("n{i}"), "v"))
                .implicit_assertion()
        };
        assert!(many(MAX_VALUES).is_ok());
        assert_eq!(
            binding_error(many(MAX_VALUES + 1)),
            BindingError::TooManyValues { max: 16 }
        );
    }

    #[test]
    fn ip_networks_are_written_with_their_prefix() {
        let default = IpPrefix::default();
        assert_eq!(default.network(ip("192.0.2.77")), "192.0.2.0/24");
        assert_eq!(
            default.network(ip("2001:db8:1234:56ff:1::1")),
            "2001:db8:1234:5600::/56"
        );
        let exact = IpPrefix::new(32, 128).unwrap();
        assert_eq!(exact.network(ip("192.0.2.77")), "192.0.2.77/32");
        assert_eq!(exact.network(ip("2001:db8::1")), "2001:db8::1/128");
        let family_only = IpPrefix::new(0, 0).unwrap();
        assert_eq!(family_only.network(ip("192.0.2.77")), "0.0.0.0/0");
        assert_eq!(family_only.network(ip("2001:db8::1")), "::/0");
        let odd = IpPrefix::new(20, 33).unwrap();
        assert_eq!(odd.network(ip("192.0.255.255")), "192.0.240.0/20");
        assert_eq!(odd.network(ip("2001:dbff:ffff::")), "2001:dbff:8000::/33");
    }

    #[test]
    fn addresses_in_one_prefix_bind_equal_and_others_differ() {
        let bind =
            |text: &str| assertion(&Binding::new().strict_ip("ip", ip(text), IpPrefix::default()));
        assert_eq!(bind("192.0.2.1"), bind("192.0.2.254"));
        assert_ne!(bind("192.0.2.1"), bind("192.0.3.1"));
        assert_eq!(bind("2001:db8:0:100::1"), bind("2001:db8:0:1ff:ffff::9"));
        assert_ne!(bind("2001:db8:0:100::1"), bind("2001:db8:0:200::1"));
        // The prefix length is part of the value.
        let slash_16 = IpPrefix::new(16, 56).unwrap();
        let by_16 = assertion(&Binding::new().strict_ip("ip", ip("192.0.0.0"), slash_16));
        assert_ne!(by_16, bind("192.0.0.0"));
    }

    #[test]
    fn an_ipv4_mapped_ipv6_address_binds_as_its_ipv4_address() {
        let bind =
            |text: &str| assertion(&Binding::new().strict_ip("ip", ip(text), IpPrefix::default()));
        assert_eq!(bind("::ffff:192.0.2.7"), bind("192.0.2.7"));
        assert_eq!(bind("::ffff:192.0.2.7"), bind("192.0.2.200"));
        assert_ne!(bind("::ffff:192.0.3.7"), bind("192.0.2.7"));
    }

    #[test]
    fn a_prefix_reports_the_lengths_it_was_given() {
        let prefix = IpPrefix::new(20, 48).unwrap();
        assert_eq!((prefix.v4(), prefix.v6()), (20, 48));
        let default = IpPrefix::default();
        assert_eq!((default.v4(), default.v6()), (24, 56));
    }

    #[test]
    fn prefix_lengths_longer_than_the_address_are_refused() {
        assert!(IpPrefix::new(32, 128).is_ok());
        for (v4, v6, family, max_len) in [(33, 56, "IPv4", 32), (24, 129, "IPv6", 128)] {
            assert!(matches!(
                IpPrefix::new(v4, v6),
                Err(Error::Binding(BindingError::PrefixTooLong { family: f, max_len: m }))
                    if f == family && m == max_len
            ));
        }
    }

    #[test]
    fn observed_hash_depends_on_key_name_and_value() {
        let hash = |key: u8, name: &str, value: &str| {
            let binding = Binding::new().observe(name, value);
            Observer::from_bytes(&[key; 32])
                .claim_for(&binding)
                .unwrap()[name]
                .clone()
        };
        let base = hash(1, "ua", "app");
        assert_eq!(base, hash(1, "ua", "app"));
        assert_ne!(base, hash(2, "ua", "app"));
        assert_ne!(base, hash(1, "ua", "apq"));
        assert_ne!(base, hash(1, "ub", "app"));
    }

    #[test]
    fn observed_hash_is_keyed_blake2b_128_of_pae_in_base64url() {
        let observer = Observer::from_bytes(&[9; 32]);
        let claim = observer
            .claim_for(&Binding::new().observe("ua", "app"))
            .unwrap();
        let expected = keyed_blake2b::<U16>(
            &[9; 32],
            &[&pae(&[b"vaulttoken.binding.observe.v1", b"ua", b"app"])],
        )
        .finalize()
        .into_bytes();
        assert_eq!(claim["ua"], encoding::encode_base64url(&expected));
        assert_eq!(claim.as_object().unwrap().len(), 1);
    }

    fn claims_with(observed: Value) -> Claims {
        Claims::builder()
            .claim(OBSERVED_CLAIM, observed)
            .build()
            .unwrap()
    }

    fn drifted(drift: &[Drift]) -> Vec<(&str, DriftKind)> {
        drift.iter().map(|d| (d.name(), d.kind())).collect()
    }

    #[test]
    fn drift_is_empty_when_every_observed_value_matches() {
        let observer = Observer::from_bytes(&[3; 32]);
        let binding = Binding::new()
            .strict("tenant", "acme")
            .observe("ua", "app")
            .observe_ip("ip", ip("192.0.2.1"), IpPrefix::default());
        let claims = claims_with(observer.claim_for(&binding).unwrap());
        assert!(observer.drift(&claims, &binding).unwrap().is_empty());
        // Another strict value does not drift: the decode has checked it.
        let other_tenant = Binding::new()
            .strict("tenant", "globex")
            .observe("ua", "app")
            .observe_ip("ip", ip("192.0.2.99"), IpPrefix::default());
        assert!(observer.drift(&claims, &other_tenant).unwrap().is_empty());
    }

    #[test]
    fn drift_names_each_changed_or_one_sided_value_in_name_order() {
        let observer = Observer::from_bytes(&[3; 32]);
        let issued = Binding::new()
            .observe("ua", "app/1")
            .observe("lang", "en")
            .observe("a", "same");
        let claims = claims_with(observer.claim_for(&issued).unwrap());
        let now = Binding::new()
            .observe("zone", "utc")
            .observe("ua", "app/2")
            .observe("a", "same");
        assert_eq!(
            drifted(&observer.drift(&claims, &now).unwrap()),
            [
                ("lang", DriftKind::MissingInContext),
                ("ua", DriftKind::Changed),
                ("zone", DriftKind::MissingInToken),
            ]
        );
    }

    #[test]
    fn a_different_observe_key_drifts_every_value() {
        let binding = Binding::new().observe("ua", "app").observe("lang", "en");
        let claims = claims_with(Observer::from_bytes(&[1; 32]).claim_for(&binding).unwrap());
        let drift = Observer::from_bytes(&[2; 32])
            .drift(&claims, &binding)
            .unwrap();
        assert_eq!(
            drifted(&drift),
            [("lang", DriftKind::Changed), ("ua", DriftKind::Changed)]
        );
    }

    #[test]
    fn unreadable_recorded_hashes_are_drift() {
        let observer = Observer::from_bytes(&[3; 32]);
        let binding = Binding::new().observe("ua", "app");
        let good = observer.claim_for(&binding).unwrap()["ua"]
            .as_str()
            .unwrap()
            .to_owned();
        let cases = [
            serde_json::json!({ "ua": 5 }),
            serde_json::json!({ "ua": "not base64url!" }),
            serde_json::json!({ "ua": &good[..good.len() - 2] }),
            serde_json::json!({ "ua": format!("{good}AA") }),
            serde_json::json!({ "ua": "" }),
        ];
        for recorded in cases {
            let drift = observer
                .drift(&claims_with(recorded.clone()), &binding)
                .unwrap();
            assert_eq!(drifted(&drift), [("ua", DriftKind::Changed)], "{recorded}");
        }
        let fine = observer
            .drift(&claims_with(serde_json::json!({ "ua": good })), &binding)
            .unwrap();
        assert!(fine.is_empty());
    }

    #[test]
    fn a_missing_or_non_object_claim_records_nothing() {
        let observer = Observer::from_bytes(&[3; 32]);
        let binding = Binding::new().observe("ua", "app");
        let none = Claims::builder().build().unwrap();
        for claims in [
            none,
            claims_with(Value::from("ua")),
            claims_with(Value::Null),
        ] {
            assert_eq!(
                drifted(&observer.drift(&claims, &binding).unwrap()),
                [("ua", DriftKind::MissingInToken)]
            );
        }
        // Nothing observed on either side: no drift.
        let plain = Claims::builder().build().unwrap();
        assert!(observer.drift(&plain, &Binding::new()).unwrap().is_empty());
    }

    #[test]
    fn debug_never_shows_keys_or_context_values() {
        let observer = Observer::from_bytes(&[0xab; 32]);
        assert_eq!(format!("{observer:?}"), "Observer { .. }");
        let binding = Binding::new()
            .strict("tenant", "acme-secret-tenant")
            .observe_ip("ip", ip("192.0.2.1"), IpPrefix::default());
        assert_eq!(
            format!("{binding:?}"),
            r#"Binding { strict: ["tenant"], observed: ["ip"], .. }"#
        );
        let assertion = binding.implicit_assertion().unwrap();
        let shown = format!("{assertion:?}");
        assert_eq!(
            shown,
            format!(
                "ImplicitAssertion {{ len: {}, .. }}",
                assertion.as_bytes().len()
            )
        );
        assert_eq!(assertion.as_ref(), assertion.as_bytes());
    }

    #[test]
    fn the_observe_key_is_wiped_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<Observer>();
        let mut observer = Observer::from_bytes(&[5; 32]);
        assert_eq!(observer.key, [5; 32]);
        observer.zeroize();
        assert_eq!(observer.key, [0; 32]);
    }

    #[test]
    fn error_messages_name_no_value() {
        let long = Binding::new().strict("ua", vec![b'q'; MAX_VALUE_LEN + 1]);
        let message = long.implicit_assertion().unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid context binding: binding value `ua` is longer than 8192 bytes"
        );
    }
}
