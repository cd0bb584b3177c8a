//! Every implementation and operation that the benchmarks time, one function each,
//! shared by the criterion benchmark (`benches/compare.rs`) and the callgrind
//! driver (`examples/profile.rs`), so both measure exactly the same code.

use std::borrow::Cow;
use std::error::Error as StdError;

use blake2::Blake2bMac;
use blake2::digest::consts::{U32, U56};
use blake2::digest::{KeyInit, Mac};
use chacha20::XChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use vaulttoken::v4;

use crate::{CLAIMS, ED25519_SEED, FOOTER, IMPLICIT, LOCAL_KEY};

fn debug(error: impl std::fmt::Debug) -> String {
    format!("{error:?}")
}

/// Every key, built once from the shared fixtures.
pub struct Keys {
    pub vt_local: vaulttoken::LocalKey,
    pub vt_secret: vaulttoken::SecretKey,
    pub vt_public: vaulttoken::PublicKey,

    pub pasetors_local: pasetors::keys::SymmetricKey<pasetors::version4::V4>,
    pub pasetors_secret: pasetors::keys::AsymmetricSecretKey<pasetors::version4::V4>,
    pub pasetors_public: pasetors::keys::AsymmetricPublicKey<pasetors::version4::V4>,

    pub rusty_local:
        rusty_paseto::core::PasetoSymmetricKey<rusty_paseto::core::V4, rusty_paseto::core::Local>,
    /// rusty_paseto's asymmetric keys borrow their bytes; these own them.
    pub rusty_keypair_bytes: rusty_paseto::core::Key<64>,
    pub rusty_public_bytes: rusty_paseto::core::Key<32>,

    pub pv4_local: paseto_v4::LocalKey,
    pub pv4_secret: paseto_v4::SecretKey,
    pub pv4_public: paseto_v4::PublicKey,

    pub floor_signing: SigningKey,
    pub floor_verifying: VerifyingKey,
}

impl Keys {
    /// Builds every key from the shared fixtures.
    ///
    /// # Errors
    ///
    /// If any implementation refuses a fixture key.
    pub fn new() -> Result<Self, Box<dyn StdError>> {
        let vt_secret = vaulttoken::SecretKey::from_seed(&ED25519_SEED)?;
        let vt_public = vt_secret.public_key();
        let public_bytes = vt_public.to_bytes();
        let mut keypair = [0u8; 64];
        keypair[..32].copy_from_slice(&ED25519_SEED);
        keypair[32..].copy_from_slice(&public_bytes);

        let floor_signing = SigningKey::from_bytes(&ED25519_SEED);
        let floor_verifying = floor_signing.verifying_key();
        assert_eq!(floor_verifying.to_bytes(), public_bytes);

        let pv4_secret = paseto_v4::SecretKey::try_from(paseto_v4::KeyText::<
            paseto_core::version::Secret,
        >::from_raw_bytes(&keypair))?;
        let pv4_public = pv4_secret.public_key();

        Ok(Self {
            vt_local: vaulttoken::LocalKey::from_bytes(&LOCAL_KEY)?,
            vt_secret,
            vt_public,
            // pasetors' error type implements `std::error::Error` only with its `std`
            // feature, which also pulls in its claims handling; not needed here.
            pasetors_local: pasetors::keys::SymmetricKey::from(&LOCAL_KEY).map_err(debug)?,
            pasetors_secret: pasetors::keys::AsymmetricSecretKey::from(&keypair).map_err(debug)?,
            pasetors_public: pasetors::keys::AsymmetricPublicKey::from(&public_bytes)
                .map_err(debug)?,
            rusty_local: rusty_paseto::core::PasetoSymmetricKey::from(
                rusty_paseto::core::Key::from(LOCAL_KEY),
            ),
            rusty_keypair_bytes: rusty_paseto::core::Key::from(keypair),
            rusty_public_bytes: rusty_paseto::core::Key::from(public_bytes),
            pv4_local: paseto_v4::LocalKey::from(LOCAL_KEY),
            pv4_secret,
            pv4_public,
            floor_signing,
            floor_verifying,
        })
    }

    fn rusty_secret(
        &self,
    ) -> rusty_paseto::core::PasetoAsymmetricPrivateKey<
        '_,
        rusty_paseto::core::V4,
        rusty_paseto::core::Public,
    > {
        rusty_paseto::core::PasetoAsymmetricPrivateKey::from(&self.rusty_keypair_bytes)
    }

    fn rusty_public(
        &self,
    ) -> rusty_paseto::core::PasetoAsymmetricPublicKey<
        '_,
        rusty_paseto::core::V4,
        rusty_paseto::core::Public,
    > {
        rusty_paseto::core::PasetoAsymmetricPublicKey::from(&self.rusty_public_bytes)
    }
}

// ---------------------------------------------------------------------------
// One function per implementation and operation: exactly what is timed.
// ---------------------------------------------------------------------------

/// paseto-v4 seals a typed "claims" value through its `Payload` trait; this one
/// passes raw bytes through unchanged (no JSON), so its token API works at the
/// protocol level like the others. It doubles as the footer type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawBytes<'a>(Cow<'a, [u8]>);

type BoxedError = Box<dyn StdError + Send + Sync>;

impl paseto_core::encodings::Payload for RawBytes<'_> {
    const SUFFIX: &'static str = "";

    fn encode(self, mut writer: impl paseto_core::encodings::WriteBytes) -> Result<(), BoxedError> {
        writer.write(&self.0);
        Ok(())
    }

    fn decode(payload: &[u8]) -> Result<Self, BoxedError> {
        Ok(Self(Cow::Owned(payload.to_vec())))
    }
}

