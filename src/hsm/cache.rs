//! Bounded map from key material to the handle of its unwrapped session object.

use super::SecretKind;
use crate::growing_lru::growing;
use crate::metrics::metrics;
use cryptoki::object::ObjectHandle;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// Identifies one backing-key version: the KMS key id, its material id,
/// and the kind of secret it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MaterialRef {
    /// The KMS key id.
    pub key_id: String,
    /// The key material (backing key version) id.
    pub material_id: String,
    /// What the backing key is.
    pub kind: SecretKind,
}

/// A cached handle. The session object behind it is destroyed only after
/// the cache has let go of it *and* no call is still using it: dropping the
/// last reference moves the handle to the cache's graveyard, which the owner
/// of the objects empties with [`HandleCache::take_dead`].
pub struct CachedKey {
    handle: ObjectHandle,
    graveyard: Arc<Mutex<Vec<ObjectHandle>>>,
}

impl CachedKey {
    /// The session object's handle, valid while this reference is held.
    pub fn handle(&self) -> ObjectHandle {
        self.handle
    }
}

impl Drop for CachedKey {
    fn drop(&mut self) {
        self.graveyard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.handle);
    }
}

/// LRU of unwrapped key handles. A handle pushed out or removed is destroyed
/// (by the caller, through [`HandleCache::take_dead`]) once no call uses it.
///
/// Once full, the cache admits a key only on its second miss within the
/// recent past (a "ghost" list of recently missed keys, four times the
/// cache's size): a key used once does not push out a key in steady use.
pub struct HandleCache {
    name: &'static str,
    entries: Mutex<LruCache<MaterialRef, Arc<CachedKey>>>,
    missed: Mutex<LruCache<MaterialRef, ()>>,
    graveyard: Arc<Mutex<Vec<ObjectHandle>>>,
}

impl HandleCache {
    /// A cache named `name` (in the metrics) holding at most `capacity`
    /// unwrapped keys.
    pub fn new(name: &'static str, capacity: usize) -> Self {
        let ghosts = NonZeroUsize::new(capacity.max(1) * 4).expect("non-zero");
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("non-zero");
        Self {
            name,
            entries: Mutex::new(growing(capacity)),
            missed: Mutex::new(growing(ghosts)),
            graveyard: Arc::default(),
        }
    }

    /// The cache's name in the metrics.
    pub fn name(&self) -> &'static str {
        self.name
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

    /// The cached key for this material, if any.
    pub fn get(&self, material: &MaterialRef) -> Option<Arc<CachedKey>> {
        self.lock().get(material).cloned()
    }

    /// Caches a handle, returning the cached key; the entry it pushes out
    /// (or replaces) goes to the graveyard once unused.
    pub fn insert(&self, material: MaterialRef, handle: ObjectHandle) -> Arc<CachedKey> {
        let key = Arc::new(CachedKey {
            handle,
            graveyard: self.graveyard.clone(),
        });
        let pushed_out = self.lock().push(material, key.clone());
        if pushed_out.is_none() {
            metrics().session_objects(1);
        }
        drop(pushed_out);
        key
    }

    /// Forgets one entry.
    pub fn remove(&self, material: &MaterialRef) {
        let removed = self.lock().pop(material);
        if removed.is_some() {
            metrics().session_objects(-1);
        }
        drop(removed);
    }

    /// Forgets every version of one key.
    pub fn remove_key(&self, key_id: &str) {
        let removed: Vec<Arc<CachedKey>> = {
            let mut entries = self.lock();
            let doomed: Vec<MaterialRef> = entries
                .iter()
                .filter(|(m, _)| m.key_id == key_id)
                .map(|(m, _)| m.clone())
                .collect();
            doomed.iter().filter_map(|m| entries.pop(m)).collect()
        };
        metrics().session_objects(-(removed.len() as i64));
        drop(removed);
    }

    /// Handles that neither the cache nor any call holds any more: the
    /// caller destroys their session objects.
    pub fn take_dead(&self) -> Vec<ObjectHandle> {
        std::mem::take(&mut *self.graveyard.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<MaterialRef, Arc<CachedKey>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for HandleCache {
    /// Takes the entries out of the cache-size gauge (the token's sessions,
    /// and with them the objects, go too).
    fn drop(&mut self) {
        metrics().session_objects(-(self.lock().len() as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(key: &str, version: &str) -> MaterialRef {
        MaterialRef {
            key_id: key.into(),
            material_id: version.into(),
            kind: SecretKind::Aes256,
        }
    }

    fn handle(n: u64) -> ObjectHandle {
        // SAFETY: these handles only identify entries; no token sees them.
        unsafe { ObjectHandle::new_from_raw(n) }
    }

    /// Handles in the graveyard, as numbers.
    fn dead(cache: &HandleCache) -> Vec<u64> {
        let mut handles: Vec<u64> = cache.take_dead().iter().map(|h| h.handle()).collect();
        handles.sort_unstable();
        handles
    }

    #[test]
    fn once_full_a_key_is_admitted_on_its_second_miss_only() {
        let cache = HandleCache::new("test", 2);
        for (n, key) in ["a", "b"].iter().enumerate() {
            assert!(cache.admits(&material(key, "1")), "room for {key}");
            drop(cache.insert(material(key, "1"), handle(n as u64)));
        }
        let c = material("c", "1");
        assert!(!cache.admits(&c), "a first miss once full is not admitted");
        assert!(cache.admits(&c), "a second miss is");
        drop(cache.insert(c.clone(), handle(2)));
        assert_eq!(
            dead(&cache),
            vec![0],
            "the least recently used key made room"
        );
        assert!(cache.get(&c).is_some());
    }

    #[test]
    fn a_handle_in_use_is_let_go_of_only_when_the_call_ends() {
        let cache = HandleCache::new("test", 1);
        let in_use = cache.insert(material("a", "1"), handle(1));
        cache.remove(&material("a", "1"));
        assert!(dead(&cache).is_empty(), "still used by a call");
        drop(in_use);
        assert_eq!(dead(&cache), vec![1]);
    }

    #[test]
    fn removing_a_key_lets_go_of_all_its_versions_only() {
        let cache = HandleCache::new("test", 10);
        for (n, (key, version)) in [("a", "1"), ("a", "2"), ("b", "1")].iter().enumerate() {
            drop(cache.insert(material(key, version), handle(n as u64)));
        }
        cache.remove_key("a");
        assert_eq!(dead(&cache), vec![0, 1]);
        let kept = cache.get(&material("b", "1")).map(|k| k.handle().handle());
        assert_eq!(kept, Some(2));
    }
}
