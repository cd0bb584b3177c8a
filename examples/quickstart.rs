//! Issue and verify one `v4.local` and one `v4.public` token.
//!
//! Run with `cargo run --example quickstart`.

use vaulttoken::{LocalKey, SecretKey, v4};

fn main() -> Result<(), vaulttoken::Error> {
    let claims = br#"{"sub":"user-42","exp":"2039-01-01T00:00:00+00:00"}"#;
    let footer = br#"{"kid":"example-key-1"}"#;

    // v4.local: encrypted and authenticated with a shared symmetric key.
    let local_key = LocalKey::generate()?;
    let local_token = v4::local::encrypt(&local_key, claims, footer, b"")?;
    let opened = v4::local::decrypt(&local_key, &local_token, Some(footer), b"")?;
    println!("v4.local token:  {local_token}");
    println!("  decrypted:     {}", String::from_utf8_lossy(&opened));

    // v4.public: signed with a secret key, verified with its public key.
    let secret_key = SecretKey::generate()?;
    let public_key = secret_key.public_key();
    let public_token = v4::public::sign(&secret_key, claims, footer, b"")?;
    let verified = v4::public::verify(&public_key, &public_token, Some(footer), b"")?;
    println!("v4.public token: {public_token}");
    println!("  verified:      {}", String::from_utf8_lossy(&verified));
    println!("  public key:    {}", public_key.to_hex());

    // Keys never print their secrets.
    println!("keys (Debug):    {local_key:?} / {secret_key:?}");

    // A token of the other purpose is refused before any cryptography.
    if let Err(refused) = v4::local::decrypt(&local_key, &public_token, None, b"") {
        println!("public token given to local decrypt: {refused}");
    }
    Ok(())
}
