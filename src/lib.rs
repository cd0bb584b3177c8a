#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod v4;

mod encoding;
mod error;
mod keys;
mod pae;

#[cfg(feature = "known-answer-tests")]
#[doc(hidden)]
pub mod danger;

pub use crate::error::{Error, KeyEncoding, KeyError, KeyKind, MalformedToken, TokenPart};
pub use crate::keys::{LocalKey, PublicKey, SecretBytes, SecretKey, SecretString};
