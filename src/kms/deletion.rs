//! The deletion job: deletes keys whose waiting period has ended.

use super::{JobOutcome, Kms, KmsResult};

impl Kms {
    /// Starts the waiting period of multi-Region primaries whose replicas are
    /// all deleted, then deletes every key copy whose deletion date has
    /// passed; returns how many this node deleted and how many another
    /// writer deleted (or cancelled) first. Safe to run on several nodes:
    /// each deletion is claimed by a conditional delete in the store.
    pub fn delete_due_keys(&self) -> KmsResult<JobOutcome> {
        let now = self.now();
        self.store.start_primary_deletions(now)?;
        let mut outcome = JobOutcome::default();
        for (region, key_id) in self.store.due_for_deletion(now)? {
            let deleted = self.store.delete_key_if_due(&region, &key_id, now)?;
            if deleted {
                if let Some(hsm) = self.regions.get(&region) {
                    hsm.forget_key(&key_id);
                }
                tracing::info!(%region, %key_id, "key deleted after its waiting period");
            }
            outcome.count(deleted);
        }
        Ok(outcome)
    }
}
