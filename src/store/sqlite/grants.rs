//! Grants on SQLite.

use super::{Sqlite, key_usable};
use crate::model::GrantRecord;
use crate::store::StoreResult;
use crate::store::backend::{GrantInsert, Grants};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

const GRANT_COLUMNS: &str = "grant_id, region, key_id, name, grantee, retiring, operations, \
     constraints, issuing_account, creation_date, token";

impl Grants for Sqlite {
    /// The checks and the insert are one IMMEDIATE transaction, so
    /// concurrent CreateGrant calls cannot pass the limit together.
    fn insert_grant(&self, grant: &GrantRecord, limit: usize) -> StoreResult<GrantInsert> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !key_usable(&tx, &grant.region, &grant.key_id)? {
            return Ok(GrantInsert::KeyUnavailable);
        }
        let count: i64 = tx.query_row(
            "SELECT COUNT(*) FROM grants WHERE region = ?1 AND key_id = ?2",
            params![grant.region, grant.key_id],
            |r| r.get(0),
        )?;
        if count as usize >= limit {
            return Ok(GrantInsert::LimitReached);
        }
        tx.execute(
            &format!(
                "INSERT INTO grants ({GRANT_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                grant.grant_id,
                grant.region,
                grant.key_id,
                grant.name,
                grant.grantee,
                grant.retiring,
                grant.operations.join(","),
                grant.constraints,
                grant.issuing_account,
                grant.creation_date,
                grant.token
            ],
        )?;
        tx.commit()?;
        Ok(GrantInsert::Inserted)
    }

    /// Through the grantee index.
    fn grants_for(
        &self,
        region: &str,
        key_id: &str,
        grantees: [&str; 2],
    ) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            &format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE region = ?1 AND key_id = ?2 \
                 AND grantee IN (?3, ?4) ORDER BY creation_date, grant_id"
            ),
            params![region, key_id, grantees[0], grantees[1]],
        )
    }

    fn grants_named(
        &self,
        region: &str,
        key_id: &str,
        name: &str,
    ) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            &format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE region = ?1 AND key_id = ?2 \
                 AND name = ?3 ORDER BY creation_date, grant_id"
            ),
            params![region, key_id, name],
        )
    }

    fn grant(
        &self,
        region: &str,
        key_id: &str,
        grant_id: &str,
    ) -> StoreResult<Option<GrantRecord>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE grant_id = ?1 AND region = ?2 \
                 AND key_id = ?3"
            ))?
            .query_row(params![grant_id, region, key_id], grant_from_row)
            .optional()?)
    }

    fn grants_of_key(&self, region: &str, key_id: &str) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            &format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE region = ?1 AND key_id = ?2 \
                 ORDER BY creation_date, grant_id"
            ),
            params![region, key_id],
        )
    }

    fn grants_retirable_by(&self, region: &str, retiring: &str) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            &format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE region = ?1 AND retiring = ?2 \
                 ORDER BY creation_date, grant_id"
            ),
            params![region, retiring],
        )
    }

    fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE token = ?1"
            ))?
            .query_row(params![token], grant_from_row)
            .optional()?)
    }

    fn delete_grant(&self, grant_id: &str) -> StoreResult<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM grants WHERE grant_id = ?1", params![grant_id])?
            == 1)
    }
}

impl Sqlite {
    fn query_grants(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> StoreResult<Vec<GrantRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(args, grant_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn grant_from_row(row: &Row<'_>) -> rusqlite::Result<GrantRecord> {
    let operations: String = row.get(6)?;
    Ok(GrantRecord {
        grant_id: row.get(0)?,
        region: row.get(1)?,
        key_id: row.get(2)?,
        name: row.get(3)?,
        grantee: row.get(4)?,
        retiring: row.get(5)?,
        operations: operations.split(',').map(str::to_string).collect(),
        constraints: row.get(7)?,
        issuing_account: row.get(8)?,
        creation_date: row.get(9)?,
        token: row.get(10)?,
    })
}
