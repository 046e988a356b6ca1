//! The service's log lines: which request each line belongs to, and the
//! text and JSON formats that print it.

pub mod format;
pub mod request;

pub use format::LineFormat;
pub use request::{Within, current_request, within};
