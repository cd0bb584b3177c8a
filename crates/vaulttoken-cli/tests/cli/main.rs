//! Drives the built `vaulttoken` binary: every subcommand, every exit status,
//! stdin and file inputs, file modes, refusal to overwrite, and no key
//! material in the output of a failing run. One test binary, one link.
#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly on any unexpected error"
)]

mod inspect;
mod keygen;
mod leaks;
mod paserk;
mod revoke;
mod ring;
mod selftest;
mod support;
mod tokens;
mod usage;
