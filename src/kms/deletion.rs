//! The deletion job: deletes keys whose waiting period has ended.

use super::{Kms, KmsResult};

impl Kms {
    /// Starts the waiting period of multi-Region primaries whose replicas are
    /// all deleted, then deletes every key copy whose deletion date has
    /// passed; returns how many this node deleted. Safe to run on several
    /// nodes: each deletion is claimed by a conditional delete in the store.
    pub fn delete_due_keys(&self) -> KmsResult<usize> {
        let now = self.now();
        self.store.start_primary_deletions(now)?;
        let mut deleted = 0;
        for (region, key_id) in self.store.due_for_deletion(now)? {
            if self.store.delete_key_if_due(&region, &key_id, now)? {
                if let Some(hsm) = self.regions.get(&region) {
                    hsm.forget_key(&key_id);
                }
                tracing::info!(%region, %key_id, "key deleted after its waiting period");
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}
