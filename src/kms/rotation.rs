//! Key rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand, ListKeyRotations, and the automatic rotation job.
//!
//! A rotation makes a new backing key in the token first, then commits it
//! and makes it current in one store transaction that is conditional on the
//! key being unchanged. A crash before the commit leaves the old material
//! current; several nodes racing for one rotation commit it exactly once.

use super::condition_keys::Facts;
use super::invalid::Field;
use super::key_ref::Aliases;
use super::paging::{self, Page};
use super::specs;
use super::{Caller, JobOutcome, Kms, KmsError, KmsResult, record_arn, validate};
use crate::model::{KeyRecord, KeySpec, KeyState, RotationType};
use crate::store::RotationCommit;

/// Shortest automatic rotation period AWS allows, in days.
const MIN_PERIOD_DAYS: i64 = 90;
/// Longest automatic rotation period AWS allows, in days.
pub const MAX_ROTATION_PERIOD_DAYS: i64 = 2560;
const MAX_PERIOD_DAYS: i64 = MAX_ROTATION_PERIOD_DAYS;
const DEFAULT_PERIOD_DAYS: i64 = 365;
const MS_PER_DAY: i64 = 86_400_000;
const INCLUDE_KEY_MATERIAL: &[&str] = &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"];

/// GetKeyRotationStatus result.
pub struct RotationStatus {
    /// ARN of the key.
    pub key_arn: String,
    /// Rotation period, when automatic rotation is on.
    pub period_days: Option<i64>,
    /// When the next automatic rotation is due, when it is on.
    pub next_rotation_date: Option<i64>,
}

/// Where a material stands in its key's rotations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaterialState {
    /// Encrypt uses it.
    Current,
    /// Decrypt still uses it.
    NonCurrent,
    /// Imported for an on-demand rotation that has not happened yet.
    PendingRotation,
}

/// What an import says of a material of a key of origin `EXTERNAL`.
pub struct ImportFacts {
    /// Whether it is in the store now.
    pub imported: bool,
    /// When it expires (Unix ms); `None`: it does not.
    pub valid_to: Option<i64>,
    /// Its description.
    pub description: Option<String>,
}

/// One entry of ListKeyRotations.
pub struct MaterialEntry {
    /// Id of the key the material belongs to.
    pub key_id: String,
    /// The material id.
    pub material_id: String,
    /// Where it stands.
    pub state: MaterialState,
    /// How and when a rotation made it current; `None` for the first
    /// material and material waiting for a rotation.
    pub rotation: Option<(RotationType, i64)>,
    /// Its import, for a key of origin `EXTERNAL`.
    pub import: Option<ImportFacts>,
}

/// Only symmetric keys whose material Trent made can rotate; a key of
/// another origin gets AWS's message (key-state table, footnote 6).
fn check_rotatable(key: &KeyRecord) -> KmsResult<()> {
    if key.origin != "AWS_KMS" {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            record_arn(key),
            key.origin
        )));
    }
    if key.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::UnsupportedOperation(format!(
            "Key {} is a {} key, which does not rotate; only symmetric encryption keys \
             (SYMMETRIC_DEFAULT) do.",
            key.key_id, key.key_spec
        )));
    }
    Ok(())
}

/// On-demand rotation also serves single-Region symmetric keys of origin
/// `EXTERNAL`, to imported material waiting for it.
fn check_on_demand_rotatable(key: &KeyRecord) -> KmsResult<()> {
    if !is_imported_symmetric(key) {
        return check_rotatable(key);
    }
    if key.multi_region {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region key with imported key material: on-demand rotation of \
             such keys is not supported yet.",
            record_arn(key)
        )));
    }
    Ok(())
}

/// A symmetric encryption key of origin `EXTERNAL`.
fn is_imported_symmetric(key: &KeyRecord) -> bool {
    key.origin == "EXTERNAL" && key.key_spec == KeySpec::SymmetricDefault
}

impl Kms {
    /// Rotation changes need a key that `rotatable` accepts, enabled and not
    /// a multi-Region replica (rotation of a multi-Region key is run from its
    /// primary). A disabled key, or one pending deletion, is refused for its
    /// state before its kind, as AWS refuses a disabled RSA key
    /// (`DisabledException`); a key pending import, for its kind first.
    fn check_changeable(
        &self,
        key: &KeyRecord,
        caller: &Caller,
        rotatable: fn(&KeyRecord) -> KmsResult<()>,
    ) -> KmsResult<()> {
        if key.state != KeyState::PendingImport {
            super::require_enabled(key)?;
        }
        rotatable(key)?;
        if key.multi_region {
            self.primary_copies(caller, key)?;
        }
        super::require_not_updating(key)?;
        super::require_enabled(key)
    }
}

