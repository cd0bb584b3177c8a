//! The rules engine: built-in rules, a custom rule, and every failure at once.
//!
//! Run with `cargo run --example rules`.

use std::sync::Arc;

use time::Duration;
use time::macros::datetime;
use vaulttoken::error::Violation;
use vaulttoken::rules::{RuleSet, rule_fn};
use vaulttoken::service::LocalService;
use vaulttoken::{Claims, Error, LocalKey, clock::FixedClock};

fn main() -> Result<(), Error> {
    let issued = datetime!(2030-01-01 12:00 UTC);
    // One key, shared by every service through an `Arc`: no secret bytes copied.
    let key = Arc::new(LocalKey::generate()?);

    // The issuer stamps tokens as of `issued`.
    let issuer = LocalService::builder(Arc::clone(&key))
        .clock(FixedClock::new(issued))
        .build();
    let claims = Claims::builder()
        .issuer("auth.example")
        .audience("billing")
        .claim("role", "viewer")
        .build()?;
    let token = issuer.encode(&claims)?;

    // A base rule set shared by every service, extended for one API.
    let base = RuleSet::default().leeway(Duration::seconds(30));
    let billing = base
        .clone()
        .issued_by_any(["auth.example", "auth-backup.example"])
        .for_audience("billing")
        .max_age(Duration::minutes(30))
        .require_claims(["role"])
        .with_rule(rule_fn("role-can-pay", |ctx| {
            match ctx.claims.custom_str("role") {
                Some(role) if vaulttoken::rules::constant_time_eq(role, "payer") => Ok(()),
                _ => Err(Violation::new("role may not pay").on_claim("role")),
            }
        }));

    // Ten minutes later: only the custom rule fails.
    let soon = LocalService::builder(Arc::clone(&key))
        .rules(billing.clone())
        .clock(FixedClock::new(issued + Duration::minutes(10)))
        .build();
    report("after 10 minutes", soon.decode(&token));

    // Two hours later: expired, too old, and the custom rule, all reported together.
    let late = LocalService::builder(key)
        .rules(billing)
        .clock(FixedClock::new(issued + Duration::hours(2)))
        .build();
    report("after 2 hours", late.decode(&token));
    Ok(())
}

fn report<T>(when: &str, result: Result<T, Error>) {
    match result {
        Ok(_) => println!("{when}: accepted"),
        Err(Error::Claims(violations)) => {
            println!("{when}: {} rule(s) failed", violations.len());
            for violation in violations.iter() {
                println!("  - {violation}");
            }
        }
        Err(other) => println!("{when}: refused ({other})"),
    }
}
