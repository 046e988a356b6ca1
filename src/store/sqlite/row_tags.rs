//! Tags of material rows on SQLite.

use super::Sqlite;
use super::rows::{KEY_COLUMNS, MATERIAL_COLUMNS, key_from_row, material_from_row};
use crate::model::{KeyRecord, MaterialRecord};
use crate::store::StoreResult;
use crate::store::backend::RowTags;
use rusqlite::{OptionalExtension, params};

impl RowTags for Sqlite {
    fn untagged_materials(&self, region: &str) -> StoreResult<Vec<(KeyRecord, MaterialRecord)>> {
        let conn = self.conn();
        let untagged = conn
            .prepare(
                "SELECT m.key_id, m.material_id FROM key_materials m JOIN kms_keys k \
                 ON k.region = m.region AND k.key_id = m.key_id \
                 WHERE m.region = ?1 AND m.tag IS NULL AND length(m.wrapped) > 0 \
                 ORDER BY m.key_id, m.material_id",
            )?
            .query_map(params![region], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::with_capacity(untagged.len());
        for (key_id, material_id) in untagged {
            let key = conn.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM kms_keys WHERE region = ?1 AND key_id = ?2"),
                params![region, key_id],
                key_from_row,
            )?;
            let material = conn.query_row(
                &format!(
                    "SELECT {MATERIAL_COLUMNS} FROM key_materials \
                     WHERE region = ?1 AND key_id = ?2 AND material_id = ?3"
                ),
                params![region, key_id, material_id],
                material_from_row,
            )?;
            rows.push((key, material));
        }
        Ok(rows)
    }

    fn set_material_tag(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        tag: &[u8],
    ) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "UPDATE key_materials SET tag = ?4 \
             WHERE region = ?1 AND key_id = ?2 AND material_id = ?3 AND tag IS NULL",
            params![region, key_id, material_id, tag],
        )?;
        Ok(changed == 1)
    }

    fn has_tagged_materials(&self, region: &str) -> StoreResult<bool> {
        Ok(self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM key_materials WHERE region = ?1 AND tag IS NOT NULL)",
            params![region],
            |row| row.get(0),
        )?)
    }

    fn row_tag_key(&self, region: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT row_tag_key FROM domain_keys WHERE region = ?1",
                params![region],
                |row| row.get(0),
            )
            .optional()?
            .flatten())
    }

    fn claim_row_tag_key(&self, region: &str, wrapped: &[u8]) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "UPDATE domain_keys SET row_tag_key = ?2 WHERE region = ?1 AND row_tag_key IS NULL",
            params![region, wrapped],
        )?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::Sqlite;

    #[test]
    fn rows_without_a_tag_are_listed_and_tagged_once() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Sqlite::open(&dir.path().join("trent.db")).unwrap();
        crate::store::backend::check_row_tags(&backend);
    }
}