impl paseto_core::encodings::Footer for RawBytes<'_> {
    fn encode(
        &self,
        mut writer: impl paseto_core::encodings::WriteBytes,
    ) -> Result<(), BoxedError> {
        writer.write(&self.0);
        Ok(())
    }

    fn decode(footer: &[u8]) -> Result<Self, BoxedError> {
        Ok(Self(Cow::Owned(footer.to_vec())))
    }
}

fn no_validation() -> paseto_core::validation::NoValidation<RawBytes<'static>> {
    paseto_core::validation::NoValidation::dangerous_no_validation()
}

/// `str` views of the fixtures, for rusty_paseto, whose payload, footer and
/// implicit assertion are `&str`: it forces UTF-8 on all three, and returns the
/// decrypted or verified message as a `String`.
fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("the fixtures are UTF-8")
}

/// pasetors, rusty_paseto and paseto-v4 take the implicit assertion as an option or
/// a separate method; `None` and `b""` are the same thing in PASETO.
fn implicit_opt() -> Option<&'static [u8]> {
    (!IMPLICIT.is_empty()).then_some(IMPLICIT)
}

pub mod local {
    use super::*;

    pub fn vaulttoken_encrypt(k: &Keys, m: &[u8]) -> String {
        v4::local::encrypt(&k.vt_local, m, FOOTER, IMPLICIT).expect("encrypt")
    }

    pub fn vaulttoken_decrypt(k: &Keys, t: &str) -> Vec<u8> {
        v4::local::decrypt(&k.vt_local, t, Some(FOOTER), IMPLICIT).expect("decrypt")
    }

    pub fn pasetors_encrypt(k: &Keys, m: &[u8]) -> String {
        pasetors::version4::LocalToken::encrypt(&k.pasetors_local, m, Some(FOOTER), implicit_opt())
            .expect("encrypt")
    }

    /// Parses, checks the footer, decrypts, and copies the message into a UTF-8
    /// checked `String` inside its `TrustedToken` (pasetors requires UTF-8).
    pub fn pasetors_decrypt(k: &Keys, t: &str) -> Vec<u8> {
        let untrusted = pasetors::token::UntrustedToken::<
            pasetors::token::Local,
            pasetors::version4::V4,
        >::try_from(t)
        .expect("parse");
        let trusted = pasetors::version4::LocalToken::decrypt(
            &k.pasetors_local,
            &untrusted,
            Some(FOOTER),
            implicit_opt(),
        )
        .expect("decrypt");
        trusted.payload().as_bytes().to_vec()
    }

    /// rusty_paseto takes the nonce from the caller; drawing it from the OS, as the
    /// others do inside `encrypt`, is part of the timed work.
    pub fn rusty_encrypt(k: &Keys, m: &[u8]) -> String {
        use rusty_paseto::core::{Footer, Key, Local, Paseto, PasetoNonce, Payload, V4};
        let nonce = Key::<32>::try_new_random().expect("nonce");
        let nonce = PasetoNonce::<V4, Local>::from(&nonce);
        Paseto::<V4, Local>::builder()
            .set_payload(Payload::from(as_str(m)))
            .set_footer(Footer::from(as_str(FOOTER)))
            .try_encrypt(&k.rusty_local, &nonce)
            .expect("encrypt")
    }

    pub fn rusty_decrypt(k: &Keys, t: &str) -> Vec<u8> {
        use rusty_paseto::core::{Footer, Local, Paseto, V4};
        Paseto::<V4, Local>::try_decrypt(t, &k.rusty_local, Footer::from(as_str(FOOTER)), None)
            .expect("decrypt")
            .into_bytes()
    }

    pub fn paseto_v4_encrypt(k: &Keys, m: &[u8]) -> String {
        paseto_v4::UnencryptedToken::new(RawBytes(Cow::Borrowed(m)))
            .with_footer(RawBytes(Cow::Borrowed(FOOTER)))
            .encrypt_with_aad(&k.pv4_local, IMPLICIT)
            .expect("encrypt")
            .to_string()
    }

    /// paseto-v4 has no expected-footer argument: the footer is compared after.
    pub fn paseto_v4_decrypt(k: &Keys, t: &str) -> Vec<u8> {
        let sealed: paseto_v4::EncryptedToken<RawBytes<'static>, RawBytes<'static>> =
            t.parse().expect("parse");
        let opened = sealed
            .decrypt_with_aad(&k.pv4_local, IMPLICIT, &no_validation())
            .expect("decrypt");
        assert!(opened.footer.0 == FOOTER, "footer");
        opened.claims.0.into_owned()
    }

    /// Length of PAE(h, n, c, f, i) for a message of `len` bytes: a count and five
    /// length-prefixed pieces.
    pub fn pae_len(len: usize) -> usize {
        8 + (8 + "v4.local.".len())
            + (8 + 32)
            + (8 + len)
            + (8 + FOOTER.len())
            + (8 + IMPLICIT.len())
    }

    /// The primitives alone: Ek‖n2 = BLAKE2b-448(k, …‖n), Ak = BLAKE2b-256(k, …‖n),
    /// XChaCha20 over the message, and a BLAKE2b-256 tag keyed with Ak over as many
    /// bytes as the PAE. No base64, no parsing, no PAE assembly.
    pub struct Floor {
        nonce: [u8; 32],
        buffer: Vec<u8>,
        pae: Vec<u8>,
    }

    impl Floor {
        pub fn new(len: usize) -> Self {
            Self {
                nonce: [0x42; 32],
                buffer: vec![0; len],
                pae: vec![0x5a; pae_len(len)],
            }
        }

