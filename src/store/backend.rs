//! What a database backend does for [`super::Store`]: its queries, one trait
//! per kind of data, implemented by the SQLite and the PostgreSQL backend.
//! A backend holds no cached copies; the store does. Every write keeps the
//! rules of ADR 0009: it sets only its own columns, and its WHERE clause (or
//! the locked read that opens its transaction) restates the state it needs.

use super::StoreResult;
use crate::model::{
    AliasRecord, DomainKeyRecord, EnrolmentRecord, GrantRecord, KeyRecord, KeyState,
    MaterialImport, MaterialRecord, MultiRegionRecord, RotationType, Tag,
};

/// A database the store can run on.
pub(super) trait Backend:
    Keys
    + KeyWrites
    + Aliases
    + Tags
    + Grants
    + Imports
    + MultiRegion
    + Rotation
    + Cluster
    + RowTags
    + Send
    + Sync
{
    /// A number that changes whenever another writer (another node sharing
    /// the database) has committed a change to what the cache copies.
    fn data_version(&self) -> StoreResult<i64>;

    /// How many keys each region holds in each state: one grouped count.
    fn key_counts(&self) -> StoreResult<Vec<(String, KeyState, u64)>>;

    /// Whether an acknowledged commit survives a power loss, as SQLite's
    /// `synchronous` level (2 when every commit is flushed) and journal mode.
    #[cfg(feature = "test-clock")]
    fn durability(&self) -> StoreResult<(i64, String)>;
}

