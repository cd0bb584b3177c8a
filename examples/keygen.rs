//! Generate keys and print them as PASERK strings with their ids: the job of a
//! `keygen` script in a token server.
//!
//! Run with `cargo run --example keygen`. It prints secret keys: in real use, send
//! this output straight to your secret store, never to a log. Set
//! `VAULTTOKEN_KEYGEN_PASSWORD` to also print password-wrapped forms.
//!
//! This shows the library calls. Operators use the command-line tool instead,
//! which writes keys to 0600 files: `vaulttoken keygen local --out FILE`, and
//! `vaulttoken paserk wrap | pw-wrap | seal` for the protected forms.

use vaulttoken::paserk::PasswordParams;
use vaulttoken::{LocalKey, SecretKey};

fn main() -> Result<(), vaulttoken::Error> {
    // A symmetric key for v4.local, and its id (the `kid` its tokens carry).
    let local = LocalKey::generate()?;
    println!("# v4.local key");
    println!("local key (SECRET): {}", local.to_paserk()?.as_str());
    println!("local key id:       {}", local.paserk_id()?);

    // A signing key pair for v4.public. Tokens name the *public* key's id.
    let secret = SecretKey::generate()?;
    let public = secret.public_key();
    println!("\n# v4.public key pair");
    println!("secret key (SECRET): {}", secret.to_paserk()?.as_str());
    println!("secret key id:       {}", secret.paserk_id()?);
    println!("public key:          {}", public.to_paserk());
    println!("public key id (kid): {}", public.paserk_id()?);

    // A key to wrap other keys with, for storing them outside the secret store.
    let wrapping = LocalKey::generate()?;
    println!("\n# wrapped forms (safe to store where the wrapping key is not)");
    println!("wrapping key (SECRET): {}", wrapping.to_paserk()?.as_str());
    println!(
        "local, wrapped:        {}",
        local.to_paserk_wrapped(&wrapping)?
    );
    println!(
        "secret, wrapped:       {}",
        secret.to_paserk_wrapped(&wrapping)?
    );

    // The local key sealed to the public key: only the secret key opens it.
    println!(
        "local, sealed to the public key: {}",
        local.to_paserk_sealed(&public)?
    );

    if let Ok(password) = std::env::var("VAULTTOKEN_KEYGEN_PASSWORD") {
        let params = PasswordParams::default();
        println!(
            "\n# password-wrapped (Argon2id, {} MiB, {} passes)",
            params.memory_bytes() / (1024 * 1024),
            params.iterations()
        );
        println!(
            "local:  {}",
            local.to_paserk_password(password.as_bytes(), &params)?
        );
        println!(
            "secret: {}",
            secret.to_paserk_password(password.as_bytes(), &params)?
        );
    }
    Ok(())
}
