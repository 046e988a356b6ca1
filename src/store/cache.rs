//! In-memory copies of key records and wrapped materials, so the hot path
//! (Encrypt, Decrypt, GenerateDataKey) does not query the database.
//!
//! Materials never change once written, so they are cached until evicted.
//! Key records are dropped from the cache by every write of this process
//! that touches them; a generation counter keeps a read that raced with a
//! write from caching the old record. Writes by other processes sharing the
//! database (several nodes) are found by polling the database's version
//! (SQLite's `data_version`, PostgreSQL's `store_version` row) at most once
//! per `max_staleness`: when it moved, every record is dropped. So
//! a record stays cached for as long as nobody else writes, and another
//! node's change goes unseen for at most `max_staleness`. A backend that
//! is told of each commit (PostgreSQL's NOTIFY) calls `notified`, which
//! drops them at once; the polling stays, for a notification missed.

use crate::growing_lru::growing;
use crate::model::{KeyRecord, MaterialRecord};
use lru::LruCache;
use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A key's cached copies, one per region: (region, record).
type Copies = Vec<(String, Arc<KeyRecord>)>;
/// The cached copies of the materials with one material id: (region, key
/// id, record). A material id names one material of a key, and its copies
/// in the key's regions (an imported material's id, a digest of it, may
/// also name the same material imported into another key).
type MaterialCopies = Vec<(String, String, Arc<MaterialRecord>)>;

/// `announced` when no version is known to have been announced.
const NOT_ANNOUNCED: i64 = i64::MIN;

/// When the records were last confirmed current, and at which database
/// version.
struct Validation {
    at: Instant,
    data_version: Option<i64>,
}

/// Bounded caches of key records and materials.
pub(super) struct MetadataCache {
    max_staleness: Duration,
    /// Milliseconds since `epoch` at which the records were last confirmed.
    validated_ms: AtomicU64,
    epoch: Instant,
    validation: Mutex<Validation>,
    generation: AtomicU64,
    /// The version the last notification announced, or `NOT_ANNOUNCED`.
    announced: AtomicI64,
    keys: Mutex<LruCache<String, Copies>>,
    policies: Mutex<HashSet<Arc<str>>>,
    policy_limit: usize,
    /// By material id, so that a lookup allocates nothing.
    materials: Mutex<LruCache<String, MaterialCopies>>,
}

impl MetadataCache {
    /// Caches at most `capacity` keys and materials; another process's
    /// write is noticed within `max_staleness` (zero disables the record
    /// cache).
    pub(super) fn new(capacity: usize, max_staleness: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("non-zero");
        let epoch = Instant::now();
        Self {
            max_staleness,
            validated_ms: AtomicU64::new(0),
            epoch,
            validation: Mutex::new(Validation {
                at: epoch,
                data_version: None,
            }),
            generation: AtomicU64::new(0),
            announced: AtomicI64::new(NOT_ANNOUNCED),
            keys: Mutex::new(growing(capacity)),
            policies: Mutex::new(HashSet::new()),
            policy_limit: capacity.get(),
            materials: Mutex::new(growing(capacity)),
        }
    }

    /// True when the records have not been confirmed within the staleness
    /// bound, so `revalidate` must run before one is served.
    pub(super) fn needs_validation(&self) -> bool {
        let validated = Duration::from_millis(self.validated_ms.load(Ordering::Acquire));
        self.epoch.elapsed().saturating_sub(validated) >= self.max_staleness
    }

    /// Confirms the records against the database's `data_version` (read by
    /// `current_version` only if no other thread confirmed them meanwhile),
    /// dropping them all when another process has written since.
    pub(super) fn revalidate<E>(
        &self,
        current_version: impl FnOnce() -> Result<i64, E>,
    ) -> Result<(), E> {
        let mut validation = self.validation.lock().unwrap_or_else(|e| e.into_inner());
        if validation.at.elapsed() < self.max_staleness && validation.data_version.is_some() {
            return Ok(());
        }
        let now = Instant::now();
        let version = current_version()?;
        // Unchanged, or changed by the last announced commit, after which
        // every record was dropped (so those cached since are newer).
        let announced = self.announced.load(Ordering::Acquire) == version;
        if validation.data_version != Some(version) && !announced {
            self.forget_all_keys();
        }
        validation.data_version = Some(version);
        validation.at = now;
        let millis = now.duration_since(self.epoch).as_millis();
        self.validated_ms
            .store(u64::try_from(millis).unwrap_or(u64::MAX), Ordering::Release);
        Ok(())
    }

    /// Another writer committed (a notification from the database):
    /// drops every record at once, and remembers the database's version
    /// after that commit when known, so that the next check does not drop
    /// them again for it (`None`: unknown, as after notifications that may
    /// have been missed). Never waits for a database call: it runs on the
    /// thread that drives the backend's connections.
    pub(super) fn notified(&self, version: Option<i64>) {
        self.forget_all_keys();
        self.announced
            .store(version.unwrap_or(NOT_ANNOUNCED), Ordering::Release);
    }

