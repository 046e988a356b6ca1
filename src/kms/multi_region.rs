//! Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and carrying
//! material between regions' tokens as wrapped keys only.

use super::condition_keys::Facts;
use super::current;
use super::invalid::{Field, Invalid};
use super::key_ref::Aliases;
use super::{
    Caller, JobOutcome, KeyView, Kms, KmsError, KmsResult, key_arn_in, policy, record_arn, validate,
};
use crate::hsm::{MaterialRef, WrappedMaterial};
use crate::model::{KeyRecord, KeyState, MaterialRecord, MultiRegionRecord, Tag};
use crate::store::StoreError;

/// ReplicateKey parameters beyond the key and region.
#[derive(Default)]
pub struct ReplicaInput {
    /// Description; empty when absent (not the primary's).
    pub description: Option<String>,
    /// Key policy; the default key policy when absent (not the primary's).
    pub policy: Option<String>,
    /// Tags; none when absent (tags are not shared between copies).
    pub tags: Option<Vec<Tag>>,
    /// Skip the check that the policy lets the caller change it later.
    pub bypass_policy_lockout_safety_check: bool,
}

/// ReplicateKey result.
pub struct Replica {
    /// The new replica.
    pub view: KeyView,
    /// Its tags.
    pub tags: Vec<Tag>,
}

impl Kms {
    /// ReplicateKey: copies a multi-Region primary, with every material
    /// version, into another hosted region's token.
    pub fn replicate_key(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        replica_region: Option<&str>,
        input: ReplicaInput,
    ) -> KmsResult<Replica> {
        let replica_region = validate::required(replica_region, Field::ReplicaRegion)?;
        validate::region(replica_region, Field::ReplicaRegion)?;
        let key_id = validate::key_id(key_id)?;
        if let Some(description) = &input.description {
            validate::description(description)?;
        }
        if let Some(policy) = &input.policy {
            policy::document_in_model(policy)?;
        }
        if let Some(tags) = &input.tags {
            validate::tags(tags)?;
        }
        let bypass = input.bypass_policy_lockout_safety_check.to_string();
        let primary = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:ReplicateKey",
            &Facts::default()
                .with("kms:ReplicaRegion", [replica_region])
                .with("kms:BypassPolicyLockoutSafetyCheck", [bypass.as_str()]),
        )?;
        let copies = self.primary_copies(caller, &primary)?;
        self.check_hosted(replica_region)?;
        let replica_caller = Caller {
            region: replica_region.to_string(),
            ..caller.clone()
        };
        let tags_given = input.tags.iter().flatten();
        let replica_facts = Facts::default()
            .with("kms:KeySpec", [primary.key_spec.as_str()])
            .with("kms:KeyUsage", [primary.key_usage.as_str()])
            .with("kms:KeyOrigin", [primary.origin.as_str()])
            .with("kms:MultiRegion", ["true"])
            .with("kms:MultiRegionKeyType", ["REPLICA"])
            .with("kms:BypassPolicyLockoutSafetyCheck", [bypass.as_str()])
            .with_tags(
                tags_given
                    .clone()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            );
        self.authorize_account(&replica_caller, "kms:CreateKey", &replica_facts)?;
        // AWS: "To use the Tags parameter, kms:TagResource (IAM policy)" in
        // the replica Region.
        if tags_given.count() > 0 {
            self.authorize_account(&replica_caller, "kms:TagResource", &replica_facts)?;
        }
        super::require_not_pending_deletion(&primary)?;
        super::require_not_updating(&primary)?;
        super::require_enabled(&primary)?;
        // Imported material is not carried: the replica waits for the same
        // material to be imported into it (AWS developer guide, "Importing
        // key material into multi-Region keys").
        let external = primary.origin == "EXTERNAL";
        if copies.regions.iter().any(|r| r == replica_region) {
            return Err(KmsError::AlreadyExists(format!(
                "Key {} already has a copy in {replica_region}.",
                record_arn(&primary)
            )));
        }
        // As the ReplicateKey reference says: no description, the default
        // key policy and only the given tags unless the request says
        // otherwise; nothing is copied from the primary.
        let description = input.description.unwrap_or_default();
        validate::description(&description)?;
        let replica_policy = match input.policy {
            Some(p) => policy::check_document(
                &p,
                caller,
                &key_arn_in(replica_region, &caller.account_id, &primary.key_id),
                input.bypass_policy_lockout_safety_check,
            )
            .map(|()| p.into())?,
            None => policy::default_policy(&caller.account_id).into(),
        };
        let tags = input.tags.unwrap_or_default();
        validate::tags(&tags)?;

