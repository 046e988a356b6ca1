//! Key lifecycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription,
//! EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.

use super::Missing;
use super::condition_keys::Facts;
use super::invalid::{Field, Invalid};
use super::key_ref::Aliases;
use super::paging::{self, Page};
use super::specs;
use super::{Caller, KeyView, Kms, KmsError, KmsResult, key_arn, policy, record_arn, validate};
use crate::hsm::{MaterialRef, SecretKind};
use crate::model::{KeyRecord, KeySpec, KeyState, KeyUsage, MaterialRecord, RotationType, Tag};
use crate::store::KeyChange;
use std::sync::Arc;

const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
    "ENCAPSULATE_DECAPSULATE",
];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];
const MS_PER_DAY: i64 = 86_400_000;
/// How many times EnableKey and DisableKey try their conditional write while
/// concurrent writers keep flipping the key back between that write and the
/// re-read; then ConflictException.
const STATE_WRITE_ATTEMPTS: usize = 8;
/// Shortest waiting period of ScheduleKeyDeletion, in days.
const MIN_PENDING_WINDOW_DAYS: i64 = 7;
/// Longest waiting period of ScheduleKeyDeletion AWS allows, in days.
const MAX_PENDING_WINDOW_DAYS: i64 = 30;
/// The bound AWS's model puts on the waiting period, in days: checked
/// before AWS's own 7–30.
const MODEL_MAX_PENDING_WINDOW_DAYS: i64 = 365;

/// CreateKey parameters.
#[derive(Default)]
pub struct CreateKeyInput {
    /// Description.
    pub description: Option<String>,
    /// Key usage; ENCRYPT_DECRYPT by default.
    pub key_usage: Option<String>,
    /// Key spec; SYMMETRIC_DEFAULT by default.
    pub key_spec: Option<String>,
    /// Deprecated synonym of `key_spec`.
    pub customer_master_key_spec: Option<String>,
    /// Origin; AWS_KMS by default.
    pub origin: Option<String>,
    /// Custom key store id (not supported).
    pub custom_key_store_id: Option<String>,
    /// Key id in an external key manager (not supported).
    pub xks_key_id: Option<String>,
    /// Key policy; the default policy when absent.
    pub policy: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Make a multi-Region primary key.
    pub multi_region: Option<bool>,
    /// Skip the check that the policy lets the caller change it later.
    pub bypass_policy_lockout_safety_check: bool,
}

/// ScheduleKeyDeletion result.
pub struct DeletionScheduled {
    /// The key.
    pub key: KeyRecord,
    /// When it will be deleted (Unix ms); `None` while a multi-Region
    /// primary waits for its replicas to be deleted.
    pub deletion_date: Option<i64>,
    /// Waiting period in days.
    pub pending_window_days: i64,
}

