//! `vaulttoken-server`: reads its configuration from the environment,
//! validates all of it, then serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use vaulttoken_server::{Config, init_logging, serve};

/// jemalloc with its background thread: it gives the pages of freed memory
/// back to the system (within about 10 s), where the system allocator keeps
/// most of them, so after a burst of revocations expires and is swept the
/// process's resident memory returns near its baseline instead of staying
/// at the peak (docs/OPERATIONS.md, "Memory").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
