//! Multi-Region keys on SQLite: where the copies are, adding a replica
//! atomically, and moving the primary.

use super::rows::{insert_key_row, insert_material, insert_tags, read_key};
use super::{Sqlite, conflict};
use crate::model::{KeyRecord, MaterialRecord, MultiRegionRecord, Tag};
use crate::store::StoreResult;
use crate::store::backend::MultiRegion;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Multi-Region keys whose primary Region is changing.
pub(super) const PENDING_PRIMARY_UPDATES: &str =
    "SELECT key_id FROM multi_region_keys WHERE pending_primary IS NOT NULL";

impl MultiRegion for Sqlite {
    fn multi_region(&self, key_id: &str) -> StoreResult<Option<MultiRegionRecord>> {
        copies(&self.conn(), key_id)
    }

    /// One read transaction: one snapshot of the database.
    fn key_with_copies(
        &self,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Option<(KeyRecord, Option<MultiRegionRecord>)>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(key) = read_key(&tx, region, key_id)? else {
            return Ok(None);
        };
        let copies = copies(&tx, key_id)?;
        tx.commit()?;
        Ok(Some((key, copies)))
    }

    /// The primary is read in the same IMMEDIATE transaction as the insert.
    fn insert_replica(
        &self,
        replica: &KeyRecord,
        primary_region: &str,
        materials: &[MaterialRecord],
        tags: &[Tag],
        expected_current: &str,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<String> = tx
            .query_row(
                "SELECT current_material_id FROM kms_keys WHERE region = ?1 AND key_id = ?2 \
                 AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion')",
                params![primary_region, replica.key_id],
                |r| r.get(0),
            )
            .optional()?;
        if current.as_deref() != Some(expected_current) {
            return Ok(false);
        }
        insert_key_row(&tx, replica).map_err(conflict)?;
        for material in materials {
            insert_material(&tx, &replica.region, &replica.key_id, material)?;
        }
        insert_tags(&tx, &replica.region, &replica.key_id, tags)?;
        tx.commit()?;
        Ok(true)
    }

    fn begin_primary_update(&self, key_id: &str, from: &str, to: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = tx.execute(
            "UPDATE multi_region_keys SET pending_primary = ?3 \
             WHERE key_id = ?1 AND primary_region = ?2 AND pending_primary IS NULL",
            params![key_id, from, to],
        )?;
        if claimed != 1 {
            return Ok(false);
        }
        tx.execute(
            "UPDATE kms_keys SET updating = 1 WHERE key_id = ?1 AND region IN (?2, ?3)",
            params![key_id, from, to],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn pending_primary_updates(&self) -> StoreResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(PENDING_PRIMARY_UPDATES)?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn complete_primary_update(&self, key_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done = tx.execute(
            "UPDATE multi_region_keys SET primary_region = pending_primary, \
             pending_primary = NULL WHERE key_id = ?1 AND pending_primary IS NOT NULL",
            params![key_id],
        )?;
        tx.execute(
            "UPDATE kms_keys SET updating = 0 WHERE key_id = ?1",
            params![key_id],
        )?;
        tx.commit()?;
        Ok(done == 1)
    }

    fn start_primary_deletions(&self, now: i64) -> StoreResult<usize> {
        Ok(self.conn().execute(
            "UPDATE kms_keys SET key_state = 'PendingDeletion', \
             deletion_date = ?1 + pending_window_days * 86400000 \
             WHERE key_state = 'PendingReplicaDeletion' \
             AND (SELECT COUNT(*) FROM kms_keys o WHERE o.key_id = kms_keys.key_id) = 1",
            params![now],
        )?)
    }
}

/// Where the copies of a multi-Region key are, if it is one.
fn copies(conn: &Connection, key_id: &str) -> StoreResult<Option<MultiRegionRecord>> {
    let Some((primary_region, pending_primary)) = conn
        .prepare_cached(
            "SELECT primary_region, pending_primary FROM multi_region_keys WHERE key_id = ?1",
        )?
        .query_row(params![key_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT region FROM kms_keys WHERE key_id = ?1 ORDER BY region")?;
    let regions = stmt
        .query_map(params![key_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(MultiRegionRecord {
        primary_region,
        pending_primary,
        regions,
    }))
}
