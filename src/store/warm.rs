//! Filling the metadata cache after start-up, so the first request for each
//! key does not read the database. Runs in the background, a page at a time,
//! so requests that need the database are never held up for long.

use super::{Store, StoreResult};
use std::sync::Arc;

/// Keys read per page. A page holds SQLite's one connection for its key
/// query and one material query per key: 500 held requests that missed the
/// cache for some 10 ms right after a restart, 100 for about 2 ms.
const PAGE: usize = 100;

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
            let page = self.backend.keys_after((&after.0, &after.1), page_size)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            read += page.len();
            let full_page = page.len() == page_size;
            after = (last.region.clone(), last.key_id.clone());
            for (key, material) in page {
                if let Some(material) = material {
                    self.cache.put_material(
                        generation,
                        &key.region,
                        &key.key_id,
                        Arc::new(material),
                    );
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
