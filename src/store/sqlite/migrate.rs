//! SQLite schema migrations: numbered SQL scripts (`src/store/migrations/`)
//! applied in order, each in its own transaction, with the schema version
//! kept in `PRAGMA user_version`. Each transaction takes the write lock
//! before it reads the version, so processes starting together on one
//! file (nodes of a cluster on one machine) take turns.

use rusqlite::{Connection, TransactionBehavior};

/// Every migration, in order; version N is the state after the Nth.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_foundation.sql"),
    include_str!("../migrations/002_rotation.sql"),
    include_str!("../migrations/003_multi_region.sql"),
    include_str!("../migrations/004_grants.sql"),
    include_str!("../migrations/005_grants_by_grantee.sql"),
    include_str!("../migrations/006_public_keys.sql"),
    include_str!("../migrations/007_imported_material.sql"),
    include_str!("../migrations/008_material_imports.sql"),
    include_str!("../migrations/009_cluster.sql"),
    include_str!("../migrations/010_periodic_query_indexes.sql"),
    include_str!("../migrations/011_keys_by_account.sql"),
    include_str!("../migrations/012_material_row_tags.sql"),
];

/// Brings the database up to the newest schema version.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let Some(script) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "database schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each query a node runs periodically (background jobs, the metrics'
    /// key count), and ListKeys's page, reads only the rows it looks for,
    /// by the index named.
    #[test]
    fn queries_that_could_read_every_key_use_their_indexes() {
        use crate::store::sqlite::{KEY_COUNTS, imports, keys, multi_region, rotation};
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for (query, index) in [
            (rotation::DUE_FOR_ROTATION, "INDEX kms_keys_rotation"),
            (imports::EXPIRED_IMPORTS, "INDEX key_materials_expiry"),
            (keys::DUE_FOR_DELETION, "INDEX kms_keys_due"),
            (
                multi_region::PENDING_PRIMARY_UPDATES,
                "INDEX multi_region_pending",
            ),
            (KEY_COUNTS, "COVERING INDEX kms_keys_by_state"),
            (keys::LIST_KEYS, "COVERING INDEX kms_keys_by_account"),
        ] {
            let mut plan = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap();
            let unbound = std::iter::repeat_n(rusqlite::types::Null, plan.parameter_count());
            let steps: Vec<String> = plan
                .query_map(rusqlite::params_from_iter(unbound), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                steps[0].contains(&format!("USING {index}")),
                "{query}: {steps:?}"
            );
            assert!(
                steps
                    .iter()
                    .all(|s| !s.starts_with("SCAN") || s.contains("INDEX")),
                "{query} reads a table without an index: {steps:?}"
            );
        }
    }

    #[test]
    fn migrates_an_empty_database_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len());
        conn.execute_batch("SELECT multi_region, rotation_period_days FROM kms_keys")
            .unwrap();
    }

    /// Connections opening one new file at once (nodes of a cluster on one
    /// machine starting together) take turns: each migration runs once.
    #[test]
    fn connections_opening_one_new_file_together_migrate_once() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("shared.db");
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || super::super::Sqlite::open(&path).map(drop))
                })
                .collect();
            for open in opens {
                open.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn upgrades_a_foundation_database() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO kms_keys VALUES ('r', 'k', 'a', '', 'Enabled', 'SYMMETRIC_DEFAULT', \
             'ENCRYPT_DECRYPT', 'AWS_KMS', 0, NULL, NULL, 'm', '{}')",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let (multi, period): (i64, Option<i64>) = conn
            .query_row(
                "SELECT multi_region, rotation_period_days FROM kms_keys",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((multi, period), (0, None));
    }

    /// Version 8 gives imported material deleted under version 7 (no row
    /// left, the key's current id kept) a row marked not imported, and
    /// copies the key's expiry onto imported material.
    #[test]
    fn version_8_keeps_deleted_imports_and_expiry_per_material() {
        let mut conn = Connection::open_in_memory().unwrap();
        for script in &MIGRATIONS[..7] {
            conn.execute_batch(script).unwrap();
        }
        conn.pragma_update(None, "user_version", 7).unwrap();
        conn.execute_batch(
            "INSERT INTO kms_keys (region, key_id, account_id, description, key_state, \
             key_spec, key_usage, origin, creation_date, current_material_id, policy, valid_to) \
             VALUES ('r', 'gone', 'a', '', 'PendingImport', 'SYMMETRIC_DEFAULT', \
             'ENCRYPT_DECRYPT', 'EXTERNAL', 5, 'm1', '{}', NULL), \
             ('r', 'here', 'a', '', 'Enabled', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', \
             'EXTERNAL', 5, 'm2', '{}', 99); \
             INSERT INTO key_materials (region, key_id, material_id, wrapped, creation_date) \
             VALUES ('r', 'here', 'm2', X'01', 6);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let rows: Vec<(String, String, i64, Option<i64>, usize)> = conn
            .prepare(
                "SELECT key_id, material_id, imported, valid_to, length(wrapped) \
                 FROM key_materials ORDER BY key_id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                ("gone".into(), "m1".into(), 0, None, 0),
                ("here".into(), "m2".into(), 1, Some(99), 1),
            ]
        );
    }
}
