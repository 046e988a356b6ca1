//! Metadata store: the only module that touches SQL. SQLite is the embedded
//! default; the SQL is kept portable so a PostgreSQL back end can share it.

mod cache;
mod grants;
mod imports;
mod key_writes;
mod migrate;
mod multi_region;
mod rotation;
mod warm;

use crate::model::{
    AliasRecord, KeyRecord, KeySpec, KeyState, KeyUsage, MaterialRecord, RotationType, Tag,
};
pub use grants::GrantInsert;
pub use imports::{ImportAs, ImportWrite};
pub use key_writes::{KeyChange, ScheduledDeletion};
pub use rotation::RotationCommit;

use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database file could not be created.
    #[error("database file: {0}")]
    Io(std::io::Error),
    /// A row with the same primary key already exists.
    #[error("already exists")]
    Conflict,
}

/// What became of a TagResource write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagsPut {
    /// Written.
    Done,
    /// Not written: the key would have had this many tags.
    TooMany(usize),
    /// Not written: the key is gone or pending deletion.
    KeyUnavailable,
}

/// Result type of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The metadata database, with in-memory copies of what the hot path reads.
pub struct Store {
    conn: Mutex<Connection>,
    cache: cache::MetadataCache,
}

const KEY_COLUMNS: &str = "region, key_id, account_id, description, key_state, key_spec, \
     key_usage, origin, creation_date, deletion_date, pending_window_days, \
     current_material_id, policy, rotation_period_days, next_rotation_date, multi_region, \
     updating, valid_to";
