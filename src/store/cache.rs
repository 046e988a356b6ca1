//! In-memory copies of key records and wrapped materials, so the hot path
//! (Encrypt, Decrypt, GenerateDataKey) does not query the database.
//!
//! Materials never change once written, so they are cached until evicted.
//! Key records are dropped from the cache by every write that touches them;
//! a generation counter keeps a read that raced with a write from caching
//! the old record. Records also expire after a TTL, which bounds how long
//! another node's change (several nodes sharing one database) stays unseen.

use super::{KeyRecord, MaterialRecord};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A key's cached copies: (region, cached at, record).
type Copies = Vec<(String, Instant, KeyRecord)>;
/// A material by (region, key id, material id).
type MaterialName = (String, String, String);

/// Bounded caches of key records and materials.
pub(super) struct MetadataCache {
    ttl: Duration,
    generation: AtomicU64,
    keys: Mutex<LruCache<String, Copies>>,
    materials: Mutex<LruCache<MaterialName, MaterialRecord>>,
}

impl MetadataCache {
    /// Caches at most `capacity` keys and materials; records live `ttl`.
    pub(super) fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("non-zero");
        Self {
            ttl,
            generation: AtomicU64::new(0),
            keys: Mutex::new(LruCache::new(capacity)),
            materials: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Read before a database read whose result may be cached.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A fresh cached record of a key in a region.
    pub(super) fn key(&self, region: &str, key_id: &str) -> Option<KeyRecord> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let copies = keys.get(key_id)?;
        copies
            .iter()
            .find(|(r, at, _)| r == region && at.elapsed() < self.ttl)
            .map(|(_, _, record)| record.clone())
    }

    /// Caches a record read at `generation`, unless a write came since.
    pub(super) fn put_key(&self, generation: u64, record: &KeyRecord) {
        if self.ttl.is_zero() {
            return;
        }
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let copies = keys.get_or_insert_mut(record.key_id.clone(), Vec::new);
        copies.retain(|(r, _, _)| *r != record.region);
        copies.push((record.region.clone(), Instant::now(), record.clone()));
    }

    /// Drops every region's record of a key; call after writing it.
    pub(super) fn forget_key(&self, key_id: &str) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        keys.pop(key_id);
    }

    /// Drops every record; call after a write that touched many keys.
    pub(super) fn forget_all_keys(&self) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        keys.clear();
    }

    /// A cached material.
    pub(super) fn material(
        &self,
        region: &str,
        key_id: &str,
        material_id: &str,
    ) -> Option<MaterialRecord> {
        let name = (
            region.to_string(),
            key_id.to_string(),
            material_id.to_string(),
        );
        self.materials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name)
            .cloned()
    }

    /// Caches a material (materials never change).
    pub(super) fn put_material(&self, region: &str, key_id: &str, material: &MaterialRecord) {
        let name = (
            region.to_string(),
            key_id.to_string(),
            material.material_id.clone(),
        );
        self.materials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(name, material.clone());
    }
}
