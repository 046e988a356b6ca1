//! A node's domain key for one region, settled with the store before the
//! region's token serves (ADR 0016):
//!
//! - the token holds a domain key and the store names one: the token's must
//!   unwrap the store's check blob, or the node refuses the region;
//! - the token holds one and the store names none: the node claims the
//!   region with a new check blob;
//! - neither: the node creates one (dev mode: shareable) and claims the
//!   region, or refuses (a configured token's comes from `trent
//!   init-domain-key`);
//! - the store names one the token lacks: the node enrols. It posts an
//!   offer, logs its fingerprint, and waits (bounded) until a member of the
//!   cluster answers with the domain key wrapped for the offer.
//!
//! Two nodes creating a region's first domain key at once both claim; the
//! loser destroys the key it just made (nothing is wrapped under it yet)
//! and enrols instead.

use crate::clock::Clock;
use crate::hsm::{DomainKeySetup, DomainKeySharing, HsmError};
use crate::model::{DomainKeyRecord, EnrolmentRecord};
use crate::store::{Store, StoreError};
use std::time::{Duration, Instant};

/// How often a joining node looks for the answer to its offer.
const POLL: Duration = Duration::from_millis(500);
/// How often a joining node says it is still waiting.
const WAITING_NOTE: Duration = Duration::from_secs(30);

/// What a node does for a region whose domain key neither its token holds
/// nor the store names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithoutDomainKey {
    /// Create one, shared as said, and claim the region (dev mode, where
    /// Trent owns its tokens).
    Create(DomainKeySharing),
    /// Refuse the region: a configured token gets its domain key from
    /// `trent init-domain-key`.
    Refuse,
}

/// One region's domain key to settle.
pub struct Settle<'a> {
    /// The region.
    pub region: &'a str,
    /// This node's id.
    pub node_id: &'a str,
    /// What to do when nobody has a domain key for the region.
    pub without: WithoutDomainKey,
    /// How long to wait for a member to answer this node's enrolment offer.
    pub wait: Duration,
    /// Called while waiting for that answer, about twice a second (a
    /// starting node answers other nodes' offers meanwhile).
    pub while_waiting: &'a dyn Fn(),
}

/// How a region's domain key was settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The token holds the domain key the store names.
    Verified,
    /// The store named none; it names the token's now (made now or before).
    Claimed,
    /// A member (named) sent the domain key, which the token now holds.
    Enrolled(String),
}

/// Why a region's domain key could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum EnrolmentError {
    /// The token holds a domain key other than the store's.
    #[error(
        "region {region}: this node's token holds a domain key other than the one the store \
         names for the region (claimed by node {claimed_by}), so it cannot use the region's \
         keys. Start this node with the token it used before for {region}; if this token is \
         new to the cluster, delete its domain key (label \"trent-domain-key\", e.g. with \
         pkcs11-tool --delete-object --type secrkey --label trent-domain-key --login) and start \
         again: the node then enrols and receives the cluster's domain key"
    )]
    DifferentDomainKey {
        /// The region.
        region: String,
        /// The node that claimed the store's domain key.
        claimed_by: String,
    },
    /// No member answered the offer in time.
    #[error(
        "region {region}: no member of the cluster answered this node's enrolment offer \
         (node {node_id}, fingerprint {fingerprint}) within {waited_secs} s. A member that \
         hosts {region} answers an offer once it is approved: in dev mode at once, with \
         configured regions after `trent cluster approve --region {region} --node {node_id} \
         --fingerprint {fingerprint}` on a member. Start a member, or approve, and start this \
         node again (it makes a new offer)"
    )]
    Unanswered {
        /// The region.
        region: String,
        /// This node.
        node_id: String,
        /// The offer's fingerprint.
        fingerprint: String,
        /// How long the node waited.
        waited_secs: u64,
    },
    /// The offer disappeared or was replaced while the node waited.
    #[error(
        "region {region}: this node's enrolment offer (node {node_id}) was deleted or replaced \
         while it waited: is another process running with node id {node_id}?"
    )]
    OfferGone {
        /// The region.
        region: String,
        /// This node.
        node_id: String,
    },
    /// The token failed (or refused, e.g. a package that is not the
    /// region's domain key).
    #[error("region {0}: {1}")]
    Hsm(String, HsmError),
    /// The store failed.
    #[error("region {0}: {1}")]
    Store(String, StoreError),
}

/// Settles `how.region`'s domain key on the token of `setup` with the
/// store: afterwards the token holds the domain key the store names.
pub fn settle_domain_key(
    store: &Store,
    setup: &mut DomainKeySetup<'_>,
    how: &Settle<'_>,
) -> Result<Settled, EnrolmentError> {
    let region = how.region;
    let named = store
        .domain_key(region)
        .map_err(|e| EnrolmentError::Store(region.into(), e))?;
    let hsm = |e| EnrolmentError::Hsm(region.into(), e);
    match (setup.holds_domain_key(), named) {
        (true, Some(named)) => verify(setup, &named, region),
        (true, None) => claim(store, setup, how),
        (false, Some(named)) => enrol(store, setup, how, &named),
        (false, None) => match how.without {
            WithoutDomainKey::Create(sharing) => {
                setup.create_domain_key(sharing).map_err(hsm)?;
                tracing::info!(region, ?sharing, "created the region's domain key");
                claim(store, setup, how)
            }
            WithoutDomainKey::Refuse => Err(hsm(setup.missing_domain_key())),
        },
    }
}

