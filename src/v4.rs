//! PASETO version 4 at the protocol level: bytes in, bytes out.
//!
//! - [`local`]: `v4.local`, XChaCha20 with a BLAKE2b MAC (encrypt-then-MAC).
//! - [`public`]: `v4.public`, Ed25519 signatures.
//!
//! Every function checks the header exactly before doing any cryptographic work,
//! takes a key of exactly one type, and binds the footer and the implicit
//! assertion into the MAC or signature.
//!
//! Every function here, and every service above, parses a token through one
//! route, [`UntrustedToken::parse`]: header, layout, lengths, then the body and
//! the footer decoded in full, all before any key is looked at. To read a footer
//! *before* verifying (for example to choose a key by `kid`), parse an
//! [`UntrustedToken`] yourself: its accessor says `untrusted` in its name.
//!
//! # Examples
//!
//! ```
//! use vaulttoken::{LocalKey, v4};
//!
//! let key = LocalKey::generate()?;
//! let token = v4::local::encrypt(&key, b"{\"sub\":\"alice\"}", b"kid-1", b"")?;
//! assert!(token.starts_with("v4.local."));
//!
//! let untrusted: v4::UntrustedToken<v4::Local> = token.parse()?;
//! assert_eq!(untrusted.untrusted_footer(), b"kid-1");
//!
//! let message = v4::local::decrypt(&key, &token, Some(b"kid-1"), b"")?;
//! assert_eq!(message, b"{\"sub\":\"alice\"}");
//! # Ok::<(), vaulttoken::Error>(())
//! ```

pub mod local;
pub mod public;
mod wire;

pub use self::wire::UntrustedToken;
pub(crate) use self::wire::{ParsedParts, assemble, check_expected_footer};

mod sealed {
    pub trait Sealed {}
}

/// A token purpose: [`Local`] or [`Public`]. Sealed: no other purpose exists.
pub trait Purpose: sealed::Sealed {
    /// The exact header, `v4.local.` or `v4.public.`.
    const HEADER: &'static str;
    /// The smallest decoded body a token of this purpose can have.
    const MIN_BODY_LEN: usize;
}

/// The `v4.local` purpose: symmetric authenticated encryption.
///
/// # Examples
///
/// ```
/// use vaulttoken::v4::{Local, Purpose};
///
/// assert_eq!(Local::HEADER, "v4.local.");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Local {}

/// The `v4.public` purpose: public-key signatures.
///
/// # Examples
///
/// ```
/// use vaulttoken::v4::{Public, Purpose};
///
/// assert_eq!(Public::HEADER, "v4.public.");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Public {}

impl sealed::Sealed for Local {}
impl sealed::Sealed for Public {}

impl Purpose for Local {
    const HEADER: &'static str = "v4.local.";
    const MIN_BODY_LEN: usize = local::NONCE_LEN + local::TAG_LEN;
}

impl Purpose for Public {
    const HEADER: &'static str = "v4.public.";
    const MIN_BODY_LEN: usize = public::SIGNATURE_LEN;
}
