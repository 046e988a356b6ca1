//! Whether this node can serve: its store and every hosted region's token
//! answer. What a load balancer's readiness probe asks; and the keys it
//! holds, counted for the metrics.

use super::{Kms, KmsResult};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Keys by region and state: (region, state name, count).
pub type KeyCounts = Vec<(String, &'static str, u64)>;

/// How long a count of the keys answers the metrics before the store is
/// asked again.
pub const KEY_COUNTS_FRESH_FOR: Duration = Duration::from_secs(5);

/// The last count of the keys and when it was made.
pub(super) type LastKeyCounts = Mutex<Option<(Instant, KeyCounts)>>;

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
    /// count), for the metrics: counted by one grouped query in the store at
    /// most once per [`KEY_COUNTS_FRESH_FOR`], one scrape at a time (the
    /// others wait for it and share its answer), so that a flood of scrapes,
    /// which need no signature, cannot keep the store counting.
    pub fn key_counts(&self) -> KmsResult<KeyCounts> {
        let mut last = self
            .key_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, counts)) = last.as_ref() {
            if at.elapsed() < KEY_COUNTS_FRESH_FOR {
                return Ok(counts.clone());
            }
        }
        let counts: KeyCounts = self
            .store
            .key_counts()?
            .into_iter()
            .map(|(region, state, count)| (region, state.as_str(), count))
            .collect();
        *last = Some((Instant::now(), counts.clone()));
        Ok(counts)
    }
}
