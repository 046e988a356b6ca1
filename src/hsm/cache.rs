//! Maps from key material to the handle of its unwrapped session object,
//! bounded together by one budget.

use super::SecretKind;
use crate::growing_lru::growing;
use crate::metrics::{LookupCounts, metrics};
use cryptoki::object::ObjectHandle;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

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
        lock(&self.graveyard).push(self.handle);
    }
}

/// How many unwrapped keys every cache of the process may hold together
/// (ADR 0027): a region in use may take what an idle region does not need.
/// Once the budget is spent, caching a key pushes out the least recently
/// used key of whichever cache holds it, in any region.
pub struct CacheBudget {
    limit: usize,
    held: AtomicUsize,
    clock: AtomicU64,
    caches: Mutex<Vec<Weak<Entries>>>,
}

/// One cache's entries, in recency order.
type Entries = Mutex<LruCache<MaterialRef, Slot>>;

/// A cached key and when it was last used, on the budget's clock.
struct Slot {
    key: Arc<CachedKey>,
    used: u64,
}

impl CacheBudget {
    /// A budget of at least one key.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit: limit.max(1),
            held: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
            caches: Mutex::new(Vec::new()),
        })
    }

    /// The most keys the caches hold together.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The keys the caches hold now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    fn join(&self, entries: &Arc<Entries>) {
        let mut caches = lock(&self.caches);
        caches.retain(|cache| cache.strong_count() > 0);
        caches.push(Arc::downgrade(entries));
    }

    fn taken(&self, keys: usize) {
        self.held.fetch_add(keys, Ordering::Relaxed);
        metrics().session_objects(keys as i64);
    }

    fn given_back(&self, keys: usize) {
        self.held.fetch_sub(keys, Ordering::Relaxed);
        metrics().session_objects(-(keys as i64));
    }

    /// Pushes out least recently used keys, from any cache, until the
    /// caches hold no more than the limit. A key pushed out goes to its own
    /// cache's graveyard, whose token destroys it.
    fn make_room(&self) {
        while self.held() > self.limit {
            let Some(victim) = self.least_recently_used() else {
                return;
            };
            let pushed_out = lock(&victim).pop_lru();
            if pushed_out.is_some() {
                self.given_back(1);
            }
            drop(pushed_out);
        }
    }

    /// The cache whose least recently used key was used longest ago.
    fn least_recently_used(&self) -> Option<Arc<Entries>> {
        let caches: Vec<Arc<Entries>> = lock(&self.caches)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        caches
            .into_iter()
            .filter_map(|cache| {
                let oldest = lock(&cache).peek_lru().map(|(_, slot)| slot.used)?;
                Some((oldest, cache))
            })
            .min_by_key(|(oldest, _)| *oldest)
            .map(|(_, cache)| cache)
    }
}

/// LRU of unwrapped key handles, one of those a [`CacheBudget`] bounds. A
/// handle pushed out or removed is destroyed (by the caller, through
/// [`HandleCache::take_dead`]) once no call uses it.
///
/// Once the budget is spent, the cache admits a key only on its second miss
/// within the recent past (a "ghost" list of recently missed keys, four
/// times the budget): a key used once does not push out a key in steady
/// use.
pub struct HandleCache {
    lookups: LookupCounts,
    budget: Arc<CacheBudget>,
    entries: Arc<Entries>,
    missed: Mutex<LruCache<MaterialRef, ()>>,
    graveyard: Arc<Mutex<Vec<ObjectHandle>>>,
}

impl HandleCache {
    /// A cache named `name` (in the metrics) within `budget`.
    pub fn new(name: &'static str, budget: &Arc<CacheBudget>) -> Self {
        let ghosts = NonZeroUsize::new(budget.limit.saturating_mul(4)).expect("non-zero");
        let entries = Arc::new(Mutex::new(LruCache::unbounded()));
        budget.join(&entries);
        Self {
            lookups: metrics().session_cache(name),
            budget: Arc::clone(budget),
            entries,
            missed: Mutex::new(growing(ghosts)),
            graveyard: Arc::default(),
        }
    }

    /// Counts a lookup in the metrics, as a hit or a miss.
    pub fn count_lookup(&self, hit: bool) {
        self.lookups.count(hit);
    }

    /// Whether a key that just missed should be cached: always while the
    /// budget has room, else only if it missed recently already.
    pub fn admits(&self, material: &MaterialRef) -> bool {
        if self.budget.held() < self.budget.limit {
            return true;
        }
        let mut missed = lock(&self.missed);
        if missed.pop(material).is_some() {
            return true;
        }
        missed.put(material.clone(), ());
        false
    }

    /// The cached key for this material, if any.
    pub fn get(&self, material: &MaterialRef) -> Option<Arc<CachedKey>> {
        let used = self.budget.tick();
        let mut entries = lock(&self.entries);
        let slot = entries.get_mut(material)?;
        slot.used = used;
        Some(slot.key.clone())
    }

