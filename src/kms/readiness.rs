//! Whether this node can serve: its store and every hosted region's token
//! answer. What a load balancer's readiness probe asks; and the keys it
//! holds, counted for the metrics.

use super::{Kms, KmsResult};
use thiserror::Error;

/// Why the node cannot serve now; the short reason a probe shows (the
/// details go to the log only).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NotReady {
    /// The metadata store did not answer.
    #[error("the store does not answer")]
    Store,
    /// The token of this region did not answer.
    #[error("the token of region {0} does not answer")]
    Token(String),
}

impl Kms {
    /// Asks the store (past its cache) and each hosted region's token (for
    /// one random byte) whether they answer. Blocking: the store call may
    /// wait for a connection, bounded by the store's own timeouts.
    pub fn readiness(&self) -> Result<(), NotReady> {
        if let Err(e) = self.store.ping() {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            return Err(NotReady::Store);
        }
        for (region, hsm) in self.regions.all().iter() {
            if let Err(e) = hsm.random(1) {
                tracing::warn!(region, error = %e, "not ready: the token does not answer");
                return Err(NotReady::Token(region.clone()));
            }
        }
        Ok(())
    }

    /// How many keys each region holds in each state (region, state name,
    /// count), for the metrics. Blocking: one grouped query in the store.
    pub fn key_counts(&self) -> KmsResult<Vec<(String, &'static str, u64)>> {
        Ok(self
            .store
            .key_counts()?
            .into_iter()
            .map(|(region, state, count)| (region, state.as_str(), count))
            .collect())
    }
}
