//! The store's operations on what the metadata cache does not hold
//! (aliases, tags, grants, listings, job queues): each goes straight to the
//! backend.

use super::backend::{GrantInsert, TagsPut};
use super::{Store, StoreResult};
use crate::model::{
    AliasRecord, GrantRecord, KeyRecord, MaterialImport, MaterialRecord, MultiRegionRecord,
    RotationType, Tag,
};

impl Store {
    /// Every material of a key, oldest first.
    pub fn materials(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialRecord>> {
        self.backend.materials(region, key_id)
    }

    /// Key ids of an account in a region, in id order, after `after`.
    pub fn list_keys(
        &self,
        region: &str,
        account_id: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        self.backend.list_keys(region, account_id, after, limit)
    }

    /// Keys whose scheduled deletion is due at `now`, as (region, key id).
    pub fn due_for_deletion(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        self.backend.due_for_deletion(now)
    }

    /// Creates an alias, if its key exists and is not pending deletion (else
    /// false, in the same transaction); `Conflict` if the name is taken.
    pub fn insert_alias(
        &self,
        region: &str,
        account_id: &str,
        alias: &AliasRecord,
    ) -> StoreResult<bool> {
        self.backend.insert_alias(region, account_id, alias)
    }

    /// One alias by name.
    pub fn alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<AliasRecord>> {
        self.backend.alias(region, account_id, name)
    }

    /// Points an existing alias at another key, if it still points at
    /// `from` (compare-and-swap); false otherwise.
    pub fn retarget_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.backend
            .retarget_alias(region, account_id, name, from, to, now)
    }