const MATERIAL_COLUMNS: &str = "material_id, wrapped, creation_date, rotation_type, public_key";
/// Material a key may use: in the store, and not waiting for a rotation.
const USABLE: &str = "imported = 1 AND pending_rotation = 0";

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`.
    /// At most `cache_capacity` keys and materials are cached; a write by
    /// another process sharing the file is noticed within `max_staleness`
    /// (zero disables the key-record cache).
    pub fn open(path: &Path, cache_capacity: usize, max_staleness: Duration) -> StoreResult<Self> {
        create_private_file(path)?;
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate::migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            cache: cache::MetadataCache::new(cache_capacity, max_staleness),
        })
    }

    /// `PRAGMA synchronous` and `journal_mode` of the connection every
    /// read and write goes through (feature `test-clock`).
    #[cfg(feature = "test-clock")]
    pub fn durability(&self) -> StoreResult<(i64, String)> {
        let conn = self.conn();
        let synchronous = conn.pragma_query_value(None, "synchronous", |row| row.get(0))?;
        let journal = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        Ok((synchronous, journal))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts a new key with its first material (none for a key waiting
    /// for imported material) and tags, atomically. A multi-Region key is
    /// recorded with this copy as its primary.
    pub fn insert_key(
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
        self.cache.forget_key(&key.key_id);
        // A new key is usually used next: cache what was just written.
        self.cache.put_key(self.cache.generation(), key.clone());
        if let Some(material) = material {
            self.cache.put_material(&key.region, &key.key_id, material);
        }
        Ok(())
    }

    /// One key's metadata.
    pub fn key(&self, region: &str, key_id: &str) -> StoreResult<Option<Arc<KeyRecord>>> {
        if self.cache.needs_validation() {
            self.cache.revalidate(|| {
                self.conn()
                    .pragma_query_value(None, "data_version", |row| row.get::<_, i64>(0))
            })?;
        }
        if let Some(record) = self.cache.key(region, key_id) {
            return Ok(Some(record));
        }
        let generation = self.cache.generation();
        let record = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM kms_keys WHERE region = ?1 AND key_id = ?2"
            ))?
            .query_row(params![region, key_id], key_from_row)
            .optional()?;
        Ok(record.map(|record| self.cache.put_key(generation, record)))
    }

    /// One wrapped material of a key.
    pub fn material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
    ) -> StoreResult<Option<MaterialRecord>> {
        if let Some(material) = self.cache.material(region, key_id, material_id) {
            return Ok(Some(material));
        }
        let material = read_material(&self.conn(), region, key_id, material_id)?;
        if let Some(material) = &material {
            self.cache.put_material(region, key_id, material);
        }
        Ok(material)
    }

    /// Every material of a key that it may use, oldest first.
    pub fn materials(&self, region: &str, key_id: &str) -> StoreResult<Vec<MaterialRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {MATERIAL_COLUMNS} FROM key_materials WHERE region = ?1 AND key_id = ?2 \
             AND {USABLE} ORDER BY creation_date, rowid"
        ))?;
        let rows = stmt.query_map(params![region, key_id], material_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Key ids of an account in a region, in id order, after `after`.
    pub fn list_keys(
        &self,
        region: &str,
        account_id: &str,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT key_id FROM kms_keys WHERE region = ?1 AND account_id = ?2 AND key_id > ?3 \
             ORDER BY key_id LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![region, account_id, after, limit as i64], |r| {
            r.get(0)
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keys whose scheduled deletion is due at `now`, as (region, key id).
    pub fn due_for_deletion(&self, now: i64) -> StoreResult<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT region, key_id FROM kms_keys \
             WHERE key_state = 'PendingDeletion' AND deletion_date <= ?1",
        )?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a key and everything attached to it, if its deletion is still
    /// due at `now`. The conditional delete is the claim: of several nodes,
    /// exactly one sees `true`.
    pub fn delete_key_if_due(&self, region: &str, key_id: &str, now: i64) -> StoreResult<bool> {
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
        self.cache.forget_key(key_id);
        Ok(claimed == 1)
    }

    /// Creates an alias, if its key exists and is not pending deletion (else
    /// false, in the same statement); `Conflict` if the name is taken.
    pub fn insert_alias(
        &self,
        region: &str,
        account_id: &str,
        alias: &AliasRecord,
    ) -> StoreResult<bool> {
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO aliases (region, account_id, alias_name, key_id, creation_date, \
                 last_updated) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM \
                 kms_keys WHERE region = ?1 AND key_id = ?4 \
                 AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion'))",
                params![
                    region,
                    account_id,
                    alias.alias_name,
                    alias.key_id,
                    alias.creation_date,
                    alias.last_updated
                ],
            )
            .map_err(conflict)?;
        Ok(inserted == 1)
    }

    /// One alias by name.
    pub fn alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<AliasRecord>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT alias_name, key_id, creation_date, last_updated FROM aliases \
                 WHERE region = ?1 AND account_id = ?2 AND alias_name = ?3",
            )?
            .query_row(params![region, account_id, name], alias_from_row)
            .optional()?)
    }

    /// Points an existing alias at another key, if it still points at
    /// `from` (compare-and-swap); false otherwise.
    pub fn retarget_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "UPDATE aliases SET key_id = ?5, last_updated = ?6 \
             WHERE region = ?1 AND account_id = ?2 AND alias_name = ?3 AND key_id = ?4",
            params![region, account_id, name, from, to, now],
        )?;
        Ok(changed == 1)
    }

    /// Deletes an alias if it still points at `key_id`; false otherwise.
    pub fn delete_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        key_id: &str,
    ) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "DELETE FROM aliases WHERE region = ?1 AND account_id = ?2 AND alias_name = ?3 \
             AND key_id = ?4",
            params![region, account_id, name, key_id],
        )?;
        Ok(changed == 1)
    }

    /// The names of every alias of a key, in name order.
    pub fn aliases_of_key(
        &self,
        region: &str,
        account_id: &str,
        key_id: &str,
    ) -> StoreResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT alias_name FROM aliases WHERE region = ?1 AND account_id = ?2 \
             AND key_id = ?3 ORDER BY alias_name",
        )?;
        let rows = stmt.query_map(params![region, account_id, key_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Aliases of an account (optionally of one key), in name order, after `after`.
    pub fn list_aliases(
        &self,
        region: &str,
        account_id: &str,
        key_id: Option<&str>,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT alias_name, key_id, creation_date, last_updated FROM aliases \
             WHERE region = ?1 AND account_id = ?2 AND (?3 IS NULL OR key_id = ?3) \
             AND alias_name > ?4 ORDER BY alias_name LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![region, account_id, key_id, after, limit as i64],
            alias_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds or overwrites tags on a key, if the key exists, is not pending
    /// deletion, and ends with at most `max` tags; the checks and the writes
    /// are one IMMEDIATE transaction.
    pub fn put_tags(
        &self,
        region: &str,
        key_id: &str,
        tags: &[Tag],
        max: usize,
    ) -> StoreResult<TagsPut> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if !key_usable(&tx, region, key_id)? {
            return Ok(TagsPut::KeyUnavailable);
        }
        for tag in tags {
            tx.execute(
                "INSERT INTO key_tags (region, key_id, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (region, key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                params![region, key_id, tag.key, tag.value],
            )?;
        }
        let count: i64 = tx.query_row(
            "SELECT COUNT(*) FROM key_tags WHERE region = ?1 AND key_id = ?2",
            params![region, key_id],
            |r| r.get(0),
        )?;
        if count as usize > max {
            return Ok(TagsPut::TooMany(count as usize));
        }
        tx.commit()?;
        Ok(TagsPut::Done)
    }

    /// Removes tags by key; absent ones are ignored.
    pub fn remove_tags(&self, region: &str, key_id: &str, tag_keys: &[String]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for tag_key in tag_keys {
            tx.execute(
                "DELETE FROM key_tags WHERE region = ?1 AND key_id = ?2 AND tag_key = ?3",
                params![region, key_id, tag_key],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A key's tags in key order.
    pub fn tags(&self, region: &str, key_id: &str) -> StoreResult<Vec<Tag>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT tag_key, tag_value FROM key_tags WHERE region = ?1 AND key_id = ?2 \
             ORDER BY tag_key",
        )?;
        let rows = stmt.query_map(params![region, key_id], |r| {
            Ok(Tag {
                key: r.get(0)?,
                value: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Creates the database file readable by its owner only (SQLite gives its
/// -wal and -shm files the same mode).
fn create_private_file(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io(e)),
    }
}

/// Whether a key exists and is not pending deletion, read inside the
/// transaction of the write that depends on it.
fn key_usable(tx: &rusqlite::Transaction<'_>, region: &str, key_id: &str) -> StoreResult<bool> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM kms_keys WHERE region = ?1 AND key_id = ?2 \
         AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion'))",
        params![region, key_id],
        |r| r.get(0),
    )?)
}

fn conflict(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict,
        _ => StoreError::Sql(e),
    }
}

/// A text column holding one of a closed set of names.
fn named<T>(row: &Row<'_>, column: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("unknown value {text:?}").into(),
        )
    })
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
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
        valid_to: row.get(17)?,
    })
}

fn insert_key_row(tx: &rusqlite::Transaction<'_>, key: &KeyRecord) -> rusqlite::Result<usize> {
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

fn insert_tags(
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
fn read_material(
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

fn material_from_row(row: &Row<'_>) -> rusqlite::Result<MaterialRecord> {
    let rotation: Option<String> = row.get(3)?;
    Ok(MaterialRecord {
        material_id: row.get(0)?,
        wrapped: row.get(1)?,
        creation_date: row.get(2)?,
        rotation_type: rotation.as_deref().and_then(RotationType::parse),
        public_key: row.get(4)?,
    })
}

fn insert_material(
    tx: &rusqlite::Transaction<'_>,
    region: &str,
    key_id: &str,
    material: &MaterialRecord,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO key_materials (region, key_id, material_id, wrapped, creation_date, \
         rotation_type, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            region,
            key_id,
            material.material_id,
            material.wrapped,
            material.creation_date,
            material.rotation_type.map(RotationType::as_str),
            material.public_key,
        ],
    )
}

fn alias_from_row(row: &Row<'_>) -> rusqlite::Result<AliasRecord> {
    Ok(AliasRecord {
        alias_name: row.get(0)?,
        key_id: row.get(1)?,
        creation_date: row.get(2)?,
        last_updated: row.get(3)?,
    })
}
