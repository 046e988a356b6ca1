//! Imported key material (keys of origin `EXTERNAL`) on SQLite: recording an import
//! (the first, a re-import, or new material for an on-demand rotation),
//! deleting material, rotating to imported material, and finding material
//! whose time is up. Each change is one transaction whose conditions restate
//! the key state it needs (ADR 0009).

use super::Sqlite;
use super::rows::insert_material;
use crate::model::{MaterialImport, RotationType};
use crate::store::StoreResult;
use crate::store::backend::{ImportAs, ImportWrite, Imports};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

/// Imported materials whose `valid_to` has passed, of keys that still use
/// them, through the index of materials that expire.
pub(super) const EXPIRED_IMPORTS: &str = "SELECT m.region, m.key_id, m.material_id \
     FROM key_materials m JOIN kms_keys k ON k.region = m.region AND k.key_id = m.key_id \
     WHERE m.imported = 1 AND m.valid_to IS NOT NULL AND m.valid_to <= ?1 \
     AND k.origin = 'EXTERNAL' \
     AND +k.key_state IN ('Enabled', 'Disabled', 'PendingDeletion', 'PendingReplicaDeletion')";

/// States in which a key takes imported material (AWS's key-state table).
const IMPORTABLE: &str = "origin = 'EXTERNAL' AND key_state IN ('PendingImport', 'Enabled', \
     'Disabled')";

impl Imports for Sqlite {
    fn import_material(
        &self,
        region: &str,
        key_id: &str,
        write: &ImportWrite<'_>,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<String> = tx
            .query_row(
                &format!(
                    "SELECT current_material_id FROM kms_keys \
                     WHERE region = ?1 AND key_id = ?2 AND {IMPORTABLE}"
                ),
                params![region, key_id],
                |r| r.get(0),
            )
            .optional()?;
        let done = match current {
            None => false,
            Some(current) => match write.kind {
                ImportAs::First => import_first(&tx, region, key_id, &current, write)?,
                ImportAs::Existing => reimport(&tx, region, key_id, &current, write)?,
                ImportAs::New => import_new(&tx, region, key_id, &current, write)?,
            },
        };
        if done {
            tx.commit()?;
        }
        Ok(done)
    }

