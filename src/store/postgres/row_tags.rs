//! Tags of material rows on PostgreSQL.

use super::rows::{KEY_COLUMN_COUNT, KEY_COLUMNS, MATERIAL_COLUMNS, key_from_row};
use super::rows::{material_from_row, qualified};
use super::{Postgres, commit, execute, query, query_one, query_opt};
use crate::model::{KeyRecord, MaterialRecord};
use crate::store::StoreResult;
use crate::store::backend::RowTags;

impl RowTags for Postgres {
    fn untagged_materials(&self, region: &str) -> StoreResult<Vec<(KeyRecord, MaterialRecord)>> {
        let sql = format!(
            "SELECT {}, {} FROM key_materials m JOIN kms_keys k \
             ON k.region = m.region AND k.key_id = m.key_id \
             WHERE m.region = $1 AND m.tag IS NULL AND length(m.wrapped) > 0 \
             ORDER BY m.key_id, m.material_id",
            qualified(KEY_COLUMNS, "k"),
            qualified(MATERIAL_COLUMNS, "m"),
        );
        self.run(async |client| {
            query(&*client, &sql, &[&region])
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        key_from_row(row)?,
                        material_from_row(row, KEY_COLUMN_COUNT)?,
                    ))
                })
                .collect()
        })
    }

    /// Runs only while a node first tags its region's rows, before it
    /// serves; the store's version moves with it, as with every write.
    fn set_material_tag(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        tag: &[u8],
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let changed = execute(
                &tx,
                "UPDATE key_materials SET tag = $4 \
                 WHERE region = $1 AND key_id = $2 AND material_id = $3 AND tag IS NULL",
                &[&region, &key_id, &material_id, &tag],
            )
            .await?;
            commit(tx, changed == 1).await?;
            Ok(changed == 1)
        })
    }

    fn has_tagged_materials(&self, region: &str) -> StoreResult<bool> {
        self.run(async |client| {
            let row = query_one(
                &*client,
                "SELECT EXISTS (SELECT 1 FROM key_materials WHERE region = $1 AND tag IS NOT NULL)",
                &[&region],
            )
            .await?;
            Ok(row.try_get(0)?)
        })
    }

    fn row_tag_key(&self, region: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(async |client| {
            let row = query_opt(
                &*client,
                "SELECT row_tag_key FROM domain_keys WHERE region = $1",
                &[&region],
            )
            .await?;
            Ok(match row {
                Some(row) => row.try_get(0)?,
                None => None,
            })
        })
    }

    fn claim_row_tag_key(&self, region: &str, wrapped: &[u8]) -> StoreResult<bool> {
        self.run(async |client| {
            let changed = execute(
                &*client,
                "UPDATE domain_keys SET row_tag_key = $2 \
                 WHERE region = $1 AND row_tag_key IS NULL",
                &[&region, &wrapped],
            )
            .await?;
            Ok(changed == 1)
        })
    }
}
