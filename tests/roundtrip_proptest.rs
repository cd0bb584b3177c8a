//! Property tests: random messages, footers and implicit assertions round-trip
//! through `v4.local` and `v4.public`, and any change of key, implicit assertion
//! or expected footer is refused with the one error that names it.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

use proptest::collection::vec;
use proptest::prelude::*;
use vaulttoken::{Error, LocalKey, SecretKey, v4};

/// Every property runs this many cases: enough to cover empty and long inputs,
/// few enough that Ed25519 in a debug build stays within a few seconds.
fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..2048)
}

fn footer() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..256)
}

fn implicit() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..256)
}

fn key_bytes() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn local_key(bytes: &[u8; 32]) -> LocalKey {
    LocalKey::from_bytes(bytes).unwrap()
}

fn secret_key(seed: &[u8; 32]) -> SecretKey {
    SecretKey::from_seed(seed).unwrap()
}

/// The footer part of a token as text, if there is one (`header.body.footer`).
fn footer_part(token: &str) -> Option<&str> {
    token.splitn(4, '.').nth(3)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn local_tokens_round_trip_with_and_without_the_expected_footer(
        key in key_bytes(),
        msg in message(),
        footer in footer(),
        implicit in implicit(),
    ) {
        let key = local_key(&key);
        let token = v4::local::encrypt(&key, &msg, &footer, &implicit).unwrap();

        prop_assert!(token.starts_with("v4.local."));
        // A footer part exists exactly when there is a footer.
        prop_assert_eq!(footer_part(&token).is_some(), !footer.is_empty());
        prop_assert_eq!(token.matches('.').count(), if footer.is_empty() { 2 } else { 3 });

        prop_assert_eq!(v4::local::decrypt(&key, &token, None, &implicit).unwrap(), &msg[..]);
        prop_assert_eq!(
            v4::local::decrypt(&key, &token, Some(&footer), &implicit).unwrap(),
            &msg[..]
        );

        let untrusted: v4::UntrustedToken<v4::Local> = token.parse().unwrap();
        prop_assert_eq!(untrusted.untrusted_footer(), &footer[..]);
    }

    #[test]
    fn public_tokens_round_trip_with_and_without_the_expected_footer(
        seed in key_bytes(),
        msg in message(),
        footer in footer(),
        implicit in implicit(),
    ) {
        let secret = secret_key(&seed);
        let public = secret.public_key();
        let token = v4::public::sign(&secret, &msg, &footer, &implicit).unwrap();

        prop_assert!(token.starts_with("v4.public."));
        prop_assert_eq!(footer_part(&token).is_some(), !footer.is_empty());
        prop_assert_eq!(token.matches('.').count(), if footer.is_empty() { 2 } else { 3 });

        prop_assert_eq!(v4::public::verify(&public, &token, None, &implicit).unwrap(), &msg[..]);
        prop_assert_eq!(
            v4::public::verify(&public, &token, Some(&footer), &implicit).unwrap(),
            &msg[..]
        );

        let untrusted: v4::UntrustedToken<v4::Public> = token.parse().unwrap();
        prop_assert_eq!(untrusted.untrusted_footer(), &footer[..]);
    }

    #[test]
    fn two_local_encryptions_of_the_same_input_differ_and_both_decrypt(
        key in key_bytes(),
        msg in message(),
        footer in footer(),
    ) {
        let key = local_key(&key);
        let first = v4::local::encrypt(&key, &msg, &footer, b"").unwrap();
        let second = v4::local::encrypt(&key, &msg, &footer, b"").unwrap();
        prop_assert_ne!(&first, &second);
        prop_assert_eq!(v4::local::decrypt(&key, &first, None, b"").unwrap(), &msg[..]);
        prop_assert_eq!(v4::local::decrypt(&key, &second, None, b"").unwrap(), &msg[..]);
    }

    #[test]
    fn local_decrypt_with_a_wrong_implicit_assertion_fails_verification(
        key in key_bytes(),
        msg in message(),
        footer in footer(),
        implicit in implicit(),
        wrong in implicit(),
    ) {
        prop_assume!(implicit != wrong);
        let key = local_key(&key);
        let token = v4::local::encrypt(&key, &msg, &footer, &implicit).unwrap();
        let result = v4::local::decrypt(&key, &token, None, &wrong);
        prop_assert!(matches!(result, Err(Error::Verification)), "{:?}", result);
        let result = v4::local::decrypt(&key, &token, Some(&footer), &wrong);
        prop_assert!(matches!(result, Err(Error::Verification)), "{:?}", result);
    }

    #[test]
    fn public_verify_with_a_wrong_implicit_assertion_fails_verification(
        seed in key_bytes(),
        msg in message(),
        footer in footer(),
        implicit in implicit(),
        wrong in implicit(),
    ) {
        prop_assume!(implicit != wrong);
        let secret = secret_key(&seed);
        let token = v4::public::sign(&secret, &msg, &footer, &implicit).unwrap();
        let result = v4::public::verify(&secret.public_key(), &token, None, &wrong);
        prop_assert!(matches!(result, Err(Error::Verification)), "{:?}", result);
    }

    #[test]
    fn local_decrypt_with_a_different_key_fails_verification(
        key in key_bytes(),
        other in key_bytes(),
        msg in message(),
        footer in footer(),
        implicit in implicit(),
    ) {
        prop_assume!(key != other);
        let key = local_key(&key);
        let other = local_key(&other);
        let token = v4::local::encrypt(&key, &msg, &footer, &implicit).unwrap();
        let result = v4::local::decrypt(&other, &token, None, &implicit);
        prop_assert!(matches!(result, Err(Error::Verification)), "{:?}", result);
        let result = v4::local::decrypt(&other, &token, Some(&footer), &implicit);
        prop_assert!(matches!(result, Err(Error::Verification)), "{:?}", result);
    }

    #[test]
    fn public_verify_with_a_different_key_fails_verification(
        seed in key_bytes(),
        other in key_bytes(),
        msg in message(),
        footer in footer(),
        implicit in implicit(),
    ) {
        prop_assume!(seed != other);
        let secret = secret_key(&seed);
        let other = secret_key(&other).public_key();
        prop_assert_ne!(other, secret.public_key());
        let token = v4::public::sign(&secret, &msg, &footer, &implicit).unwrap();
        let result = v4::public::verify(&other, &token, None, &implicit);
        prop_assert!(matches!(result, Err(Error::Verification)), "{:?}", result);
        let result = v4::public::verify(&other, &token, Some(&footer), &implicit);
        prop_assert!(matches!(result, Err(Error::Verification)), "{:?}", result);
    }

    #[test]
    fn a_wrong_expected_footer_is_a_footer_mismatch_for_both_purposes(
        key in key_bytes(),
        msg in message(),
        footer in footer(),
        wrong in footer(),
        implicit in implicit(),
    ) {
        prop_assume!(footer != wrong);
        let local = local_key(&key);
        let token = v4::local::encrypt(&local, &msg, &footer, &implicit).unwrap();
        let result = v4::local::decrypt(&local, &token, Some(&wrong), &implicit);
        prop_assert!(matches!(result, Err(Error::FooterMismatch)), "{:?}", result);

        let secret = secret_key(&key);
        let token = v4::public::sign(&secret, &msg, &footer, &implicit).unwrap();
        let result = v4::public::verify(&secret.public_key(), &token, Some(&wrong), &implicit);
        prop_assert!(matches!(result, Err(Error::FooterMismatch)), "{:?}", result);
    }

    #[test]
    fn a_token_of_one_purpose_is_refused_by_the_other(
        key in key_bytes(),
        msg in message(),
        footer in footer(),
    ) {
        let local = local_key(&key);
        let secret = secret_key(&key);
        let local_token = v4::local::encrypt(&local, &msg, &footer, b"").unwrap();
        let public_token = v4::public::sign(&secret, &msg, &footer, b"").unwrap();

        let result = v4::public::verify(&secret.public_key(), &local_token, None, b"");
        prop_assert!(
            matches!(result, Err(Error::UnsupportedHeader { expected: "v4.public." })),
            "{:?}",
            result
        );
        let result = v4::local::decrypt(&local, &public_token, None, b"");
        prop_assert!(
            matches!(result, Err(Error::UnsupportedHeader { expected: "v4.local." })),
            "{:?}",
            result
        );
    }
}