impl Kms {
    /// CreateKey: generates the backing key in the region's token and stores
    /// it wrapped, together with the key's metadata.
    pub fn create_key(&self, caller: &Caller, input: CreateKeyInput) -> KmsResult<KeyView> {
        let (spec, spec_field) = match (&input.key_spec, &input.customer_master_key_spec) {
            (Some(_), Some(_)) => {
                return Err(KmsError::Validation(Invalid::Exclusive(
                    Field::KeySpec,
                    Field::CustomerMasterKeySpec,
                )));
            }
            (Some(s), None) => (s.as_str(), Field::KeySpec),
            (None, Some(s)) => (s.as_str(), Field::CustomerMasterKeySpec),
            (None, None) => ("SYMMETRIC_DEFAULT", Field::KeySpec),
        };
        validate::one_of(spec, specs::AWS_KEY_SPECS, spec_field)?;
        let usage = match (input.key_usage.as_deref(), spec) {
            (Some(usage), _) => usage,
            (None, "SYMMETRIC_DEFAULT") => "ENCRYPT_DECRYPT",
            (None, _) => return Err(KmsError::Validation(Invalid::UsageRequired)),
        };
        validate::one_of(usage, KEY_USAGES, Field::KeyUsage)?;
        let origin = input.origin.as_deref().unwrap_or("AWS_KMS");
        validate::one_of(origin, ORIGINS, Field::Origin)?;
        let description = input.description.unwrap_or_default();
        validate::description(&description)?;
        if !specs::usages_for(spec).contains(&usage) {
            return Err(KmsError::Validation(Invalid::UsageForSpec {
                usage: usage.to_string(),
                spec: spec.to_string(),
            }));
        }
        let Some(key_spec) = KeySpec::parse(spec) else {
            return Err(KmsError::UnsupportedOperation(format!(
                "KeySpec {spec} is not supported: {}",
                specs::why_unserved(spec)
            )));
        };
        let key_usage = KeyUsage::parse(usage).ok_or_else(|| {
            KmsError::Internal(format!("key usage {usage} passed validation unparsed"))
        })?;
        let kind = specs::secret_kind(key_spec, key_usage);
        let external = origin == "EXTERNAL";
        if external && kind.is_private_key() {
            // A key pair's material is generated or imported, and kept the
            // same way: refused up front by a token that cannot keep it.
            self.hsm(&caller.region)?.check_keepable(kind)?;
        }
        if !external && origin != "AWS_KMS" {
            return Err(KmsError::UnsupportedOperation(format!(
                "Origin {origin} is not supported; this deployment supports AWS_KMS and \
                 EXTERNAL."
            )));
        }
        if let Some(store) = &input.custom_key_store_id {
            validate::custom_key_store_id(store)?;
        }
        if let Some(xks_key) = &input.xks_key_id {
            validate::xks_key_id(xks_key)?;
        }
        if input.custom_key_store_id.is_some() || input.xks_key_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported.".into(),
            ));
        }
        validate::tags(&input.tags)?;
        let multi_region = input.multi_region == Some(true);
        let mut facts = Facts::default()
            .with("kms:KeySpec", [spec])
            .with("kms:CustomerMasterKeySpec", [spec])
            .with("kms:KeyUsage", [usage])
            .with("kms:CustomerMasterKeyUsage", [usage])
            .with("kms:KeyOrigin", [origin])
            .with("kms:MultiRegion", [multi_region.to_string()])
            .with(
                "kms:BypassPolicyLockoutSafetyCheck",
                [input.bypass_policy_lockout_safety_check.to_string()],
            )
            .with_tags(
                input
                    .tags
                    .iter()
                    .map(|t| (t.key.as_str(), t.value.as_str())),
            );
        if multi_region {
            facts = facts.with("kms:MultiRegionKeyType", ["PRIMARY"]);
        }
        self.authorize_account(caller, "kms:CreateKey", &facts)?;
        // AWS: "To use the Tags parameter, kms:TagResource (IAM policy)".
        if !input.tags.is_empty() {
            self.authorize_account(caller, "kms:TagResource", &facts)?;
        }
        let key_id = if multi_region {
            format!("mrk-{}", uuid::Uuid::new_v4().simple())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let policy = match input.policy {
            Some(p) => policy::check_document(
                &p,
                caller,
                &key_arn(caller, &key_id),
                input.bypass_policy_lockout_safety_check,
            )
            .map(|()| p)?,
            None => policy::default_policy(&caller.account_id),
        };
        let now = self.now();
        let material = match external {
            true => None,
            false => Some(self.new_material(&caller.region, &key_id, kind, now, None)?),
        };
        let key = KeyRecord {
            region: caller.region.clone(),
            key_id,
            account_id: caller.account_id.clone(),
            description,
            state: match external {
                true => KeyState::PendingImport,
                false => KeyState::Enabled,
            },
            key_spec,
            key_usage,
            origin: origin.into(),
            creation_date: now,
            deletion_date: None,
            pending_window_days: None,
            current_material_id: material
                .as_ref()
                .map(|m| m.material_id.clone())
                .unwrap_or_default(),
            policy: policy.into(),
            rotation_period_days: None,
            next_rotation_date: None,
            multi_region,
            updating: false,
            arn: Default::default(),
            valid_to: None,
        };
        let material = material
            .map(|m| self.tagged(&key.region, &key, m))
            .transpose()?;
        self.store
            .insert_key(&key, material.as_ref(), &input.tags)?;
        tracing::info!(region = %key.region, key_id = %key.key_id, "key created");
        caller.keys.note(record_arn(&key));
        self.view(key)
    }

    /// Generates a new backing key in the region's token and returns it as a
    /// material record, wrapped under the domain key and not yet tagged
    /// ([`Kms::tagged`]).
    pub(super) fn new_material(
        &self,
        region: &str,
        key_id: &str,
        kind: SecretKind,
        now: i64,
        rotation_type: Option<RotationType>,
    ) -> KmsResult<MaterialRecord> {
        let hsm = self.hsm(region)?;
        let material_id = hex::encode(hsm.random(super::ciphertext::MATERIAL_ID_LEN)?);
        let _long = self.long_calls.begin_generating(kind, "CreateKey")?;
        let generated = hsm.generate_material(&MaterialRef {
            key_id: key_id.to_string(),
            material_id: material_id.clone(),
            kind,
        })?;
        Ok(MaterialRecord {
            material_id,
            wrapped: generated.wrapped,
            public_key: generated.public_key,
            creation_date: now,
            rotation_type,
            tag: None,
        })
    }

    /// DescribeKey.
    pub fn describe_key(&self, caller: &Caller, key_id: Option<&str>) -> KmsResult<KeyView> {
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Accepted,
            "kms:DescribeKey",
            &Facts::NONE,
        )?;
        self.view(Arc::unwrap_or_clone(key))
    }

    /// ListKeys: the caller's keys in its region, paginated.
    pub fn list_keys(
        &self,
        caller: &Caller,
        limit: Option<i64>,
        marker: Option<&str>,
        resource_owners: Option<&[String]>,
    ) -> KmsResult<Page<String>> {
        if let Some(owners) = resource_owners {
            validate::resource_owners(owners)?;
        }
        self.authorize_account(caller, "kms:ListKeys", &Facts::NONE)?;
        let limit = paging::limit(limit, 100, 1000)?;
        let after = paging::after(marker)?;
        // Keys shared through AWS RAM are never listed: there is no RAM.
        if resource_owners.is_some_and(|o| !o.iter().any(|owner| owner == "SELF")) {
            return Ok(paging::page(Vec::<String>::new(), limit, |id| id.as_str()));
        }
        let ids = self
            .store
            .list_keys(&caller.region, &caller.account_id, &after, limit + 1)?;
        Ok(paging::page(ids, limit, |id| id.as_str()))
    }

    /// UpdateKeyDescription.
    pub fn update_key_description(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        description: Option<String>,
    ) -> KmsResult<()> {
        let key_id = validate::key_id(key_id)?;
        let description = validate::required(description, Field::Description)?;
        validate::description(&description)?;
        let key = self.load_key(
            caller,
            key_id,
            Aliases::Refused,
            "kms:UpdateKeyDescription",
            &Facts::NONE,
        )?;
        super::require_not_pending_deletion(&key)?;
        self.change_key(&key, KeyChange::Description(&description))
    }

    /// EnableKey. True if the key was disabled; false if it was already
    /// enabled, which changes nothing (AWS succeeds, Huawei refuses).
    pub fn enable_key(&self, caller: &Caller, key_id: Option<&str>) -> KmsResult<bool> {
        self.set_enabled(caller, key_id, true, "kms:EnableKey")
    }

    /// DisableKey. True if the key was enabled; false if it was already
    /// disabled, which changes nothing (AWS succeeds, Huawei refuses).
    pub fn disable_key(&self, caller: &Caller, key_id: Option<&str>) -> KmsResult<bool> {
        self.set_enabled(caller, key_id, false, "kms:DisableKey")
    }

    /// Moves a key from the other state to Enabled (`enabled`) or Disabled
    /// with one conditional write; when that finds the key not in the other
    /// state, a fresh read tells whether it already is where it was asked
    /// to be (false), is refused, or was flipped back meanwhile (try again).
    fn set_enabled(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        enabled: bool,
        action: &str,
    ) -> KmsResult<bool> {
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            action,
            &Facts::NONE,
        )?;
        super::require_not_pending_deletion(&key)?;
        if key.state == KeyState::PendingImport {
            return Err(super::refused_state(&record_arn(&key), key.state));
        }
        super::require_not_updating(&key)?;
        let (target, other) = if enabled {
            (KeyState::Enabled, KeyState::Disabled)
        } else {
            (KeyState::Disabled, KeyState::Enabled)
        };
        for _ in 0..STATE_WRITE_ATTEMPTS {
            if self
                .store
                .change_key(&key.region, &key.key_id, KeyChange::Enabled(enabled))?
            {
                return Ok(true);
            }
            match self.store.key(&key.region, &key.key_id)?.as_deref() {
                Some(now) if !now.updating && now.state == target => return Ok(false),
                Some(now) if !now.updating && now.state == other => {}
                _ => return Err(self.refusal_now(&key)),
            }
        }
        Err(KmsError::Conflict(format!(
            "The state of {} kept changing; try again.",
            record_arn(&key)
        )))
    }

    /// Applies a change to one copy of a key. When the store refuses it
    /// because another writer moved the key on meanwhile, the error is the
    /// one the key's current state calls for.
    pub(super) fn change_key(&self, key: &KeyRecord, change: KeyChange<'_>) -> KmsResult<()> {
        if self.store.change_key(&key.region, &key.key_id, change)? {
            return Ok(());
        }
        Err(self.refusal_now(key))
    }

    /// Why a conditional write on `key` found it changed: its current
    /// state, or that it no longer exists.
    pub(super) fn refusal_now(&self, key: &KeyRecord) -> KmsError {
        match self.store.key(&key.region, &key.key_id) {
            Ok(None) => KmsError::NotFound(Missing::Key(record_arn(key))),
            Ok(Some(now)) => {
                let now = &*now;
                super::require_not_pending_deletion(now)
                    .and_then(|()| super::require_not_updating(now))
                    .err()
                    .unwrap_or_else(|| {
                        KmsError::InvalidState(format!(
                            "{} is in state {}.",
                            record_arn(now),
                            now.state.as_str()
                        ))
                    })
            }
            Err(e) => e.into(),
        }
    }
    /// ScheduleKeyDeletion: the key becomes PendingDeletion and is deleted by
    /// the deletion job once the waiting period (7–30 days, default 30) ends.
    /// A multi-Region primary that still has replicas becomes
    /// PendingReplicaDeletion; its waiting period starts when they are gone.
    pub fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        pending_window_days: Option<i64>,
    ) -> KmsResult<DeletionScheduled> {
        if let Some(days) = pending_window_days {
            let model = 1..=MODEL_MAX_PENDING_WINDOW_DAYS;
            validate::value_in(days, model, Field::PendingWindowInDays)?;
        }
        self.schedule_key_deletion_within(
            caller,
            key_id,
            pending_window_days,
            MIN_PENDING_WINDOW_DAYS..=MAX_PENDING_WINDOW_DAYS,
        )
    }

    /// ScheduleKeyDeletion with a dialect's own range of waiting periods
    /// (AWS: 7–30 days; Huawei: 7–1096).
    pub fn schedule_key_deletion_within(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        pending_window_days: Option<i64>,
        allowed: std::ops::RangeInclusive<i64>,
    ) -> KmsResult<DeletionScheduled> {
        let days = pending_window_days.unwrap_or(MAX_PENDING_WINDOW_DAYS);
        validate::value_in(days, allowed, Field::PendingWindowInDays)?;
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:ScheduleKeyDeletion",
            &Facts::default().with(
                "kms:ScheduleKeyDeletionPendingWindowInDays",
                [days.to_string()],
            ),
        )?;
        super::require_not_pending_deletion(&key)?;
        super::require_not_updating(&key)?;
        let scheduled = self
            .store
            .schedule_deletion(
                &key.region,
                &key.key_id,
                self.now() + days * MS_PER_DAY,
                days,
            )?
            .ok_or_else(|| self.refusal_now(&key))?;
        let mut key = Arc::unwrap_or_clone(key);
        key.state = scheduled.state;
        key.deletion_date = scheduled.deletion_date;
        key.pending_window_days = Some(days);
        Ok(DeletionScheduled {
            key,
            deletion_date: scheduled.deletion_date,
            pending_window_days: days,
        })
    }

    /// Takes a key that this request has just created out of use, whatever
    /// the caller may do (a dialect's undo when a later step of the same
    /// request fails, such as the Huawei create-key's alias): it becomes
    /// PendingDeletion for the shortest waiting period, so that it is
    /// deleted unless an administrator cancels that.
    pub fn withdraw_created_key(&self, caller: &Caller, key_id: &str) -> KmsResult<()> {
        let days = MIN_PENDING_WINDOW_DAYS;
        let when = self.now() + days * MS_PER_DAY;
        self.store
            .schedule_deletion(&caller.region, key_id, when, days)?
            .ok_or_else(|| KmsError::Internal(format!("new key {key_id} is gone")))?;
        Ok(())
    }

    /// CancelKeyDeletion: the key returns as Disabled.
    pub fn cancel_key_deletion(&self, caller: &Caller, key_id: Option<&str>) -> KmsResult<String> {
        let key = self.load_key(
            caller,
            validate::required(key_id, Field::KeyId)?,
            Aliases::Refused,
            "kms:CancelKeyDeletion",
            &Facts::NONE,
        )?;
        let not_pending =
            || KmsError::InvalidState(format!("{} is not pending deletion.", record_arn(&key)));
        if !matches!(
            key.state,
            KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
        ) {
            return Err(not_pending());
        }
        if !self
            .store
            .change_key(&key.region, &key.key_id, KeyChange::CancelDeletion)?
        {
            return Err(match self.store.key(&key.region, &key.key_id)? {
                None => KmsError::NotFound(Missing::Key(record_arn(&key))),
                Some(_) => not_pending(),
            });
        }
        Ok(record_arn(&key))
    }
}