        fn run(&mut self, message: &[u8]) -> [u8; 32] {
            let mut ek_n2 = Blake2bMac::<U56>::new_from_slice(&LOCAL_KEY).expect("key length");
            ek_n2.update(b"paseto-encryption-key");
            ek_n2.update(&self.nonce);
            let ek_n2 = ek_n2.finalize().into_bytes();

            let mut ak = Blake2bMac::<U32>::new_from_slice(&LOCAL_KEY).expect("key length");
            ak.update(b"paseto-auth-key-for-aead");
            ak.update(&self.nonce);
            let ak = ak.finalize().into_bytes();

            self.buffer.copy_from_slice(message);
            XChaCha20::new_from_slices(&ek_n2[..32], &ek_n2[32..])
                .expect("key and nonce lengths")
                .apply_keystream(&mut self.buffer);

            let mut tag = Blake2bMac::<U32>::new_from_slice(&ak).expect("key length");
            tag.update(&self.pae);
            tag.finalize().into_bytes().into()
        }

        /// Encrypt also draws the 32-byte nonce from the OS.
        pub fn encrypt(&mut self, message: &[u8]) -> [u8; 32] {
            getrandom::fill(&mut self.nonce).expect("getrandom");
            self.run(message)
        }

        pub fn decrypt(&mut self, ciphertext: &[u8]) -> [u8; 32] {
            self.run(ciphertext)
        }
    }
}

pub mod public {
    use super::*;

    pub fn vaulttoken_sign(k: &Keys, m: &[u8]) -> String {
        v4::public::sign(&k.vt_secret, m, FOOTER, IMPLICIT).expect("sign")
    }

    pub fn vaulttoken_verify(k: &Keys, t: &str) -> Vec<u8> {
        v4::public::verify(&k.vt_public, t, Some(FOOTER), IMPLICIT).expect("verify")
    }

    pub fn pasetors_sign(k: &Keys, m: &[u8]) -> String {
        pasetors::version4::PublicToken::sign(&k.pasetors_secret, m, Some(FOOTER), implicit_opt())
            .expect("sign")
    }

    /// Parses, checks the footer, verifies, and copies the message into a UTF-8
    /// checked `String` inside its `TrustedToken` (pasetors requires UTF-8).
    pub fn pasetors_verify(k: &Keys, t: &str) -> Vec<u8> {
        let untrusted = pasetors::token::UntrustedToken::<
            pasetors::token::Public,
            pasetors::version4::V4,
        >::try_from(t)
        .expect("parse");
        let trusted = pasetors::version4::PublicToken::verify(
            &k.pasetors_public,
            &untrusted,
            Some(FOOTER),
            implicit_opt(),
        )
        .expect("verify");
        trusted.payload().as_bytes().to_vec()
    }

    /// rusty_paseto rebuilds its `SigningKey` from the 64 keypair bytes on every
    /// call (checking the public half), which is part of its cost.
    pub fn rusty_sign(k: &Keys, m: &[u8]) -> String {
        use rusty_paseto::core::{Footer, Paseto, Payload, Public, V4};
        Paseto::<V4, Public>::builder()
            .set_payload(Payload::from(as_str(m)))
            .set_footer(Footer::from(as_str(FOOTER)))
            .try_sign(&k.rusty_secret())
            .expect("sign")
    }

    /// Uses `verify_strict`; returns the message as a `String` (UTF-8 required).
    pub fn rusty_verify(k: &Keys, t: &str) -> Vec<u8> {
        use rusty_paseto::core::{Footer, Paseto, Public, V4};
        Paseto::<V4, Public>::try_verify(t, &k.rusty_public(), Footer::from(as_str(FOOTER)), None)
            .expect("verify")
            .into_bytes()
    }

    pub fn paseto_v4_sign(k: &Keys, m: &[u8]) -> String {
        paseto_v4::UnsignedToken::new(RawBytes(Cow::Borrowed(m)))
            .with_footer(RawBytes(Cow::Borrowed(FOOTER)))
            .sign_with_aad(&k.pv4_secret, IMPLICIT)
            .expect("sign")
            .to_string()
    }

    /// paseto-v4 has no expected-footer argument: the footer is compared after.
    pub fn paseto_v4_verify(k: &Keys, t: &str) -> Vec<u8> {
        let sealed: paseto_v4::SignedToken<RawBytes<'static>, RawBytes<'static>> =
            t.parse().expect("parse");
        let opened = sealed
            .verify_with_aad(&k.pv4_public, IMPLICIT, &no_validation())
            .expect("verify");
        assert!(opened.footer.0 == FOOTER, "footer");
        opened.claims.0.into_owned()
    }

    /// Length of PAE(h, m, f, i) for a message of `len` bytes.
    pub fn pae_len(len: usize) -> usize {
        8 + (8 + "v4.public.".len()) + (8 + len) + (8 + FOOTER.len()) + (8 + IMPLICIT.len())
    }

    /// PAE(h, m, f, i) for the message `payload(len)`: the exact bytes a
    /// `v4.public` token of that message signs.
    pub fn pae(len: usize) -> Vec<u8> {
        let message = crate::payload(len);
        let pieces: [&[u8]; 4] = [b"v4.public.", &message, FOOTER, IMPLICIT];
        let mut pae = Vec::with_capacity(pae_len(len));
        pae.extend_from_slice(&(pieces.len() as u64).to_le_bytes());
        for piece in pieces {
            pae.extend_from_slice(&(piece.len() as u64).to_le_bytes());
            pae.extend_from_slice(piece);
        }
        pae
    }