impl Kms {
    /// EnableKeyRotation: turns automatic rotation on, or changes its period.
    pub fn enable_key_rotation(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        period_days: Option<i64>,
    ) -> KmsResult<()> {
        self.enable_key_rotation_within(
            caller,
            key_id,
            period_days,
            MIN_PERIOD_DAYS..=MAX_PERIOD_DAYS,
        )
    }

    /// EnableKeyRotation with a dialect's own range of rotation periods
    /// (AWS: 90–2560 days; Huawei: 30–365).
    pub fn enable_key_rotation_within(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        period_days: Option<i64>,
        allowed: std::ops::RangeInclusive<i64>,
    ) -> KmsResult<()> {
        let period = period_days.unwrap_or(DEFAULT_PERIOD_DAYS);
        validate::value_in(period, allowed, Field::RotationPeriodInDays)?;
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:EnableKeyRotation",
            &Facts::default().with("kms:RotationPeriodInDays", [period.to_string()]),
        )?;
        self.check_changeable(&key, caller, check_rotatable)?;
        let now = self.now();
        // A new period counts from the last rotation (or creation); turning
        // rotation on counts from now.
        let start = if key.rotation_period_days.is_some() {
            self.store
                .materials(&caller.region, &key.key_id)?
                .iter()
                .map(|m| m.creation_date)
                .max()
                .unwrap_or(key.creation_date)
        } else {
            now
        };
        let next = (start + period * MS_PER_DAY).max(now);
        self.store
            .set_rotation_schedule(&key.key_id, Some(period), Some(next))?;
        Ok(())
    }

    /// DisableKeyRotation.
    pub fn disable_key_rotation(&self, caller: &Caller, key_id: Option<&str>) -> KmsResult<()> {
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:DisableKeyRotation",
            &Facts::NONE,
        )?;
        self.check_changeable(&key, caller, check_rotatable)?;
        self.store.set_rotation_schedule(&key.key_id, None, None)?;
        Ok(())
    }

    /// GetKeyRotationStatus.
    pub fn get_key_rotation_status(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
    ) -> KmsResult<RotationStatus> {
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:GetKeyRotationStatus",
            &Facts::NONE,
        )?;
        check_rotatable(&key)?;
        Ok(RotationStatus {
            key_arn: record_arn(&key),
            period_days: key.rotation_period_days,
            next_rotation_date: key.next_rotation_date,
        })
    }

    /// RotateKeyOnDemand: rotates now, independent of the automatic schedule.
    pub fn rotate_key_on_demand(&self, caller: &Caller, key_id: Option<&str>) -> KmsResult<String> {
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:RotateKeyOnDemand",
            &Facts::NONE,
        )?;
        self.check_changeable(&key, caller, check_on_demand_rotatable)?;
        let limit = self.settings.on_demand_rotation_limit;
        let done =
            self.store
                .count_rotations(&caller.region, &key.key_id, RotationType::OnDemand)?;
        if done >= limit {
            return Err(KmsError::LimitExceeded(format!(
                "The on-demand rotations limit has been reached for the given keyId. No more \
                 on-demand rotations can be performed for this key: {}",
                record_arn(&key)
            )));
        }
        let committed = match is_imported_symmetric(&key) {
            true => self.rotate_to_imported(&key)?,
            false => self.rotate(&key, RotationType::OnDemand, None, self.now())?,
        };
        if !committed {
            return Err(KmsError::Conflict(format!(
                "Another rotation of {} completed first; try again.",
                record_arn(&key)
            )));
        }
        tracing::info!(region = %caller.region, key_id = %key.key_id, "key rotated on demand");
        Ok(record_arn(&key))
    }

    /// Makes the imported material that waits for a rotation current.
    fn rotate_to_imported(&self, key: &KeyRecord) -> KmsResult<bool> {
        let imports = self.store.material_imports(&key.region, &key.key_id)?;
        let Some(waiting) = imports.iter().find(|m| m.pending_rotation && m.imported) else {
            return Err(KmsError::InvalidState(format!(
                "{} has no imported key material waiting for rotation: import new key \
                 material (ImportType NEW_KEY_MATERIAL) first.",
                record_arn(key)
            )));
        };
        Ok(self.store.rotate_to_imported(
            &key.region,
            &key.key_id,
            &key.current_material_id,
            &waiting.material_id,
            self.now(),
        )?)
    }

    /// ListKeyRotations: rotations oldest first; with `ALL_KEY_MATERIAL`
    /// the first material too.
    pub fn list_key_rotations(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        include: Option<&str>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<MaterialEntry>> {
        let key_id = validate::key_id(key_id)?;
        let include = include.unwrap_or("ROTATIONS_ONLY");
        validate::one_of(include, INCLUDE_KEY_MATERIAL, Field::IncludeKeyMaterial)?;
        let limit = paging::limit(limit, 100, 1000)?;
        let after = paging::after(marker)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:ListKeyRotations",
            &Facts::NONE,
        )?;
        // Imported symmetric material is listed too (AWS lists it, with its
        // import state, for keys of origin EXTERNAL).
        let entries = match is_imported_symmetric(&key) {
            true => self.imported_entries(&key)?,
            false => {
                check_rotatable(&key)?;
                self.generated_entries(&key)?
            }
        };
        let entries = entries
            .into_iter()
            .filter(|e| include == "ALL_KEY_MATERIAL" || e.rotation.is_some())
            .collect();
        paging::page_in_order(entries, limit, &after, |e| e.material_id.as_str())
    }

    /// Material Trent made, oldest first.
    fn generated_entries(&self, key: &KeyRecord) -> KmsResult<Vec<MaterialEntry>> {
        let materials = self.store.materials(&key.region, &key.key_id)?;
        Ok(materials
            .into_iter()
            .map(|m| MaterialEntry {
                key_id: key.key_id.clone(),
                state: match m.material_id == key.current_material_id {
                    true => MaterialState::Current,
                    false => MaterialState::NonCurrent,
                },
                rotation: m.rotation_type.map(|kind| (kind, m.creation_date)),
                material_id: m.material_id,
                import: None,
            })
            .collect())
    }

    /// Imported material, oldest first and material waiting for a rotation
    /// last, with its import facts.
    fn imported_entries(&self, key: &KeyRecord) -> KmsResult<Vec<MaterialEntry>> {
        let imports = self.store.material_imports(&key.region, &key.key_id)?;
        Ok(imports
            .into_iter()
            .map(|m| MaterialEntry {
                key_id: key.key_id.clone(),
                state: if m.pending_rotation {
                    MaterialState::PendingRotation
                } else if m.material_id == key.current_material_id {
                    MaterialState::Current
                } else {
                    MaterialState::NonCurrent
                },
                rotation: m.rotation_type.map(|kind| (kind, m.creation_date)),
                material_id: m.material_id,
                import: Some(ImportFacts {
                    imported: m.imported,
                    valid_to: m.valid_to,
                    description: m.description,
                }),
            })
            .collect())
    }

    /// Makes new material in the key's token, carries it to every other copy
    /// of a multi-Region key, and commits it as current everywhere at once.
    /// False when another rotation (or a new replica) got there first.
    fn rotate(
        &self,
        key: &KeyRecord,
        kind: RotationType,
        schedule: Option<(i64, i64)>,
        now: i64,
    ) -> KmsResult<bool> {
        let secret = specs::kind_of(key);
        let material = self.new_material(&key.region, &key.key_id, secret, now, Some(kind))?;
        let material = self.tagged(&key.region, key, material)?;
        let mut materials = vec![(key.region.clone(), material.clone())];
        let copies = match key.multi_region {
            true => self.store.multi_region(&key.key_id)?,
            false => None,
        };
        for region in copies.iter().flat_map(|c| &c.regions) {
            if *region != key.region {
                let carried =
                    self.carry(&key.region, region, key, std::slice::from_ref(&material))?;
                materials.extend(carried.into_iter().map(|m| (region.clone(), m)));
            }
        }
        Ok(self.store.commit_rotation(&RotationCommit {
            key_id: &key.key_id,
            region: &key.region,
            materials: &materials,
            expected_current: &key.current_material_id,
            schedule,
        })?)
    }

    /// Rotates every enabled key whose automatic rotation is due; returns how
    /// many rotations this node committed and how many it lost to another
    /// writer that rotated (or replicated) the key first.
    pub fn rotate_due_keys(&self) -> KmsResult<JobOutcome> {
        let now = self.now();
        let mut outcome = JobOutcome::default();
        for (region, key_id) in self.store.due_for_rotation(now)? {
            let Some(key) = self.store.key(&region, &key_id)? else {
                continue;
            };
            let (Some(due), Some(period)) = (key.next_rotation_date, key.rotation_period_days)
            else {
                continue;
            };
            if due > now || key.state != KeyState::Enabled {
                continue;
            }
            let next = now + period * MS_PER_DAY;
            let committed = self.rotate(&key, RotationType::Automatic, Some((due, next)), now)?;
            match committed {
                true => tracing::info!(%region, %key_id, "key rotated automatically"),
                false => tracing::info!(%region, %key_id, "rotation committed elsewhere first"),
            }
            outcome.count(committed);
        }
        Ok(outcome)
    }
}
