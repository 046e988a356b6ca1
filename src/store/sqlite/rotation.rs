//! Rotation on SQLite: committing new material to every copy of a key at
//! once, the rotation schedule, and counting rotations.

use super::Sqlite;
use super::rows::insert_material;
use crate::model::RotationType;
use crate::store::StoreResult;
use crate::store::backend::{Rotation, RotationCommit};
use rusqlite::{TransactionBehavior, params};
use std::collections::BTreeSet;

/// Enabled keys whose automatic rotation is due (primary copies only), by the
/// rotation index: `+key_state` keeps the planner off `kms_keys_due`, which
/// would read every enabled key.
pub(super) const DUE_FOR_ROTATION: &str = "SELECT region, key_id FROM kms_keys k \
     WHERE +key_state = 'Enabled' AND next_rotation_date <= ?1 AND (multi_region = 0 \
     OR region = (SELECT primary_region FROM multi_region_keys m WHERE m.key_id = k.key_id))";

impl Rotation for Sqlite {
    /// The checks and the writes are one IMMEDIATE transaction.
    fn commit_rotation(&self, rotation: &RotationCommit<'_>) -> StoreResult<bool> {
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
        Ok(true)
    }

    fn set_rotation_schedule(
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
        Ok(())
    }

    fn count_rotations(
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

    fn due_for_rotation(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(DUE_FOR_ROTATION)?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
