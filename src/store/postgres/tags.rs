//! Tags on PostgreSQL.

use super::{Postgres, commit, execute, lock_usable_key, query};
use crate::model::Tag;
use crate::store::StoreResult;
use crate::store::backend::{Tags, TagsPut, tags_verdict};

impl Tags for Postgres {
    /// The key's row is locked first: concurrent TagResource calls on one
    /// key take turns, so each counts the others' tags.
    fn put_tags(
        &self,
        region: &str,
        key_id: &str,
        tags: &[Tag],
        max: usize,
    ) -> StoreResult<TagsPut> {
        self.run(async |client| {
            let tx = client.transaction().await?;
            if !lock_usable_key(&tx, region, key_id, true).await? {
                return Ok(TagsPut::KeyUnavailable);
            }
            for tag in tags {
                execute(
                    &tx,
                    "INSERT INTO key_tags (region, key_id, tag_key, tag_value) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (region, key_id, tag_key) \
                     DO UPDATE SET tag_value = EXCLUDED.tag_value",
                    &[&region, &key_id, &tag.key, &tag.value],
                )
                .await?;
            }
            let keys = query(
                &tx,
                "SELECT tag_key FROM key_tags WHERE region = $1 AND key_id = $2",
                &[&region, &key_id],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<Vec<String>, _>>()?;
            let verdict = tags_verdict(&keys, tags, max);
            if verdict == TagsPut::Done {
                commit(tx, false).await?;
            }
            Ok(verdict)
        })
    }

    fn remove_tags(&self, region: &str, key_id: &str, tag_keys: &[String]) -> StoreResult<()> {
        self.run(async |client| {
            execute(
                &*client,
                "DELETE FROM key_tags WHERE region = $1 AND key_id = $2 AND tag_key = ANY($3)",
                &[&region, &key_id, &tag_keys],
            )
            .await?;
            Ok(())
        })
    }

    fn tags(&self, region: &str, key_id: &str) -> StoreResult<Vec<Tag>> {
        self.run(async |client| {
            let rows = query(
                &*client,
                "SELECT tag_key, tag_value FROM key_tags WHERE region = $1 AND key_id = $2 \
                 ORDER BY tag_key",
                &[&region, &key_id],
            )
            .await?;
            Ok(rows
                .iter()
                .map(|r| {
                    Ok(Tag {
                        key: r.try_get(0)?,
                        value: r.try_get(1)?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()?)
        })
    }
}
