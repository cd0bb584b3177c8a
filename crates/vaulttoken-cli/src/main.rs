//! `vaulttoken`: PASETO v4 keys, tokens, PASERK, key rings and revocation,
//! for operators. Built on the public API of `vaulttoken` and
//! `vaulttoken-redis` only. Run `vaulttoken --help`.

mod args;
mod commands;
mod exit;
mod files;
mod keys_io;
mod output;
mod rings;
mod times;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;

use crate::args::Cli;
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    match commands::run(&cli) {
        Ok(report) => {
            let text = report.render(cli.json);
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(Exit::Io.code()),
            }
        }
        Err(failure) => {
            let message = if cli.json {
                serde_json::json!({
                    "error": failure.message,
                    "exit": failure.exit.code(),
                })
                .to_string()
            } else {
                format!("vaulttoken: {}", failure.message)
            };
            let _ = writeln!(std::io::stderr(), "{message}");
            ExitCode::from(failure.exit.code())
        }
    }
}

/// `--help` and `--version` exit 0; every other command-line error exits 64
/// (EX_USAGE), not clap's default 2, which means "expired" here.
fn clap_exit(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::from(Exit::Usage.code()),
    }
}
