//! PostgreSQL schema migrations: numbered SQL scripts
//! (`src/store/postgres/migrations/`) applied in order, with the schema
//! version in the one row of `schema_version`. Nodes starting together take
//! turns through an advisory lock; each migration commits with its version.

use super::{Client, execute, query_opt};
use crate::store::StoreResult;

/// Every migration, in order; version N is the state after the Nth.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_schema.sql"),
    include_str!("migrations/002_cluster.sql"),
    include_str!("migrations/003_periodic_query_indexes.sql"),
    include_str!("migrations/004_keys_by_account.sql"),
    include_str!("migrations/005_material_row_tags.sql"),
];

/// The advisory lock migrating nodes take turns on ("trent" in ASCII).
const MIGRATION_LOCK: i64 = 0x74_72_65_6e_74;

/// Brings the database up to the newest schema version.
pub(super) async fn migrate(client: &mut Client) -> StoreResult<()> {
    for (index, script) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        let tx = client.transaction().await?;
        execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL); \
             INSERT INTO schema_version (version) \
             SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
        )
        .await?;
        let current: i64 = query_opt(&tx, "SELECT version FROM schema_version", &[])
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
            .unwrap_or(0);
        if current >= version {
            continue;
        }
        tx.batch_execute(script).await?;
        execute(&tx, "UPDATE schema_version SET version = $1", &[&version]).await?;
        tx.commit().await?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}
