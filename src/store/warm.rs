//! Filling the metadata cache after start-up, so the first request for each
//! key does not read the database. Runs in the background, a page at a time,
//! so requests that need the database are never held up for long.

use super::{KEY_COLUMNS, Store, StoreResult, key_from_row, read_material};
use rusqlite::params;

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
                if keys.is_empty() {
                    break;
                }
                let materials = keys
                    .iter()
                    .map(|k| read_material(&conn, &k.region, &k.key_id, &k.current_material_id))
                    .collect::<Result<Vec<_>, _>>()?;
                (keys, materials)
            };
            read += keys.len();
            let full_page = keys.len() == page_size;
            let last = keys.last().expect("non-empty page");
            after = (last.region.clone(), last.key_id.clone());
            for (key, material) in keys.into_iter().zip(materials) {
                if let Some(material) = material {
                    self.cache.put_material(&key.region, &key.key_id, &material);
                }
                self.cache.put_key(generation, key);
            }
            if !full_page {
                break;
            }
        }
        Ok(read)
    }
}
