//! Domain keys and enrolment offers on SQLite: single statements, each
//! conditional write restating the state it needs (ADR 0009).

use super::Sqlite;
use crate::model::{DomainKeyRecord, EnrolmentRecord};
use crate::store::StoreResult;
use crate::store::backend::Cluster;
use rusqlite::{OptionalExtension, Row, params};

/// The columns [`enrolment`] reads, in its order.
const ENROLMENT_COLUMNS: &str = "node_id, region, public_key, fingerprint, offered_at, \
                                 approved_by, package, answered_by";

fn enrolment(row: &Row<'_>) -> rusqlite::Result<EnrolmentRecord> {
    Ok(EnrolmentRecord {
        node_id: row.get(0)?,
        region: row.get(1)?,
        public_key: row.get(2)?,
        fingerprint: row.get(3)?,
        offered_at: row.get(4)?,
        approved_by: row.get(5)?,
        package: row.get(6)?,
        answered_by: row.get(7)?,
    })
}

impl Cluster for Sqlite {
    fn domain_key(&self, region: &str) -> StoreResult<Option<DomainKeyRecord>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT check_blob, created_by, created_at FROM domain_keys WHERE region = ?1",
                params![region],
                |r| {
                    Ok(DomainKeyRecord {
                        region: region.to_string(),
                        check_blob: r.get(0)?,
                        created_by: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn domain_key_regions(&self) -> StoreResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT region FROM domain_keys ORDER BY region")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn claim_domain_key(&self, record: &DomainKeyRecord) -> StoreResult<bool> {
        let inserted = self.conn().execute(
            "INSERT INTO domain_keys (region, check_blob, created_by, created_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (region) DO NOTHING",
            params![
                record.region,
                record.check_blob,
                record.created_by,
                record.created_at
            ],
        )?;
        Ok(inserted == 1)
    }

    fn post_offer(&self, offer: &EnrolmentRecord) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO enrolments (node_id, region, public_key, fingerprint, offered_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (node_id, region) DO UPDATE SET \
             public_key = excluded.public_key, fingerprint = excluded.fingerprint, \
             offered_at = excluded.offered_at, approved_by = NULL, package = NULL, \
             answered_by = NULL",
            params![
                offer.node_id,
                offer.region,
                offer.public_key,
                offer.fingerprint,
                offer.offered_at
            ],
        )?;
        Ok(())
    }

    fn offer(&self, node_id: &str, region: &str) -> StoreResult<Option<EnrolmentRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {ENROLMENT_COLUMNS} FROM enrolments \
                     WHERE node_id = ?1 AND region = ?2"
                ),
                params![node_id, region],
                enrolment,
            )
            .optional()?)
    }

    fn open_offers(&self, since: i64) -> StoreResult<Vec<EnrolmentRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ENROLMENT_COLUMNS} FROM enrolments \
             WHERE package IS NULL AND offered_at >= ?1 ORDER BY offered_at, node_id, region"
        ))?;
        let rows = stmt.query_map(params![since], enrolment)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn approve_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "UPDATE enrolments SET approved_by = ?4 WHERE node_id = ?1 AND region = ?2 \
             AND fingerprint = ?3 AND approved_by IS NULL AND package IS NULL",
            params![node_id, region, fingerprint, approver],
        )?;
        Ok(changed == 1)
    }

    fn withdraw_approval(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        approver: &str,
    ) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "UPDATE enrolments SET approved_by = NULL WHERE node_id = ?1 AND region = ?2 \
             AND fingerprint = ?3 AND approved_by = ?4 AND package IS NULL",
            params![node_id, region, fingerprint, approver],
        )?;
        Ok(changed == 1)
    }

    fn answer_offer(
        &self,
        node_id: &str,
        region: &str,
        fingerprint: &str,
        package: &[u8],
        answerer: &str,
    ) -> StoreResult<bool> {
        let changed = self.conn().execute(
            "UPDATE enrolments SET package = ?4, answered_by = ?5 WHERE node_id = ?1 \
             AND region = ?2 AND fingerprint = ?3 AND approved_by = ?5 AND package IS NULL",
            params![node_id, region, fingerprint, package, answerer],
        )?;
        Ok(changed == 1)
    }

    fn delete_offer(&self, node_id: &str, region: &str, fingerprint: &str) -> StoreResult<bool> {
        let deleted = self.conn().execute(
            "DELETE FROM enrolments WHERE node_id = ?1 AND region = ?2 AND fingerprint = ?3",
            params![node_id, region, fingerprint],
        )?;
        Ok(deleted == 1)
    }
}
