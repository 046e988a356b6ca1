//! Filling the metadata cache after start-up, so the first request for each
//! key does not read the database. Runs in the background, a page at a time,
//! so requests that need the database are never held up for long.

use super::{KEY_COLUMNS, Store, StoreResult, key_from_row, material_from_row};
use rusqlite::params;
use std::sync::Arc;

/// Rows read per database lock.
const PAGE: usize = 500;

impl Store {
    /// Caches key records (in key order, as many as the cache holds) with
    /// their current materials. A page that raced with a write is not
    /// cached. Returns the number of keys read.
    pub fn warm_cache(&self) -> StoreResult<usize> {
        let limit = self.cache.capacity();
        let mut after = (String::new(), String::new());
        let mut read = 0;
        while read < limit {
            let page_size = PAGE.min(limit - read);
            let generation = self.cache.generation();
            let (keys, materials) = {
                let conn = self.conn();
                let keys = conn
                    .prepare_cached(&format!(
                        "SELECT {KEY_COLUMNS} FROM kms_keys WHERE (region, key_id) > (?1, ?2) \
                         ORDER BY region, key_id LIMIT ?3"
                    ))?
                    .query_map(params![after.0, after.1, page_size], key_from_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                let Some(last) = keys.last() else {
                    break;
                };
                let materials = conn
                    .prepare_cached(
                        "SELECT m.material_id, m.wrapped, m.creation_date, m.rotation_type, \
                         m.region, m.key_id FROM key_materials m JOIN kms_keys k \
                         ON k.region = m.region AND k.key_id = m.key_id \
                         AND k.current_material_id = m.material_id \
                         WHERE (m.region, m.key_id) > (?1, ?2) \
                         AND (m.region, m.key_id) <= (?3, ?4)",
                    )?
                    .query_map(params![after.0, after.1, last.region, last.key_id], |row| {
                        Ok((
                            row.get::<_, String>(4)?,
                            row.get::<_, String>(5)?,
                            material_from_row(row)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                (keys, materials)
            };
            read += keys.len();
            let full_page = keys.len() == page_size;
            let last = keys.last().expect("non-empty page");
            after = (last.region.clone(), last.key_id.clone());
            for key in keys {
                self.cache.put_key(generation, &Arc::new(key));
            }
            for (region, key_id, material) in &materials {
                self.cache.put_material(region, key_id, material);
            }
            if !full_page {
                break;
            }
        }
        Ok(read)
    }
}
