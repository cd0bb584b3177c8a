//! `v4.public`: Ed25519 signatures over `PAE(h, m, f, i)`.
//!
//! The token is `v4.public.` ‖ base64url(m ‖ sig), then `.` ‖ base64url(f) if there
//! is a footer. The message is sent in clear: `v4.public` authenticates, it does
//! not encrypt.
//!
//! Verification is as strict as libsodium's at the cost of a plain verify. The
//! [`PublicKey`] type has already refused small-order and non-canonical keys when it
//! was loaded; per signature, a non-canonical `S` and a small-order `R` (recognised
//! from its encoding, with no point decompression) are refused, and the recomputed
//! `R` must equal the encoded one byte for byte.

use ed25519_dalek::Digest as _;
use ed25519_dalek::{Sha512, Signature, hazmat};

use core::ops::Range;

use super::{ParsedParts, Public, Purpose, UntrustedToken, assemble, check_expected_footer};
use crate::error::Error;
use crate::keys::{PublicKey, SecretKey};
use crate::pae;

/// Length of the Ed25519 signature at the end of the body.
pub(crate) const SIGNATURE_LEN: usize = 64;

/// Signs `message` into a `v4.public` token, binding `footer` (sent in clear) and
/// `implicit` (never sent) into the signature.
///
/// # Errors
///
/// [`Error::KeyCleared`] if the key was cleared or, being ephemeral, has already
/// been used.
///
/// # Examples
///
/// ```
/// use vaulttoken::{SecretKey, v4};
///
/// let secret = SecretKey::generate()?;
/// let token = v4::public::sign(&secret, b"{\"sub\":\"bob\"}", b"", b"")?;
/// // The message is readable by anyone: it is signed, not encrypted.
/// assert!(token.starts_with("v4.public.eyJzdWIiOiJib2Ii"));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub fn sign(
    key: &SecretKey,
    message: &[u8],
    footer: &[u8],
    implicit: &[u8],
) -> Result<String, Error> {
    let pieces = [Public::HEADER.as_bytes(), message, footer, implicit];
    let signature = key.use_for_operation(|material| {
        hazmat::raw_sign_byupdate::<Sha512, _>(
            material.expanded(),
            |digest| {
                pae::feed(&pieces, &mut |bytes| digest.update(bytes));
                Ok(())
            },
            key.verifying_key(),
        )
    })?;
    // The update closure never fails, so neither does signing.
    let signature = signature.map_err(|_| Error::Verification)?;

    let mut body = Vec::with_capacity(message.len() + SIGNATURE_LEN);
    body.extend_from_slice(message);
    body.extend_from_slice(&signature.to_bytes());
    Ok(assemble(Public::HEADER, &body, footer))
}

impl UntrustedToken<Public> {
    /// The signed message (the claims a service would read), **unverified**:
    /// anyone can write these bytes, and nothing says the signature over them
    /// is valid. For showing a token to a person during an incident, or for
    /// logging, never for a decision: [`verify`] (or a service's `decode`)
    /// returns the same bytes once the signature checks out.
    ///
    /// A `v4.public` token's message travels in clear, so reading it needs no
    /// key; a `v4.local` token has no such accessor, as its message is
    /// encrypted.
    ///
    /// # Examples
    ///
    /// ```
    /// use vaulttoken::{SecretKey, v4};
    ///
    /// let secret = SecretKey::generate()?;
    /// let token = v4::public::sign(&secret, br#"{"sub":"bob"}"#, b"kid-1", b"")?;
    /// let untrusted: v4::UntrustedToken<v4::Public> = token.parse()?;
    /// assert_eq!(untrusted.untrusted_message(), br#"{"sub":"bob"}"#);
    /// assert_eq!(untrusted.untrusted_footer(), b"kid-1");
    /// // Verifying gives the same bytes, now authenticated.
    /// let verified = v4::public::verify(&secret.public_key(), &token, None, b"")?;
    /// assert_eq!(verified, untrusted.untrusted_message());
    /// # Ok::<(), vaulttoken::Error>(())
    /// ```
    #[must_use]
    pub fn untrusted_message(&self) -> &[u8] {
        let body = self.untrusted_body();
        // A parse guarantees a body of at least `SIGNATURE_LEN` bytes.
        &body[..body.len() - SIGNATURE_LEN]
    }
}

