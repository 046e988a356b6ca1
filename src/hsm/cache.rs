//! Bounded map from key material to the handle of its unwrapped session object.

use cryptoki::object::ObjectHandle;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// Identifies one backing-key version: the KMS key id and its material id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MaterialRef {
    /// The KMS key id.
    pub key_id: String,
    /// The key material (backing key version) id.
    pub material_id: String,
}

/// LRU of unwrapped key handles. Evicted handles are returned to the caller,
/// which destroys the session objects behind them.
///
/// Once full, the cache admits a key only on its second miss within the
/// recent past (a "ghost" list of recently missed keys, four times the
/// cache's size): a key used once does not push out a key in steady use.
pub struct HandleCache {
    entries: Mutex<LruCache<MaterialRef, ObjectHandle>>,
    missed: Mutex<LruCache<MaterialRef, ()>>,
}

impl HandleCache {
    /// A cache holding at most `capacity` unwrapped keys.
    pub fn new(capacity: usize) -> Self {
        let ghosts = NonZeroUsize::new(capacity.max(1) * 4).expect("non-zero");
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("non-zero");
        Self {
            entries: Mutex::new(LruCache::new(capacity)),
            missed: Mutex::new(LruCache::new(ghosts)),
        }
    }

    /// Whether a key that just missed should be cached: always while the
    /// cache has room, else only if it missed recently already.
    pub fn admits(&self, material: &MaterialRef) -> bool {
        {
            let entries = self.lock();
            if entries.len() < entries.cap().get() {
                return true;
            }
        }
        let mut missed = self.missed.lock().unwrap_or_else(|e| e.into_inner());
        if missed.pop(material).is_some() {
            return true;
        }
        missed.put(material.clone(), ());
        false
    }

    /// The cached handle for this material, if any.
    pub fn get(&self, material: &MaterialRef) -> Option<ObjectHandle> {
        self.lock().get(material).copied()
    }

    /// Caches a handle; returns a handle pushed out to make room (or replaced).
    pub fn insert(&self, material: MaterialRef, handle: ObjectHandle) -> Option<ObjectHandle> {
        match self.lock().push(material, handle) {
            Some((_, old)) if old != handle => Some(old),
            _ => None,
        }
    }

    /// Forgets one entry, returning its handle.
    pub fn remove(&self, material: &MaterialRef) -> Option<ObjectHandle> {
        self.lock().pop(material)
    }

    /// Forgets every version of one key, returning their handles.
    pub fn remove_key(&self, key_id: &str) -> Vec<ObjectHandle> {
        let mut entries = self.lock();
        let doomed: Vec<MaterialRef> = entries
            .iter()
            .filter(|(m, _)| m.key_id == key_id)
            .map(|(m, _)| m.clone())
            .collect();
        doomed.iter().filter_map(|m| entries.pop(m)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<MaterialRef, ObjectHandle>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
