#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod claims;
pub mod footer;
pub mod keyring;
pub mod paserk;
pub mod rules;
pub mod service;
pub mod v4;

mod clock;
mod encoding;
mod error;
mod json;
mod keys;
mod pae;
mod primitives;

#[cfg(feature = "known-answer-tests")]
#[doc(hidden)]
pub mod danger;

pub use crate::claims::{Claims, ClaimsBuilder};
pub use crate::clock::{Clock, FixedClock, SystemClock};
pub use crate::error::{
    Error, FooterError, KeyEncoding, KeyError, KeyKind, MalformedToken, PayloadError, TokenPart,
};
pub use crate::keys::{LocalKey, PublicKey, SecretBytes, SecretKey, SecretString};
