//! Trent: an HSM-backed key management service speaking the AWS KMS API.

pub mod api;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod backup;
pub mod cache_sizing;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod connection_limit;
pub mod core_dumps;
pub mod dir_lock;
#[doc(hidden)]
pub mod fuzzing;
pub mod growing_lru;
pub mod hsm;
pub mod kms;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod process_id;
pub mod provision;
pub mod server;
pub mod store;