    /// The primitive alone: Ed25519 over the token's own PAE bytes, so the floor
    /// verifies the very signature the token carries (Ed25519 is deterministic),
    /// and the variable-time verification does the same work on both sides. No
    /// base64, no parsing, no streamed PAE, no small-order check.
    pub struct Floor {
        pae: Vec<u8>,
        signature: ed25519_dalek::Signature,
    }

    impl Floor {
        pub fn new(k: &Keys, len: usize) -> Self {
            let pae = pae(len);
            let signature = k.floor_signing.sign(&pae);
            Self { pae, signature }
        }

        pub fn sign(&self, k: &Keys) -> ed25519_dalek::Signature {
            k.floor_signing.sign(&self.pae)
        }

        pub fn verify(&self, k: &Keys) {
            k.floor_verifying
                .verify(&self.pae, &self.signature)
                .expect("verify");
        }
    }
}

/// High-level decode: authenticate, parse the claims and check the time rules,
/// each crate through its own high-level API, on the token that
/// `local::vaulttoken_encrypt` / `public::vaulttoken_sign` make of [`CLAIMS`] and
/// [`FOOTER`]. What each one checks:
///
/// | implementation | claims parsed into | time rules | footer |
/// |---|---|---|---|
/// | vaulttoken `decode` | `Claims` (strict JSON: unique keys; RFC 3339 times) | `iat` and `nbf` not in the future, `exp` required and not passed | parsed as JSON claims (`FooterMode::Auto`), within `FooterLimits` |
/// | pasetors `local::decrypt` / `public::verify` | `Claims` (a `HashMap` of `Value`s) | `nbf`, `iat` and `exp` required, parsed and checked | not read (its footer argument is an expected footer) |
/// | rusty_paseto `PasetoParser::default()` | `serde_json::Value` | `exp` required, `nbf` checked if present | compared with the expected footer (required) |
/// | paseto-v4 + paseto-json | `RegisteredClaims` (custom claims skipped) | `Time::valid_now()` (`exp`, `nbf`) and `HasExpiry` | parsed as `Json<serde_json::Value>` |
///
/// The floor is vaulttoken's protocol operation (no expected footer) plus a bare
/// `serde_json::from_slice::<serde_json::Value>` of the claims.
pub mod decode {
    use paseto_core::validation::Validate;
    use paseto_json::{HasExpiry, Json, RegisteredClaims, Time};
    use vaulttoken::service::{LocalService, PublicService, VerifiedToken};
    use vaulttoken::store::{MemoryStore, TokenStore};

    use super::*;

    /// The audience of [`CLAIMS`]: the default rules refuse a token that names an
    /// audience unless the service names its own.
    pub const AUDIENCE: &str = "api.example.com";

    /// The rules every benchmarked service uses: the defaults (system clock) for
    /// [`AUDIENCE`].
    pub fn rules() -> vaulttoken::rules::RuleSet {
        vaulttoken::rules::RuleSet::default().for_audience(AUDIENCE)
    }

    /// vaulttoken's services, built once as a server builds them: the default
    /// rules (system clock) for [`AUDIENCE`], the default footer mode and limits,
    /// and one static key.
    pub struct Services {
        pub local: LocalService,
        pub public: PublicService,
        /// [`Services::local`] with a memory token store holding
        /// [`REVOKED_IN_STORE`] revocations of other tokens: every decode asks it.
        pub local_with_store: LocalService,
    }

    /// How many revoked ids the benchmarked memory store holds.
    pub const REVOKED_IN_STORE: usize = 10_000;

    impl Services {
        /// Builds both services from the shared fixture keys.
        ///
        /// # Errors
        ///
        /// If vaulttoken refuses a fixture key.
        pub fn new() -> Result<Self, Box<dyn StdError>> {
            let secret = vaulttoken::SecretKey::from_seed(&ED25519_SEED)?;
            Ok(Self {
                local: LocalService::builder(vaulttoken::LocalKey::from_bytes(&LOCAL_KEY)?)
                    .rules(rules())
                    .build(),
                public: PublicService::verifier(secret.public_key())
                    .rules(rules())
                    .build(),
                local_with_store: LocalService::builder(vaulttoken::LocalKey::from_bytes(
                    &LOCAL_KEY,
                )?)
                .rules(rules())
                .store(populated_store()?)
                .build(),
            })
        }
    }

    /// A memory store with [`REVOKED_IN_STORE`] revocations, of 1,000 subjects.
    fn populated_store() -> Result<std::sync::Arc<MemoryStore>, Box<dyn StdError>> {
        let store = std::sync::Arc::new(MemoryStore::new());
        let until = time::OffsetDateTime::from_unix_timestamp(2_500_000_000)?;
        for i in 0..REVOKED_IN_STORE {
            let subject = format!("user:{}", i % 1000);
            let id = format!("revoked-{i}");
            block_on(store.revoke(Some(&subject), &id, until))?;
        }
        Ok(store)
    }

    /// Runs a future that needs no runtime (the memory store's are ready at once).
    pub fn block_on<F: core::future::Future>(future: F) -> F::Output {
        let waker = core::task::Waker::noop();
        let mut context = core::task::Context::from_waker(waker);
        let mut future = core::pin::pin!(future);
        loop {
            if let core::task::Poll::Ready(value) = future.as_mut().poll(&mut context) {
                return value;
            }
        }
    }

    pub fn vaulttoken_local_checked(s: &Services, t: &str) -> VerifiedToken {
        block_on(s.local_with_store.decode_async(t)).expect("decode")
    }

    pub fn vaulttoken_local(s: &Services, t: &str) -> VerifiedToken {
        s.local.decode(t).expect("decode")
    }

