//! KMS operations: key lifecycle, cryptography, aliases, tags and policies.
//! Knows nothing of HTTP or of cryptoki types: it decides; `hsm` and `store` do.

mod access;
mod aliases;
pub(crate) mod ciphertext;
mod closing;
mod condition_keys;
mod crypto;
mod current;
mod deletion;
pub mod enrolment;
mod error;
mod grants;
pub mod invalid;
mod key_agreement;
pub mod key_import;
mod key_pairs;
mod key_ref;
mod keys;
mod mac;
mod multi_region;
mod offers;
mod paging;
mod policy;
mod readiness;
mod regions;
mod rotation;
pub mod row_tags;
mod rsa_encryption;
mod signing;
mod specs;
mod tags;
mod throttle;
mod validate;

pub use crate::model::{
    AliasRecord, DomainKeyRecord, EnrolmentRecord, GrantRecord, KeyRecord, KeySpec, KeyState,
    KeyUsage, MaterialRecord, MultiRegionRecord, RotationType, Tag,
};
pub use crypto::{DataKeyOutput, DecryptOutput, DryRun, EncryptOutput, ReEncryptOutput};
pub use error::{KmsError, KmsResult, MaterialProblem, Missing, TokenProblem};
pub use grants::{GrantConstraints, GrantCreated, GrantInput, GrantRef, constraints_of};
pub use invalid::{Field, Invalid, Rule, TagProblem, UsageProblem};
pub use key_agreement::SharedSecret;
pub use key_import::{DeletedMaterial, ImportInput, ImportParameters, PrivateKeyCarriage};
pub use key_pairs::DataKeyPair;
pub use key_ref::{alias_arn, key_arn, key_arn_in, record_arn};
pub use keys::{CreateKeyInput, DeletionScheduled};
pub use mac::{MacInput, MacOutput};
pub use multi_region::{Replica, ReplicaInput};
pub use offers::{Member, OfferTrust};
pub use paging::Page;
pub use readiness::NotReady;
pub use regions::Provisioner;
pub use rotation::{
    ImportFacts, MAX_ROTATION_PERIOD_DAYS, MaterialEntry, MaterialState, RotationStatus,
};
pub use signing::{PublicKeyView, SignInput, SignOutput};
pub use specs::{
    encryption_algorithms, key_agreement_algorithms, mac_algorithms, signing_algorithms,
};
pub use validate::{grant_tokens, recipient};

use crate::auth::Principal;
use crate::clock::Clock;
use crate::hsm::Hsm;
use crate::store::Store;
use regions::Regions;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Who is calling, and where: the region the request was addressed to and
/// the authenticated principal.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Region from the credential scope.
    pub region: String,
    /// Account of the principal: the account whose keys it sees and creates.
    pub account_id: String,
    /// The principal.
    pub principal: Principal,
    /// Where the request came from.
    pub origin: Origin,
    /// The keys and aliases the request named and found, for its audit line.
    pub keys: KeysNamed,
}

/// The ARNs of the keys and aliases a request named and found, in the order
/// it found them: the one place the audit trail learns which keys a request
/// touched, whichever dialect it came in. Clones share one list.
#[derive(Clone, Debug, Default)]
pub struct KeysNamed(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl KeysNamed {
    /// Notes `arn`, once.
    fn note(&self, arn: String) {
        let mut arns = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !arns.contains(&arn) {
            arns.push(arn);
        }
    }

    /// The ARNs noted so far, taken for the audit line once the request's
    /// work is done (later notes start a new list).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where a request came from, for `aws:SecureTransport` and `aws:SourceIp`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin {
    /// Whether it arrived over TLS.
    pub secure_transport: bool,
    /// The client's address.
    pub source_ip: Option<std::net::IpAddr>,
}

/// A key as the API shows it: its record and, for a multi-Region key,
/// where its copies are.
pub struct KeyView {
    /// This copy's record.
    pub key: KeyRecord,
    /// The key's copies, when it is multi-Region.
    pub multi_region: Option<MultiRegionRecord>,
}

/// An encryption context as given by the client.
pub type EncryptionContext = BTreeMap<String, String>;

/// What one background job did on this node in one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobOutcome {
    /// Pieces of work this node committed.
    pub done: usize,
    /// Pieces of work this node attempted but lost: its conditional commit
    /// found that another writer (another node, or a concurrent request)
    /// had changed the key first, so nothing was written.
    pub conflicts: usize,
}

