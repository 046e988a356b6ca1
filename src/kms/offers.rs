//! The member's side of enrolment (ADR 0016), a background job: answer the
//! approved enrolment offers of nodes joining a region this node hosts,
//! with the region's domain key wrapped for the offer.
//!
//! An offer is answered by the member that approved it, because the
//! approval made a trusted key object on that member's token. With
//! configured regions an operator approves on a member (`trent cluster
//! approve`); in dev mode, where Trent holds its tokens' SO PINs, every
//! member approves what it sees through its [`OfferTrust`], first claiming
//! the approval in the store so that one member answers each offer.

use super::{JobOutcome, Kms, KmsResult};
use crate::clock::Clock;
use crate::hsm::{DomainKeySharing, Hsm};
use crate::model::EnrolmentRecord;
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The SO's step of an approval, for members that approve offers
/// themselves (dev mode). The token refuses the SO login in a process
/// where the user is logged in, so it runs in a process of its own.
pub trait OfferTrust: Send + Sync {
    /// Has the SO of this node's token for `region` trust the public key of
    /// `offer` (a trusted key object labelled with the joining node's id);
    /// a message saying why not otherwise.
    fn trust(&self, region: &str, offer: &EnrolmentRecord) -> Result<(), String>;
}

/// A member of a cluster answering enrolment offers: the running core's
/// background job ([`Kms::answer_offers`]), and a node still starting,
/// which answers for the regions it has opened while it waits for an
/// answer of its own (so that nodes starting together never wait for each
/// other: each settles its regions in name order, so the node holding the
/// lowest region anyone waits for has settled it).
pub struct Member<'a> {
    /// The cluster's store.
    pub store: &'a Store,
    /// This node's id.
    pub node_id: &'a str,
    /// How long joining nodes wait: older offers are not answered.
    pub enrolment_wait: Duration,
    /// The SO step, when this node approves offers itself (dev mode).
    pub trust: Option<&'a dyn OfferTrust>,
}

impl Kms {
    /// Answers the open enrolment offers for the regions this node hosts
    /// (see [`Member::answer_offers`]).
    pub fn answer_offers(&self) -> KmsResult<JobOutcome> {
        Member {
            store: &self.store,
            node_id: &self.settings.node_id,
            enrolment_wait: self.settings.enrolment_wait,
            trust: self.offer_trust.as_deref(),
        }
        .answer_offers(&self.regions.all())
    }
}

impl Member<'_> {
    /// Answers the open offers (posted within the enrolment wait) for
    /// `regions` that this node approved, approving them first when this
    /// node approves offers itself (dev mode). Each answered offer counts
    /// as done; one that another member claimed first as a conflict. A
    /// failure on one offer is logged and the others go on.
    pub fn answer_offers(&self, regions: &BTreeMap<String, Arc<Hsm>>) -> KmsResult<JobOutcome> {
        let mut outcome = JobOutcome::default();
        let wait_ms = self.enrolment_wait.as_millis() as i64;
        let since = Clock::default().now_ms() - wait_ms;
        for offer in self.store.open_offers(since)? {
            let Some(hsm) = regions.get(&offer.region) else {
                continue;
            };
            if offer.node_id == self.node_id {
                continue;
            }
            match self.answer(hsm, &offer) {
                Ok(Some(committed)) => outcome.count(committed),
                Ok(None) => {}
                Err(e) => tracing::error!(
                    region = %offer.region,
                    node = %offer.node_id,
                    fingerprint = %offer.fingerprint,
                    error = %e,
                    "answering an enrolment offer failed"
                ),
            }
        }
        Ok(outcome)
    }

    /// Answers one offer if this node approved it (or approves it now):
    /// whether the package was stored (false: another writer changed the
    /// offer first); `None` when this node does not answer it.
    fn answer(&self, hsm: &Hsm, offer: &EnrolmentRecord) -> Result<Option<bool>, String> {
        let me = self.node_id;
        let (node, region, fingerprint) = (&offer.node_id, &offer.region, &offer.fingerprint);
        match offer.approved_by.as_deref() {
            Some(approver) if approver == me => {}
            Some(_) => return Ok(None),
            None => {
                let Some(trust) = self.trust else {
                    return Ok(None);
                };
                let sharing = hsm.domain_key_sharing().map_err(|e| e.to_string())?;
                if sharing != DomainKeySharing::Shareable {
                    tracing::warn!(
                        region = %region,
                        node = %node,
                        "a node offers to join the region, but this node's domain key for it \
                         is never-extractable (made before clusters): only this node can hold it"
                    );
                    return Ok(None);
                }
                if !self
                    .store
                    .approve_offer(node, region, fingerprint, me)
                    .map_err(|e| e.to_string())?
                {
                    return Ok(Some(false));
                }
                if let Err(e) = trust.trust(region, offer) {
                    let _ = self.store.withdraw_approval(node, region, fingerprint, me);
                    return Err(format!("the SO step failed: {e}"));
                }
                tracing::info!(region = %region, node = %node, %fingerprint, "approved an enrolment offer");
            }
        }
        let Some(package) = hsm
            .package_domain_key(node, &offer.public_key)
            .map_err(|e| e.to_string())?
        else {
            return Err(
                "this node approved the offer, but its token holds no trusted key for it \
                 (was `trent cluster approve` interrupted?); the joining node makes a new \
                 offer when it starts again"
                    .into(),
            );
        };
        let answered = self
            .store
            .answer_offer(node, region, fingerprint, &package, me)
            .map_err(|e| e.to_string())?;
        if let Err(e) = hsm.forget_trusted_offer(node, &offer.public_key) {
            tracing::warn!(region = %region, node = %node, error = %e, "destroying the offer's trusted key failed");
        }
        if answered {
            tracing::info!(region = %region, node = %node, %fingerprint, "answered an enrolment offer with the region's domain key");
        }
        Ok(Some(answered))
    }
}
