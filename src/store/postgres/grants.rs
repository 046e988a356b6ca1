//! Grants on PostgreSQL.

use super::{Postgres, commit, execute, lock_usable_key, query, query_one, query_opt};
use crate::model::GrantRecord;
use crate::store::StoreResult;
use crate::store::backend::{GrantInsert, Grants};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

const GRANT_COLUMNS: &str = "grant_id, region, key_id, name, grantee, retiring, operations, \
     constraints, issuing_account, creation_date, token";

impl Grants for Postgres {
    /// The key's row is locked first: concurrent CreateGrant calls on one
    /// key take turns, so they cannot pass the limit together.
    fn insert_grant(&self, grant: &GrantRecord, limit: usize) -> StoreResult<GrantInsert> {
        let operations = grant.operations.join(",");
        self.run(async |client| {
            let tx = client.transaction().await?;
            if !lock_usable_key(&tx, &grant.region, &grant.key_id, true).await? {
                return Ok(GrantInsert::KeyUnavailable);
            }
            let count: i64 = query_one(
                &tx,
                "SELECT COUNT(*) FROM grants WHERE region = $1 AND key_id = $2",
                &[&grant.region, &grant.key_id],
            )
            .await?
            .try_get(0)?;
            if count as usize >= limit {
                return Ok(GrantInsert::LimitReached);
            }
            execute(
                &tx,
                &format!(
                    "INSERT INTO grants ({GRANT_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ),
                &[
                    &grant.grant_id,
                    &grant.region,
                    &grant.key_id,
                    &grant.name,
                    &grant.grantee,
                    &grant.retiring,
                    &operations,
                    &grant.constraints,
                    &grant.issuing_account,
                    &grant.creation_date,
                    &grant.token,
                ],
            )
            .await?;
            commit(tx, false).await?;
            Ok(GrantInsert::Inserted)
        })
    }

    /// Through the grantee index.
    fn grants_for(
        &self,
        region: &str,
        key_id: &str,
        grantees: [&str; 2],
    ) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            "WHERE region = $1 AND key_id = $2 AND grantee IN ($3, $4) \
             ORDER BY creation_date, grant_id",
            &[&region, &key_id, &grantees[0], &grantees[1]],
        )
    }

    fn grants_named(
        &self,
        region: &str,
        key_id: &str,
        name: &str,
    ) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            "WHERE region = $1 AND key_id = $2 AND name = $3 ORDER BY creation_date, grant_id",
            &[&region, &key_id, &name],
        )
    }

    fn grant(
        &self,
        region: &str,
        key_id: &str,
        grant_id: &str,
    ) -> StoreResult<Option<GrantRecord>> {
        self.query_grant(
            "WHERE grant_id = $1 AND region = $2 AND key_id = $3",
            &[&grant_id, &region, &key_id],
        )
    }

    fn grants_of_key(&self, region: &str, key_id: &str) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            "WHERE region = $1 AND key_id = $2 ORDER BY creation_date, grant_id",
            &[&region, &key_id],
        )
    }

    fn grants_retirable_by(&self, region: &str, retiring: &str) -> StoreResult<Vec<GrantRecord>> {
        self.query_grants(
            "WHERE region = $1 AND retiring = $2 ORDER BY creation_date, grant_id",
            &[&region, &retiring],
        )
    }

    fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>> {
        self.query_grant("WHERE token = $1", &[&token])
    }

    fn delete_grant(&self, grant_id: &str) -> StoreResult<bool> {
        self.run(async |client| {
            let deleted = execute(
                &*client,
                "DELETE FROM grants WHERE grant_id = $1",
                &[&grant_id],
            )
            .await?;
            Ok(deleted == 1)
        })
    }
}

impl Postgres {
    /// The grants that `filter` (a WHERE clause, with its ORDER BY) selects.
    fn query_grants(
        &self,
        filter: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<GrantRecord>> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM grants {filter}");
        self.run(async |client| {
            let rows = query(&*client, &sql, params).await?;
            rows.iter().map(grant_from_row).collect()
        })
    }

    /// The grant `filter` (a WHERE clause) selects, if any.
    fn query_grant(
        &self,
        filter: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<GrantRecord>> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM grants {filter}");
        self.run(async |client| {
            let row = query_opt(&*client, &sql, params).await?;
            row.as_ref().map(grant_from_row).transpose()
        })
    }
}

fn grant_from_row(row: &Row) -> StoreResult<GrantRecord> {
    let operations: &str = row.try_get(6)?;
    Ok(GrantRecord {
        grant_id: row.try_get(0)?,
        region: row.try_get(1)?,
        key_id: row.try_get(2)?,
        name: row.try_get(3)?,
        grantee: row.try_get(4)?,
        retiring: row.try_get(5)?,
        operations: operations.split(',').map(str::to_string).collect(),
        constraints: row.try_get(7)?,
        issuing_account: row.try_get(8)?,
        creation_date: row.try_get(9)?,
        token: row.try_get(10)?,
    })
}