    /// Caches a handle, returning the cached key; the entry it replaces, or
    /// the least recently used key it pushes out of the budget, goes to its
    /// cache's graveyard once unused.
    pub fn insert(&self, material: MaterialRef, handle: ObjectHandle) -> Arc<CachedKey> {
        let key = Arc::new(CachedKey {
            handle,
            graveyard: self.graveyard.clone(),
        });
        let slot = Slot {
            key: key.clone(),
            used: self.budget.tick(),
        };
        let replaced = {
            let mut entries = lock(&self.entries);
            let replaced = entries.push(material, slot);
            // Counted before another thread can push the entry out and
            // count it given back: the count is never below the entries.
            if replaced.is_none() {
                self.budget.taken(1);
            }
            replaced
        };
        if replaced.is_none() {
            self.budget.make_room();
        }
        drop(replaced);
        key
    }

    /// Forgets one entry.
    pub fn remove(&self, material: &MaterialRef) {
        let removed = lock(&self.entries).pop(material);
        if removed.is_some() {
            self.budget.given_back(1);
        }
        drop(removed);
    }

    /// Forgets every version of one key.
    pub fn remove_key(&self, key_id: &str) {
        let removed: Vec<Slot> = {
            let mut entries = lock(&self.entries);
            let doomed: Vec<MaterialRef> = entries
                .iter()
                .filter(|(m, _)| m.key_id == key_id)
                .map(|(m, _)| m.clone())
                .collect();
            doomed.iter().filter_map(|m| entries.pop(m)).collect()
        };
        self.budget.given_back(removed.len());
        drop(removed);
    }

    /// Handles that neither the cache nor any call holds any more: the
    /// caller destroys their session objects.
    pub fn take_dead(&self) -> Vec<ObjectHandle> {
        std::mem::take(&mut *lock(&self.graveyard))
    }

    /// Whether handles wait in the graveyard.
    pub fn has_dead(&self) -> bool {
        !lock(&self.graveyard).is_empty()
    }
}

/// Locks a cache mutex, whose data stays consistent if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for HandleCache {
    /// Gives the entries back to the budget and takes them out of the
    /// cache-size gauge (the token's sessions, and with them the objects,
    /// go too).
    fn drop(&mut self) {
        // Emptied under the lock: a budget making room meanwhile finds
        // nothing more to give back.
        let entries = std::mem::replace(&mut *lock(&self.entries), LruCache::unbounded());
        self.budget.given_back(entries.len());
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
        let cache = HandleCache::new("test", &CacheBudget::new(2));
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
        let cache = HandleCache::new("test", &CacheBudget::new(1));
        let in_use = cache.insert(material("a", "1"), handle(1));
        cache.remove(&material("a", "1"));
        assert!(dead(&cache).is_empty(), "still used by a call");
        drop(in_use);
        assert_eq!(dead(&cache), vec![1]);
    }

    #[test]
    fn removing_a_key_lets_go_of_all_its_versions_only() {
        let cache = HandleCache::new("test", &CacheBudget::new(10));
        for (n, (key, version)) in [("a", "1"), ("a", "2"), ("b", "1")].iter().enumerate() {
            drop(cache.insert(material(key, version), handle(n as u64)));
        }
        cache.remove_key("a");
        assert_eq!(dead(&cache), vec![0, 1]);
        let kept = cache.get(&material("b", "1")).map(|k| k.handle().handle());
        assert_eq!(kept, Some(2));
    }

    #[test]
    fn caches_share_one_budget_and_push_out_the_least_recently_used_key_of_any() {
        let budget = CacheBudget::new(3);
        let idle = HandleCache::new("idle", &budget);
        let busy = HandleCache::new("busy", &budget);
        drop(idle.insert(material("a", "1"), handle(1)));
        drop(idle.insert(material("b", "1"), handle(2)));
        drop(busy.insert(material("c", "1"), handle(3)));
        assert!(idle.get(&material("a", "1")).is_some(), "a used again");
        assert!(!busy.admits(&material("d", "1")), "the budget is spent");
        assert!(busy.admits(&material("d", "1")));
        drop(busy.insert(material("d", "1"), handle(4)));
        assert_eq!(dead(&idle), vec![2], "b was used longest ago");
        assert!(dead(&busy).is_empty());
        drop(busy.insert(material("e", "1"), handle(5)));
        drop(busy.insert(material("f", "1"), handle(6)));
        assert_eq!(
            dead(&idle),
            vec![1],
            "the busy cache took the idle one's share"
        );
        assert_eq!(dead(&busy), vec![3]);
        assert_eq!(budget.held(), 3);
        drop(busy);
        assert_eq!(budget.held(), 0, "a dropped cache gives its keys back");
        assert!(idle.admits(&material("g", "1")));
    }

    #[test]
    fn concurrent_callers_keep_the_budget_and_its_count() {
        let budget = CacheBudget::new(50);
        let caches = [
            Arc::new(HandleCache::new("a", &budget)),
            Arc::new(HandleCache::new("b", &budget)),
        ];
        let workers: Vec<_> = (0..4u64)
            .map(|worker| {
                let cache = Arc::clone(&caches[(worker % 2) as usize]);
                std::thread::spawn(move || {
                    for n in 0..2_000u64 {
                        let key = material(&format!("{worker}-{}", n % 80), "1");
                        if cache.get(&key).is_none() && cache.admits(&key) {
                            drop(cache.insert(key.clone(), handle(worker * 10_000 + n)));
                        }
                        if n % 7 == 0 {
                            cache.remove(&key);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let held: usize = caches.iter().map(|c| lock(&c.entries).len()).sum();
        assert_eq!(budget.held(), held, "the count is the entries");
        assert!(held <= 50, "{held} entries");
    }
}
