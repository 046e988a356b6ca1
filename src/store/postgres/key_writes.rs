//! Changes to one copy of a key on PostgreSQL: the statements of the SQLite
//! backend (ADR 0009), each in a transaction that bumps the data version
//! when it changed the key.

use super::{Postgres, commit, execute, query_one, query_opt};
use crate::store::StoreResult;
use crate::store::backend::{KeyChange, KeyWrites, ScheduledDeletion};

/// The SQL and the one parameter of a change (region and key id are $1, $2).
fn statement(change: KeyChange<'_>) -> (&'static str, Option<&str>) {
    match change {
        KeyChange::Description(text) => (
            "UPDATE kms_keys SET description = $3 WHERE region = $1 AND key_id = $2 \
             AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion')",
            Some(text),
        ),
        KeyChange::Policy(text) => (
            "UPDATE kms_keys SET policy = $3 WHERE region = $1 AND key_id = $2",
            Some(text),
        ),
        KeyChange::Enabled(true) => (
            "UPDATE kms_keys SET key_state = 'Enabled' WHERE region = $1 AND key_id = $2 \
             AND key_state = 'Disabled' AND NOT updating",
            None,
        ),
        KeyChange::Enabled(false) => (
            "UPDATE kms_keys SET key_state = 'Disabled' WHERE region = $1 AND key_id = $2 \
             AND key_state = 'Enabled' AND NOT updating",
            None,
        ),
        KeyChange::CancelDeletion => (
            "UPDATE kms_keys SET key_state = CASE WHEN NOT EXISTS (SELECT 1 FROM \
             key_materials m WHERE m.region = kms_keys.region AND m.key_id = kms_keys.key_id \
             AND NOT m.pending_rotation AND m.imported) OR EXISTS (SELECT 1 FROM \
             key_materials m WHERE m.region = kms_keys.region AND m.key_id = kms_keys.key_id \
             AND NOT m.pending_rotation AND NOT m.imported) \
             THEN 'PendingImport' ELSE 'Disabled' END, deletion_date = NULL, \
             pending_window_days = NULL WHERE region = $1 AND key_id = $2 \
             AND key_state IN ('PendingDeletion', 'PendingReplicaDeletion')",
            None,
        ),
    }
}

impl KeyWrites for Postgres {
    fn change_key(&self, region: &str, key_id: &str, change: KeyChange<'_>) -> StoreResult<bool> {
        let (sql, value) = statement(change);
        self.run(async |client| {
            let tx = client.transaction().await?;
            let changed = match value {
                Some(v) => execute(&tx, sql, &[&region, &key_id, &v]).await?,
                None => execute(&tx, sql, &[&region, &key_id]).await?,
            };
            commit(tx, changed > 0).await?;
            Ok(changed == 1)
        })
    }

    /// The key's row is locked first; the replica count is read after, so
    /// it includes every replica committed before (a replica's insert
    /// locks its primary's row too).
    fn schedule_deletion(
        &self,
        region: &str,
        key_id: &str,
        deletion_date: i64,
        window_days: i64,
    ) -> StoreResult<Option<ScheduledDeletion>> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let schedulable = query_opt(
                &tx,
                "SELECT 1 FROM kms_keys WHERE region = $1 AND key_id = $2 \
                 AND key_state IN ('Enabled', 'Disabled', 'PendingImport') AND NOT updating \
                 FOR UPDATE",
                &[&region, &key_id],
            )
            .await?;
            if schedulable.is_none() {
                return Ok(None);
            }
            let waits: bool = query_one(
                &tx,
                "SELECT EXISTS (SELECT 1 FROM multi_region_keys m WHERE m.key_id = $2 \
                 AND m.primary_region = $1) \
                 AND (SELECT COUNT(*) FROM kms_keys o WHERE o.key_id = $2) > 1",
                &[&region, &key_id],
            )
            .await?
            .try_get(0)?;
            let scheduled = ScheduledDeletion::new(waits, deletion_date);
            execute(
                &tx,
                "UPDATE kms_keys SET key_state = $3, deletion_date = $4, \
                 pending_window_days = $5 WHERE region = $1 AND key_id = $2",
                &[
                    &region,
                    &key_id,
                    &scheduled.state.as_str(),
                    &scheduled.deletion_date,
                    &window_days,
                ],
            )
            .await?;
            commit(tx, true).await?;
            Ok(Some(scheduled))
        })
    }
}
