//! The PostgreSQL backend, for several Trent nodes sharing one database.
//!
//! The store's API is synchronous and its callers are blocking threads
//! (`spawn_blocking`, start-up, the background jobs), so each call runs
//! tokio-postgres's async client to completion with `Handle::block_on` on a
//! one-worker runtime of the backend's own, which also drives the pooled
//! connections (deadpool). A few callers run on an async worker of the
//! server's runtime (inline crypto on a cache miss, the test-clock store
//! endpoint): `block_in_place` hands that worker's other tasks to another
//! thread first, as a blocking SQLite call there would need.
//!
//! What stands in for SQLite's guarantees (ADR 0015):
//! - every transaction that changes what the metadata cache copies (keys,
//!   materials, multi-Region records) bumps `store_version.version` before
//!   it commits, and sends the new version on the channel `trent_store`
//!   (NOTIFY, delivered at the commit): the `data_version` other nodes poll,
//!   and a connection of each node's listens for (`listen`);
//! - a write that must read before it writes (IMMEDIATE on SQLite) first
//!   locks the key's row(s) with `SELECT ... FOR UPDATE` (`FOR SHARE` where
//!   it only needs the key to stay), in its own statement, then reads: under
//!   READ COMMITTED each later statement sees everything committed before
//!   the lock was granted, and every writer of those rows waits for it;
//! - conditional writes keep their WHERE clauses (ADR 0009);
//! - `key_materials.seq` (an identity column) is SQLite's `rowid` order;
//! - identifiers compare byte by byte (`COLLATE "C"`), as in SQLite, so
//!   listings and their markers page in the same order;
//! - the schema version is the row of `schema_version`.
//!
//! A transaction PostgreSQL aborts for a deadlock or a serialization
//! failure is run again.

mod aliases;
mod cluster;
mod grants;
mod imports;
mod key_writes;
mod keys;
mod listen;
mod migrate;
mod multi_region;
mod rotation;
mod row_tags;
mod rows;
mod tags;
#[cfg(test)]
mod tests;
mod tls;

use super::backend::Backend;
use super::{StoreError, StoreResult};
use crate::model::KeyState;
use deadpool_postgres::{
    Client, GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction,
};
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
use std::time::Duration;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

/// Connections per node.
const POOL_SIZE: usize = 16;
/// How long a call waits for a connection (to be free, or to be made).
const POOL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long making a connection may take, unless the URL says
/// (`connect_timeout`): a database host that does not answer is reported
/// after this, not after the operating system's own TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long making a pooled connection may take in all: the TCP
/// connection, then PostgreSQL's start-up and authentication, which a
/// frozen server never answers.
const CREATE_TIMEOUT: Duration = Duration::from_secs(6);
/// How long one attempt at a call (a query or a transaction, once it has
/// its connection) may take before it is abandoned with its connection:
/// a database that stopped answering fails requests instead of hanging
/// them.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long bringing the schema up to date at start-up may take.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(3600);
/// Attempts at a transaction that PostgreSQL aborted for a conflict.
const ATTEMPTS: usize = 4;

