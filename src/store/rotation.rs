//! Store side of rotation: committing new material to every copy of a key
//! at once, the rotation schedule, and counting rotations.

use super::{Store, StoreResult, insert_material};
use crate::model::{MaterialRecord, RotationType};
use rusqlite::{TransactionBehavior, params};
use std::collections::BTreeSet;

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

impl Store {
    /// Stores a rotation's material in every region and makes it current
    /// everywhere, atomically, if the key is still as the caller saw it: same
    /// current material, same set of regions, and (for automatic rotations)
    /// the same due date. Returns false, changing nothing, when another
    /// rotation or a new replica got there first.
    pub fn commit_rotation(&self, rotation: &RotationCommit<'_>) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((claimed_due, _)) = rotation.schedule {
            let due: Option<i64> = tx.query_row(
                "SELECT next_rotation_date FROM kms_keys WHERE region = ?1 AND key_id = ?2",
                params![rotation.region, rotation.key_id],
                |r| r.get(0),
            )?;
            if due != Some(claimed_due) {
                return Ok(false);
            }
        }
        let regions: BTreeSet<String> = {
            let mut stmt = tx.prepare("SELECT region FROM kms_keys WHERE key_id = ?1")?;
            stmt.query_map(params![rotation.key_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let planned: BTreeSet<String> = rotation.materials.iter().map(|(r, _)| r.clone()).collect();
        let Some((_, first)) = rotation.materials.first() else {
            return Ok(false);
        };
        if regions != planned {
            return Ok(false);
        }
        let next_due = rotation.schedule.map(|(_, next)| next);
        let changed = tx.execute(
            "UPDATE kms_keys SET current_material_id = ?2, \
             next_rotation_date = CASE WHEN ?4 IS NULL THEN next_rotation_date ELSE ?4 END \
             WHERE key_id = ?1 AND current_material_id = ?3",
            params![
                rotation.key_id,
                first.material_id,
                rotation.expected_current,
                next_due
            ],
        )?;
        if changed != regions.len() {
            return Ok(false);
        }
        for (region, material) in rotation.materials {
            insert_material(&tx, region, rotation.key_id, material)?;
        }
        tx.commit()?;
        self.cache.forget_key(rotation.key_id);
        Ok(true)
    }

    /// Sets the rotation schedule on every copy of a key.
    pub fn set_rotation_schedule(
        &self,
        key_id: &str,
        period_days: Option<i64>,
        next_rotation_date: Option<i64>,
    ) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE kms_keys SET rotation_period_days = ?2, next_rotation_date = ?3 \
             WHERE key_id = ?1",
            params![key_id, period_days, next_rotation_date],
        )?;
        self.cache.forget_key(key_id);
        Ok(())
    }

    /// Number of a key's rotations of one type.
    pub fn count_rotations(
        &self,
        region: &str,
        key_id: &str,
        kind: RotationType,
    ) -> StoreResult<usize> {
        let n: i64 = self
            .conn()
            .prepare_cached(
                "SELECT COUNT(*) FROM key_materials WHERE region = ?1 AND key_id = ?2 \
                 AND rotation_type = ?3",
            )?
            .query_row(params![region, key_id, kind.as_str()], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Enabled keys whose automatic rotation is due at `now`, as (region, key
    /// id). For a multi-Region key only its primary copy is listed.
    pub fn due_for_rotation(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT region, key_id FROM kms_keys k \
             WHERE key_state = 'Enabled' AND next_rotation_date <= ?1 AND (multi_region = 0 \
             OR region = (SELECT primary_region FROM multi_region_keys m \
                          WHERE m.key_id = k.key_id))",
        )?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
