//! Rotation on PostgreSQL: committing new material to every copy of a key
//! at once, the rotation schedule, and counting rotations.

use super::rows::{insert_material, region_key_pairs, texts};
use super::{Postgres, commit, execute, lock_copies, query, query_one, query_opt};
use crate::model::RotationType;
use crate::store::StoreResult;
use crate::store::backend::{Rotation, RotationCommit};
use std::collections::BTreeSet;

impl Rotation for Postgres {
    /// Every copy of the key is locked first; the due date and the set of
    /// regions are read after, so a replica added meanwhile (its insert
    /// locks the primary) is seen, and a rotation racing this one waits
    /// and then finds the current material changed.
    fn commit_rotation(&self, rotation: &RotationCommit<'_>) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            lock_copies(&tx, rotation.key_id).await?;
            if let Some((claimed_due, _)) = rotation.schedule {
                let due = query_opt(
                    &tx,
                    "SELECT next_rotation_date FROM kms_keys WHERE region = $1 AND key_id = $2",
                    &[&rotation.region, &rotation.key_id],
                )
                .await?;
                let due: Option<i64> = match due {
                    Some(row) => row.try_get(0)?,
                    None => None,
                };
                if due != Some(claimed_due) {
                    return Ok(false);
                }
            }
            let regions: BTreeSet<String> = texts(
                &query(
                    &tx,
                    "SELECT region FROM kms_keys WHERE key_id = $1",
                    &[&rotation.key_id],
                )
                .await?,
            )?
            .into_iter()
            .collect();
            let planned: BTreeSet<String> =
                rotation.materials.iter().map(|(r, _)| r.clone()).collect();
            let Some((_, first)) = rotation.materials.first() else {
                return Ok(false);
            };
            if regions != planned {
                return Ok(false);
            }
            let next_due = rotation.schedule.map(|(_, next)| next);
            let changed = execute(
                &tx,
                "UPDATE kms_keys SET current_material_id = $2, \
                 next_rotation_date = COALESCE($4, next_rotation_date) \
                 WHERE key_id = $1 AND current_material_id = $3",
                &[
                    &rotation.key_id,
                    &first.material_id,
                    &rotation.expected_current,
                    &next_due,
                ],
            )
            .await?;
            if changed as usize != regions.len() {
                return Ok(false);
            }
            for (region, material) in rotation.materials {
                insert_material(&tx, region, rotation.key_id, material).await?;
            }
            commit(tx, true).await?;
            Ok(true)
        })
    }

    fn set_rotation_schedule(
        &self,
        key_id: &str,
        period_days: Option<i64>,
        next_rotation_date: Option<i64>,
    ) -> StoreResult<()> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            lock_copies(&tx, key_id).await?;
            let changed = execute(
                &tx,
                "UPDATE kms_keys SET rotation_period_days = $2, next_rotation_date = $3 \
                 WHERE key_id = $1",
                &[&key_id, &period_days, &next_rotation_date],
            )
            .await?;
            commit(tx, changed > 0).await
        })
    }

    fn count_rotations(
        &self,
        region: &str,
        key_id: &str,
        kind: RotationType,
    ) -> StoreResult<usize> {
        self.run(async |client| {
            let n: i64 = query_one(
                &*client,
                "SELECT COUNT(*) FROM key_materials WHERE region = $1 AND key_id = $2 \
                 AND rotation_type = $3",
                &[&region, &key_id, &kind.as_str()],
            )
            .await?
            .try_get(0)?;
            Ok(n as usize)
        })
    }

    fn due_for_rotation(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT region, key_id FROM kms_keys k \
                 WHERE key_state = 'Enabled' AND next_rotation_date <= $1 AND (NOT multi_region \
                 OR region = (SELECT primary_region FROM multi_region_keys m \
                              WHERE m.key_id = k.key_id))",
                &[&now],
            )
            .await?;
            region_key_pairs(&rows)
        })
    }
}