/// Checks the token's domain key against the store's check blob.
fn verify(
    setup: &DomainKeySetup<'_>,
    named: &DomainKeyRecord,
    region: &str,
) -> Result<Settled, EnrolmentError> {
    match setup.verify_check_blob(&named.check_blob) {
        Ok(true) => Ok(Settled::Verified),
        Ok(false) => Err(EnrolmentError::DifferentDomainKey {
            region: region.into(),
            claimed_by: named.created_by.clone(),
        }),
        Err(e) => Err(EnrolmentError::Hsm(region.into(), e)),
    }
}

/// Names the token's domain key in the store; when another node named one
/// first, checks against it, and enrols instead if this set-up had only
/// just made its own.
fn claim(
    store: &Store,
    setup: &mut DomainKeySetup<'_>,
    how: &Settle<'_>,
) -> Result<Settled, EnrolmentError> {
    let region = how.region;
    let hsm = |e| EnrolmentError::Hsm(region.into(), e);
    let db = |e| EnrolmentError::Store(region.into(), e);
    let record = DomainKeyRecord {
        region: region.to_string(),
        check_blob: setup.check_blob().map_err(hsm)?,
        created_by: how.node_id.to_string(),
        created_at: Clock::default().now_ms(),
    };
    if store.claim_domain_key(&record).map_err(db)? {
        tracing::info!(
            region,
            node = how.node_id,
            "named the region's domain key in the store"
        );
        return Ok(Settled::Claimed);
    }
    let named = store.domain_key(region).map_err(db)?.ok_or_else(|| {
        db(StoreError::Unreadable(format!(
            "domain key of {region} vanished"
        )))
    })?;
    match verify(setup, &named, region) {
        Err(EnrolmentError::DifferentDomainKey { .. }) if setup.created_domain_key() => {
            tracing::info!(
                region,
                claimed_by = %named.created_by,
                "another node named the region's domain key first; enrolling instead"
            );
            setup.discard_created_domain_key().map_err(hsm)?;
            enrol(store, setup, how, &named)
        }
        other => other,
    }
}

/// Posts an offer for the region and waits for a member's package; the
/// token holds the region's domain key when it returns `Ok`.
fn enrol(
    store: &Store,
    setup: &mut DomainKeySetup<'_>,
    how: &Settle<'_>,
    named: &DomainKeyRecord,
) -> Result<Settled, EnrolmentError> {
    let (region, node_id) = (how.region, how.node_id);
    let hsm = |e| EnrolmentError::Hsm(region.into(), e);
    let db = |e| EnrolmentError::Store(region.into(), e);
    let offer = setup.offer().map_err(hsm)?;
    let fingerprint = offer.fingerprint;
    store
        .post_offer(&EnrolmentRecord {
            node_id: node_id.to_string(),
            region: region.to_string(),
            public_key: offer.public_key,
            fingerprint: fingerprint.clone(),
            offered_at: Clock::default().now_ms(),
            approved_by: None,
            package: None,
            answered_by: None,
        })
        .map_err(db)?;
    tracing::info!(
        region,
        node = node_id,
        %fingerprint,
        claimed_by = %named.created_by,
        wait_secs = how.wait.as_secs(),
        "this node's token lacks the region's domain key: posted an enrolment offer and waits \
         for a member to answer it (dev mode: automatic; configured regions: on a member, \
         `trent cluster approve --region {region} --node {node_id} --fingerprint {fingerprint}`)"
    );
    let started = Instant::now();
    let mut noted = Instant::now();
    loop {
        let current = store.offer(node_id, region).map_err(db)?;
        let Some(current) = current.filter(|o| o.fingerprint == fingerprint) else {
            return Err(EnrolmentError::OfferGone {
                region: region.into(),
                node_id: node_id.into(),
            });
        };
        if let Some(package) = &current.package {
            let accepted = setup.accept_package(package, &named.check_blob);
            let _ = store.delete_offer(node_id, region, &fingerprint);
            accepted.map_err(hsm)?;
            let answered_by = current.answered_by.unwrap_or_default();
            tracing::info!(
                region,
                node = node_id,
                %answered_by,
                "enrolled: the token holds the region's domain key"
            );
            return Ok(Settled::Enrolled(answered_by));
        }
        if started.elapsed() >= how.wait {
            let _ = store.delete_offer(node_id, region, &fingerprint);
            return Err(EnrolmentError::Unanswered {
                region: region.into(),
                node_id: node_id.into(),
                fingerprint,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        if noted.elapsed() >= WAITING_NOTE {
            noted = Instant::now();
            tracing::info!(
                region,
                node = node_id,
                %fingerprint,
                approved_by = current.approved_by.as_deref().unwrap_or("nobody yet"),
                waited_secs = started.elapsed().as_secs(),
                "still waiting for an answer to the enrolment offer"
            );
        }
        (how.while_waiting)();
        std::thread::sleep(POLL);
    }
}
