//! Schema migrations: numbered SQL scripts applied in order, each in its own
//! transaction, with the schema version kept in `PRAGMA user_version`.

use rusqlite::Connection;

/// Every migration, in order; version N is the state after the Nth.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_foundation.sql"),
    include_str!("migrations/002_rotation.sql"),
    include_str!("migrations/003_multi_region.sql"),
    include_str!("migrations/004_grants.sql"),
    include_str!("migrations/005_grants_by_grantee.sql"),
    include_str!("migrations/006_public_keys.sql"),
    include_str!("migrations/007_imported_material.sql"),
    include_str!("migrations/008_material_imports.sql"),
];

/// Brings the database up to the newest schema version.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (index, script) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "database schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
