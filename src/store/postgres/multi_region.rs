//! Multi-Region keys on PostgreSQL: where the copies are, adding a replica
//! atomically, and moving the primary.

use super::rows::{insert_key_row, insert_material, insert_tags, read_key, texts};
use super::{Postgres, commit, conflict, execute, lock_copies, query, query_opt};
use crate::model::{KeyRecord, MaterialRecord, MultiRegionRecord, Tag};
use crate::store::StoreResult;
use crate::store::backend::MultiRegion;
use deadpool_postgres::GenericClient;
use tokio_postgres::IsolationLevel;

impl MultiRegion for Postgres {
    fn multi_region(&self, key_id: &str) -> StoreResult<Option<MultiRegionRecord>> {
        self.run(async |client| copies(&*client, key_id).await)
    }

    /// One read-only REPEATABLE READ transaction: one snapshot.
    fn key_with_copies(
        &self,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Option<(KeyRecord, Option<MultiRegionRecord>)>> {
        self.run(async |client| {
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let Some(key) = read_key(&tx, region, key_id).await? else {
                return Ok(None);
            };
            let copies = copies(&tx, key_id).await?;
            tx.commit().await?;
            Ok(Some((key, copies)))
        })
    }

    /// The primary's row is locked while it is checked and the replica
    /// inserted: a rotation or a scheduled deletion of the primary waits,
    /// or is waited for.
    fn insert_replica(
        &self,
        replica: &KeyRecord,
        primary_region: &str,
        materials: &[MaterialRecord],
        tags: &[Tag],
        expected_current: &str,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let current = query_opt(
                &tx,
                "SELECT current_material_id FROM kms_keys WHERE region = $1 AND key_id = $2 \
                 AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion') FOR UPDATE",
                &[&primary_region, &replica.key_id],
            )
            .await?;
            let current: Option<&str> = current.as_ref().map(|r| r.try_get(0)).transpose()?;
            if current != Some(expected_current) {
                return Ok(false);
            }
            insert_key_row(&tx, replica).await.map_err(conflict)?;
            for material in materials {
                insert_material(&tx, &replica.region, &replica.key_id, material).await?;
            }
            insert_tags(&tx, &replica.region, &replica.key_id, tags).await?;
            commit(tx, true).await?;
            Ok(true)
        })
    }

    fn begin_primary_update(&self, key_id: &str, from: &str, to: &str) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let claimed = execute(
                &tx,
                "UPDATE multi_region_keys SET pending_primary = $3 \
                 WHERE key_id = $1 AND primary_region = $2 AND pending_primary IS NULL",
                &[&key_id, &from, &to],
            )
            .await?;
            if claimed != 1 {
                return Ok(false);
            }
            lock_copies(&tx, key_id).await?;
            execute(
                &tx,
                "UPDATE kms_keys SET updating = TRUE WHERE key_id = $1 AND region IN ($2, $3)",
                &[&key_id, &from, &to],
            )
            .await?;
            commit(tx, true).await?;
            Ok(true)
        })
    }

    fn pending_primary_updates(&self) -> StoreResult<Vec<String>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT key_id FROM multi_region_keys WHERE pending_primary IS NOT NULL",
                &[],
            )
            .await?;
            texts(&rows)
        })
    }

    fn complete_primary_update(&self, key_id: &str) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let done = execute(
                &tx,
                "UPDATE multi_region_keys SET primary_region = pending_primary, \
                 pending_primary = NULL WHERE key_id = $1 AND pending_primary IS NOT NULL",
                &[&key_id],
            )
            .await?;
            lock_copies(&tx, key_id).await?;
            let released = execute(
                &tx,
                "UPDATE kms_keys SET updating = FALSE WHERE key_id = $1 AND updating",
                &[&key_id],
            )
            .await?;
            commit(tx, done + released > 0).await?;
            Ok(done == 1)
        })
    }

    fn start_primary_deletions(&self, now: i64) -> StoreResult<usize> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            let started = execute(
                &tx,
                "UPDATE kms_keys SET key_state = 'PendingDeletion', \
                 deletion_date = $1 + pending_window_days * 86400000 \
                 WHERE key_state = 'PendingReplicaDeletion' \
                 AND (SELECT COUNT(*) FROM kms_keys o WHERE o.key_id = kms_keys.key_id) = 1",
                &[&now],
            )
            .await?;
            commit(tx, started > 0).await?;
            Ok(started as usize)
        })
    }
}

/// Where the copies of a multi-Region key are, if it is one.
async fn copies(
    client: &impl GenericClient,
    key_id: &str,
) -> StoreResult<Option<MultiRegionRecord>> {
    let Some(row) = query_opt(
        client,
        "SELECT primary_region, pending_primary FROM multi_region_keys WHERE key_id = $1",
        &[&key_id],
    )
    .await?
    else {
        return Ok(None);
    };
    let regions = query(
        client,
        "SELECT region FROM kms_keys WHERE key_id = $1 ORDER BY region",
        &[&key_id],
    )
    .await?;
    Ok(Some(MultiRegionRecord {
        primary_region: row.try_get(0)?,
        pending_primary: row.try_get(1)?,
        regions: texts(&regions)?,
    }))
}