/// Key records and their materials.
pub(super) trait Keys {
    /// Inserts a key with its first material (if any) and tags, atomically;
    /// `Conflict` if it exists.
    fn insert_key(
        &self,
        key: &KeyRecord,
        material: Option<&MaterialRecord>,
        tags: &[Tag],
    ) -> StoreResult<()>;
    /// One copy of a key.
    fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyRecord>>;
    /// Keys after (region, key id) in that order, each with its current
    /// material, at most `limit`.
    fn keys_after(
        &self,
        after: (&str, &str),
        limit: usize,
    ) -> StoreResult<Vec<(KeyRecord, Option<MaterialRecord>)>>;
    /// One material of a key.
    fn material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
    ) -> StoreResult<Option<MaterialRecord>>;
    /// Every material of a key, oldest first (in insertion order on a tie).
    fn materials(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialRecord>>;
    /// Key ids of an account in a region after `after`, in id order.
    fn list_keys(
        &self,
        region: &str,
        account_id: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>>;
    /// Keys whose deletion is due at `now`.
    fn due_for_deletion(&self, now: i64) -> StoreResult<Vec<(String, String)>>;
    /// Deletes a key and what hangs on it if its deletion is due (the claim).
    fn delete_key_if_due(&self, region: &str, key_id: &str, now: i64) -> StoreResult<bool>;
}

/// Changes to one copy of a key's own fields.
pub(super) trait KeyWrites {
    /// Applies `change` if the key's state allows it.
    fn change_key(&self, region: &str, key_id: &str, change: KeyChange<'_>) -> StoreResult<bool>;
    /// Schedules a deletion if the key is Enabled, Disabled or PendingImport
    /// and not Updating, reading its replicas in the same transaction.
    fn schedule_deletion(
        &self,
        region: &str,
        key_id: &str,
        deletion_date: i64,
        window_days: i64,
    ) -> StoreResult<Option<ScheduledDeletion>>;
}

/// Aliases.
pub(super) trait Aliases {
    /// Creates an alias if its key is usable (false otherwise); `Conflict`
    /// if the name is taken.
    fn insert_alias(
        &self,
        region: &str,
        account_id: &str,
        alias: &AliasRecord,
    ) -> StoreResult<bool>;
    /// One alias by name.
    fn alias(&self, region: &str, account_id: &str, name: &str)
    -> StoreResult<Option<AliasRecord>>;
    /// Moves an alias from `from` to `to` if it still points at `from`.
    fn retarget_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Deletes an alias if it still points at `key_id`.
    fn delete_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        key_id: &str,
    ) -> StoreResult<bool>;
    /// Names of a key's aliases, in name order.
    fn aliases_of_key(
        &self,
        region: &str,
        account_id: &str,
        key_id: &str,
    ) -> StoreResult<Vec<String>>;
    /// Aliases of an account (optionally of one key) after `after`, in name order.
    fn list_aliases(
        &self,
        region: &str,
        account_id: &str,
        key_id: Option<&str>,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>>;
}

/// Tags.
pub(super) trait Tags {
    /// Adds or overwrites tags if the key is usable and ends with at most `max`.
    fn put_tags(
        &self,
        region: &str,
        key_id: &str,
        tags: &[Tag],
        max: usize,
    ) -> StoreResult<TagsPut>;
    /// Removes tags by key.
    fn remove_tags(&self, region: &str, key_id: &str, tag_keys: &[String]) -> StoreResult<()>;
    /// A key's tags in key order.
    fn tags(&self, region: &str, key_id: &str) -> StoreResult<Vec<Tag>>;
}

/// Grants.
pub(super) trait Grants {
    /// Stores a grant if its key is usable and has fewer than `limit`.
    fn insert_grant(&self, grant: &GrantRecord, limit: usize) -> StoreResult<GrantInsert>;
    /// Grants on a key to one of `grantees`, oldest first.
    fn grants_for(
        &self,
        region: &str,
        key_id: &str,
        grantees: [&str; 2],
    ) -> StoreResult<Vec<GrantRecord>>;
    /// Grants on a key with a given name, oldest first.
    fn grants_named(&self, region: &str, key_id: &str, name: &str)
    -> StoreResult<Vec<GrantRecord>>;
    /// One grant on a key by id.
    fn grant(&self, region: &str, key_id: &str, grant_id: &str)
    -> StoreResult<Option<GrantRecord>>;
    /// Every grant on a key, oldest first.
    fn grants_of_key(&self, region: &str, key_id: &str) -> StoreResult<Vec<GrantRecord>>;
    /// Grants in a region that `retiring` may retire, oldest first.
    fn grants_retirable_by(&self, region: &str, retiring: &str) -> StoreResult<Vec<GrantRecord>>;
    /// The grant a token was issued for.
    fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>>;
    /// Deletes a grant; false if it did not exist.
    fn delete_grant(&self, grant_id: &str) -> StoreResult<bool>;
}

/// Imported key material.
pub(super) trait Imports {
    /// Records an import, if the key is still as the caller saw it.
    fn import_material(
        &self,
        region: &str,
        key_id: &str,
        write: &ImportWrite<'_>,
    ) -> StoreResult<bool>;
    /// Deletes one imported material (with `expired_by`: only if its time
    /// is up by then).
    fn delete_imported_material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        expired_by: Option<i64>,
    ) -> StoreResult<bool>;
    /// Makes imported material that waits for a rotation current, if the
    /// key is still Enabled with `expected_current` current.
    fn rotate_to_imported(
        &self,
        region: &str,
        key_id: &str,
        expected_current: &str,
        material_id: &str,
        now: i64,
    ) -> StoreResult<bool>;
    /// Every material of an `EXTERNAL` key with its import facts, oldest
    /// first (material waiting for a rotation last).
    fn material_imports(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialImport>>;
    /// Imported materials whose time is up by `now`.
    fn expired_imports(&self, now: i64) -> StoreResult<Vec<(String, String, String)>>;
}

/// Multi-Region keys.
pub(super) trait MultiRegion {
    /// The copies of a multi-Region key.
    fn multi_region(&self, key_id: &str) -> StoreResult<Option<MultiRegionRecord>>;
    /// One copy of a key and where its copies are, read in one snapshot.
    fn key_with_copies(
        &self,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Option<(KeyRecord, Option<MultiRegionRecord>)>>;
    /// Adds a replica if the primary's current material is still
    /// `expected_current` and it is not pending deletion.
    fn insert_replica(
        &self,
        replica: &KeyRecord,
        primary_region: &str,
        materials: &[MaterialRecord],
        tags: &[Tag],
        expected_current: &str,
    ) -> StoreResult<bool>;
    /// Starts moving the primary from `from` to `to`.
    fn begin_primary_update(&self, key_id: &str, from: &str, to: &str) -> StoreResult<bool>;
    /// Keys whose primary is being moved.
    fn pending_primary_updates(&self) -> StoreResult<Vec<String>>;
    /// Finishes moving the primary.
    fn complete_primary_update(&self, key_id: &str) -> StoreResult<bool>;
    /// Starts the deletion of primaries whose replicas are all gone.
    fn start_primary_deletions(&self, now: i64) -> StoreResult<usize>;
}

/// Rotation.
pub(super) trait Rotation {
    /// Commits a rotation in every region if the key is as the caller saw it.
    fn commit_rotation(&self, rotation: &RotationCommit<'_>) -> StoreResult<bool>;
    /// Sets the rotation schedule on every copy of a key.
    fn set_rotation_schedule(
        &self,
        key_id: &str,
        period_days: Option<i64>,
        next_rotation_date: Option<i64>,
    ) -> StoreResult<()>;
    /// Number of a key's rotations of one type.
    fn count_rotations(&self, region: &str, key_id: &str, kind: RotationType)
    -> StoreResult<usize>;
    /// Enabled keys whose automatic rotation is due (primaries only).
    fn due_for_rotation(&self, now: i64) -> StoreResult<Vec<(String, String)>>;
}

/// The cluster's domain keys and enrolment offers (ADR 0016). None of it
/// is cached.
pub(super) trait Cluster {
    /// The domain key the store names for a region.
    fn domain_key(&self, region: &str) -> StoreResult<Option<DomainKeyRecord>>;
    /// Every region the store names a domain key for, in name order.
    fn domain_key_regions(&self) -> StoreResult<Vec<String>>;
    /// Names a region's domain key, unless one is named already (false).
    fn claim_domain_key(&self, record: &DomainKeyRecord) -> StoreResult<bool>;
    /// Posts an offer, replacing the node's earlier one for the region.
    fn post_offer(&self, offer: &EnrolmentRecord) -> StoreResult<()>;
    /// A node's offer for a region.
    fn offer(&self, node_id: &str, region: &str) -> StoreResult<Option<EnrolmentRecord>>;
    /// Offers not answered yet, posted at `since` or later, oldest first.
    fn open_offers(&self, since: i64) -> StoreResult<Vec<EnrolmentRecord>>;
    /// Marks an offer approved by `approver`, if it still has this
    /// fingerprint and is neither approved nor answered (the claim).
    fn approve_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool>;
    /// Takes back `approver`'s approval of an offer not answered yet.
    fn withdraw_approval(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool>;
    /// Stores the package of an offer `answerer` approved, if it still has
    /// this fingerprint and no package.
    fn answer_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        package: &[u8],
        answerer: &str,
    ) -> StoreResult<bool>;
    /// Deletes an offer if it still has this fingerprint.
    fn delete_offer(&self, node_id: &str, region: &str, fingerprint: &str) -> StoreResult<bool>;
}

/// A change to one copy of a key's own fields.
#[derive(Clone, Copy, Debug)]
pub enum KeyChange<'a> {
    /// New description; refused while the key is pending deletion.
    Description(&'a str),
    /// New key policy; allowed in every key state, as in AWS KMS.
    Policy(&'a str),
    /// Enabled (true) from Disabled, or Disabled (false) from Enabled;
    /// refused when the key is in any other state (already the one asked
    /// for, pending deletion) or its primary Region is being updated.
    Enabled(bool),
    /// Back from a pending deletion to Disabled (to PendingImport for a key
    /// without material); refused unless the key is pending deletion.
    CancelDeletion,
}

/// A scheduled deletion as committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledDeletion {
    /// PendingDeletion, or PendingReplicaDeletion for a primary that waits
    /// for its replicas.
    pub state: KeyState,
    /// When the deletion takes effect; `None` while waiting for replicas.
    pub deletion_date: Option<i64>,
}

impl ScheduledDeletion {
    /// What a deletion scheduled at `deletion_date` becomes: it waits for
    /// the replicas when the key is a primary that still has some.
    pub(super) fn new(waits_for_replicas: bool, deletion_date: i64) -> Self {
        if waits_for_replicas {
            Self {
                state: KeyState::PendingReplicaDeletion,
                deletion_date: None,
            }
        } else {
            Self {
                state: KeyState::PendingDeletion,
                deletion_date: Some(deletion_date),
            }
        }
    }
}

/// What became of a TagResource write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagsPut {
    /// Written.
    Done,
    /// Not written: the key would have had this many tags.
    TooMany(usize),
    /// Not written: the key is gone or pending deletion.
    KeyUnavailable,
    /// Not written: the key would have had two tag keys that differ only
    /// in case (the one it has, the one given).
    CaseVariant(String, String),
}

/// What the tag keys a key would have (at most a few dozen) make of a
/// TagResource: `TooMany` over `max`, `CaseVariant` for two that differ
/// only in case (policy conditions name tags ignoring case, so
/// `aws:ResourceTag/Env` could not tell them apart), else `Done`.
pub(super) fn tags_verdict(keys: &[String], given: &[Tag], max: usize) -> TagsPut {
    if keys.len() > max {
        return TagsPut::TooMany(keys.len());
    }
    for tag in given {
        let lower = tag.key.to_lowercase();
        if let Some(other) = keys
            .iter()
            .find(|k| **k != tag.key && k.to_lowercase() == lower)
        {
            return TagsPut::CaseVariant(other.clone(), tag.key.clone());
        }
    }
    TagsPut::Done
}

/// What became of a new grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantInsert {
    /// Stored.
    Inserted,
    /// The key already has `limit` grants.
    LimitReached,
    /// The key is gone or pending deletion.
    KeyUnavailable,
}

/// What an import brings to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportAs {
    /// The key's first material: it becomes current.
    First,
    /// Material the key has had (deleted, expired, or still there, e.g. to
    /// change its expiry).
    Existing,
    /// New material for an on-demand rotation: it waits for RotateKeyOnDemand.
    New,
}

/// One import, ready to record.
pub struct ImportWrite<'a> {
    /// The material, wrapped under the region's domain key.
    pub material: &'a MaterialRecord,
    /// When it expires (Unix ms); `None`: it does not.
    pub valid_to: Option<i64>,
    /// Its description; `None` keeps the one it had.
    pub description: Option<&'a str>,
    /// What the import is.
    pub kind: ImportAs,
}