    /// Deletes an alias if it still points at `key_id`; false otherwise.
    pub fn delete_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        key_id: &str,
    ) -> StoreResult<bool> {
        self.backend.delete_alias(region, account_id, name, key_id)
    }

    /// The names of every alias of a key, in name order.
    pub fn aliases_of_key(
        &self,
        region: &str,
        account_id: &str,
        key_id: &str,
    ) -> StoreResult<Vec<String>> {
        self.backend.aliases_of_key(region, account_id, key_id)
    }

    /// Aliases of an account (optionally of one key), in name order, after `after`.
    pub fn list_aliases(
        &self,
        region: &str,
        account_id: &str,
        key_id: Option<&str>,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        self.backend
            .list_aliases(region, account_id, key_id, after, limit)
    }

    /// Adds or overwrites tags on a key, if the key exists, is not pending
    /// deletion, and ends with at most `max` tags; the checks and the writes
    /// are one transaction that no other write to the key interleaves with.
    pub fn put_tags(
        &self,
        region: &str,
        key_id: &str,
        tags: &[Tag],
        max: usize,
    ) -> StoreResult<TagsPut> {
        self.backend.put_tags(region, key_id, tags, max)
    }

    /// Removes tags by key; absent ones are ignored.
    pub fn remove_tags(&self, region: &str, key_id: &str, tag_keys: &[String]) -> StoreResult<()> {
        self.backend.remove_tags(region, key_id, tag_keys)
    }

    /// A key's tags in key order.
    pub fn tags(&self, region: &str, key_id: &str) -> StoreResult<Vec<Tag>> {
        self.backend.tags(region, key_id)
    }

    /// Stores a new grant, if its key exists, is not pending deletion and
    /// has fewer than `limit` grants; the checks and the insert are one
    /// transaction that no other write to the key interleaves with, so
    /// concurrent CreateGrant calls cannot pass the limit together.
    pub fn insert_grant(&self, grant: &GrantRecord, limit: usize) -> StoreResult<GrantInsert> {
        self.backend.insert_grant(grant, limit)
    }

    /// The grants on a key whose grantee is one of `grantees` (the caller
    /// and its account), through the grantee index.
    pub fn grants_for(
        &self,
        region: &str,
        key_id: &str,
        grantees: [&str; 2],
    ) -> StoreResult<Vec<GrantRecord>> {
        self.backend.grants_for(region, key_id, grantees)
    }

    /// The grants on a key with a given name (CreateGrant's idempotency).
    pub fn grants_named(
        &self,
        region: &str,
        key_id: &str,
        name: &str,
    ) -> StoreResult<Vec<GrantRecord>> {
        self.backend.grants_named(region, key_id, name)
    }

    /// One grant on a key by id.
    pub fn grant(
        &self,
        region: &str,
        key_id: &str,
        grant_id: &str,
    ) -> StoreResult<Option<GrantRecord>> {
        self.backend.grant(region, key_id, grant_id)
    }

    /// Every grant on a key, oldest first.
    pub fn grants_of_key(&self, region: &str, key_id: &str) -> StoreResult<Vec<GrantRecord>> {
        self.backend.grants_of_key(region, key_id)
    }

    /// Grants in a region that `retiring` may retire, oldest first.
    pub fn grants_retirable_by(
        &self,
        region: &str,
        retiring: &str,
    ) -> StoreResult<Vec<GrantRecord>> {
        self.backend.grants_retirable_by(region, retiring)
    }

    /// The grant a token was issued for.
    pub fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        self.backend.grant_by_token(token)
    }

    /// Deletes a grant; false if it did not exist.
    pub fn delete_grant(&self, grant_id: &str) -> StoreResult<bool> {
        self.backend.delete_grant(grant_id)
    }

    /// Every material of an `EXTERNAL` key, with its import facts, oldest
    /// first (material waiting for a rotation last).
    pub fn material_imports(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialImport>> {
        self.backend.material_imports(region, key_id)
    }

    /// Imported materials whose time is up by `now`, as (region, key id,
    /// material id), of keys in a state where material can be deleted.
    pub fn expired_imports(&self, now: i64) -> StoreResult<Vec<(String, String, String)>> {
        self.backend.expired_imports(now)
    }

    /// The copies of a multi-Region key, if it is one.
    pub fn multi_region(&self, key_id: &str) -> StoreResult<Option<MultiRegionRecord>> {
        self.backend.multi_region(key_id)
    }

    /// One copy of a key, read past the cache, with where its copies are
    /// (for a multi-Region key), both as of one moment: a primary Region
    /// update that commits meanwhile shows wholly or not at all.
    pub fn key_with_copies(
        &self,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Option<(KeyRecord, Option<MultiRegionRecord>)>> {
        self.backend.key_with_copies(region, key_id)
    }

    /// Keys whose primary is being moved.
    pub fn pending_primary_updates(&self) -> StoreResult<Vec<String>> {
        self.backend.pending_primary_updates()
    }

    /// Number of a key's rotations of one type.
    pub fn count_rotations(
        &self,
        region: &str,
        key_id: &str,
        kind: RotationType,
    ) -> StoreResult<usize> {
        self.backend.count_rotations(region, key_id, kind)
    }

    /// Enabled keys whose automatic rotation is due at `now`, as (region, key
    /// id). For a multi-Region key only its primary copy is listed.
    pub fn due_for_rotation(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        self.backend.due_for_rotation(now)
    }
}

impl Store {
    /// A region's material rows that hold material and no tag, each with
    /// its key (ADR 0025).
    pub fn untagged_materials(
        &self,
        region: &str,
    ) -> StoreResult<Vec<(KeyRecord, MaterialRecord)>> {
        self.backend.untagged_materials(region)
    }

    /// Sets the tag of a material row that has none (false if it has one),
    /// dropping the key's cached materials.
    pub fn set_material_tag(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        tag: &[u8],
    ) -> StoreResult<bool> {
        let set = self
            .backend
            .set_material_tag(region, key_id, material_id, tag)?;
        self.cache.forget_materials(region, key_id);
        Ok(set)
    }

    /// Whether any material row of the region carries a tag.
    pub fn has_tagged_materials(&self, region: &str) -> StoreResult<bool> {
        self.backend.has_tagged_materials(region)
    }

    /// The region's row-tag key, wrapped under its domain key, if one was
    /// made.
    pub fn row_tag_key(&self, region: &str) -> StoreResult<Option<Vec<u8>>> {
        self.backend.row_tag_key(region)
    }

    /// Names the region's row-tag key if it has none; false when another
    /// node named one first.
    pub fn claim_row_tag_key(&self, region: &str, wrapped: &[u8]) -> StoreResult<bool> {
        self.backend.claim_row_tag_key(region, wrapped)
    }
}
