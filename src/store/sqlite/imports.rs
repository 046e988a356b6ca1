//! Imported key material (keys of origin `EXTERNAL`) on SQLite: recording
//! an import, deleting the material, and finding material whose time is up.
//! Each change is one transaction whose conditions restate the key state it
//! needs (ADR 0009).

use super::Sqlite;
use super::rows::insert_material;
use crate::model::MaterialRecord;
use crate::store::StoreResult;
use crate::store::backend::Imports;
use rusqlite::{TransactionBehavior, params};

impl Imports for Sqlite {
    fn import_material(
        &self,
        region: &str,
        key_id: &str,
        material: &MaterialRecord,
        valid_to: Option<i64>,
    ) -> StoreResult<bool> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE kms_keys SET key_state = CASE WHEN key_state = 'PendingImport' \
                 THEN 'Enabled' ELSE key_state END, current_material_id = ?3, valid_to = ?4 \
                 WHERE region = ?1 AND key_id = ?2 AND origin = 'EXTERNAL' \
                 AND (current_material_id = '' OR current_material_id = ?3) \
                 AND key_state IN ('PendingImport', 'Enabled', 'Disabled')",
                params![region, key_id, material.material_id, valid_to],
            )?;
            if changed == 1 {
                tx.execute(
                    "DELETE FROM key_materials WHERE region = ?1 AND key_id = ?2",
                    params![region, key_id],
                )?;
                insert_material(&tx, region, key_id, material)?;
            }
            tx.commit()?;
            Ok(changed == 1)
        }
    }

    fn delete_imported_material(
        &self,
        region: &str,
        key_id: &str,
        expired_by: Option<i64>,
    ) -> StoreResult<bool> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE kms_keys SET key_state = CASE WHEN key_state IN ('Enabled', 'Disabled') \
                 THEN 'PendingImport' ELSE key_state END, valid_to = NULL \
                 WHERE region = ?1 AND key_id = ?2 AND origin = 'EXTERNAL' AND updating = 0 \
                 AND key_state IN ('Enabled', 'Disabled', 'PendingDeletion', \
                 'PendingReplicaDeletion') AND (?3 IS NULL OR valid_to <= ?3)",
                params![region, key_id, expired_by],
            )?;
            if changed == 1 {
                tx.execute(
                    "DELETE FROM key_materials WHERE region = ?1 AND key_id = ?2",
                    params![region, key_id],
                )?;
            }
            tx.commit()?;
            Ok(changed == 1)
        }
    }

    fn expired_imports(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT region, key_id FROM kms_keys WHERE origin = 'EXTERNAL' AND key_state \
             IN ('Enabled', 'Disabled', 'PendingDeletion', 'PendingReplicaDeletion') \
             AND valid_to <= ?1",
        )?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
