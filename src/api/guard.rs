//! What both dialects do around running one operation: a panic caught so
//! that the audit line is still written and the client gets an internal
//! error instead of a dropped connection.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// An operation that panicked; the panic hook logged where and why.
#[derive(Debug, thiserror::Error)]
#[error("the operation panicked")]
pub struct Panicked;

/// Runs `operation`, catching a panic.
pub fn unpanicked<T>(operation: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(operation)).map_err(|_| {
        tracing::error!("operation panicked");
        Panicked
    })
}