    fn delete_imported_material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
        expired_by: Option<i64>,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key_ok: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM kms_keys WHERE region = ?1 AND key_id = ?2 \
             AND origin = 'EXTERNAL' AND updating = 0 AND key_state IN ('Enabled', \
             'Disabled', 'PendingDeletion', 'PendingReplicaDeletion'))",
            params![region, key_id],
            |r| r.get(0),
        )?;
        let pending: Option<bool> = match key_ok {
            false => None,
            true => tx
                .query_row(
                    "UPDATE key_materials SET imported = 0, wrapped = X'', valid_to = NULL \
                     WHERE region = ?1 AND key_id = ?2 AND material_id = ?3 \
                     AND imported = 1 AND (?4 IS NULL OR valid_to <= ?4) \
                     RETURNING pending_rotation",
                    params![region, key_id, material_id, expired_by],
                    |r| r.get(0),
                )
                .optional()?,
        };
        if pending == Some(false) {
            tx.execute(
                "UPDATE kms_keys SET key_state = CASE WHEN key_state IN ('Enabled', \
                 'Disabled') THEN 'PendingImport' ELSE key_state END, valid_to = CASE \
                 WHEN current_material_id = ?3 THEN NULL ELSE valid_to END \
                 WHERE region = ?1 AND key_id = ?2",
                params![region, key_id, material_id],
            )?;
        }
        tx.commit()?;
        Ok(pending.is_some())
    }

    fn rotate_to_imported(
        &self,
        region: &str,
        key_id: &str,
        expected_current: &str,
        material_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let valid_to: Option<Option<i64>> = tx
            .query_row(
                "UPDATE key_materials SET pending_rotation = 0, rotation_type = ?4, \
                 creation_date = ?5 WHERE region = ?1 AND key_id = ?2 AND material_id = ?3 \
                 AND imported = 1 AND pending_rotation = 1 RETURNING valid_to",
                params![
                    region,
                    key_id,
                    material_id,
                    RotationType::OnDemand.as_str(),
                    now
                ],
                |r| r.get(0),
            )
            .optional()?;
        let switched = match valid_to {
            None => 0,
            Some(valid_to) => tx.execute(
                "UPDATE kms_keys SET current_material_id = ?4, valid_to = ?5 \
                 WHERE region = ?1 AND key_id = ?2 AND current_material_id = ?3 \
                 AND key_state = 'Enabled' AND origin = 'EXTERNAL' AND updating = 0",
                params![region, key_id, expected_current, material_id, valid_to],
            )?,
        };
        if switched == 1 {
            tx.commit()?;
        }
        Ok(switched == 1)
    }

    fn material_imports(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialImport>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT material_id, creation_date, rotation_type, imported, pending_rotation, \
             valid_to, description FROM key_materials WHERE region = ?1 AND key_id = ?2 \
             ORDER BY pending_rotation, creation_date, rowid",
        )?;
        let rows = stmt.query_map(params![region, key_id], |r| {
            let rotation: Option<String> = r.get(2)?;
            Ok(MaterialImport {
                material_id: r.get(0)?,
                creation_date: r.get(1)?,
                rotation_type: rotation.as_deref().and_then(RotationType::parse),
                imported: r.get(3)?,
                pending_rotation: r.get(4)?,
                valid_to: r.get(5)?,
                description: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn expired_imports(&self, now: i64) -> StoreResult<Vec<(String, String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(EXPIRED_IMPORTS)?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The key's first material: it becomes current and the key Enabled.
fn import_first(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    current: &str,
    write: &ImportWrite<'_>,
) -> rusqlite::Result<bool> {
    if !current.is_empty() {
        return Ok(false);
    }
    tx.execute(
        "UPDATE kms_keys SET key_state = CASE WHEN key_state = 'PendingImport' THEN 'Enabled' \
         ELSE key_state END, current_material_id = ?3, valid_to = ?4 \
         WHERE region = ?1 AND key_id = ?2",
        params![region, key_id, write.material.material_id, write.valid_to],
    )?;
    insert_material(tx, region, key_id, write.material)?;
    set_import_facts(tx, region, key_id, write)?;
    Ok(true)
}

/// Material the key has had comes back (or gets a new expiry). A copy whose
/// current material was never in its store (a replica of an imported key)
/// gets its row now. The key is Enabled again once every material it uses
/// is in the store.
fn reimport(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    current: &str,
    write: &ImportWrite<'_>,
) -> rusqlite::Result<bool> {
    let material = write.material;
    let replaced = tx.execute(
        "UPDATE key_materials SET wrapped = ?4, tag = ?5, imported = 1 \
         WHERE region = ?1 AND key_id = ?2 AND material_id = ?3",
        params![
            region,
            key_id,
            material.material_id,
            material.wrapped,
            material.tag
        ],
    )?;
    if replaced == 0 {
        if current != material.material_id {
            return Ok(false);
        }
        insert_material(tx, region, key_id, material)?;
    }
    set_import_facts(tx, region, key_id, write)?;
    tx.execute(
        "UPDATE kms_keys SET valid_to = ?4 WHERE region = ?1 AND key_id = ?2 \
         AND current_material_id = ?3",
        params![region, key_id, material.material_id, write.valid_to],
    )?;
    tx.execute(
        "UPDATE kms_keys SET key_state = 'Enabled' WHERE region = ?1 AND key_id = ?2 \
         AND key_state = 'PendingImport' AND NOT EXISTS (SELECT 1 FROM key_materials m \
         WHERE m.region = ?1 AND m.key_id = ?2 AND m.pending_rotation = 0 AND m.imported = 0)",
        params![region, key_id],
    )?;
    Ok(true)
}

/// New material for an on-demand rotation of a key that has its first
/// material: it replaces material that waited for a rotation and was
/// deleted, and is refused while other such material is in the store.
fn import_new(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    current: &str,
    write: &ImportWrite<'_>,
) -> rusqlite::Result<bool> {
    let blocked: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM key_materials WHERE region = ?1 AND key_id = ?2 \
         AND (material_id = ?3 OR (pending_rotation = 1 AND imported = 1)))",
        params![region, key_id, write.material.material_id],
        |r| r.get(0),
    )?;
    if current.is_empty() || blocked {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM key_materials WHERE region = ?1 AND key_id = ?2 AND pending_rotation = 1",
        params![region, key_id],
    )?;
    insert_material(tx, region, key_id, write.material)?;
    set_import_facts(tx, region, key_id, write)?;
    Ok(true)
}

/// Records an import's expiry and (when given) description on its row, and
/// marks new material as waiting for a rotation.
fn set_import_facts(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    write: &ImportWrite<'_>,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE key_materials SET valid_to = ?4, description = COALESCE(?5, description), \
         pending_rotation = CASE WHEN ?6 THEN 1 ELSE pending_rotation END \
         WHERE region = ?1 AND key_id = ?2 AND material_id = ?3",
        params![
            region,
            key_id,
            write.material.material_id,
            write.valid_to,
            write.description,
            write.kind == ImportAs::New
        ],
    )
}
