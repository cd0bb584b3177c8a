#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
pub mod binding;
pub mod claims;
pub mod clock;
pub mod error;
pub mod family;
pub mod footer;
pub mod keyring;
pub mod keys;
pub mod paserk;
pub mod rules;
pub mod service;
pub mod store;
pub mod trust;
pub mod v4;

mod encoding;
mod json;
mod pae;
mod primitives;

#[cfg(feature = "known-answer-tests")]
#[doc(hidden)]
pub mod danger;

/// The `time` crate this crate's API uses (`OffsetDateTime`, `Duration`), so you
/// never match its version by hand.
///
/// ```
/// use vaulttoken::time::{Duration, OffsetDateTime};
///
/// let claims = vaulttoken::Claims::builder().expires_in(Duration::minutes(5)).build()?;
/// let exp: OffsetDateTime = claims.expiration().unwrap();
/// assert_eq!(exp - claims.issued_at().unwrap(), Duration::minutes(5));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub use ::time;

/// The `serde_json` crate this crate's API uses (`Value`, `Map` in custom
/// claims), so you never match its version by hand.
///
/// ```
/// use vaulttoken::serde_json::{Value, json};
///
/// let claims = vaulttoken::Claims::builder().claim("scopes", json!(["read"])).build()?;
/// assert_eq!(claims.custom("scopes"), Some(&Value::from(vec!["read"])));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub use ::serde_json;

// The paved path. Everything else has exactly one public path, in its module.
pub use crate::claims::Claims;
pub use crate::error::Error;
pub use crate::keys::{LocalKey, PublicKey, SecretKey};
pub use crate::service::{LocalService, PublicService};