    /// How many keys the cache holds at most.
    pub(super) fn capacity(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cap()
            .get()
    }

    /// Read before a database read whose result may be cached.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cached record of a key in a region.
    pub(super) fn key(&self, region: &str, key_id: &str) -> Option<Arc<KeyRecord>> {
        if self.max_staleness.is_zero() {
            return None;
        }
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let copies = keys.get(key_id)?;
        copies
            .iter()
            .find(|(r, _)| r == region)
            .map(|(_, record)| record.clone())
    }

    /// Caches a record read at `generation`, unless a write came since, and
    /// returns it shared. Its policy text is shared with every other cached
    /// record that has the same text (most keys of an account share the
    /// default policy), which saves memory and keeps that text hot.
    pub(super) fn put_key(&self, generation: u64, mut record: KeyRecord) -> Arc<KeyRecord> {
        if self.max_staleness.is_zero() {
            return Arc::new(record);
        }
        record.policy = self.shared_policy(&record.policy);
        let record = Arc::new(record);
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return record;
        }
        let copies = keys.get_or_insert_mut(record.key_id.clone(), Vec::new);
        copies.retain(|(r, _)| *r != record.region);
        copies.push((record.region.clone(), record.clone()));
        record
    }

    /// The one shared copy of a policy text. The set is emptied when it
    /// reaches the cache's capacity, so texts no longer used do not pile up.
    fn shared_policy(&self, text: &Arc<str>) -> Arc<str> {
        let mut policies = self.policies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = policies.get(text) {
            return shared.clone();
        }
        if policies.len() >= self.policy_limit {
            policies.clear();
        }
        policies.insert(text.clone());
        text.clone()
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
    ) -> Option<Arc<MaterialRecord>> {
        let mut materials = self.materials.lock().unwrap_or_else(|e| e.into_inner());
        materials
            .get(material_id)?
            .iter()
            .find(|(r, k, _)| r == region && k == key_id)
            .map(|(_, _, record)| Arc::clone(record))
    }

    /// Drops the cached materials of one copy of a key (its imported
    /// material was replaced or deleted); call after writing it.
    pub(super) fn forget_materials(&self, region: &str, key_id: &str) {
        let mut materials = self.materials.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        let touched: Vec<String> = materials
            .iter()
            .filter(|(_, copies)| copies.iter().any(|(r, k, _)| r == region && k == key_id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in touched {
            if let Some(copies) = materials.peek_mut(&id) {
                copies.retain(|(r, k, _)| !(r == region && k == key_id));
                if copies.is_empty() {
                    materials.pop(&id);
                }
            }
        }
    }

    /// Caches a material read at `generation`, unless a write came since
    /// (materials change only by an import or its deletion, but a read that
    /// began before such a write may end after it).
    pub(super) fn put_material(
        &self,
        generation: u64,
        region: &str,
        key_id: &str,
        material: Arc<MaterialRecord>,
    ) {
        let mut materials = self.materials.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        let id = material.material_id.clone();
        let copy = (region.to_string(), key_id.to_string(), material);
        match materials.get_mut(id.as_str()) {
            Some(copies) => {
                copies.retain(|(r, k, _)| !(r == region && k == key_id));
                copies.push(copy);
            }
            None => {
                materials.put(id, vec![copy]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(id: &str) -> Arc<MaterialRecord> {
        Arc::new(MaterialRecord {
            material_id: id.to_string(),
            wrapped: vec![1, 2, 3],
            creation_date: 0,
            rotation_type: None,
            public_key: None,
            tag: None,
        })
    }

    #[test]
    fn a_material_read_before_its_deletion_is_not_cached_after_it() {
        let cache = MetadataCache::new(10, Duration::from_secs(60));
        let read_at = cache.generation();
        cache.forget_materials("r", "k");
        cache.put_material(read_at, "r", "k", material("m"));
        assert!(cache.material("r", "k", "m").is_none());
        cache.put_material(cache.generation(), "r", "k", material("m"));
        assert_eq!(
            cache.material("r", "k", "m").unwrap().wrapped,
            vec![1, 2, 3]
        );
    }

    #[test]
    fn copies_sharing_a_material_id_are_told_apart_and_forgotten_alone() {
        let cache = MetadataCache::new(10, Duration::from_secs(60));
        let copies = [("east", "k"), ("west", "k"), ("east", "other")];
        for (i, (region, key)) in copies.into_iter().enumerate() {
            let mut record = (*material("m")).clone();
            record.wrapped = vec![i as u8];
            cache.put_material(cache.generation(), region, key, Arc::new(record));
        }
        for (i, (region, key)) in copies.into_iter().enumerate() {
            assert_eq!(
                cache.material(region, key, "m").unwrap().wrapped,
                vec![i as u8]
            );
        }
        assert!(cache.material("north", "k", "m").is_none());
        cache.forget_materials("east", "k");
        assert!(cache.material("east", "k", "m").is_none());
        assert!(cache.material("west", "k", "m").is_some());
        assert!(cache.material("east", "other", "m").is_some());
    }
}