/// Verifies a `v4.public` token and returns its message.
///
/// `expected_footer`, when given, must equal the token's footer exactly (compared
/// in constant time); `implicit` must equal the implicit assertion used to sign.
///
/// # Errors
///
/// In the order checked: [`Error::UnsupportedHeader`] for anything but a
/// `v4.public.` token; [`Error::Malformed`] for a bad layout or encoding;
/// [`Error::FooterMismatch`]; and [`Error::Verification`] for a wrong key, a
/// non-canonical or small-order signature, or any change to the message, footer or
/// implicit assertion.
///
/// # Examples
///
/// ```
/// use vaulttoken::{Error, SecretKey, v4};
///
/// let secret = SecretKey::generate()?;
/// let token = v4::public::sign(&secret, b"m", b"f", b"")?;
/// assert_eq!(v4::public::verify(&secret.public_key(), &token, Some(b"f"), b"")?, b"m");
/// let other = SecretKey::generate()?.public_key();
/// assert!(matches!(v4::public::verify(&other, &token, None, b""), Err(Error::Verification)));
/// # Ok::<(), vaulttoken::Error>(())
/// ```
pub fn verify(
    key: &PublicKey,
    token: &str,
    expected_footer: Option<&[u8]>,
    implicit: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut token = UntrustedToken::<Public>::parse(token)?;
    let message = verify_parsed(key, token.parts(), expected_footer, implicit)?;
    Ok(token.into_message(message))
}

/// [`verify`] after parsing, the route services take too: checks the expected
/// footer, then the signature, and returns where the message lies in the body.
pub(crate) fn verify_parsed(
    key: &PublicKey,
    parts: ParsedParts<'_, Public>,
    expected_footer: Option<&[u8]>,
    implicit: &[u8],
) -> Result<Range<usize>, Error> {
    let ParsedParts { body, footer, .. } = parts;
    check_expected_footer(footer, expected_footer)?;
    Ok(0..check_signature(key, body, footer, implicit)?)
}

/// Checks the signature at the end of `body` over the message before it, and
/// returns the message's length.
fn check_signature(
    key: &PublicKey,
    body: &[u8],
    footer: &[u8],
    implicit: &[u8],
) -> Result<usize, Error> {
    let message_len = body.len() - SIGNATURE_LEN;
    let signature_bytes: &[u8; SIGNATURE_LEN] = body[message_len..]
        .try_into()
        .unwrap_or_else(|_| unreachable!("the body holds a whole signature"));
    let r_bytes: &[u8; 32] = signature_bytes[..32]
        .try_into()
        .unwrap_or_else(|_| unreachable!("R is the first half"));
    if has_small_order_encoding(r_bytes) {
        return Err(Error::Verification);
    }
    let signature = Signature::from_bytes(signature_bytes);
    // Rejects a non-canonical S.
    let mut verifier = key
        .verifying_key()
        .verify_stream(&signature)
        .map_err(|_| Error::Verification)?;
    let pieces = [
        Public::HEADER.as_bytes(),
        &body[..message_len],
        footer,
        implicit,
    ];
    pae::feed(&pieces, &mut |bytes| verifier.update(bytes));
    verifier
        .finalize_and_verify()
        .map_err(|_| Error::Verification)?;
    Ok(message_len)
}

