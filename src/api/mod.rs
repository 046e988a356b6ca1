//! HTTP front ends. Each dialect decodes its wire format, calls `kms`, and
//! encodes the result or error; nothing HTTP-shaped goes further in.

pub mod aws;
pub mod guard;
pub mod health;
pub mod huawei;
pub mod metrics;
pub mod request;
pub mod runner;
pub mod state;
pub mod unrouted;