impl JobOutcome {
    /// Counts one attempt: committed, or lost to another writer.
    fn count(&mut self, committed: bool) {
        match committed {
            true => self.done += 1,
            false => self.conflicts += 1,
        }
    }
}

/// Service-wide settings of the core.
pub struct Settings {
    /// Region used when a request names none.
    pub default_region: String,
    /// Most on-demand rotations one key may have.
    pub on_demand_rotation_limit: usize,
    /// Most grants one key may have.
    pub grants_per_key_limit: usize,
    /// This node's id (its enrolment offers and answers carry it).
    pub node_id: String,
    /// How long a joining node waits for the answer to its enrolment
    /// offer; members answer no older offer.
    pub enrolment_wait: std::time::Duration,
}

/// The service core, shared by every dialect.
pub struct Kms {
    regions: Regions,
    store: Store,
    clock: Clock,
    settings: Settings,
    policies: access::PolicyCache,
    /// Woken when an operation leaves work for the background jobs that
    /// should not wait for their next interval.
    jobs_wanted: tokio::sync::Notify,
    /// Import tokens handed out by GetParametersForImport.
    import_tokens: key_import::ImportTokens,
    /// The SO step of approving enrolment offers, when this node approves
    /// them itself (dev mode).
    offer_trust: Option<Box<dyn OfferTrust>>,
    /// The keys counted for the metrics, and when.
    key_counts: readiness::LastKeyCounts,
    /// RSA key generations in flight.
    long_calls: throttle::LongCalls,
}

impl Kms {
    /// Assembles the core from opened tokens (by region name) and the store.
    /// With a `provisioner` (dev mode), a region not hosted yet whose name
    /// has AWS's form is provisioned the first time a request addresses it.
    /// With an `offer_trust` (dev mode), this node approves the enrolment
    /// offers of joining nodes itself.
    pub fn new(
        regions: BTreeMap<String, Arc<Hsm>>,
        provisioner: Option<Box<dyn Provisioner>>,
        offer_trust: Option<Box<dyn OfferTrust>>,
        store: Store,
        settings: Settings,
    ) -> Self {
        Self {
            regions: Regions::new(regions, provisioner),
            store,
            clock: Clock::default(),
            settings,
            policies: access::PolicyCache::new(10_000),
            jobs_wanted: tokio::sync::Notify::new(),
            import_tokens: key_import::ImportTokens::default(),
            offer_trust,
            key_counts: Default::default(),
            long_calls: Default::default(),
        }
    }

    /// Builds the caller context for `principal`'s request addressed to
    /// `region` (or the default region). In dev mode, a region not hosted
    /// yet is provisioned now if its name has AWS's form; otherwise it is
    /// refused with [`KmsError::UnrecognizedRegion`].
    pub fn caller(
        &self,
        region: Option<&str>,
        principal: &Principal,
        origin: Origin,
    ) -> KmsResult<Caller> {
        let region = region.unwrap_or(&self.settings.default_region);
        self.regions.ensure(region, &self.store)?;
        Ok(Caller {
            region: region.to_string(),
            account_id: principal.account_id.clone(),
            principal: principal.clone(),
            origin,
            keys: KeysNamed::default(),
        })
    }

    /// True when this deployment hosts `region` now.
    pub fn hosts(&self, region: &str) -> bool {
        self.regions.hosts(region)
    }

    /// Succeeds when `region` is hosted, or in dev mode would be
    /// provisioned on first use; otherwise [`KmsError::UnrecognizedRegion`]
    /// names the hosted regions and how to add one. Provisions nothing.
    pub fn check_region(&self, region: &str) -> KmsResult<()> {
        self.regions.check(region)
    }

    /// Names of the hosted regions.
    pub fn region_names(&self) -> Vec<String> {
        self.regions.names()
    }

    /// The service clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The store's durability settings (feature `test-clock`).
    #[cfg(feature = "test-clock")]
    pub fn store_durability(&self) -> KmsResult<(i64, String)> {
        Ok(self.store.durability()?)
    }

