//! Changes to one copy of a key. Each change writes only its own columns, in
//! one statement (or one IMMEDIATE transaction) whose WHERE clause restates
//! the state the change requires, so concurrent writers, in this process or
//! another on the same database, never undo each other (ADR 0009).

use super::{Store, StoreResult};
use crate::model::KeyState;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// A change to one copy of a key's own fields.
#[derive(Clone, Copy, Debug)]
pub enum KeyChange<'a> {
    /// New description; refused while the key is pending deletion.
    Description(&'a str),
    /// New key policy; allowed in every key state, as in AWS KMS.
    Policy(&'a str),
    /// Enabled (true) from Disabled, or Disabled (false) from Enabled;
    /// refused when the key is in any other state (already the one asked
    /// for, pending deletion) or its primary Region is being updated.
    Enabled(bool),
    /// Back from a pending deletion to Disabled (to PendingImport for a key
    /// without material); refused unless the key is pending deletion.
    CancelDeletion,
}

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

/// A scheduled deletion as committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledDeletion {
    /// PendingDeletion, or PendingReplicaDeletion for a primary that waits
    /// for its replicas.
    pub state: KeyState,
    /// When the deletion takes effect; `None` while waiting for replicas.
    pub deletion_date: Option<i64>,
}

impl Store {
    /// Applies `change` to one copy of a key if the key is in a state that
    /// allows it. False when it is not (or the key is gone); the cached
    /// record is dropped either way, so the next read sees the database.
    pub fn change_key(
        &self,
        region: &str,
        key_id: &str,
        change: KeyChange<'_>,
    ) -> StoreResult<bool> {
        let (sql, value) = statement(change);
        let changed = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(sql)?;
            match value {
                Some(v) => stmt.execute(params![region, key_id, v])?,
                None => stmt.execute(params![region, key_id])?,
            }
        };
        self.cache.forget_key(key_id);
        Ok(changed == 1)
    }

    /// Schedules a key's deletion at `deletion_date` (a waiting period of
    /// `window_days`), if it is Enabled or Disabled and not Updating (else
    /// `None`). A multi-Region primary that
    /// still has replicas becomes PendingReplicaDeletion with no date yet;
    /// the replica count is read in the same transaction as the write.
    pub fn schedule_deletion(
        &self,
        region: &str,
        key_id: &str,
        deletion_date: i64,
        window_days: i64,
    ) -> StoreResult<Option<ScheduledDeletion>> {
        let scheduled = {
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
                None => None,
                Some(waits) => {
                    let scheduled = if waits {
                        ScheduledDeletion {
                            state: KeyState::PendingReplicaDeletion,
                            deletion_date: None,
                        }
                    } else {
                        ScheduledDeletion {
                            state: KeyState::PendingDeletion,
                            deletion_date: Some(deletion_date),
                        }
                    };
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
                    Some(scheduled)
                }
            }
        };
        self.cache.forget_key(key_id);
        Ok(scheduled)
    }
}
