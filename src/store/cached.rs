//! The store's operations on what the metadata cache holds: key records and
//! materials are served from it, and every write that touches a key drops
//! the key's cached record (its materials too when an import replaced them).

use super::backend::{ImportWrite, KeyChange, RotationCommit, ScheduledDeletion};
use super::{Store, StoreResult};
use crate::model::{KeyRecord, MaterialRecord, Tag};
use std::sync::Arc;

impl Store {
    /// Inserts a new key with its first material (none for a key waiting
    /// for imported material) and tags, atomically. A multi-Region key is
    /// recorded with this copy as its primary.
    pub fn insert_key(
        &self,
        key: &KeyRecord,
        material: Option<&MaterialRecord>,
        tags: &[Tag],
    ) -> StoreResult<()> {
        self.backend.insert_key(key, material, tags)?;
        self.cache.forget_key(&key.key_id);
        // A new key is usually used next: cache what was just written.
        self.cache.put_key(self.cache.generation(), key.clone());
        if let Some(material) = material {
            self.cache.put_material(
                self.cache.generation(),
                &key.region,
                &key.key_id,
                Arc::new(material.clone()),
            );
        }
        Ok(())
    }

    /// One key's metadata.
    pub fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<Arc<KeyRecord>>> {
        if self.cache.needs_validation() {
            self.cache.revalidate(|| self.backend.data_version())?;
        }
        if let Some(record) = self.cache.key(region, key_id) {
            self.key_lookups.count(true);
            return Ok(Some(record));
        }
        self.key_lookups.count(false);
        let generation = self.cache.generation();
        let record = self.backend.key(region, key_id)?;
        Ok(record.map(|record| self.cache.put_key(generation, record)))
    }

