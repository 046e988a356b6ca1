//! Aliases on PostgreSQL.

use super::rows::{alias_from_row, texts};
use super::{Postgres, commit, conflict, execute, lock_usable_key, query, query_opt};
use crate::model::AliasRecord;
use crate::store::StoreResult;
use crate::store::backend::Aliases;

/// The columns [`alias_from_row`] reads.
const ALIAS_COLUMNS: &str = "alias_name, key_id, creation_date, last_updated";

impl Aliases for Postgres {
    /// The key's row is share-locked while the alias is inserted, so the
    /// key cannot be deleted or scheduled for deletion meanwhile.
    fn insert_alias(
        &self,
        region: &str,
        account_id: &str,
        alias: &AliasRecord,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            if !lock_usable_key(&tx, region, &alias.key_id, false).await? {
                return Ok(false);
            }
            execute(
                &tx,
                "INSERT INTO aliases (region, account_id, alias_name, key_id, creation_date, \
                 last_updated) VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &region,
                    &account_id,
                    &alias.alias_name,
                    &alias.key_id,
                    &alias.creation_date,
                    &alias.last_updated,
                ],
            )
            .await
            .map_err(conflict)?;
            commit(tx, false).await?;
            Ok(true)
        })
    }

    fn alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<AliasRecord>> {
        self.run(async |client| {
            let row = query_opt(
                &*client,
                &format!(
                    "SELECT {ALIAS_COLUMNS} FROM aliases \
                     WHERE region = $1 AND account_id = $2 AND alias_name = $3"
                ),
                &[&region, &account_id, &name],
            )
            .await?;
            row.map(|row| alias_from_row(&row)).transpose()
        })
    }

    fn retarget_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        from: &str,
        to: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let changed = execute(
                &*client,
                "UPDATE aliases SET key_id = $5, last_updated = $6 \
                 WHERE region = $1 AND account_id = $2 AND alias_name = $3 AND key_id = $4",
                &[&region, &account_id, &name, &from, &to, &now],
            )
            .await?;
            Ok(changed == 1)
        })
    }

    fn delete_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        key_id: &str,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let changed = execute(
                &*client,
                "DELETE FROM aliases WHERE region = $1 AND account_id = $2 \
                 AND alias_name = $3 AND key_id = $4",
                &[&region, &account_id, &name, &key_id],
            )
            .await?;
            Ok(changed == 1)
        })
    }

    fn aliases_of_key(
        &self,
        region: &str,
        account_id: &str,
        key_id: &str,
    ) -> StoreResult<Vec<String>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT alias_name FROM aliases WHERE region = $1 AND account_id = $2 \
                 AND key_id = $3 ORDER BY alias_name",
                &[&region, &account_id, &key_id],
            )
            .await?;
            texts(&rows)
        })
    }

    fn list_aliases(
        &self,
        region: &str,
        account_id: &str,
        key_id: Option<&str>,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        let limit = limit as i64;
        self.run(async |client| {
            let rows = query(
                &*client,
                &format!(
                    "SELECT {ALIAS_COLUMNS} FROM aliases \
                     WHERE region = $1 AND account_id = $2 \
                     AND ($3::text IS NULL OR key_id = $3) \
                     AND alias_name > $4 ORDER BY alias_name LIMIT $5"
                ),
                &[&region, &account_id, &key_id, &after, &limit],
            )
            .await?;
            rows.iter().map(alias_from_row).collect()
        })
    }
}
