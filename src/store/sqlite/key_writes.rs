//! Changes to one copy of a key on SQLite. Each change writes only its own
//! columns, in one statement (or one IMMEDIATE transaction) whose WHERE
//! clause restates the state the change requires, so concurrent writers, in
//! this process or another on the same database, never undo each other
//! (ADR 0009).

use super::Sqlite;
use crate::store::StoreResult;
use crate::store::backend::{KeyChange, KeyWrites, ScheduledDeletion};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// The SQL and the one parameter of a change (region and key id are ?1, ?2).
fn statement(change: KeyChange<'_>) -> (&'static str, Option<&str>) {
    match change {
        KeyChange::Description(text) => (
            "UPDATE kms_keys SET description = ?3 WHERE region = ?1 AND key_id = ?2 \
             AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion')",
            Some(text),
        ),
        KeyChange::Policy(text) => (
            "UPDATE kms_keys SET policy = ?3 WHERE region = ?1 AND key_id = ?2",
            Some(text),
        ),
        KeyChange::Enabled(true) => (
            "UPDATE kms_keys SET key_state = 'Enabled' WHERE region = ?1 AND key_id = ?2 \
             AND key_state = 'Disabled' AND updating = 0",
            None,
        ),
        KeyChange::Enabled(false) => (
            "UPDATE kms_keys SET key_state = 'Disabled' WHERE region = ?1 AND key_id = ?2 \
             AND key_state = 'Enabled' AND updating = 0",
            None,
        ),
        KeyChange::CancelDeletion => (
            "UPDATE kms_keys SET key_state = CASE WHEN NOT EXISTS (SELECT 1 FROM \
             key_materials m WHERE m.region = kms_keys.region AND m.key_id = kms_keys.key_id \
             AND m.pending_rotation = 0 AND m.imported = 1) OR EXISTS (SELECT 1 FROM \
             key_materials m WHERE m.region = kms_keys.region AND m.key_id = kms_keys.key_id \
             AND m.pending_rotation = 0 AND m.imported = 0) \
             THEN 'PendingImport' ELSE 'Disabled' END, deletion_date = NULL, \
             pending_window_days = NULL WHERE region = ?1 AND key_id = ?2 \
             AND key_state IN ('PendingDeletion', 'PendingReplicaDeletion')",
            None,
        ),
    }
}

impl KeyWrites for Sqlite {
    fn change_key(&self, region: &str, key_id: &str, change: KeyChange<'_>) -> StoreResult<bool> {
        let (sql, value) = statement(change);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let changed = match value {
            Some(v) => stmt.execute(params![region, key_id, v])?,
            None => stmt.execute(params![region, key_id])?,
        };
        Ok(changed == 1)
    }

    /// The replica count is read in the same IMMEDIATE transaction as the
    /// write.
    fn schedule_deletion(
        &self,
        region: &str,
        key_id: &str,
        deletion_date: i64,
        window_days: i64,
    ) -> StoreResult<Option<ScheduledDeletion>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let waits: Option<bool> = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM multi_region_keys m WHERE m.key_id = k.key_id \
                 AND m.primary_region = k.region) \
                 AND (SELECT COUNT(*) FROM kms_keys o WHERE o.key_id = k.key_id) > 1 \
                 FROM kms_keys k WHERE region = ?1 AND key_id = ?2 \
                 AND key_state IN ('Enabled', 'Disabled', 'PendingImport') AND updating = 0",
                params![region, key_id],
                |r| r.get(0),
            )
            .optional()?;
        match waits {
            None => Ok(None),
            Some(waits) => {
                let scheduled = ScheduledDeletion::new(waits, deletion_date);
                tx.execute(
                    "UPDATE kms_keys SET key_state = ?3, deletion_date = ?4, \
                     pending_window_days = ?5 WHERE region = ?1 AND key_id = ?2",
                    params![
                        region,
                        key_id,
                        scheduled.state.as_str(),
                        scheduled.deletion_date,
                        window_days
                    ],
                )?;
                tx.commit()?;
                Ok(Some(scheduled))
            }
        }
    }
}
