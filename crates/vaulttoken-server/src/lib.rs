//! The vaulttoken reference token server: issues, refreshes, revokes and
//! introspects PASETO v4 tokens, publishes its public keys, rotates them,
//! and issues single-use trust tokens. The binary is `vaulttoken-server`;
//! this library is its router and configuration, so tests drive it
//! in-process.
//!
//! See the crate's README for the endpoints and the variables.

#![forbid(unsafe_code)]

mod access;
mod app;
mod audience;
mod client_access;
mod client_auth;
mod clients;
mod config;
mod context;
mod internal_keys;
mod key_file;
mod key_set;
mod key_sync;
mod logging;
mod metrics;
mod oauth_error;
pub mod rate_limit;
mod redis_connection;
mod routes;
mod scopes;
mod secret;
mod shared_keys;
mod start_error;
mod state;

pub use crate::app::{REQUEST_ID, ServerStore, app, connect_store, runtime_builder, serve};
pub use crate::clients::Clients;
pub use crate::config::{
    AccessPurpose, BindingConfig, BindingMode, CONFIG_FILE_VAR, Config, ConfigError, Lifetimes,
    RateLimits, RedisDeadlines, RedisTarget, VARIABLES,
};
pub use crate::logging::{LogWrites, Logs, init_logging};
pub use crate::oauth_error::{OAuthError, STORE_RETRY_AFTER_SECS};
pub use crate::routes::MAX_BODY_LEN;
pub use crate::secret::Secret;
pub use crate::shared_keys::SHARED_KEYS_KEY;
pub use crate::start_error::StartError;
