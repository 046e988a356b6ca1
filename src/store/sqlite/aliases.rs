//! Aliases on SQLite.

use super::rows::alias_from_row;
use super::{Sqlite, conflict};
use crate::model::AliasRecord;
use crate::store::StoreResult;
use crate::store::backend::Aliases;
use rusqlite::{OptionalExtension, params};

impl Aliases for Sqlite {
    fn insert_alias(
        &self,
        region: &str,
        account_id: &str,
        alias: &AliasRecord,
    ) -> StoreResult<bool> {
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO aliases (region, account_id, alias_name, key_id, creation_date, \
                 last_updated) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM \
                 kms_keys WHERE region = ?1 AND key_id = ?4 \
                 AND key_state NOT IN ('PendingDeletion', 'PendingReplicaDeletion'))",
                params![
                    region,
                    account_id,
                    alias.alias_name,
                    alias.key_id,
                    alias.creation_date,
                    alias.last_updated
                ],
            )
            .map_err(conflict)?;
        Ok(inserted == 1)
    }

    fn alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
    ) -> StoreResult<Option<AliasRecord>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT alias_name, key_id, creation_date, last_updated FROM aliases \
                 WHERE region = ?1 AND account_id = ?2 AND alias_name = ?3",
            )?
            .query_row(params![region, account_id, name], alias_from_row)
            .optional()?)
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
        let changed = self.conn().execute(
            "UPDATE aliases SET key_id = ?5, last_updated = ?6 \
             WHERE region = ?1 AND account_id = ?2 AND alias_name = ?3 AND key_id = ?4",
            params![region, account_id, name, from, to, now],
        )?;
        Ok(changed == 1)
    }

    fn delete_alias(
        &self,
        region: &str,
        account_id: &str,
        name: &str,
        key_id: &str,
    ) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "DELETE FROM aliases WHERE region = ?1 AND account_id = ?2 AND alias_name = ?3 \
             AND key_id = ?4",
            params![region, account_id, name, key_id],
        )?;
        Ok(changed == 1)
    }

    fn aliases_of_key(
        &self,
        region: &str,
        account_id: &str,
        key_id: &str,
    ) -> StoreResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT alias_name FROM aliases WHERE region = ?1 AND account_id = ?2 \
             AND key_id = ?3 ORDER BY alias_name",
        )?;
        let rows = stmt.query_map(params![region, account_id, key_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_aliases(
        &self,
        region: &str,
        account_id: &str,
        key_id: Option<&str>,
        after: &str,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT alias_name, key_id, creation_date, last_updated FROM aliases \
             WHERE region = ?1 AND account_id = ?2 AND (?3 IS NULL OR key_id = ?3) \
             AND alias_name > ?4 ORDER BY alias_name LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![region, account_id, key_id, after, limit as i64],
            alias_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