    pub fn vaulttoken_public(s: &Services, t: &str) -> VerifiedToken {
        s.public.decode(t).expect("decode")
    }

    /// Parses the token, decrypts, parses the claims and validates them; returns
    /// its `TrustedToken`, which holds the claims.
    pub fn pasetors_local(k: &Keys, t: &str) -> pasetors::token::TrustedToken {
        let untrusted = pasetors::token::UntrustedToken::<
            pasetors::token::Local,
            pasetors::version4::V4,
        >::try_from(t)
        .expect("parse");
        let rules = pasetors::claims::ClaimsValidationRules::new();
        pasetors::local::decrypt(&k.pasetors_local, &untrusted, &rules, None, implicit_opt())
            .expect("decrypt")
    }

    pub fn pasetors_public(k: &Keys, t: &str) -> pasetors::token::TrustedToken {
        let untrusted = pasetors::token::UntrustedToken::<
            pasetors::token::Public,
            pasetors::version4::V4,
        >::try_from(t)
        .expect("parse");
        let rules = pasetors::claims::ClaimsValidationRules::new();
        pasetors::public::verify(&k.pasetors_public, &untrusted, &rules, None, implicit_opt())
            .expect("verify")
    }

    /// A `PasetoParser` borrows the token for its own lifetime, so a server builds
    /// one per token, as here.
    pub fn rusty_local(k: &Keys, t: &str) -> serde_json::Value {
        use rusty_paseto::prelude::{Footer, Local, PasetoParser, V4};
        PasetoParser::<V4, Local>::default()
            .set_footer(Footer::from(as_str(FOOTER)))
            .parse(t, &k.rusty_local)
            .expect("parse")
    }

    pub fn rusty_public(k: &Keys, t: &str) -> serde_json::Value {
        use rusty_paseto::prelude::{Footer, PasetoParser, Public, V4};
        let key = k.rusty_public();
        PasetoParser::<V4, Public>::default()
            .set_footer(Footer::from(as_str(FOOTER)))
            .parse(t, &key)
            .expect("parse")
    }

    type Pv4Footer = Json<serde_json::Value>;

    pub fn paseto_v4_local(k: &Keys, t: &str) -> RegisteredClaims {
        let sealed: paseto_v4::EncryptedToken<RegisteredClaims, Pv4Footer> =
            t.parse().expect("parse");
        let rules = Time::valid_now().and_then(HasExpiry);
        sealed
            .decrypt_with_aad(&k.pv4_local, IMPLICIT, &rules)
            .expect("decrypt")
            .claims
    }

    pub fn paseto_v4_public(k: &Keys, t: &str) -> RegisteredClaims {
        let sealed: paseto_v4::SignedToken<RegisteredClaims, Pv4Footer> = t.parse().expect("parse");
        let rules = Time::valid_now().and_then(HasExpiry);
        sealed
            .verify_with_aad(&k.pv4_public, IMPLICIT, &rules)
            .expect("verify")
            .claims
    }

    /// The claims of [`CLAIMS`] as a borrowed, typed struct: the least a decoder
    /// can do to read them. `serde_json` borrows every string from the payload.
    #[derive(Debug, serde::Deserialize)]
    pub struct FloorClaims<'a> {
        pub iss: &'a str,
        pub sub: &'a str,
        pub aud: &'a str,
        pub exp: &'a str,
        pub nbf: &'a str,
        pub iat: &'a str,
        pub jti: &'a str,
        pub role: &'a str,
        pub tenant: &'a str,
    }

    /// The floor's claims step: a serde parse into [`FloorClaims`], then an RFC 3339
    /// parse (the `time` crate) of `exp`, `nbf` and `iat`, each compared with now.
    ///
    /// # Panics
    ///
    /// If the payload is not the claims set, or the token is not valid now.
    pub fn floor_claims(payload: &[u8]) -> FloorClaims<'_> {
        use time::OffsetDateTime;
        use time::format_description::well_known::Rfc3339;
        let claims: FloorClaims<'_> = serde_json::from_slice(payload).expect("JSON");
        let time = |text: &str| OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339");
        // The floor reads the clock itself, as a bare decoder would.
        #[allow(clippy::disallowed_methods)]
        let now = OffsetDateTime::now_utc();
        let (exp, nbf, iat) = (time(claims.exp), time(claims.nbf), time(claims.iat));
        assert!(exp > now && nbf <= now && iat <= now, "valid now");
        claims
    }

    /// The floor of a high-level decode: vaulttoken's protocol operation (no
    /// footer check), then [`floor_claims`]. Returns the payload.
    pub fn floor_local(k: &Keys, t: &str) -> Vec<u8> {
        let payload = v4::local::decrypt(&k.vt_local, t, None, IMPLICIT).expect("decrypt");
        std::hint::black_box(floor_claims(&payload));
        payload
    }

    /// As [`floor_local`], for `v4.public`.
    pub fn floor_public(k: &Keys, t: &str) -> Vec<u8> {
        let payload = v4::public::verify(&k.vt_public, t, None, IMPLICIT).expect("verify");
        std::hint::black_box(floor_claims(&payload));
        payload
    }
}

/// Key-ring lookup: a `LocalService` over a `LocalKeyRing`, which finds the key by
/// the token's untrusted `kid` before decrypting.
pub mod ring {
    use std::sync::Arc;

    use vaulttoken::footer::{Footer, FooterClaims, UntrustedFooter};
    use vaulttoken::keyring::LocalKeyRing;
    use vaulttoken::service::{KeyProvider, LocalService, VerifiedToken};

    use super::*;
    use crate::filler_key;

