//! Rows of the PostgreSQL tables as model records, and the inserts that
//! more than one write shares.

use super::{execute, query_opt};
use crate::model::{
    AliasRecord, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialRecord, RotationType, Tag,
};
use crate::store::{StoreError, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

/// The columns of `kms_keys`, in [`key_from_row`]'s order.
pub(super) const KEY_COLUMNS: &str = "region, key_id, account_id, description, key_state, \
     key_spec, key_usage, origin, creation_date, deletion_date, pending_window_days, \
     current_material_id, policy, rotation_period_days, next_rotation_date, multi_region, \
     updating, valid_to";
/// How many [`KEY_COLUMNS`] there are.
pub(super) const KEY_COLUMN_COUNT: usize = 18;
/// The columns of `key_materials`, in [`material_from_row`]'s order.
pub(super) const MATERIAL_COLUMNS: &str =
    "material_id, wrapped, creation_date, rotation_type, public_key, tag";
/// Material a key may use: in the store, and not waiting for a rotation.
pub(super) const USABLE: &str = "imported AND NOT pending_rotation";

/// `columns` (a list like [`KEY_COLUMNS`]) qualified by a table alias.
pub(super) fn qualified(columns: &str, table: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A text column holding one of a closed set of names.
pub(super) fn named<T>(row: &Row, column: usize, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    let text: &str = row.try_get(column)?;
    parse(text).ok_or_else(|| {
        StoreError::Unreadable(format!("column {column} holds unknown value {text:?}"))
    })
}

/// A key record from the [`KEY_COLUMNS`].
pub(super) fn key_from_row(row: &Row) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        region: row.try_get(0)?,
        key_id: row.try_get(1)?,
        account_id: row.try_get(2)?,
        description: row.try_get(3)?,
        state: named(row, 4, KeyState::parse)?,
        key_spec: named(row, 5, KeySpec::parse)?,
        key_usage: named(row, 6, KeyUsage::parse)?,
        origin: row.try_get(7)?,
        creation_date: row.try_get(8)?,
        deletion_date: row.try_get(9)?,
        pending_window_days: row.try_get(10)?,
        current_material_id: row.try_get(11)?,
        policy: row.try_get::<_, &str>(12)?.into(),
        rotation_period_days: row.try_get(13)?,
        next_rotation_date: row.try_get(14)?,
        multi_region: row.try_get(15)?,
        updating: row.try_get(16)?,
        arn: Default::default(),
        valid_to: row.try_get(17)?,
    })
}

/// One key row by its primary key.
pub(super) async fn read_key(
    client: &impl GenericClient,
    region: &str,
    key_id: &str,
) -> StoreResult<Option<KeyRecord>> {
    let row = query_opt(
        client,
        &format!("SELECT {KEY_COLUMNS} FROM kms_keys WHERE region = $1 AND key_id = $2"),
        &[&region, &key_id],
    )
    .await?;
    row.map(|row| key_from_row(&row)).transpose()
}

/// Inserts a key row.
pub(super) async fn insert_key_row(
    client: &impl GenericClient,
    key: &KeyRecord,
) -> StoreResult<u64> {
    let policy: &str = &key.policy;
    execute(
        client,
        &format!(
            "INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        ),
        &[
            &key.region,
            &key.key_id,
            &key.account_id,
            &key.description,
            &key.state.as_str(),
            &key.key_spec.as_str(),
            &key.key_usage.as_str(),
            &key.origin,
            &key.creation_date,
            &key.deletion_date,
            &key.pending_window_days,
            &key.current_material_id,
            &policy,
            &key.rotation_period_days,
            &key.next_rotation_date,
            &key.multi_region,
            &key.updating,
            &key.valid_to,
        ],
    )
    .await
}

/// Inserts a key's tags.
pub(super) async fn insert_tags(
    client: &impl GenericClient,
    region: &str,
    key_id: &str,
    tags: &[Tag],
) -> StoreResult<()> {
    for tag in tags {
        execute(
            client,
            "INSERT INTO key_tags (region, key_id, tag_key, tag_value) VALUES ($1, $2, $3, $4)",
            &[&region, &key_id, &tag.key, &tag.value],
        )
        .await?;
    }
    Ok(())
}

/// One material row by its primary key.
pub(super) async fn read_material(
    client: &impl GenericClient,
    region: &str,
    key_id: &str,
    material_id: &str,
) -> StoreResult<Option<MaterialRecord>> {
    let row = query_opt(
        client,
        &format!(
            "SELECT {MATERIAL_COLUMNS} FROM key_materials WHERE region = $1 AND key_id = $2 \
             AND material_id = $3 AND {USABLE}"
        ),
        &[&region, &key_id, &material_id],
    )
    .await?;
    row.map(|row| material_from_row(&row, 0)).transpose()
}

/// A material record from the [`MATERIAL_COLUMNS`], starting at column `at`.
pub(super) fn material_from_row(row: &Row, at: usize) -> StoreResult<MaterialRecord> {
    let rotation: Option<&str> = row.try_get(at + 3)?;
    Ok(MaterialRecord {
        material_id: row.try_get(at)?,
        wrapped: row.try_get(at + 1)?,
        creation_date: row.try_get(at + 2)?,
        rotation_type: rotation.and_then(RotationType::parse),
        public_key: row.try_get(at + 4)?,
        tag: row.try_get(at + 5)?,
    })
}

/// Inserts one material of a key.
pub(super) async fn insert_material(
    client: &impl GenericClient,
    region: &str,
    key_id: &str,
    material: &MaterialRecord,
) -> StoreResult<u64> {
    execute(
        client,
        "INSERT INTO key_materials (region, key_id, material_id, wrapped, creation_date, \
         rotation_type, public_key, tag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &region,
            &key_id,
            &material.material_id,
            &material.wrapped,
            &material.creation_date,
            &material.rotation_type.map(RotationType::as_str),
            &material.public_key,
            &material.tag,
        ],
    )
    .await
}

/// An alias record.
pub(super) fn alias_from_row(row: &Row) -> StoreResult<AliasRecord> {
    Ok(AliasRecord {
        alias_name: row.try_get(0)?,
        key_id: row.try_get(1)?,
        creation_date: row.try_get(2)?,
        last_updated: row.try_get(3)?,
    })
}

/// The first column of every row, as text.
pub(super) fn texts(rows: &[Row]) -> StoreResult<Vec<String>> {
    Ok(rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?)
}

/// The (region, key id) pairs of rows that select those two columns.
pub(super) fn region_key_pairs(rows: &[Row]) -> StoreResult<Vec<(String, String)>> {
    Ok(rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?)
}
