//! Imported key material (keys of origin `EXTERNAL`) on PostgreSQL:
//! recording an import (the first, a re-import, or new material for an
//! on-demand rotation), deleting material, rotating to imported material,
//! and finding material whose time is up. Each change first locks the key's
//! row (with the state it needs in the WHERE clause), then changes the
//! material rows under that claim (ADR 0009).

use super::rows::insert_material;
use super::{Postgres, commit, execute, query, query_one, query_opt};
use crate::model::{MaterialImport, RotationType};
use crate::store::StoreResult;
use crate::store::backend::{ImportAs, ImportWrite, Imports};
use deadpool_postgres::Transaction;

/// States in which a key takes imported material (AWS's key-state table).
const IMPORTABLE: &str = "origin = 'EXTERNAL' AND key_state IN ('PendingImport', 'Enabled', \
     'Disabled')";

impl Imports for Postgres {
    fn import_material(
        &self,
        region: &str,
        key_id: &str,
        write: &ImportWrite<'_>,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let current = query_opt(
                &tx,
                &format!(
                    "SELECT current_material_id FROM kms_keys \
                     WHERE region = $1 AND key_id = $2 AND {IMPORTABLE} FOR UPDATE"
                ),
                &[&region, &key_id],
            )
            .await?;
            let Some(current) = current else {
                return Ok(false);
            };
            let current: &str = current.try_get(0)?;
            let done = match write.kind {
                ImportAs::First => import_first(&tx, region, key_id, current, write).await?,
                ImportAs::Existing => reimport(&tx, region, key_id, current, write).await?,
                ImportAs::New => import_new(&tx, region, key_id, current, write).await?,
            };
            if done {
                commit(tx, true).await?;
            }
            Ok(done)
        })
    }

    fn delete_imported_material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        expired_by: Option<i64>,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let key_ok = query_opt(
                &tx,
                "SELECT 1 FROM kms_keys WHERE region = $1 AND key_id = $2 \
                 AND origin = 'EXTERNAL' AND NOT updating AND key_state IN ('Enabled', \
                 'Disabled', 'PendingDeletion', 'PendingReplicaDeletion') FOR UPDATE",
                &[&region, &key_id],
            )
            .await?;
            if key_ok.is_none() {
                return Ok(false);
            }
            let Some(deleted) = query_opt(
                &tx,
                "UPDATE key_materials SET imported = FALSE, wrapped = ''::bytea, \
                 valid_to = NULL WHERE region = $1 AND key_id = $2 AND material_id = $3 \
                 AND imported AND ($4::bigint IS NULL OR valid_to <= $4) \
                 RETURNING pending_rotation",
                &[&region, &key_id, &material_id, &expired_by],
            )
            .await?
            else {
                return Ok(false);
            };
            let pending: bool = deleted.try_get(0)?;
            if !pending {
                execute(
                    &tx,
                    "UPDATE kms_keys SET key_state = CASE WHEN key_state IN ('Enabled', \
                     'Disabled') THEN 'PendingImport' ELSE key_state END, valid_to = CASE \
                     WHEN current_material_id = $3 THEN NULL ELSE valid_to END \
                     WHERE region = $1 AND key_id = $2",
                    &[&region, &key_id, &material_id],
                )
                .await?;
            }
            commit(tx, true).await?;
            Ok(true)
        })
    }

    /// The key's row is locked before the material's, as every import does.
    fn rotate_to_imported(
        &self,
        region: &str,
        key_id: &str,
        expected_current: &str,
        material_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let rotatable = query_opt(
                &tx,
                "SELECT 1 FROM kms_keys WHERE region = $1 AND key_id = $2 \
                 AND current_material_id = $3 AND key_state = 'Enabled' \
                 AND origin = 'EXTERNAL' AND NOT updating FOR UPDATE",
                &[&region, &key_id, &expected_current],
            )
            .await?;
            if rotatable.is_none() {
                return Ok(false);
            }
            let Some(material) = query_opt(
                &tx,
                "UPDATE key_materials SET pending_rotation = FALSE, rotation_type = $4, \
                 creation_date = $5 WHERE region = $1 AND key_id = $2 AND material_id = $3 \
                 AND imported AND pending_rotation RETURNING valid_to",
                &[
                    &region,
                    &key_id,
                    &material_id,
                    &RotationType::OnDemand.as_str(),
                    &now,
                ],
            )
            .await?
            else {
                return Ok(false);
            };
            let valid_to: Option<i64> = material.try_get(0)?;
            execute(
                &tx,
                "UPDATE kms_keys SET current_material_id = $4, valid_to = $5 \
                 WHERE region = $1 AND key_id = $2 AND current_material_id = $3",
                &[&region, &key_id, &expected_current, &material_id, &valid_to],
            )
            .await?;
            commit(tx, true).await?;
            Ok(true)
        })
    }

    /// `seq` is the insertion order.
    fn material_imports(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialImport>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT material_id, creation_date, rotation_type, imported, pending_rotation, \
                 valid_to, description FROM key_materials WHERE region = $1 AND key_id = $2 \
                 ORDER BY pending_rotation, creation_date, seq",
                &[&region, &key_id],
            )
            .await?;
            rows.iter()
                .map(|r| {
                    let rotation: Option<&str> = r.try_get(2)?;
                    Ok(MaterialImport {
                        material_id: r.try_get(0)?,
                        creation_date: r.try_get(1)?,
                        rotation_type: rotation.and_then(RotationType::parse),
                        imported: r.try_get(3)?,
                        pending_rotation: r.try_get(4)?,
                        valid_to: r.try_get(5)?,
                        description: r.try_get(6)?,
                    })
                })
                .collect()
        })
    }

    fn expired_imports(&self, now: i64) -> StoreResult<Vec<(String, String, String)>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT m.region, m.key_id, m.material_id FROM key_materials m JOIN kms_keys k \
                 ON k.region = m.region AND k.key_id = m.key_id WHERE m.imported \
                 AND m.valid_to IS NOT NULL AND m.valid_to <= $1 AND k.origin = 'EXTERNAL' AND k.key_state IN ('Enabled', \
                 'Disabled', 'PendingDeletion', 'PendingReplicaDeletion')",
                &[&now],
            )
            .await?;
            Ok(rows
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, tokio_postgres::Error>>()?)
        })
    }
}