    /// A ring of `keys` local keys, one of them [`LOCAL_KEY`], and a token of
    /// [`CLAIMS`] made with it. The token's footer is `{"kid":"k4.lid.…"}` naming
    /// that key: the same shape and length as [`FOOTER`].
    pub struct Ring {
        pub ring: Arc<LocalKeyRing>,
        pub service: LocalService,
        /// The token's footer bytes, which a `KeyProvider` sees as an
        /// `UntrustedFooter`.
        pub footer: Vec<u8>,
        pub token: String,
    }

    impl Ring {
        /// Fills a ring with [`LOCAL_KEY`] and `keys - 1` filler keys.
        ///
        /// # Errors
        ///
        /// If vaulttoken refuses a key.
        pub fn new(keys: u32) -> Result<Self, Box<dyn StdError>> {
            // The ring caps a token's validity at its longest token lifetime, and
            // [`CLAIMS`] is valid until 2039.
            let ring = Arc::new(LocalKeyRing::new(time::Duration::days(20 * 366))?);
            let id = ring.add(vaulttoken::LocalKey::from_bytes(&LOCAL_KEY)?)?;
            for n in 1..keys {
                ring.add(vaulttoken::LocalKey::from_bytes(&filler_key(n))?)?;
            }
            ring.promote(&id)?;
            assert_eq!(ring.len(), keys as usize, "ring size");

            let footer = Footer::Claims(FooterClaims::new().with_key_id(id.as_str()));
            let footer_bytes = footer.to_bytes();
            assert_eq!(footer_bytes.len(), FOOTER.len(), "kid footer length");
            let key = vaulttoken::LocalKey::from_bytes(&LOCAL_KEY)?;
            let token = v4::local::encrypt(&key, CLAIMS, &footer_bytes, IMPLICIT)?;
            Ok(Self {
                service: LocalService::from_ring(Arc::clone(&ring))
                    .rules(super::decode::rules())
                    .build(),
                ring,
                footer: footer_bytes,
                token,
            })
        }
    }

    /// The whole decode, key lookup included.
    pub fn decode(r: &Ring, t: &str) -> VerifiedToken {
        r.service.decode(t).expect("decode")
    }

    /// The lookup alone, through the public `KeyProvider` trait: reads the
    /// untrusted footer within its limits, parses the `kid` and finds the key.
    pub fn lookup(r: &Ring, footer: &[u8]) -> Arc<vaulttoken::LocalKey> {
        KeyProvider::decoding_key(&*r.ring, &UntrustedFooter::new(footer)).expect("lookup")
    }
}

/// PASERK: key ids (`k4.lid.`, `k4.pid.`) and parsing a `k4.local.` key. The ids
/// come back as text everywhere (paseto-v4's `KeyId` holds the hash, so it is
/// formatted; pasetors' `Id` is formatted through `FormatAsPaserk`).
pub mod paserk {
    use blake2::Blake2b;
    use blake2::digest::Digest;
    use blake2::digest::consts::U33;
    use pasetors::paserk::FormatAsPaserk;

    use super::*;

    pub fn vaulttoken_lid(k: &Keys) -> vaulttoken::paserk::KeyId {
        k.vt_local.paserk_id().expect("lid")
    }

    pub fn vaulttoken_pid(k: &Keys) -> vaulttoken::paserk::KeyId {
        k.vt_public.paserk_id().expect("pid")
    }

    fn pasetors_text(id: &pasetors::paserk::Id) -> String {
        let mut text = String::new();
        id.fmt(&mut text).expect("format");
        text
    }

    pub fn pasetors_lid(k: &Keys) -> String {
        pasetors_text(&pasetors::paserk::Id::from(&k.pasetors_local))
    }

    pub fn pasetors_pid(k: &Keys) -> String {
        pasetors_text(&pasetors::paserk::Id::from(&k.pasetors_public))
    }

    pub fn paseto_v4_lid(k: &Keys) -> String {
        k.pv4_local.id().to_string()
    }

    pub fn paseto_v4_pid(k: &Keys) -> String {
        k.pv4_public.id().to_string()
    }

    /// The primitive alone: BLAKE2b-264 over `h ‖ p`, the id header and the
    /// key's PASERK string, given as bytes. No base64 either way.
    pub struct IdFloor {
        input: Vec<u8>,
    }

    impl IdFloor {
        /// The floor of `id_header`'s id (e.g. `k4.lid.`) of the PASERK `paserk`.
        pub fn new(id_header: &str, paserk: &str) -> Self {
            Self {
                input: [id_header.as_bytes(), paserk.as_bytes()].concat(),
            }
        }

        pub fn run(&self) -> [u8; 33] {
            Blake2b::<U33>::digest(&self.input).into()
        }
    }

    pub fn vaulttoken_parse_local(text: &str) -> vaulttoken::LocalKey {
        vaulttoken::LocalKey::from_paserk(text).expect("k4.local")
    }

    pub fn pasetors_parse_local(
        text: &str,
    ) -> pasetors::keys::SymmetricKey<pasetors::version4::V4> {
        pasetors::keys::SymmetricKey::try_from(text).expect("k4.local")
    }

    pub fn paseto_v4_parse_local(text: &str) -> paseto_v4::LocalKey {
        text.parse().expect("k4.local")
    }
}

/// Footer parsing at the default limits, in Claims mode: one footer exactly at
/// the limits, and three just over one limit each (see `crate::footer_at_limits`
/// and its siblings). A refused footer must cost less than a parsed one.
pub mod footer {
    use vaulttoken::footer::{Footer, FooterLimits, FooterMode};

    pub fn vaulttoken_parse(bytes: &[u8]) -> Result<Footer, vaulttoken::Error> {
        Footer::parse(bytes, FooterMode::Claims, &FooterLimits::default())
    }

