//! Key records and materials on SQLite.

use super::rows::{
    KEY_COLUMNS, MATERIAL_COLUMNS, USABLE, insert_key_row, insert_material, insert_tags,
    key_from_row, material_from_row, read_key, read_material,
};
use super::{Sqlite, conflict};
use crate::model::{KeyRecord, MaterialRecord, Tag};
use crate::store::StoreResult;
use crate::store::backend::Keys;
use rusqlite::params;

/// A page of one account's keys in a region, in key-id order.
pub(super) const LIST_KEYS: &str = "SELECT key_id FROM kms_keys \
     WHERE region = ?1 AND account_id = ?2 AND key_id > ?3 ORDER BY key_id LIMIT ?4";

/// Keys whose scheduled deletion is due.
pub(super) const DUE_FOR_DELETION: &str = "SELECT region, key_id FROM kms_keys \
     WHERE key_state = 'PendingDeletion' AND deletion_date <= ?1";

impl Keys for Sqlite {
    fn insert_key(
        &self,
        key: &KeyRecord,
        material: Option<&MaterialRecord>,
        tags: &[Tag],
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_key_row(&tx, key).map_err(conflict)?;
        if key.multi_region {
            tx.execute(
                "INSERT INTO multi_region_keys (key_id, primary_region) VALUES (?1, ?2)",
                params![key.key_id, key.region],
            )
            .map_err(conflict)?;
        }
        if let Some(material) = material {
            insert_material(&tx, &key.region, &key.key_id, material)?;
        }
        insert_tags(&tx, &key.region, &key.key_id, tags)?;
        tx.commit()?;
        Ok(())
    }

    fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyRecord>> {
        Ok(read_key(&self.readers.get(), region, key_id)?)
    }

    fn keys_after(
        &self,
        after: (&str, &str),
        limit: usize,
    ) -> StoreResult<Vec<(KeyRecord, Option<MaterialRecord>)>> {
        let conn = self.conn();
        let keys = conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM kms_keys WHERE (region, key_id) > (?1, ?2) \
                 ORDER BY region, key_id LIMIT ?3"
            ))?
            .query_map(params![after.0, after.1, limit], key_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        let mut page = Vec::with_capacity(keys.len());
        for key in keys {
            let material =
                read_material(&conn, &key.region, &key.key_id, &key.current_material_id)?;
            page.push((key, material));
        }
        Ok(page)
    }

    fn material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
    ) -> StoreResult<Option<MaterialRecord>> {
        Ok(read_material(
            &self.readers.get(),
            region,
            key_id,
            material_id,
        )?)
    }

    fn materials(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {MATERIAL_COLUMNS} FROM key_materials WHERE region = ?1 AND key_id = ?2 \
             AND {USABLE} ORDER BY creation_date, rowid"
        ))?;
        let rows = stmt.query_map(params![region, key_id], material_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_keys(
        &self,
        region: &str,
        account_id: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(LIST_KEYS)?;
        let rows = stmt.query_map(params![region, account_id, after, limit as i64], |r| {
            r.get(0)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn due_for_deletion(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(DUE_FOR_DELETION)?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_key_if_due(&self, region: &str, key_id: &str, now: i64) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let claimed = tx.execute(
            "DELETE FROM kms_keys WHERE region = ?1 AND key_id = ?2 \
             AND key_state = 'PendingDeletion' AND deletion_date <= ?3",
            params![region, key_id, now],
        )?;
        if claimed == 1 {
            for table in ["key_materials", "aliases", "key_tags", "grants"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE region = ?1 AND key_id = ?2"),
                    params![region, key_id],
                )?;
            }
            tx.execute(
                "DELETE FROM multi_region_keys WHERE key_id = ?1 \
                 AND NOT EXISTS (SELECT 1 FROM kms_keys WHERE key_id = ?1)",
                params![key_id],
            )?;
        }
        tx.commit()?;
        Ok(claimed == 1)
    }
}
