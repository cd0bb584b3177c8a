#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod claims;
pub mod clock;
pub mod error;
pub mod footer;
pub mod keyring;
pub mod keys;
pub mod paserk;
pub mod rules;
pub mod service;
pub mod v4;

mod encoding;
mod json;
mod pae;
mod primitives;

#[cfg(feature = "known-answer-tests")]
#[doc(hidden)]
pub mod danger;

// The paved path. Everything else has exactly one public path, in its module.
pub use crate::claims::Claims;
pub use crate::error::Error;
pub use crate::keys::{LocalKey, PublicKey, SecretKey};
pub use crate::service::{LocalService, PublicService};
