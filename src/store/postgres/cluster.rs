//! Domain keys and enrolment offers on PostgreSQL: single statements, each
//! conditional write restating the state it needs (ADR 0009); an UPDATE
//! re-checks its guard on the newest version of the row it locks. None of
//! it is cached, so no write bumps the data version.

use super::{Postgres, execute, query, query_opt};
use crate::model::{DomainKeyRecord, EnrolmentRecord};
use crate::store::StoreResult;
use crate::store::backend::Cluster;
use tokio_postgres::Row;

/// The columns [`enrolment`] reads, in its order.
const ENROLMENT_COLUMNS: &str = "node_id, region, public_key, fingerprint, offered_at, \
                                 approved_by, package, answered_by";

fn enrolment(row: &Row) -> Result<EnrolmentRecord, tokio_postgres::Error> {
    Ok(EnrolmentRecord {
        node_id: row.try_get(0)?,
        region: row.try_get(1)?,
        public_key: row.try_get(2)?,
        fingerprint: row.try_get(3)?,
        offered_at: row.try_get(4)?,
        approved_by: row.try_get(5)?,
        package: row.try_get(6)?,
        answered_by: row.try_get(7)?,
    })
}

impl Cluster for Postgres {
    fn domain_key(&self, region: &str) -> StoreResult<Option<DomainKeyRecord>> {
        self.run(async |client| {
            let row = query_opt(
                &*client,
                "SELECT check_blob, created_by, created_at FROM domain_keys WHERE region = $1",
                &[&region],
            )
            .await?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(DomainKeyRecord {
                region: region.to_string(),
                check_blob: row.try_get(0)?,
                created_by: row.try_get(1)?,
                created_at: row.try_get(2)?,
            }))
        })
    }

    fn domain_key_regions(&self) -> StoreResult<Vec<String>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT region FROM domain_keys ORDER BY region",
                &[],
            )
            .await?;
            Ok(rows
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?)
        })
    }

    fn claim_domain_key(&self, record: &DomainKeyRecord) -> StoreResult<bool> {
        self.run(async |client| {
            let inserted = execute(
                &*client,
                "INSERT INTO domain_keys (region, check_blob, created_by, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (region) DO NOTHING",
                &[
                    &record.region,
                    &record.check_blob,
                    &record.created_by,
                    &record.created_at,
                ],
            )
            .await?;
            Ok(inserted == 1)
        })
    }

    fn post_offer(&self, offer: &EnrolmentRecord) -> StoreResult<()> {
        self.run(async |client| {
            execute(
                &*client,
                "INSERT INTO enrolments (node_id, region, public_key, fingerprint, offered_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (node_id, region) DO UPDATE SET \
                 public_key = EXCLUDED.public_key, fingerprint = EXCLUDED.fingerprint, \
                 offered_at = EXCLUDED.offered_at, approved_by = NULL, package = NULL, \
                 answered_by = NULL",
                &[
                    &offer.node_id,
                    &offer.region,
                    &offer.public_key,
                    &offer.fingerprint,
                    &offer.offered_at,
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn offer(&self, node_id: &str, region: &str) -> StoreResult<Option<EnrolmentRecord>> {
        self.run(async |client| {
            let sql = format!(
                "SELECT {ENROLMENT_COLUMNS} FROM enrolments WHERE node_id = $1 AND region = $2"
            );
            let row = query_opt(&*client, &sql, &[&node_id, &region]).await?;
            Ok(row.as_ref().map(enrolment).transpose()?)
        })
    }

    fn open_offers(&self, since: i64) -> StoreResult<Vec<EnrolmentRecord>> {
        self.run(async |client| {
            let sql = format!(
                "SELECT {ENROLMENT_COLUMNS} FROM enrolments WHERE package IS NULL \
                 AND offered_at >= $1 ORDER BY offered_at, node_id, region"
            );
            let rows = query(&*client, &sql, &[&since]).await?;
            Ok(rows.iter().map(enrolment).collect::<Result<_, _>>()?)
        })
    }

    fn approve_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let changed = execute(
                &*client,
                "UPDATE enrolments SET approved_by = $4 WHERE node_id = $1 AND region = $2 \
                 AND fingerprint = $3 AND approved_by IS NULL AND package IS NULL",
                &[&node_id, &region, &fingerprint, &approver],
            )
            .await?;
            Ok(changed == 1)
        })
    }

    fn withdraw_approval(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let changed = execute(
                &*client,
                "UPDATE enrolments SET approved_by = NULL WHERE node_id = $1 AND region = $2 \
                 AND fingerprint = $3 AND approved_by = $4 AND package IS NULL",
                &[&node_id, &region, &fingerprint, &approver],
            )
            .await?;
            Ok(changed == 1)
        })
    }

    fn answer_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        package: &[u8],
        answerer: &str,
    ) -> StoreResult<bool> {
        self.run(async |client| {
            let changed = execute(
                &*client,
                "UPDATE enrolments SET package = $4, answered_by = $5 WHERE node_id = $1 \
                 AND region = $2 AND fingerprint = $3 AND approved_by = $5 AND package IS NULL",
                &[&node_id, &region, &fingerprint, &package, &answerer],
            )
            .await?;
            Ok(changed == 1)
        })
    }

    fn delete_offer(&self, node_id: &str, region: &str, fingerprint: &str) -> StoreResult<bool> {
        self.run(async |client| {
            let deleted = execute(
                &*client,
                "DELETE FROM enrolments WHERE node_id = $1 AND region = $2 AND fingerprint = $3",
                &[&node_id, &region, &fingerprint],
            )
            .await?;
            Ok(deleted == 1)
        })
    }
}