        // Dev mode provisions a new region only for a request that passed
        // every check above.
        self.regions
            .ensure(replica_region, &self.store)
            .map_err(named_in_body)?;
        let carried = match external {
            true => Vec::new(),
            false => {
                let materials = self.store.materials(&caller.region, &primary.key_id)?;
                self.carry(&caller.region, replica_region, &primary, &materials)?
            }
        };
        let replica = KeyRecord {
            region: replica_region.to_string(),
            description,
            policy: replica_policy,
            creation_date: self.now(),
            deletion_date: None,
            pending_window_days: None,
            updating: false,
            state: match external {
                true => KeyState::PendingImport,
                false => primary.state,
            },
            valid_to: None,
            ..(*primary).clone()
        };
        match self.store.insert_replica(
            &replica,
            &caller.region,
            &carried,
            &tags,
            &primary.current_material_id,
        ) {
            Ok(true) => {}
            Ok(false) => {
                if let Some(now) = self.store.key(&caller.region, &primary.key_id)? {
                    super::require_not_pending_deletion(&now)?;
                }
                return Err(KmsError::Conflict(format!(
                    "Key {} was rotated while it was being replicated; try again.",
                    record_arn(&primary)
                )));
            }
            Err(StoreError::Conflict) => {
                return Err(KmsError::AlreadyExists(format!(
                    "Key {} already has a copy in {replica_region}.",
                    record_arn(&primary)
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(key_id = %replica.key_id, from = %caller.region, to = %replica_region, "key replicated");
        caller.keys.note(record_arn(&replica));
        Ok(Replica {
            view: self.view(replica)?,
            tags,
        })
    }

    /// UpdatePrimaryRegion: starts making the replica in `region` the
    /// primary. Both copies report Updating until the background job
    /// completes the change, which this wakes at once.
    pub fn update_primary_region(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        region: Option<&str>,
    ) -> KmsResult<()> {
        let region = validate::required(region, Field::PrimaryRegion)?;
        validate::region(region, Field::PrimaryRegion)?;
        let facts = Facts::default().with("kms:PrimaryRegion", [region]);
        let primary = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:UpdatePrimaryRegion",
            &facts,
        )?;
        let copies = self.primary_copies(caller, &primary)?;
        self.check_hosted(region)?;
        if region == caller.region {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is already the primary key.",
                record_arn(&primary)
            )));
        }
        // The key-state table's answer comes first: a primary pending
        // deletion has no replica left to name.
        super::require_not_pending_deletion(&primary)?;
        super::require_not_updating(&primary)?;
        super::require_enabled(&primary)?;
        if !copies.regions.iter().any(|r| r == region) {
            return Err(KmsError::UnsupportedOperation(format!(
                "Key {} has no replica in {region}; replicate it there first.",
                record_arn(&primary)
            )));
        }
        let target = self.store.key(region, &primary.key_id)?.ok_or_else(|| {
            KmsError::Internal(format!(
                "replica of {} in {region} vanished",
                primary.key_id
            ))
        })?;
        let target_caller = Caller {
            region: region.to_string(),
            ..caller.clone()
        };
        self.authorize(&target_caller, "kms:UpdatePrimaryRegion", &target, &facts)?;
        // Both copies must be enabled when the update starts (AWS developer
        // guide, "Change the primary key in a set of multi-Region keys").
        super::require_enabled(&target)?;
        if !self
            .store
            .begin_primary_update(&primary.key_id, &caller.region, region)?
        {
            return Err(KmsError::InvalidState(format!(
                "The primary Region of {} is already being updated.",
                record_arn(&primary)
            )));
        }
        self.want_jobs();
        Ok(())
    }

    /// Completes every pending UpdatePrimaryRegion; returns how many this
    /// node completed and how many another node completed first.
    pub fn complete_primary_updates(&self) -> KmsResult<JobOutcome> {
        let mut outcome = JobOutcome::default();
        for key_id in self.store.pending_primary_updates()? {
            let completed = self.store.complete_primary_update(&key_id)?;
            if completed {
                tracing::info!(%key_id, "primary Region updated");
            }
            outcome.count(completed);
        }
        Ok(outcome)
    }

    /// The copies of a key that must be a multi-Region primary in the
    /// caller's region.
    pub(super) fn primary_copies(
        &self,
        caller: &Caller,
        key: &KeyRecord,
    ) -> KmsResult<MultiRegionRecord> {
        let arn = record_arn(key);
        let copies = match key.multi_region {
            true => self.store.multi_region(&key.key_id)?,
            false => None,
        }
        .ok_or_else(|| {
            KmsError::UnsupportedOperation(format!("{arn} is not a multi-Region key."))
        })?;
        if copies.primary_region != caller.region {
            return Err(KmsError::UnsupportedOperation(format!(
                "{arn} is not a multi-region primary key."
            )));
        }
        Ok(copies)
    }

    /// A region this deployment hosts (or in dev mode would provision on
    /// first use), or a ValidationException naming the hosted ones.
    fn check_hosted(&self, region: &str) -> KmsResult<()> {
        self.regions.check(region).map_err(named_in_body)
    }

    /// Carries materials of `key_id` from one region's token to another's
    /// with the transport exchange; returns them wrapped for the destination.
    pub(super) fn carry(
        &self,
        from: &str,
        to: &str,
        key: &KeyRecord,
        materials: &[MaterialRecord],
    ) -> KmsResult<Vec<MaterialRecord>> {
        let (source, destination) = (self.hsm(from)?, self.hsm(to)?);
        let wrapped: Vec<WrappedMaterial<'_>> = materials
            .iter()
            .map(|m| current::row_in(from, key, m))
            .collect();
        let references: Vec<MaterialRef> = wrapped.iter().map(|w| w.reference.clone()).collect();
        let offer = destination.begin_import()?;
        let package = match source.export_materials(&wrapped, &offer) {
            Ok(p) => p,
            Err(e) => {
                destination.cancel_import(offer.id);
                return Err(e.into());
            }
        };
        let blobs = destination.complete_import(offer.id, &package, &references)?;
        materials
            .iter()
            .zip(blobs)
            .map(|(m, wrapped)| {
                let carried = MaterialRecord {
                    wrapped,
                    ..m.clone()
                };
                self.tagged(to, key, carried)
            })
            .collect()
    }
}

/// A region named in a request's body that is not served is a
/// ValidationException (one named by the credential scope is not).
fn named_in_body(e: KmsError) -> KmsError {
    match e {
        KmsError::UnrecognizedRegion(why) => KmsError::Validation(Invalid::RegionNotHosted(why)),
        other => other,
    }
}
