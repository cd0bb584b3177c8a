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
    eprintln!("interoperability: vaulttoken, pasetors, rusty_paseto and paseto-v4 agree");
}
