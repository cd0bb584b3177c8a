#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod connect_error;
mod connection;
mod epochs;
mod failure;
mod keys;
mod options;
mod replies;
mod scripts;
mod server_check;
mod store;
mod times;

pub use crate::connect_error::ConnectError;
pub use crate::options::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_PREFIX, ReplicaWait, StoreOptions,
};
pub use crate::server_check::{EvictionPolicy, MINIMUM_VERSION, ServerCheck, ServerVersion};
pub use crate::store::RedisStore;