    /// Number of persistent objects on a region's token (custody checks).
    pub fn token_object_count(&self, region: &str) -> KmsResult<usize> {
        Ok(self.hsm(region)?.token_object_count()?)
    }

    /// Fills the metadata cache from the database (run once, in the
    /// background, after start-up); failures are logged.
    pub fn warm_metadata(&self) {
        let started = std::time::Instant::now();
        match self.store.warm_cache() {
            Ok(keys) => tracing::info!(
                keys,
                millis = started.elapsed().as_millis() as u64,
                "metadata cache warmed"
            ),
            Err(e) => tracing::error!(error = %e, "warming the metadata cache failed"),
        }
    }

    /// Signalled when an operation has left work for the background jobs
    /// that should not wait for their next interval (an accepted
    /// UpdatePrimaryRegion); the job loop waits on it beside its interval.
    /// A signal given while no one waits is kept for the next wait. The
    /// core itself only signals, synchronously.
    pub fn jobs_wanted(&self) -> &tokio::sync::Notify {
        &self.jobs_wanted
    }

    /// Asks the background job loop to run now rather than at its next
    /// interval.
    fn want_jobs(&self) {
        self.jobs_wanted.notify_one();
    }

    /// Destroys the session objects the shared key-cache budget pushed out
    /// of each region's caches and that region's own calls have not yet
    /// destroyed (a region with no calls would keep them).
    pub fn bury_evicted_keys(&self) {
        for (region, hsm) in self.regions.all().iter() {
            if let Err(e) = hsm.bury_evicted() {
                tracing::debug!(region = %region, error = %e, "evicted keys not destroyed");
            }
        }
    }

    /// Re-initialises the PKCS#11 modules that have destroyed enough session
    /// objects (see `hsm::Module`); a failure is logged and retried next time.
    pub fn reinitialize_modules_if_due(&self) {
        for (region, hsm) in self.regions.all().iter() {
            if let Err(e) = hsm.reinitialize_module_if_due() {
                tracing::error!(region = %region, error = %e, "module re-initialisation failed");
            }
        }
    }

    fn hsm(&self, region: &str) -> KmsResult<Arc<Hsm>> {
        self.regions
            .get(region)
            .ok_or_else(|| KmsError::Internal(format!("region {region} has no token")))
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Adds the multi-Region configuration to a key record, which is read
    /// again with it, as of one moment: a primary Region update committing
    /// meanwhile (on this node or another) shows wholly or not at all.
    fn view(&self, key: KeyRecord) -> KmsResult<KeyView> {
        if !key.multi_region {
            return Ok(KeyView {
                key,
                multi_region: None,
            });
        }
        Ok(
            match self.store.key_with_copies(&key.region, &key.key_id)? {
                Some((key, multi_region)) => KeyView { key, multi_region },
                None => KeyView {
                    key,
                    multi_region: None,
                },
            },
        )
    }
}

/// Refuses cryptographic use of a key that is not enabled. (A key whose
/// primary Region is being updated stays usable, as in AWS KMS.)
fn require_enabled(key: &KeyRecord) -> KmsResult<()> {
    match key.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!(
            "{} is disabled.",
            record_arn(key)
        ))),
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion | KeyState::PendingImport => {
            Err(refused_state(&record_arn(key), key.state))
        }
    }
}

/// Refuses a management change to a key that is pending deletion.
fn require_not_pending_deletion(key: &KeyRecord) -> KmsResult<()> {
    match key.state {
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion => {
            Err(refused_state(&record_arn(key), key.state))
        }
        _ => Ok(()),
    }
}

/// Refuses a change to a key whose primary Region is being updated.
fn require_not_updating(key: &KeyRecord) -> KmsResult<()> {
    if key.updating {
        return Err(KmsError::InvalidState(format!(
            "{} is updating.",
            record_arn(key)
        )));
    }
    Ok(())
}

/// The refusal of an operation by the key's state.
fn refused_state(arn: &str, state: KeyState) -> KmsError {
    KmsError::PendingDeletion {
        arn: arn.to_string(),
        state: state.as_str(),
    }
}
