//! Bounded LRU maps that allocate as they fill, not up front.

use lru::LruCache;
use std::hash::Hash;
use std::num::NonZeroUsize;

/// An LRU map of at most `capacity` entries whose table grows with its
/// entries: `LruCache::new` allocates the whole table at once, which for
/// the caches sized from memory (ADR 0026) would cost a server with ten
/// keys tens of MiB.
pub fn growing<K: Hash + Eq, V>(capacity: NonZeroUsize) -> LruCache<K, V> {
    let mut cache = LruCache::unbounded();
    cache.resize(capacity);
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_empty_and_keeps_its_bound() {
        let mut cache = growing(NonZeroUsize::new(2).unwrap());
        assert_eq!(cache.cap().get(), 2);
        cache.put(1, 'a');
        cache.put(2, 'b');
        cache.get(&1);
        cache.put(3, 'c');
        assert_eq!(cache.len(), 2);
        assert!(cache.contains(&1) && cache.contains(&3) && !cache.contains(&2));
    }
}
