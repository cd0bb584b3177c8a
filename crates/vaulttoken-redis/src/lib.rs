#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod changes;
mod cluster_mode;
mod connect_error;
mod connection;
mod digest;
mod epochs;
mod failure;
mod keys;
mod losses;
mod mirror;
mod options;
mod read_only;
mod replies;
mod role;
mod scripts;
mod server_check;
mod store;
mod times;
mod write_deadline;

pub use crate::connect_error::ConnectError;
pub use crate::mirror::{
    DEFAULT_MAX_ENTRIES, DEFAULT_MAX_STALENESS, MIRROR_CLIENT_NAME, MirrorOptions, MirrorStatus,
    MirroredStore,
};
pub use crate::options::{
    DEFAULT_CLOCK_SAMPLE_INTERVAL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE, DEFAULT_PREFIX,
    DEFAULT_RECONNECT_MAX_DELAY, DEFAULT_RECONNECT_MIN_DELAY, DEFAULT_RECONNECT_RETRIES,
    DEFAULT_REPLY_MARGIN, ReplicaWait, StoreOptions,
};
pub use crate::server_check::{
    EvictionPolicy, MINIMUM_VERSION, READ_ONLY_MINIMUM_VERSION, ServerCheck, ServerVersion,
};
pub use crate::store::RedisStore;