/// The key's first material: it becomes current and the key Enabled.
async fn import_first(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    current: &str,
    write: &ImportWrite<'_>,
) -> StoreResult<bool> {
    if !current.is_empty() {
        return Ok(false);
    }
    execute(
        tx,
        "UPDATE kms_keys SET key_state = CASE WHEN key_state = 'PendingImport' THEN 'Enabled' \
         ELSE key_state END, current_material_id = $3, valid_to = $4 \
         WHERE region = $1 AND key_id = $2",
        &[
            &region,
            &key_id,
            &write.material.material_id,
            &write.valid_to,
        ],
    )
    .await?;
    insert_material(tx, region, key_id, write.material).await?;
    set_import_facts(tx, region, key_id, write).await?;
    Ok(true)
}

/// Material the key has had comes back (or gets a new expiry). A copy whose
/// current material was never in its store (a replica of an imported key)
/// gets its row now. The key is Enabled again once every material it uses
/// is in the store.
async fn reimport(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    current: &str,
    write: &ImportWrite<'_>,
) -> StoreResult<bool> {
    let material = write.material;
    let replaced = execute(
        tx,
        "UPDATE key_materials SET wrapped = $4, tag = $5, imported = TRUE \
         WHERE region = $1 AND key_id = $2 AND material_id = $3",
        &[
            &region,
            &key_id,
            &material.material_id,
            &material.wrapped,
            &material.tag,
        ],
    )
    .await?;
    if replaced == 0 {
        if current != material.material_id {
            return Ok(false);
        }
        insert_material(tx, region, key_id, material).await?;
    }
    set_import_facts(tx, region, key_id, write).await?;
    execute(
        tx,
        "UPDATE kms_keys SET valid_to = $4 WHERE region = $1 AND key_id = $2 \
         AND current_material_id = $3",
        &[&region, &key_id, &material.material_id, &write.valid_to],
    )
    .await?;
    execute(
        tx,
        "UPDATE kms_keys SET key_state = 'Enabled' WHERE region = $1 AND key_id = $2 \
         AND key_state = 'PendingImport' AND NOT EXISTS (SELECT 1 FROM key_materials m \
         WHERE m.region = $1 AND m.key_id = $2 AND NOT m.pending_rotation AND NOT m.imported)",
        &[&region, &key_id],
    )
    .await?;
    Ok(true)
}

/// New material for an on-demand rotation of a key that has its first
/// material: it replaces material that waited for a rotation and was
/// deleted, and is refused while other such material is in the store.
async fn import_new(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    current: &str,
    write: &ImportWrite<'_>,
) -> StoreResult<bool> {
    let blocked: bool = query_one(
        tx,
        "SELECT EXISTS (SELECT 1 FROM key_materials WHERE region = $1 AND key_id = $2 \
         AND (material_id = $3 OR (pending_rotation AND imported)))",
        &[&region, &key_id, &write.material.material_id],
    )
    .await?
    .try_get(0)?;
    if current.is_empty() || blocked {
        return Ok(false);
    }
    execute(
        tx,
        "DELETE FROM key_materials WHERE region = $1 AND key_id = $2 AND pending_rotation",
        &[&region, &key_id],
    )
    .await?;
    insert_material(tx, region, key_id, write.material).await?;
    set_import_facts(tx, region, key_id, write).await?;
    Ok(true)
}

/// Records an import's expiry and (when given) description on its row, and
/// marks new material as waiting for a rotation.
async fn set_import_facts(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    write: &ImportWrite<'_>,
) -> StoreResult<u64> {
    execute(
        tx,
        "UPDATE key_materials SET valid_to = $4, description = COALESCE($5, description), \
         pending_rotation = CASE WHEN $6::boolean THEN TRUE ELSE pending_rotation END \
         WHERE region = $1 AND key_id = $2 AND material_id = $3",
        &[
            &region,
            &key_id,
            &write.material.material_id,
            &write.valid_to,
            &write.description,
            &(write.kind == ImportAs::New),
        ],
    )
    .await
}