/// Parameters of a statement.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A PostgreSQL database.
pub(super) struct Postgres {
    pool: Pool,
    /// Drives the connections; shut down without waiting when dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Postgres {
    /// Connects to the database at `url` and brings its schema up to date;
    /// then calls `on_change` whenever a transaction that changed what the
    /// metadata cache copies has committed (with the data version after it),
    /// and with `None` each time the listening connection was (re)made,
    /// since notifications may have been missed meanwhile.
    pub(super) fn open(
        url: &SecretString,
        ca_file: Option<&Path>,
        on_change: impl Fn(Option<i64>) + Send + Sync + 'static,
    ) -> StoreResult<Self> {
        let config = parse(url)?;
        let tls = tls::connector(ca_file)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("trent-postgres")
            .enable_all()
            .build()
            .map_err(StoreError::Io)?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(CREATE_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let backend = Self {
            pool,
            runtime: Some(runtime),
        };
        backend.run_within(MIGRATION_TIMEOUT, async |client| {
            migrate::migrate(client).await
        })?;
        if let Some(runtime) = &backend.runtime {
            runtime.spawn(listen::listen(config, tls, on_change));
        }
        if !backend.run(async |client| commits_flushed(client).await)? {
            tracing::warn!(
                "PostgreSQL does not flush every commit (fsync or synchronous_commit is off): \
                 an acknowledged change can be lost in a crash"
            );
        }
        Ok(backend)
    }

    /// Runs `work` on a pooled connection to completion, from a blocking
    /// caller; again when PostgreSQL aborted it for a deadlock or a
    /// serialization failure (nothing of an aborted transaction stays).
    /// An attempt that outlives `CALL_TIMEOUT` is abandoned, and its
    /// connection closed rather than pooled, since its state is unknown.
    fn run<T>(&self, work: impl AsyncFn(&mut Client) -> StoreResult<T>) -> StoreResult<T> {
        self.run_within(CALL_TIMEOUT, work)
    }

    /// [`Self::run`] with attempts bounded by `timeout`.
    fn run_within<T>(
        &self,
        timeout: Duration,
        work: impl AsyncFn(&mut Client) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let runtime = self.runtime.as_ref().expect("runtime lives until drop");
        let attempts = async {
            let mut attempt = 1;
            loop {
                let mut client = self.pool.get().await?;
                let outcome = tokio::time::timeout(timeout, work(&mut client)).await;
                let Ok(outcome) = outcome else {
                    drop(deadpool_postgres::Object::take(client));
                    return Err(StoreError::Timeout(timeout));
                };
                match outcome {
                    Err(StoreError::Postgres(e)) if attempt < ATTEMPTS && retryable(&e) => {
                        tracing::debug!(error = %e, attempt, "PostgreSQL transaction run again");
                        attempt += 1;
                    }
                    done => return done,
                }
            }
        };
        tokio::task::block_in_place(|| runtime.handle().block_on(attempts))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Backend for Postgres {
    /// The version every write of what the cache copies bumps.
    fn data_version(&self) -> StoreResult<i64> {
        self.run(async |client| {
            let row = query_one(&*client, "SELECT version FROM store_version", &[]).await?;
            Ok(row.try_get(0)?)
        })
    }

    fn key_counts(&self) -> StoreResult<Vec<(String, KeyState, u64)>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT region, key_state, COUNT(*) FROM kms_keys GROUP BY region, key_state",
                &[],
            )
            .await?;
            rows.iter()
                .map(|r| {
                    let count: i64 = r.try_get(2)?;
                    Ok((
                        r.try_get(0)?,
                        rows::named(r, 1, KeyState::parse)?,
                        u64::try_from(count).unwrap_or(0),
                    ))
                })
                .collect()
        })
    }

    /// PostgreSQL always writes ahead (`wal`); a commit is flushed
    /// (`synchronous` 2, SQLite's FULL) when `fsync` is on and
    /// `synchronous_commit` is not off.
    #[cfg(feature = "test-clock")]
    fn durability(&self) -> StoreResult<(i64, String)> {
        let flushed = self.run(async |client| commits_flushed(client).await)?;
        Ok((if flushed { 2 } else { 0 }, "wal".into()))
    }
}

/// Whether the server flushes every commit to disk before acknowledging it.
async fn commits_flushed(client: &Client) -> StoreResult<bool> {
    let fsync: String = query_one(client, "SHOW fsync", &[]).await?.try_get(0)?;
    let sync: String = query_one(client, "SHOW synchronous_commit", &[])
        .await?
        .try_get(0)?;
    Ok(fsync == "on" && sync != "off")
}

