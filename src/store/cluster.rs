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

#[cfg(test)]
pub(super) mod tests {
    use super::super::backend::Backend;
    use crate::model::{DomainKeyRecord, EnrolmentRecord};

    fn offer(node: &str, fingerprint: &str) -> EnrolmentRecord {
        EnrolmentRecord {
            node_id: node.into(),
            region: "us-east-1".into(),
            public_key: vec![1, 2, 3],
            fingerprint: fingerprint.into(),
            offered_at: 1_000,
            approved_by: None,
            package: None,
            answered_by: None,
        }
    }

    /// The conditional writes of domain keys and offers (ADR 0016), on
    /// any backend: the first claim wins; an approval needs the offer's
    /// fingerprint and no earlier approval; only the approving member
    /// answers, once; a new offer replaces the node's old one and what
    /// became of it.
    pub(in crate::store) fn conditional_writes(backend: &dyn Backend) {
        let claim = |by: &str| DomainKeyRecord {
            region: "us-east-1".into(),
            check_blob: by.as_bytes().to_vec(),
            created_by: by.into(),
            created_at: 5,
        };
        assert!(backend.claim_domain_key(&claim("a")).unwrap());
        assert!(!backend.claim_domain_key(&claim("b")).unwrap());
        let named = backend.domain_key("us-east-1").unwrap().unwrap();
        assert_eq!(named, claim("a"));
        assert_eq!(backend.domain_key("eu-west-1").unwrap(), None);
        assert_eq!(backend.domain_key_regions().unwrap(), ["us-east-1"]);

        backend.post_offer(&offer("n", "f1")).unwrap();
        let approve = |fp: &str, by: &str| backend.approve_offer("n", "us-east-1", fp, by).unwrap();
        let answer = |fp: &str, by: &str| {
            backend
                .answer_offer("n", "us-east-1", fp, b"package", by)
                .unwrap()
        };
        assert!(!approve("f0", "a"), "approved another fingerprint");
        assert!(!answer("f1", "a"), "answered an unapproved offer");
        assert!(approve("f1", "a"));
        assert!(!approve("f1", "b"), "approved twice");
        assert!(
            !answer("f1", "b"),
            "answered by a member that did not approve"
        );
        assert!(answer("f1", "a"));
        assert!(!answer("f1", "a"), "answered twice");
        let answered = backend.offer("n", "us-east-1").unwrap().unwrap();
        assert_eq!(answered.package.as_deref(), Some(&b"package"[..]));
        assert_eq!(answered.answered_by.as_deref(), Some("a"));
        assert!(backend.open_offers(0).unwrap().is_empty());

        backend.post_offer(&offer("n", "f2")).unwrap();
        assert_eq!(backend.open_offers(0).unwrap(), [offer("n", "f2")]);
        assert!(backend.open_offers(1_001).unwrap().is_empty());
        assert!(approve("f2", "a"));
        assert!(
            !backend
                .withdraw_approval("n", "us-east-1", "f2", "b")
                .unwrap()
        );
        assert!(
            backend
                .withdraw_approval("n", "us-east-1", "f2", "a")
                .unwrap()
        );
        assert!(!backend.delete_offer("n", "us-east-1", "f1").unwrap());
        assert!(backend.delete_offer("n", "us-east-1", "f2").unwrap());
        assert_eq!(backend.offer("n", "us-east-1").unwrap(), None);
    }

    #[test]
    fn conditional_writes_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = super::super::sqlite::Sqlite::open(&dir.path().join("t.db")).unwrap();
        conditional_writes(&sqlite);
    }
}
