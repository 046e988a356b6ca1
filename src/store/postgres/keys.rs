//! Key records and materials on PostgreSQL.

use super::rows::{
    KEY_COLUMN_COUNT, KEY_COLUMNS, MATERIAL_COLUMNS, USABLE, insert_key_row, insert_material,
    insert_tags, key_from_row, material_from_row, qualified, read_key, read_material,
    region_key_pairs, texts,
};
use super::{Postgres, commit, conflict, execute, query};
use crate::model::{KeyRecord, MaterialRecord, Tag};
use crate::store::StoreResult;
use crate::store::backend::Keys;

impl Keys for Postgres {
    fn insert_key(
        &self,
        key: &KeyRecord,
        material: Option<&MaterialRecord>,
        tags: &[Tag],
    ) -> StoreResult<()> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            insert_key_row(&tx, key).await.map_err(conflict)?;
            if key.multi_region {
                execute(
                    &tx,
                    "INSERT INTO multi_region_keys (key_id, primary_region) VALUES ($1, $2)",
                    &[&key.key_id, &key.region],
                )
                .await
                .map_err(conflict)?;
            }
            if let Some(material) = material {
                insert_material(&tx, &key.region, &key.key_id, material).await?;
            }
            insert_tags(&tx, &key.region, &key.key_id, tags).await?;
            commit(tx, true).await
        })
    }

    fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<KeyRecord>> {
        self.run(async |client| read_key(&*client, region, key_id).await)
    }

    /// Each key with its current material in one query.
    fn keys_after(
        &self,
        after: (&str, &str),
        limit: usize,
    ) -> StoreResult<Vec<(KeyRecord, Option<MaterialRecord>)>> {
        let sql = format!(
            "SELECT {}, {} FROM kms_keys k LEFT JOIN key_materials m ON m.region = k.region \
             AND m.key_id = k.key_id AND m.material_id = k.current_material_id \
             AND m.imported AND NOT m.pending_rotation \
             WHERE (k.region, k.key_id) > ($1, $2) ORDER BY k.region, k.key_id LIMIT $3",
            qualified(KEY_COLUMNS, "k"),
            qualified(MATERIAL_COLUMNS, "m"),
        );
        let limit = limit as i64;
        self.run(async |client| {
            let rows = query(&*client, &sql, &[&after.0, &after.1, &limit]).await?;
            rows.iter()
                .map(|row| {
                    let key = key_from_row(row)?;
                    let material = match row.try_get::<_, Option<&str>>(KEY_COLUMN_COUNT)? {
                        Some(_) => Some(material_from_row(row, KEY_COLUMN_COUNT)?),
                        None => None,
                    };
                    Ok((key, material))
                })
                .collect()
        })
    }

    fn material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
    ) -> StoreResult<Option<MaterialRecord>> {
        self.run(async |client| read_material(&*client, region, key_id, material_id).await)
    }

    /// `seq` is the insertion order.
    fn materials(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialRecord>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                &format!(
                    "SELECT {MATERIAL_COLUMNS} FROM key_materials \
                     WHERE region = $1 AND key_id = $2 AND {USABLE} ORDER BY creation_date, seq"
                ),
                &[&region, &key_id],
            )
            .await?;
            rows.iter().map(|row| material_from_row(row, 0)).collect()
        })
    }

    fn list_keys(
        &self,
        region: &str,
        account_id: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let limit = limit as i64;
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT key_id FROM kms_keys WHERE region = $1 AND account_id = $2 \
                 AND key_id > $3 ORDER BY key_id LIMIT $4",
                &[&region, &account_id, &after, &limit],
            )
            .await?;
            texts(&rows)
        })
    }

    fn due_for_deletion(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT region, key_id FROM kms_keys \
                 WHERE key_state = 'PendingDeletion' AND deletion_date <= $1",
                &[&now],
            )
            .await?;
            region_key_pairs(&rows)
        })
    }

    /// The multi-Region record is locked before it is checked, so that of
    /// two copies deleted at once the later sees the earlier gone.
    fn delete_key_if_due(&self, region: &str, key_id: &str, now: i64) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let claimed = execute(
                &tx,
                "DELETE FROM kms_keys WHERE region = $1 AND key_id = $2 \
                 AND key_state = 'PendingDeletion' AND deletion_date <= $3",
                &[&region, &key_id, &now],
            )
            .await?;
            if claimed == 1 {
                for table in ["key_materials", "aliases", "key_tags", "grants"] {
                    execute(
                        &tx,
                        &format!("DELETE FROM {table} WHERE region = $1 AND key_id = $2"),
                        &[&region, &key_id],
                    )
                    .await?;
                }
                query(
                    &tx,
                    "SELECT 1 FROM multi_region_keys WHERE key_id = $1 FOR UPDATE",
                    &[&key_id],
                )
                .await?;
                execute(
                    &tx,
                    "DELETE FROM multi_region_keys WHERE key_id = $1 \
                     AND NOT EXISTS (SELECT 1 FROM kms_keys WHERE key_id = $1)",
                    &[&key_id],
                )
                .await?;
            }
            commit(tx, claimed == 1).await?;
            Ok(claimed == 1)
        })
    }
}