    /// pasetors' own footer parsing, whose defaults are the same 8192 bytes and
    /// 512 keys (it counts keys with a regular expression, built on every call,
    /// and has no depth limit of its own).
    pub fn pasetors_parse(
        bytes: &[u8],
    ) -> Result<pasetors::footer::Footer, pasetors::errors::Error> {
        let mut footer = pasetors::footer::Footer::new();
        footer.parse_bytes(bytes)?;
        Ok(footer)
    }

    /// A bare `serde_json::Value` parse of the same bytes, with no limits and no
    /// duplicate-key check.
    pub fn floor(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).expect("JSON")
    }
}

/// Plain unpadded base64url, for the interoperability check only.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let bits = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        for i in 0..=chunk.len() {
            text.push(char::from(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize]));
        }
    }
    text
}

// ---------------------------------------------------------------------------
// Interoperability, checked once before timing.
// ---------------------------------------------------------------------------

/// Makes a token from a message.
pub type Encrypt = fn(&Keys, &[u8]) -> String;
/// Opens a token into its message.
pub type Decrypt = fn(&Keys, &str) -> Vec<u8>;

/// The peer crates' `v4.local` encrypt and decrypt.
pub const LOCAL_PEERS: [(&str, Encrypt, Decrypt); 3] = [
    ("pasetors", local::pasetors_encrypt, local::pasetors_decrypt),
    ("rusty_paseto", local::rusty_encrypt, local::rusty_decrypt),
    (
        "paseto-v4",
        local::paseto_v4_encrypt,
        local::paseto_v4_decrypt,
    ),
];

/// The peer crates' `v4.public` sign and verify.
pub const PUBLIC_PEERS: [(&str, Encrypt, Decrypt); 3] = [
    ("pasetors", public::pasetors_sign, public::pasetors_verify),
    ("rusty_paseto", public::rusty_sign, public::rusty_verify),
    (
        "paseto-v4",
        public::paseto_v4_sign,
        public::paseto_v4_verify,
    ),
];

/// Panics unless every peer reads vaulttoken's tokens and vaulttoken reads theirs.
///
/// # Panics
///
/// On any disagreement.
pub fn check_interoperability(k: &Keys) {
    let ours = local::vaulttoken_encrypt(k, CLAIMS);
    for (name, encrypt, decrypt) in LOCAL_PEERS {
        assert_eq!(
            decrypt(k, &ours),
            CLAIMS,
            "{name} decrypts vaulttoken's v4.local"
        );
        let theirs = encrypt(k, CLAIMS);
        assert_eq!(
            local::vaulttoken_decrypt(k, &theirs),
            CLAIMS,
            "vaulttoken decrypts {name}'s v4.local"
        );
        assert_eq!(
            theirs.len(),
            ours.len(),
            "{name}'s v4.local has the same layout"
        );
    }

    // Ed25519 is deterministic, so every implementation must produce the very same
    // v4.public token from the same key, message and footer.
    let ours = public::vaulttoken_sign(k, CLAIMS);
    for (name, sign, verify) in PUBLIC_PEERS {
        assert_eq!(
            verify(k, &ours),
            CLAIMS,
            "{name} verifies vaulttoken's v4.public"
        );
        let theirs = sign(k, CLAIMS);
        assert_eq!(theirs, ours, "{name} signs the same v4.public token");
        assert_eq!(public::vaulttoken_verify(k, &theirs), CLAIMS);
    }
    // The floor verifies the very signature in vaulttoken's token.
    public::Floor::new(k, CLAIMS.len()).verify(k);
    let body = ours["v4.public.".len()..].split('.').next().expect("body");
    let floor_signature = k.floor_signing.sign(&public::pae(CLAIMS.len()));
    let mut expected_body = CLAIMS.to_vec();
    expected_body.extend_from_slice(&floor_signature.to_bytes());
    assert_eq!(
        body,
        base64url(&expected_body),
        "the floor signs the token's own PAE"
    );

    // Every token must fail to decrypt or verify once tampered with, so no
    // implementation is timed on a path that skips the check.
    let mut tampered = local::vaulttoken_encrypt(k, CLAIMS).into_bytes();
    let at = "v4.local.".len() + 50;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    assert!(v4::local::decrypt(&k.vt_local, &tampered, Some(FOOTER), IMPLICIT).is_err());

    check_high_level(k);
    check_rings();
    check_paserk(k);
    check_footers();
    eprintln!("interoperability: vaulttoken, pasetors, rusty_paseto and paseto-v4 agree");
}

/// Whether `decrypt` opens `token` into `message`. Some peers cap the token size
/// (rusty_paseto refuses tokens over 64 KiB), so the scaling benchmarks ask first.
pub fn opens(k: &Keys, decrypt: Decrypt, token: &str, message: &[u8]) -> bool {
    let mut opened = Vec::new();
    !panics(|| opened = decrypt(k, token)) && opened == message
}

/// Whether `f` panics, without printing the panic.
fn panics(f: impl FnOnce()) -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
    std::panic::set_hook(hook);
    panicked
}