/// The encodings of the eight small-order points of edwards25519, with the sign
/// bit ignored: y ∈ {0, 1, −1, ±y₈} and the non-canonical y + p for y ∈ {0, 1}.
/// These are libsodium's blocklist; a test rebuilds them from the curve.
const SMALL_ORDER_ENCODINGS: [[u8; 32]; 7] = [
    // y = 0: points of order 4.
    [0; 32],
    // y = 1: the identity.
    [
        0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0,
    ],
    // y = y₈ and y = −y₈: points of order 8.
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    // y = p − 1: the point of order 2.
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // y = p (≡ 0) and y = p + 1 (≡ 1), non-canonical.
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// Whether `encoding` is one of a small-order point, whatever its sign bit.
/// R is public, so this need not be constant time.
fn has_small_order_encoding(encoding: &[u8; 32]) -> bool {
    let mut y = *encoding;
    y[31] &= 0x7f;
    SMALL_ORDER_ENCODINGS.contains(&y)
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::constants::EIGHT_TORSION;
    use curve25519_dalek::scalar::Scalar;
    use ed25519_dalek::{SigningKey, Verifier as _};

    use super::*;

    #[test]
    fn untrusted_message_is_the_body_without_the_signature() {
        let secret = SecretKey::from_seed(&[3; 32]).unwrap();
        for message in [&b""[..], b"{}", b"{\"sub\":\"a\"}"] {
            let token = sign(&secret, message, b"f", b"i").unwrap();
            let untrusted = UntrustedToken::<Public>::parse(&token).unwrap();
            assert_eq!(untrusted.untrusted_message(), message);
            assert_eq!(
                untrusted.untrusted_body().len(),
                message.len() + SIGNATURE_LEN
            );
        }
        // Readable whatever the signature: it is not verified.
        let token = sign(&secret, b"m", b"", b"").unwrap();
        let other = SecretKey::from_seed(&[4; 32]).unwrap().public_key();
        assert!(matches!(
            verify(&other, &token, None, b""),
            Err(Error::Verification)
        ));
        let untrusted = UntrustedToken::<Public>::parse(&token).unwrap();
        assert_eq!(untrusted.untrusted_message(), b"m");
    }

    #[test]
    fn the_blocklist_is_exactly_the_small_order_points() {
        let mut from_curve: Vec<[u8; 32]> = EIGHT_TORSION
            .iter()
            .map(|point| {
                let mut y = point.compress().to_bytes();
                y[31] &= 0x7f;
                y
            })
            .collect();
        // y + p for the two y values small enough to have a second encoding.
        from_curve.push(SMALL_ORDER_ENCODINGS[5]);
        from_curve.push(SMALL_ORDER_ENCODINGS[6]);
        from_curve.sort_unstable();
        from_curve.dedup();
        let mut listed = SMALL_ORDER_ENCODINGS.to_vec();
        listed.sort_unstable();
        assert_eq!(from_curve, listed);
        // The two extra entries really are p and p + 1.
        assert_eq!(SMALL_ORDER_ENCODINGS[5][0], 0xed);
        assert_eq!(SMALL_ORDER_ENCODINGS[6][0], 0xee);
        for point in EIGHT_TORSION {
            let mut signed = point.compress().to_bytes();
            signed[31] |= 0x80;
            assert!(has_small_order_encoding(&signed));
        }
    }

    fn secret() -> SecretKey {
        SecretKey::from_seed(&[0x42; 32]).unwrap()
    }

    /// A signature `(R = identity, S = k·a)` on the PAE of `message`: valid under
    /// the cofactorless equation for anyone holding `a`, yet refused by libsodium.
    fn identity_r_token(message: &[u8]) -> String {
        let signing = SigningKey::from_bytes(&[0x42; 32]);
        let public = signing.verifying_key();
        let mut r = [0u8; 32];
        r[0] = 1;
        let mut pae_bytes = Vec::new();
        pae::feed(&[Public::HEADER.as_bytes(), message, b"", b""], &mut |b| {
            pae_bytes.extend_from_slice(b);
        });
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r)
                .chain_update(public.as_bytes())
                .chain_update(&pae_bytes),
        );
        let s = k * signing.to_scalar();
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&r);
        signature[32..].copy_from_slice(s.as_bytes());
        // Proof that the crafted signature passes a plain, unstrict verify.
        assert!(
            public
                .verify(&pae_bytes, &Signature::from_bytes(&signature))
                .is_ok()
        );
        let mut body = message.to_vec();
        body.extend_from_slice(&signature);
        assemble(Public::HEADER, &body, b"")
    }

    #[test]
    fn verify_rejects_a_small_order_r_that_plain_verify_accepts() {
        let token = identity_r_token(b"forged");
        assert!(matches!(
            verify(&secret().public_key(), &token, None, b""),
            Err(Error::Verification)
        ));
    }

    #[test]
    fn verify_rejects_a_non_canonical_s() {
        let token = sign(&secret(), b"m", b"", b"").unwrap();
        let body = crate::encoding::decode_base64url(&token["v4.public.".len()..]).unwrap();
        let s = Scalar::from_canonical_bytes(body[33..65].try_into().unwrap()).unwrap();
        // S + ℓ is the same scalar mod ℓ, so the equation still holds.
        let ell = Scalar::ZERO - Scalar::ONE;
        let mut s_plus_ell = s.to_bytes();
        let mut carry = 0u16;
        let ell_bytes = ell.to_bytes();
        for i in 0..32 {
            // ℓ = (ℓ − 1) + 1
            let add = u16::from(ell_bytes[i]) + u16::from(i == 0);
            let sum = u16::from(s_plus_ell[i]) + add + carry;
            s_plus_ell[i] = sum.to_le_bytes()[0];
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        let mut forged = body.clone();
        forged[33..65].copy_from_slice(&s_plus_ell);
        let forged = assemble(Public::HEADER, &forged, b"");
        assert!(matches!(
            verify(&secret().public_key(), &forged, None, b""),
            Err(Error::Verification)
        ));
        assert_eq!(
            verify(&secret().public_key(), &token, None, b"").unwrap(),
            b"m"
        );
    }

    #[test]
    fn verify_rejects_a_different_implicit_assertion() {
        let token = sign(&secret(), b"m", b"", b"a").unwrap();
        assert!(matches!(
            verify(&secret().public_key(), &token, None, b"b"),
            Err(Error::Verification)
        ));
    }

    #[test]
    fn verify_rejects_a_local_token_before_any_crypto() {
        assert!(matches!(
            verify(&secret().public_key(), "v4.local.AAAA", None, b""),
            Err(Error::UnsupportedHeader {
                expected: "v4.public."
            })
        ));
    }

    #[test]
    fn an_ephemeral_secret_key_signs_once() {
        let key = secret().into_ephemeral();
        let token = sign(&key, b"m", b"", b"").unwrap();
        assert!(matches!(sign(&key, b"m", b"", b""), Err(Error::KeyCleared)));
        // Its public key still verifies what it signed.
        assert_eq!(verify(&key.public_key(), &token, None, b"").unwrap(), b"m");
    }
}
