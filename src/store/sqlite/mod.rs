//! The SQLite backend: one database file in the data directory, one
//! connection behind a mutex for writes (and reads off the hot path), a few
//! read-only ones for what the metadata cache misses, WAL with
//! `synchronous=FULL`. Writes that must read first run in `BEGIN IMMEDIATE`
//! transactions, which take the database's write lock at once, across
//! processes. Schema in `src/store/migrations/`, version in
//! `PRAGMA user_version`.

mod aliases;
mod backup;
mod cluster;
mod grants;
mod imports;
mod key_writes;
mod keys;
mod migrate;
mod multi_region;
mod readers;
mod rotation;
mod row_tags;
mod rows;
mod tags;

pub(super) use backup::backup;

use super::backend::Backend;
use super::{StoreError, StoreResult};
use crate::model::KeyState;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// SQLite's page cache, in KiB.
const PAGE_CACHE_KIB: i64 = 64 * 1024;

/// How long a connection waits for another's lock before it gives up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Keys by region and state, for the metrics (from the covering index).
const KEY_COUNTS: &str =
    "SELECT region, key_state, COUNT(*) FROM kms_keys GROUP BY region, key_state";

/// A SQLite database file.
pub(super) struct Sqlite {
    /// The connection that writes, and reads what is not on the hot path.
    conn: Mutex<Connection>,
    /// Connections for the reads a cache miss makes.
    readers: readers::Readers,
}

impl Sqlite {
    /// Opens (creating if needed, readable by its owner only) and migrates
    /// the database at `path`.
    pub(super) fn open(path: &Path) -> StoreResult<Self> {
        create_private_file(path)?;
        let mut conn = Connection::open(path)?;
        // First, so that a process starting at the same moment as another
        // on the same file waits for its locks rather than failing.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Switching a new file to WAL can still answer SQLITE_BUSY at once
        // while another process does the same (the busy handler is not
        // always consulted there): such a start-up step is tried again.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match prepare(&mut conn) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                done => break done?,
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
            readers: readers::Readers::open(path)?,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for Sqlite {
    /// SQLite's `data_version`: it moves when another connection commits.
    fn data_version(&self) -> StoreResult<i64> {
        Ok(self
            .conn()
            .pragma_query_value(None, "data_version", |row| row.get(0))?)
    }

    fn key_counts(&self) -> StoreResult<Vec<(String, KeyState, u64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(KEY_COUNTS)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                rows::named(r, 1, KeyState::parse)?,
                u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    #[cfg(feature = "test-clock")]
    fn durability(&self) -> StoreResult<(i64, String)> {
        let conn = self.conn();
        let synchronous = conn.pragma_query_value(None, "synchronous", |row| row.get(0))?;
        let journal = conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        Ok((synchronous, journal))
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
        rusqlite::params![region, key_id],
        |r| r.get(0),
    )?)
}

/// A constraint violation (an existing row) is a `Conflict`.
fn conflict(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict,
        _ => StoreError::Sql(e),
    }
}

/// WAL journal, full sync and the newest schema on a fresh connection.
fn prepare(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Pages kept in memory (negative: KiB), so that a key the metadata
    // cache misses is read without going to the operating system for the
    // index pages above it. SQLite's default, 2 MiB, holds the upper
    // levels of the key and material B-trees only up to some 100,000 keys.
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
    migrate::migrate(conn)
}