/// Every high-level decoder reads the same claims from vaulttoken's tokens, and
/// refuses an expired one, so none is timed on a path that skips the time rules.
fn check_high_level(k: &Keys) {
    const SUBJECT: &str = "user:8f14e45f-ceea";
    let s = decode::Services::new().expect("services");
    let local_token = local::vaulttoken_encrypt(k, CLAIMS);
    let public_token = public::vaulttoken_sign(k, CLAIMS);

    let verified = decode::vaulttoken_local(&s, &local_token);
    assert_eq!(verified.claims().subject(), Some(SUBJECT));
    assert!(
        matches!(verified.footer(), vaulttoken::footer::Footer::Claims(f) if f.key_id().is_some()),
        "vaulttoken parses the kid footer"
    );
    assert_eq!(
        decode::vaulttoken_public(&s, &public_token)
            .claims()
            .subject(),
        Some(SUBJECT)
    );
    for trusted in [
        decode::pasetors_local(k, &local_token),
        decode::pasetors_public(k, &public_token),
    ] {
        let claims = trusted.payload_claims().expect("pasetors claims");
        assert_eq!(claims.get_claim("sub"), Some(&serde_json::json!(SUBJECT)));
    }
    for value in [
        decode::rusty_local(k, &local_token),
        decode::rusty_public(k, &public_token),
    ] {
        assert_eq!(value["sub"], SUBJECT);
    }
    for payload in [
        decode::floor_local(k, &local_token),
        decode::floor_public(k, &public_token),
    ] {
        assert_eq!(decode::floor_claims(&payload).sub, SUBJECT);
    }
    for claims in [
        decode::paseto_v4_local(k, &local_token),
        decode::paseto_v4_public(k, &public_token),
    ] {
        assert_eq!(claims.sub.as_deref(), Some(SUBJECT));
    }

    let expired_local = local::vaulttoken_encrypt(k, &crate::expired_claims());
    let expired_public = public::vaulttoken_sign(k, &crate::expired_claims());
    assert!(panics(|| drop(decode::vaulttoken_local(
        &s,
        &expired_local
    ))));
    assert!(panics(|| drop(decode::vaulttoken_public(
        &s,
        &expired_public
    ))));
    assert!(panics(|| drop(decode::pasetors_local(k, &expired_local))));
    assert!(panics(|| drop(decode::pasetors_public(k, &expired_public))));
    assert!(panics(|| drop(decode::rusty_local(k, &expired_local))));
    assert!(panics(|| drop(decode::rusty_public(k, &expired_public))));
    assert!(panics(|| drop(decode::paseto_v4_local(k, &expired_local))));
    assert!(panics(|| drop(decode::paseto_v4_public(
        k,
        &expired_public
    ))));
}

/// A ring of 1 and of 1000 keys both find the token's key, and refuse a kid they
/// do not hold.
fn check_rings() {
    let key = vaulttoken::LocalKey::from_bytes(&LOCAL_KEY).expect("key");
    for keys in [1, 1000] {
        let r = ring::Ring::new(keys).expect("ring");
        assert!(
            *ring::lookup(&r, &r.footer) == key,
            "the ring finds the key"
        );
        let verified = ring::decode(&r, &r.token);
        assert_eq!(verified.claims().subject(), Some("user:8f14e45f-ceea"));
        // FOOTER names the all-zero key, which no ring here holds.
        let unknown = vaulttoken::footer::UntrustedFooter::new(FOOTER);
        assert!(matches!(
            vaulttoken::service::KeyProvider::decoding_key(&*r.ring, &unknown),
            Err(vaulttoken::Error::UnknownKeyId)
        ));
    }
}

/// Every crate computes the same ids and reads the same `k4.local.` key.
fn check_paserk(k: &Keys) {
    let lid = paserk::vaulttoken_lid(k);
    assert_eq!(lid.as_str(), paserk::pasetors_lid(k));
    assert_eq!(lid.as_str(), paserk::paseto_v4_lid(k));
    let pid = paserk::vaulttoken_pid(k);
    assert_eq!(pid.as_str(), paserk::pasetors_pid(k));
    assert_eq!(pid.as_str(), paserk::paseto_v4_pid(k));

    let text = k.vt_local.to_paserk().expect("k4.local");
    let floor = paserk::IdFloor::new("k4.lid.", text.as_str());
    assert_eq!(
        lid.as_str(),
        format!("k4.lid.{}", base64url(&floor.run())),
        "the floor hashes the id's own input"
    );
    assert!(paserk::vaulttoken_parse_local(text.as_str()) == k.vt_local);
    assert_eq!(
        paserk::pasetors_parse_local(text.as_str()).as_bytes(),
        LOCAL_KEY
    );
    assert!(paserk::paseto_v4_parse_local(text.as_str()).id() == k.pv4_local.id());
}

/// The footer at the limits parses; each footer over a limit is refused for that
/// limit.
fn check_footers() {
    use vaulttoken::error::FooterError;
    use vaulttoken::footer::Footer;

    let at_limits = crate::footer_at_limits();
    let Ok(Footer::Claims(claims)) = footer::vaulttoken_parse(&at_limits) else {
        panic!("vaulttoken parses the footer at the limits");
    };
    assert!(claims.key_id().is_some());
    assert!(footer::pasetors_parse(&at_limits).is_ok());
    assert!(footer::floor(&at_limits).is_object());

    let refused = |bytes: &[u8]| match footer::vaulttoken_parse(bytes) {
        Err(vaulttoken::Error::Footer(err)) => err,
        other => panic!("expected a footer error, got {other:?}"),
    };
    assert!(matches!(
        refused(&crate::footer_over_len()),
        FooterError::TooLong { max_len: 8192 }
    ));
    assert!(matches!(
        refused(&crate::footer_over_keys()),
        FooterError::TooManyKeys { max_keys: 512 }
    ));
    assert!(matches!(
        refused(&crate::footer_over_depth()),
        FooterError::TooDeep { max_depth: 2 }
    ));
    assert!(footer::pasetors_parse(&crate::footer_over_len()).is_err());
    assert!(footer::pasetors_parse(&crate::footer_over_keys()).is_err());
}
