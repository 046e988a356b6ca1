//! The state every request of every dialect shares: the service core, the
//! authenticators, the audit trail and the serving settings. `server` builds
//! it at start-up; the dialects read it.

use super::huawei::dialect::Dialect;
use crate::audit::AuditLog;
use crate::auth::Authenticator;
use crate::kms::{Kms, Origin};
use std::net::SocketAddr;

/// State shared by every request.
pub struct AppState {
    /// The service core.
    pub kms: Kms,
    /// Verifies AWS SigV4 signatures.
    pub authenticator: Authenticator,
    /// The audit trail.
    pub audit: AuditLog,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Most client connections open at once (`max_connections`).
    pub max_connections: usize,
    /// Run cryptographic operations on the async workers.
    pub inline_crypto: bool,
    /// The Huawei dialect's projects and authenticator.
    pub huawei: Dialect,
    /// Whether requests arrive over TLS.
    pub secure_transport: bool,
    /// Makes the next operation panic (feature `test-clock`), to test that
    /// a panicking operation is still audited.
    #[cfg(feature = "test-clock")]
    pub panic_next: std::sync::atomic::AtomicBool,
    /// Runs of the background job loop completed so far (feature
    /// `test-clock`), so tests can wait for the loop instead of for time.
    #[cfg(feature = "test-clock")]
    pub job_runs: std::sync::atomic::AtomicU64,
}

impl AppState {
    /// Panics if a test asked for it (feature `test-clock`); else nothing.
    pub fn test_panic_hook(&self) {
        #[cfg(feature = "test-clock")]
        if self
            .panic_next
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            panic!("panic requested through /_trent/test/panic");
        }
    }

    /// Where a request from `peer` came from.
    pub fn origin(&self, peer: SocketAddr) -> Origin {
        Origin {
            secure_transport: self.secure_transport,
            source_ip: Some(peer.ip()),
        }
    }
}
