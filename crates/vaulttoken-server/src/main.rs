//! `vaulttoken-server`: reads its configuration from the environment,
//! validates all of it, then serves until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use vaulttoken_server::{Config, Logs, init_logging, runtime_builder, serve};

/// jemalloc with its background thread: it gives the pages of freed memory
/// back to the system (within about 10 s), where the system allocator keeps
/// most of them, so after a burst of revocations expires and is swept the
/// process's resident memory returns near its baseline instead of staying
/// at the peak (docs/OPERATIONS.md, "Memory").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Runs the server, then writes the log lines still buffered, whichever
/// way it ended (the runtime is gone by then: no worker logs any more).
fn main() -> ExitCode {
    let logs = init_logging();
    let code = run(logs);
    logs.flush();
    code
}

/// Validates the configuration, then serves on a multi-threaded runtime
/// (one worker per core the process may use, as `#[tokio::main]`; on one
/// core, a current-thread runtime: see [`runtime_builder`]) whose workers write the
/// buffered log lines whenever they go idle, so on a lightly loaded server a
/// request's lines are out as soon as it is done.
fn run(logs: Logs) -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            tracing::error!(problems = ?err.problems(), "invalid configuration");
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    logs.set_writes(config.log_writes);
    let runtime = runtime_builder()
        .enable_all()
        .on_thread_park(move || logs.flush())
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "the server could not start its runtime");
            eprintln!("the server could not start its runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the server could not start");
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
