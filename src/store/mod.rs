//! Metadata store: the only module that touches SQL. [`Store`] is what the
//! rest of Trent uses: it keeps the in-memory copies the hot path reads
//! (`cache`) and hands every query to one backend, chosen by
//! [`StoreLocation`]: SQLite (one file in the data directory, the default)
//! or PostgreSQL (several nodes sharing one database). Each backend has its
//! own SQL and migrations behind the traits of `backend` and gives the same
//! guarantees (ADR 0009, ADR 0015).

mod backend;
mod cache;
mod cached;
mod cluster;
mod location;
mod postgres;
mod sqlite;
mod uncached;
mod warm;

pub use backend::{
    GrantInsert, ImportAs, ImportWrite, KeyChange, RotationCommit, ScheduledDeletion, TagsPut,
};
pub use location::StoreLocation;

use crate::metrics::{LookupCounts, metrics};
use crate::model::KeyState;
use std::sync::Arc;
use std::time::Duration;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// PostgreSQL reported an error.
    #[error("PostgreSQL error: {}", with_causes(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("PostgreSQL connection pool: {}", with_causes(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The database file (or the PostgreSQL client's runtime) could not be
    /// created.
    #[error("database file: {0}")]
    Io(std::io::Error),
    /// `store_url` names no database Trent can use.
    #[error("store_url: {0}")]
    Location(String),
    /// A row holds a value Trent does not know.
    #[error("unreadable row: {0}")]
    Unreadable(String),
    /// A row with the same primary key already exists.
    #[error("already exists")]
    Conflict,
    /// The database did not finish a call within this time.
    #[error("no answer from the database within {0:?}")]
    Timeout(std::time::Duration),
}

impl StoreError {
    /// Whether the database could not be reached or stopped answering (a
    /// refused or lost connection, a server shutting down, a timeout), as
    /// opposed to refusing what was asked: the request may succeed when
    /// retried. Whether a write whose connection was lost was committed is
    /// unknown.
    pub fn unreachable(&self) -> bool {
        match self {
            StoreError::Timeout(_) | StoreError::Pool(_) => true,
            StoreError::Postgres(e) => postgres::unreachable(e),
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DatabaseBusy
            }
            _ => false,
        }
    }
}

/// `e` and the errors that caused it, each after a colon: what failed
/// to connect says why (a refused certificate, a refused password).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

/// Result type of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The metadata database, with in-memory copies of what the hot path reads.
pub struct Store {
    backend: Box<dyn backend::Backend>,
    cache: Arc<cache::MetadataCache>,
    /// Lookups of key records in the cache, for the metrics.
    key_lookups: LookupCounts,
    /// Lookups of materials in the cache, for the metrics.
    material_lookups: LookupCounts,
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `location`.
    /// At most `cache_capacity` keys and materials are cached; a write by
    /// another process sharing the database is noticed within
    /// `max_staleness` (zero disables the key-record cache).
    pub fn open(
        location: &StoreLocation,
        cache_capacity: usize,
        max_staleness: Duration,
    ) -> StoreResult<Self> {
        let cache = Arc::new(cache::MetadataCache::new(cache_capacity, max_staleness));
        let backend: Box<dyn backend::Backend> = match location {
            StoreLocation::Sqlite(path) => Box::new(sqlite::Sqlite::open(path)?),
            StoreLocation::Postgres(url, ca_file) => {
                let notified = cache.clone();
                Box::new(postgres::Postgres::open(
                    url,
                    ca_file.as_deref(),
                    move |version| notified.notified(version),
                )?)
            }
        };
        Ok(Self {
            backend,
            cache,
            key_lookups: metrics().metadata_cache("keys"),
            material_lookups: metrics().metadata_cache("materials"),
        })
    }

    /// Copies the live SQLite database at `source` to the new file `dest`
    /// (mode 0600), consistent as of one commit, while its writers go on
    /// (SQLite's online backup). PostgreSQL is backed up with its own tools.
    pub fn backup_sqlite(source: &std::path::Path, dest: &std::path::Path) -> StoreResult<()> {
        sqlite::backup(source, dest)
    }

    /// Asks the database itself (never the cache) for its data version:
    /// succeeds when the database answers.
    pub fn ping(&self) -> StoreResult<()> {
        self.backend.data_version().map(drop)
    }

    /// How many keys each region holds in each state, counted in the
    /// database (one grouped query, past the cache).
    pub fn key_counts(&self) -> StoreResult<Vec<(String, KeyState, u64)>> {
        self.backend.key_counts()
    }

    /// Whether an acknowledged commit survives a power loss, read from the
    /// connection every read and write goes through: SQLite's `synchronous`
    /// level and journal mode (feature `test-clock`).
    #[cfg(feature = "test-clock")]
    pub fn durability(&self) -> StoreResult<(i64, String)> {
        self.backend.durability()
    }
}