/// Whether a failed transaction may simply be run again: PostgreSQL rolled
/// it back whole. (Not so a lost connection, after which a commit may or
/// may not have happened.)
fn retryable(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
        || e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Whether `e` says the server could not be reached or went away (a
/// connection refused, lost or closed; a server shutting down or starting
/// up), rather than refusing a statement.
pub(super) fn unreachable(e: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    let io = e
        .source()
        .is_some_and(|source| source.is::<std::io::Error>());
    let shutting_down = [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
    ];
    e.is_closed()
        || io
        || e.code()
            .is_some_and(|code| code.code().starts_with("08") || shutting_down.contains(code))
}

/// Commits `tx`, bumping the data version first when the transaction
/// changed what the metadata cache copies, so that other nodes drop their
/// copies (`changed`), and notifying the listening nodes of the new
/// version (PostgreSQL delivers it when, and only if, the transaction
/// commits). The version row is locked last, just before the commit, so
/// transactions never wait for each other in a circle over it.
async fn commit(tx: Transaction<'_>, changed: bool) -> StoreResult<()> {
    if changed {
        query_one(
            &tx,
            "WITH bumped AS (UPDATE store_version SET version = version + 1 RETURNING version) \
             SELECT pg_notify($1, version::text) FROM bumped",
            &[&listen::CHANNEL],
        )
        .await?;
    }
    Ok(tx.commit().await?)
}

/// Runs one statement (prepared once per connection); rows changed.
async fn execute(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, params).await?)
}

/// Every row of a query.
async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Vec<Row>> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query(&statement, params).await?)
}

/// The row of a query that returns at most one.
async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Option<Row>> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_opt(&statement, params).await?)
}

/// The row of a query that returns exactly one.
async fn query_one(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    let statement = client.prepare_cached(sql).await?;
    Ok(client.query_one(&statement, params).await?)
}

/// Whether a key exists and is not pending deletion, locking its row
/// against every other writer until the transaction ends (`FOR UPDATE`, or
/// `FOR SHARE` when `exclusive` is false: other readers that lock it the
/// same way may go on).
async fn lock_usable_key(
    tx: &Transaction<'_>,
    region: &str,
    key_id: &str,
    exclusive: bool,
) -> StoreResult<bool> {
    let sql = if exclusive {
        "SELECT 1 FROM kms_keys WHERE region = $1 AND key_id = $2 \
         AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion') FOR UPDATE"
    } else {
        "SELECT 1 FROM kms_keys WHERE region = $1 AND key_id = $2 \
         AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion') FOR SHARE"
    };
    Ok(query_opt(tx, sql, &[&region, &key_id]).await?.is_some())
}

/// Locks every copy of a key, in region order (every writer of several
/// copies locks them in the same order, so none waits for another in a
/// circle).
async fn lock_copies(tx: &Transaction<'_>, key_id: &str) -> StoreResult<()> {
    query(
        tx,
        "SELECT 1 FROM kms_keys WHERE key_id = $1 ORDER BY region FOR UPDATE",
        &[&key_id],
    )
    .await?;
    Ok(())
}

/// A unique violation (an existing row) is a `Conflict`.
fn conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            StoreError::Conflict
        }
        e => e,
    }
}

/// The connection settings of a PostgreSQL URL. Its parse error names the
/// option at fault, never a value (the password is one).
fn parse(url: &SecretString) -> StoreResult<tokio_postgres::Config> {
    let mut config: tokio_postgres::Config = tls::as_client_parses(url.expose_secret())
        .parse()
        .map_err(|e| StoreError::Location(format!("not a valid PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if !url.expose_secret().contains("sslmode=") && tls::leaves_the_host(&config) {
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
    }
    Ok(config)
}

/// Checks that `url` is a PostgreSQL URL this backend can use.
pub(super) fn check_url(url: &SecretString) -> StoreResult<()> {
    parse(url).map(drop)
}

/// `url` without its password (nor any other option): user, hosts, ports
/// and database.
pub(super) fn redacted(url: &SecretString) -> String {
    let Ok(config) = parse(url) else {
        return "(invalid URL)".into();
    };
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = match host {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.last()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let user = config
        .get_user()
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let database = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{database}", hosts.join(","))
}
