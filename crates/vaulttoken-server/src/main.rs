//! `vaulttoken-server`: reads its configuration from the environment,
//! validates all of it, then serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use vaulttoken_server::{Config, init_logging, serve};

#[tokio::main]
async fn main() -> ExitCode {
    init_logging();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            tracing::error!(problems = ?err.problems(), "invalid configuration");
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the server could not start");
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
