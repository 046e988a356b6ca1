//! Tags on SQLite.

use super::{Sqlite, key_usable};
use crate::model::Tag;
use crate::store::StoreResult;
use crate::store::backend::{Tags, TagsPut, tags_verdict};
use rusqlite::{TransactionBehavior, params};

impl Tags for Sqlite {
    /// The checks and the writes are one IMMEDIATE transaction.
    fn put_tags(
        &self,
        region: &str,
        key_id: &str,
        tags: &[Tag],
        max: usize,
    ) -> StoreResult<TagsPut> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !key_usable(&tx, region, key_id)? {
            return Ok(TagsPut::KeyUnavailable);
        }
        for tag in tags {
            tx.execute(
                "INSERT INTO key_tags (region, key_id, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (region, key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                params![region, key_id, tag.key, tag.value],
            )?;
        }
        let keys = tx
            .prepare("SELECT tag_key FROM key_tags WHERE region = ?1 AND key_id = ?2")?
            .query_map(params![region, key_id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        let verdict = tags_verdict(&keys, tags, max);
        if verdict == TagsPut::Done {
            tx.commit()?;
        }
        Ok(verdict)
    }

    fn remove_tags(&self, region: &str, key_id: &str, tag_keys: &[String]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for tag_key in tag_keys {
            tx.execute(
                "DELETE FROM key_tags WHERE region = ?1 AND key_id = ?2 AND tag_key = ?3",
                params![region, key_id, tag_key],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn tags(&self, region: &str, key_id: &str) -> StoreResult<Vec<Tag>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT tag_key, tag_value FROM key_tags WHERE region = ?1 AND key_id = ?2 \
             ORDER BY tag_key",
        )?;
        let rows = stmt.query_map(params![region, key_id], |r| {
            Ok(Tag {
                key: r.get(0)?,
                value: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
