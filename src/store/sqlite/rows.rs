//! Rows of the SQLite tables as model records, and the inserts that more
//! than one write shares.

use crate::model::{
    AliasRecord, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialRecord, RotationType, Tag,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The columns of `kms_keys`, in [`key_from_row`]'s order.
pub(super) const KEY_COLUMNS: &str = "region, key_id, account_id, description, key_state, \
     key_spec, key_usage, origin, creation_date, deletion_date, pending_window_days, \
     current_material_id, policy, rotation_period_days, next_rotation_date, multi_region, \
     updating, valid_to";
/// The columns of `key_materials`, in [`material_from_row`]'s order.
pub(super) const MATERIAL_COLUMNS: &str =
    "material_id, wrapped, creation_date, rotation_type, public_key, tag";
/// Material a key may use: in the store, and not waiting for a rotation.
pub(super) const USABLE: &str = "imported = 1 AND pending_rotation = 0";

/// A text column holding one of a closed set of names.
pub(super) fn named<T>(
    row: &Row<'_>,
    column: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("unknown value {text:?}").into(),
        )
    })
}

/// A key record from the [`KEY_COLUMNS`].
pub(super) fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        region: row.get(0)?,
        key_id: row.get(1)?,
        account_id: row.get(2)?,
        description: row.get(3)?,
        state: named(row, 4, KeyState::parse)?,
        key_spec: named(row, 5, KeySpec::parse)?,
        key_usage: named(row, 6, KeyUsage::parse)?,
        origin: row.get(7)?,
        creation_date: row.get(8)?,
        deletion_date: row.get(9)?,
        pending_window_days: row.get(10)?,
        current_material_id: row.get(11)?,
        policy: row.get(12)?,
        rotation_period_days: row.get(13)?,
        next_rotation_date: row.get(14)?,
        multi_region: row.get(15)?,
        updating: row.get(16)?,
        arn: Default::default(),
        valid_to: row.get(17)?,
    })
}

/// One key row by its primary key.
pub(super) fn read_key(
    conn: &Connection,
    region: &str,
    key_id: &str,
) -> rusqlite::Result<Option<KeyRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM kms_keys WHERE region = ?1 AND key_id = ?2"
    ))?
    .query_row(params![region, key_id], key_from_row)
    .optional()
}

/// Inserts a key row.
pub(super) fn insert_key_row(
    tx: &rusqlite::Transaction<'_>,
    key: &KeyRecord,
) -> rusqlite::Result<usize> {
    tx.execute(
        &format!(
            "INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
        ),
        params![
            key.region,
            key.key_id,
            key.account_id,
            key.description,
            key.state.as_str(),
            key.key_spec.as_str(),
            key.key_usage.as_str(),
            key.origin,
            key.creation_date,
            key.deletion_date,
            key.pending_window_days,
            key.current_material_id,
            key.policy,
            key.rotation_period_days,
            key.next_rotation_date,
            key.multi_region,
            key.updating,
            key.valid_to,
        ],
    )
}

/// Inserts a key's tags.
pub(super) fn insert_tags(
    tx: &rusqlite::Transaction<'_>,
    region: &str,
    key_id: &str,
    tags: &[Tag],
) -> rusqlite::Result<()> {
    for tag in tags {
        tx.execute(
            "INSERT INTO key_tags (region, key_id, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4)",
            params![region, key_id, tag.key, tag.value],
        )?;
    }
    Ok(())
}

/// One material row by its primary key.
pub(super) fn read_material(
    conn: &Connection,
    region: &str,
    key_id: &str,
    material_id: &str,
) -> rusqlite::Result<Option<MaterialRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {MATERIAL_COLUMNS} FROM key_materials WHERE region = ?1 AND key_id = ?2 \
         AND material_id = ?3 AND {USABLE}"
    ))?
    .query_row(params![region, key_id, material_id], material_from_row)
    .optional()
}

/// A material record from the [`MATERIAL_COLUMNS`].
pub(super) fn material_from_row(row: &Row<'_>) -> rusqlite::Result<MaterialRecord> {
    let rotation: Option<String> = row.get(3)?;
    Ok(MaterialRecord {
        material_id: row.get(0)?,
        wrapped: row.get(1)?,
        creation_date: row.get(2)?,
        rotation_type: rotation.as_deref().and_then(RotationType::parse),
        public_key: row.get(4)?,
        tag: row.get(5)?,
    })
}

/// Inserts one material of a key.
pub(super) fn insert_material(
    tx: &rusqlite::Transaction<'_>,
    region: &str,
    key_id: &str,
    material: &MaterialRecord,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO key_materials (region, key_id, material_id, wrapped, creation_date, \
         rotation_type, public_key, tag) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            region,
            key_id,
            material.material_id,
            material.wrapped,
            material.creation_date,
            material.rotation_type.map(RotationType::as_str),
            material.public_key,
            material.tag,
        ],
    )
}

/// An alias record.
pub(super) fn alias_from_row(row: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        alias_name: row.get(0)?,
        key_id: row.get(1)?,
        creation_date: row.get(2)?,
        last_updated: row.get(3)?,
    })
}
