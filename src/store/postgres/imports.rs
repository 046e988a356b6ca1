//! Imported key material (keys of origin `EXTERNAL`) on PostgreSQL: the
//! conditional UPDATE that opens each transaction locks the key's row, so
//! the material rows that follow change under that claim (ADR 0009).

use super::rows::{insert_material, region_key_pairs};
use super::{Postgres, commit, execute, query};
use crate::model::MaterialRecord;
use crate::store::StoreResult;
use crate::store::backend::Imports;

impl Imports for Postgres {
    fn import_material(
        &self,
        region: &str,
        key_id: &str,
        material: &MaterialRecord,
        valid_to: Option<i64>,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let changed = execute(
                &tx,
                "UPDATE kms_keys SET key_state = CASE WHEN key_state = 'PendingImport' \
                 THEN 'Enabled' ELSE key_state END, current_material_id = $3, valid_to = $4 \
                 WHERE region = $1 AND key_id = $2 AND origin = 'EXTERNAL' \
                 AND (current_material_id = '' OR current_material_id = $3) \
                 AND key_state IN ('PendingImport', 'Enabled', 'Disabled')",
                &[&region, &key_id, &material.material_id, &valid_to],
            )
            .await?;
            if changed == 1 {
                execute(
                    &tx,
                    "DELETE FROM key_materials WHERE region = $1 AND key_id = $2",
                    &[&region, &key_id],
                )
                .await?;
                insert_material(&tx, region, key_id, material).await?;
            }
            commit(tx, changed == 1).await?;
            Ok(changed == 1)
        })
    }

    fn delete_imported_material(
        &self,
        region: &str,
        key_id: &str,
        expired_by: Option<i64>,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let changed = execute(
                &tx,
                "UPDATE kms_keys SET key_state = CASE WHEN key_state IN ('Enabled', 'Disabled') \
                 THEN 'PendingImport' ELSE key_state END, valid_to = NULL \
                 WHERE region = $1 AND key_id = $2 AND origin = 'EXTERNAL' AND NOT updating \
                 AND key_state IN ('Enabled', 'Disabled', 'PendingDeletion', \
                 'PendingReplicaDeletion') AND ($3::bigint IS NULL OR valid_to <= $3)",
                &[&region, &key_id, &expired_by],
            )
            .await?;
            if changed == 1 {
                execute(
                    &tx,
                    "DELETE FROM key_materials WHERE region = $1 AND key_id = $2",
                    &[&region, &key_id],
                )
                .await?;
            }
            commit(tx, changed == 1).await?;
            Ok(changed == 1)
        })
    }

    fn expired_imports(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT region, key_id FROM kms_keys WHERE origin = 'EXTERNAL' AND key_state \
                 IN ('Enabled', 'Disabled', 'PendingDeletion', 'PendingReplicaDeletion') \
                 AND valid_to <= $1",
                &[&now],
            )
            .await?;
            region_key_pairs(&rows)
        })
    }
}