/// A rotation ready to commit: the new material for every region holding
/// the key, and what the key must still look like for the rotation to apply.
pub struct RotationCommit<'a> {
    /// Key id.
    pub key_id: &'a str,
    /// Region whose copy drives rotation (the primary for multi-Region keys).
    pub region: &'a str,
    /// The new material as each region's token wrapped it, by region.
    pub materials: &'a [(String, MaterialRecord)],
    /// The material that must still be current (else another rotation won).
    pub expected_current: &'a str,
    /// For automatic rotations: the due date that was claimed, and the next one.
    pub schedule: Option<(i64, i64)>,
}

/// Tags of material rows (ADR 0025), for rows written before tags existed.
pub(super) trait RowTags {
    /// A region's material rows that hold material and no tag, each with
    /// its key.
    fn untagged_materials(&self, region: &str) -> StoreResult<Vec<(KeyRecord, MaterialRecord)>>;
    /// Sets the tag of a material row that has none; false if it has one
    /// (or is gone).
    fn set_material_tag(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        tag: &[u8],
    ) -> StoreResult<bool>;
    /// Whether any material row of the region carries a tag.
    fn has_tagged_materials(&self, region: &str) -> StoreResult<bool>;
    /// The region's row-tag key, wrapped under its domain key, if one was
    /// made.
    fn row_tag_key(&self, region: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Names the region's row-tag key, if it has none yet (the region's
    /// domain key must be named); false when another node named one first.
    fn claim_row_tag_key(&self, region: &str, wrapped: &[u8]) -> StoreResult<bool>;
}

/// What both backends' [`RowTags`] must do: list the rows without a tag,
/// with their keys, and set a tag once; tell whether any row has one; name
/// a region's row-tag key once.
#[cfg(test)]
pub(super) fn check_row_tags(backend: &dyn Backend) {
    use crate::model::{KeySpec, KeyUsage};
    let key = |key_id: &str| KeyRecord {
        region: "us-east-1".into(),
        key_id: key_id.into(),
        account_id: "111122223333".into(),
        description: String::new(),
        state: KeyState::Enabled,
        key_spec: KeySpec::Hmac256,
        key_usage: KeyUsage::GenerateVerifyMac,
        origin: "AWS_KMS".into(),
        creation_date: 1,
        deletion_date: None,
        pending_window_days: None,
        current_material_id: format!("{key_id}-m"),
        valid_to: None,
        policy: "{}".into(),
        rotation_period_days: None,
        next_rotation_date: None,
        multi_region: false,
        updating: false,
        arn: Default::default(),
    };
    let material = |id: &str, tag: Option<&[u8]>| MaterialRecord {
        material_id: id.into(),
        wrapped: vec![1; 40],
        public_key: None,
        creation_date: 1,
        rotation_type: None,
        tag: tag.map(<[u8]>::to_vec),
    };
    let untagged = key("untagged");
    let tagged = key("tagged");
    let region = untagged.region.clone();
    let untagged_material = material(&untagged.current_material_id, None);
    let tagged_material = material(&tagged.current_material_id, Some(&[9; 36]));
    backend
        .insert_key(&untagged, Some(&untagged_material), &[])
        .unwrap();
    backend
        .insert_key(&tagged, Some(&tagged_material), &[])
        .unwrap();

    assert!(backend.has_tagged_materials(&region).unwrap());
    assert!(!backend.has_tagged_materials("elsewhere").unwrap());
    assert_eq!(backend.row_tag_key(&region).unwrap(), None);
    assert!(
        !backend.claim_row_tag_key(&region, &[1; 28]).unwrap(),
        "a region the store names no domain key for has no row-tag key"
    );
    backend
        .claim_domain_key(&crate::model::DomainKeyRecord {
            region: region.clone(),
            check_blob: vec![2; 44],
            created_by: "node".into(),
            created_at: 1,
        })
        .unwrap();
    assert!(backend.claim_row_tag_key(&region, &[1; 28]).unwrap());
    assert!(
        !backend.claim_row_tag_key(&region, &[3; 28]).unwrap(),
        "the first row-tag key named stays"
    );
    assert_eq!(backend.row_tag_key(&region).unwrap(), Some(vec![1; 28]));

    let listed = backend.untagged_materials(&region).unwrap();
    assert_eq!(listed.len(), 1, "only the row without a tag");
    assert_eq!(listed[0].0.key_id, "untagged");
    assert_eq!(listed[0].0.key_spec, untagged.key_spec);
    assert_eq!(listed[0].1.material_id, untagged.current_material_id);
    assert!(backend.untagged_materials("elsewhere").unwrap().is_empty());

    let id = &untagged.current_material_id;
    assert!(
        backend
            .set_material_tag(&region, "untagged", id, &[7; 36])
            .unwrap()
    );
    assert!(
        !backend
            .set_material_tag(&region, "untagged", id, &[8; 36])
            .unwrap(),
        "a tag is set once"
    );
    assert!(backend.untagged_materials(&region).unwrap().is_empty());
    let read = backend.material(&region, "untagged", id).unwrap().unwrap();
    assert_eq!(read.tag, Some(vec![7; 36]));
    let read = backend
        .material(&region, "tagged", &tagged.current_material_id)
        .unwrap()
        .unwrap();
    assert_eq!(read.tag, Some(vec![9; 36]), "an insert keeps its tag");
}
