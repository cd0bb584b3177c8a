//! Rotate keys without downtime: issue with key A, rotate to key B, and watch A's
//! tokens keep working until A is retired, then fail.
//!
//! Run with `cargo run --example rotate`. The ring uses a clock the example moves
//! forward by hand, so the hour between rotation and retirement passes at once.
//!
//! This shows the library calls. Operators rotate a ring file with the
//! command-line tool: `vaulttoken ring add --promote`, then `vaulttoken ring
//! retire` once the tokens of the old key have expired.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use vaulttoken::keyring::{KeyStatus, LocalKeyRing};
use vaulttoken::service::LocalService;
use vaulttoken::{Claims, LocalKey, clock::ManualClock};

fn describe(status: Option<KeyStatus>) -> &'static str {
    match status {
        Some(KeyStatus::Active) => "active",
        Some(KeyStatus::Next) => "next (verification only)",
        Some(KeyStatus::Previous { .. }) => "previous (verification only)",
        Some(_) => "in another state",
        None => "retired",
    }
}

fn main() -> Result<(), vaulttoken::Error> {
    // Clones share one reading: moving `clock` moves the ring's clock too.
    let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH + Duration::days(20_000));
    // Tokens live at most one hour (the service default), so a key may be retired
    // one hour after it stops issuing.
    let ring = Arc::new(LocalKeyRing::new(Duration::hours(1))?.with_clock(clock.clone()));
    let service = LocalService::from_ring(Arc::clone(&ring)).build();
    let claims = Claims::builder().subject("user-42").build()?;

    let key_a = ring.add(LocalKey::generate()?)?;
    ring.promote(&key_a)?;
    let token_a = service.encode(&claims)?;
    println!("1. key A active: {key_a}");
    println!(
        "   token from A decodes: {}",
        service.decode(&token_a).is_ok()
    );

    let key_b = ring.add(LocalKey::generate()?)?;
    println!("2. key B added for verification only: {key_b}");

    clock.advance(Duration::minutes(10));
    ring.promote(&key_b)?;
    let token_b = service.encode(&claims)?;
    println!(
        "3. key B promoted; A is now {}",
        describe(ring.status(&key_a))
    );
    println!(
        "   token from A still decodes: {}",
        service.decode(&token_a).is_ok()
    );
    println!(
        "   token from B decodes:       {}",
        service.decode(&token_b).is_ok()
    );

    match ring.retire(&key_a) {
        Err(refused) => println!("4. retiring A now is refused: {refused}"),
        Ok(()) => println!("4. retired A too early (this should not happen)"),
    }

    clock.advance(Duration::hours(1));
    let retired = ring.retire_expired();
    println!(
        "5. an hour later, retired: {}",
        retired
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    match service.decode(&token_a) {
        Err(refused) => println!("   token from A now fails closed: {refused}"),
        Ok(_) => println!("   token from A still decodes (this should not happen)"),
    }
    // B's first token lived its hour too; B keeps issuing.
    let fresh_b = service.encode(&claims)?;
    println!(
        "   B's hour-old token expired: {}; a new one from B decodes: {}",
        service.decode(&token_b).is_err(),
        service.decode(&fresh_b).is_ok()
    );
    Ok(())
}