    /// One wrapped material of a key.
    pub fn material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
    ) -> StoreResult<Option<Arc<MaterialRecord>>> {
        if let Some(material) = self.cache.material(region, key_id, material_id) {
            self.material_lookups.count(true);
            return Ok(Some(material));
        }
        self.material_lookups.count(false);
        let generation = self.cache.generation();
        let material = self
            .backend
            .material(region, key_id, material_id)?
            .map(Arc::new);
        if let Some(material) = &material {
            self.cache
                .put_material(generation, region, key_id, Arc::clone(material));
        }
        Ok(material)
    }

    /// Deletes a key and everything attached to it, if its deletion is still
    /// due at `now`. The conditional delete is the claim: of several nodes,
    /// exactly one sees `true`.
    pub fn delete_key_if_due(&self, region: &str, key_id: &str, now: i64) -> StoreResult<bool> {
        let deleted = self.backend.delete_key_if_due(region, key_id, now);
        self.cache.forget_key(key_id);
        deleted
    }

    /// Applies `change` to one copy of a key if the key is in a state that
    /// allows it. False when it is not (or the key is gone); the cached
    /// record is dropped either way, so the next read sees the database.
    pub fn change_key(
        &self,
        region: &str,
        key_id: &str,
        change: KeyChange<'_>,
    ) -> StoreResult<bool> {
        let changed = self.backend.change_key(region, key_id, change);
        self.cache.forget_key(key_id);
        changed
    }

    /// Schedules a key's deletion at `deletion_date` (a waiting period of
    /// `window_days`), if it is Enabled, Disabled or PendingImport and not
    /// Updating (else `None`). A multi-Region primary that still has
    /// replicas becomes PendingReplicaDeletion with no date yet; the replica
    /// count is read in the same transaction as the write.
    pub fn schedule_deletion(
        &self,
        region: &str,
        key_id: &str,
        deletion_date: i64,
        window_days: i64,
    ) -> StoreResult<Option<ScheduledDeletion>> {
        let scheduled = self
            .backend
            .schedule_deletion(region, key_id, deletion_date, window_days);
        self.cache.forget_key(key_id);
        scheduled
    }

    /// Records an import. False, changing nothing, when the key is no longer
    /// as the caller saw it: not importable, or (first import) given material
    /// meanwhile, or (existing) not having this material, or (new) having
    /// this material or other imported material waiting for a rotation.
    pub fn import_material(
        &self,
        region: &str,
        key_id: &str,
        write: &ImportWrite<'_>,
    ) -> StoreResult<bool> {
        let imported = self.backend.import_material(region, key_id, write);
        self.cache.forget_key(key_id);
        self.cache.forget_materials(region, key_id);
        imported
    }

    /// Deletes one imported material (by default the current one): its blob
    /// goes and its row stays, so a re-import must bring it back. Deleting
    /// material the key uses puts an Enabled or Disabled key back in
    /// `PendingImport` (a key pending deletion stays so); material waiting
    /// for a rotation goes without changing the key. Only for an `EXTERNAL`
    /// key whose primary Region is not being updated, and only for material
    /// in the store; false otherwise. With `expired_by`, only if the
    /// material's time is up by then (the expiry job's claim).
    pub fn delete_imported_material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        expired_by: Option<i64>,
    ) -> StoreResult<bool> {
        let deleted =
            self.backend
                .delete_imported_material(region, key_id, material_id, expired_by);
        self.cache.forget_key(key_id);
        self.cache.forget_materials(region, key_id);
        deleted
    }

    /// Makes imported material that waits for a rotation current, if the
    /// key is still Enabled with `expected_current` current and the material
    /// is still in the store. False, changing nothing, otherwise.
    pub fn rotate_to_imported(
        &self,
        region: &str,
        key_id: &str,
        expected_current: &str,
        material_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let rotated =
            self.backend
                .rotate_to_imported(region, key_id, expected_current, material_id, now);
        self.cache.forget_key(key_id);
        rotated
    }

    /// Adds a replica with all its materials and tags in one transaction, if
    /// the primary's current material is still `expected_current` and it is
    /// not pending deletion (else `Ok(false)`: a rotation or a scheduled
    /// deletion happened meanwhile). `Conflict` if the region
    /// already holds the key.
    pub fn insert_replica(
        &self,
        replica: &KeyRecord,
        primary_region: &str,
        materials: &[MaterialRecord],
        tags: &[Tag],
        expected_current: &str,
    ) -> StoreResult<bool> {
        let inserted = self.backend.insert_replica(
            replica,
            primary_region,
            materials,
            tags,
            expected_current,
        )?;
        if inserted {
            self.cache.forget_key(&replica.key_id);
        }
        Ok(inserted)
    }

    /// Starts moving the primary of `key_id` from `from` to `to`: both copies
    /// report Updating until [`Store::complete_primary_update`]. False if the
    /// primary is no longer `from` or another update is in progress.
    pub fn begin_primary_update(&self, key_id: &str, from: &str, to: &str) -> StoreResult<bool> {
        let begun = self.backend.begin_primary_update(key_id, from, to)?;
        if begun {
            self.cache.forget_key(key_id);
        }
        Ok(begun)
    }

    /// Finishes moving the primary: the pending region becomes primary and
    /// every copy leaves the Updating state. False if nothing was pending.
    pub fn complete_primary_update(&self, key_id: &str) -> StoreResult<bool> {
        let done = self.backend.complete_primary_update(key_id)?;
        self.cache.forget_key(key_id);
        Ok(done)
    }

    /// Primaries waiting for their replicas to be deleted whose replicas are
    /// all gone: they start their own waiting period, ending at `now + window`.
    pub fn start_primary_deletions(&self, now: i64) -> StoreResult<usize> {
        let started = self.backend.start_primary_deletions(now)?;
        if started > 0 {
            self.cache.forget_all_keys();
        }
        Ok(started)
    }

    /// Stores a rotation's material in every region and makes it current
    /// everywhere, atomically, if the key is still as the caller saw it: same
    /// current material, same set of regions, and (for automatic rotations)
    /// the same due date. Returns false, changing nothing, when another
    /// rotation or a new replica got there first.
    pub fn commit_rotation(&self, rotation: &RotationCommit<'_>) -> StoreResult<bool> {
        let committed = self.backend.commit_rotation(rotation)?;
        if committed {
            self.cache.forget_key(rotation.key_id);
        }
        Ok(committed)
    }

    /// Sets the rotation schedule on every copy of a key.
    pub fn set_rotation_schedule(
        &self,
        key_id: &str,
        period_days: Option<i64>,
        next_rotation_date: Option<i64>,
    ) -> StoreResult<()> {
        self.backend
            .set_rotation_schedule(key_id, period_days, next_rotation_date)?;
        self.cache.forget_key(key_id);
        Ok(())
    }
}
