//! The store's operations on a cluster's domain keys and enrolment offers
//! (ADR 0016): uncached, each goes straight to the backend.

use super::{Store, StoreResult};
use crate::model::{DomainKeyRecord, EnrolmentRecord};

impl Store {
    /// The domain key the store names for `region`, if any.
    pub fn domain_key(&self, region: &str) -> StoreResult<Option<DomainKeyRecord>> {
        self.backend.domain_key(region)
    }

    /// Every region the store names a domain key for, in name order.
    pub fn domain_key_regions(&self) -> StoreResult<Vec<String>> {
        self.backend.domain_key_regions()
    }

    /// Names a region's domain key with its check blob; false when another
    /// node named one first (insert-if-absent).
    pub fn claim_domain_key(&self, record: &DomainKeyRecord) -> StoreResult<bool> {
        self.backend.claim_domain_key(record)
    }

    /// Posts an enrolment offer, replacing the node's earlier offer for the
    /// region (and whatever became of it).
    pub fn post_offer(&self, offer: &EnrolmentRecord) -> StoreResult<()> {
        self.backend.post_offer(offer)
    }

    /// A node's offer for a region.
    pub fn offer(&self, node_id: &str, region: &str) -> StoreResult<Option<EnrolmentRecord>> {
        self.backend.offer(node_id, region)
    }

    /// Offers not answered yet that were posted at `since` (Unix ms) or
    /// later, oldest first.
    pub fn open_offers(&self, since: i64) -> StoreResult<Vec<EnrolmentRecord>> {
        self.backend.open_offers(since)
    }

    /// Marks an offer approved by `approver` if it still has `fingerprint`
    /// and nobody approved or answered it yet; false otherwise.
    pub fn approve_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool> {
        self.backend
            .approve_offer(node_id, region, fingerprint, approver)
    }

    /// Takes back `approver`'s approval of an offer not answered yet (its
    /// SO step failed).
    pub fn withdraw_approval(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool> {
        self.backend
            .withdraw_approval(node_id, region, fingerprint, approver)
    }

    /// Stores the package answering an offer that `answerer` approved, if
    /// it still has `fingerprint` and no package (`package IS NULL`).
    pub fn answer_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        package: &[u8],
        answerer: &str,
    ) -> StoreResult<bool> {
        self.backend
            .answer_offer(node_id, region, fingerprint, package, answerer)
    }

    /// Deletes an offer if it still has `fingerprint`.
    pub fn delete_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
    ) -> StoreResult<bool> {
        self.backend.delete_offer(node_id, region, fingerprint)
    }
}
