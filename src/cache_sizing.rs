//! The default capacities of the key and metadata caches, sized from the
//! memory the process may use ([ADR 0026](../docs/adr/0026-cache-capacities-from-memory.md)).

/// Most keys the caches hold by default, however much memory there is.
pub const MOST: usize = 1_000_000;
/// Fewest keys the caches hold by default, however little memory there is.
pub const FEWEST: usize = 1_000;
/// Capacity of both caches when the memory cannot be read: AWS KMS's quota
/// of keys per account and Region.
pub const WITHOUT_MEMORY: usize = 100_000;
/// Bytes one key takes in a region's key cache: SoftHSM's session object
/// with its attributes, the cache's entry and the fingerprints of four
/// checked material rows (README, "Performance": 8.1 KiB measured with one
/// fingerprint, at 645,000 cached keys).
const KEY_CACHE_ENTRY: u64 = 8_500;
/// Bytes one key takes in the metadata cache: its record and wrapped
/// materials (0.8 KiB measured).
const METADATA_ENTRY: u64 = 800;

/// The capacity of each region's key cache and of the metadata cache when
/// the configuration names none: as many keys as fit in half of `memory`
/// bytes when each is held once in the metadata cache and once in each of
/// `regions` key caches, between [`FEWEST`] and [`MOST`].
pub fn default_capacity(memory: u64, regions: usize) -> usize {
    let regions = u64::try_from(regions.max(1)).unwrap_or(u64::MAX);
    let per_key = KEY_CACHE_ENTRY
        .saturating_mul(regions)
        .saturating_add(METADATA_ENTRY);
    usize::try_from(memory / 2 / per_key)
        .unwrap_or(usize::MAX)
        .clamp(FEWEST, MOST)
}

/// The memory this process may use, in bytes: the machine's, or its
/// control group's limit when that is lower; `None` when neither is known.
pub fn available_memory() -> Option<u64> {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    let machine = Some(system.total_memory()).filter(|&bytes| bytes > 0);
    let group = system
        .cgroup_limits()
        .map(|limits| limits.total_memory)
        .filter(|&bytes| bytes > 0);
    match (machine, group) {
        (Some(machine), Some(group)) => Some(machine.min(group)),
        (machine, group) => machine.or(group),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn capacity_fills_half_the_memory_within_bounds() {
        // 24 GiB and two regions: 12 GiB / (2 × 8,500 + 800) bytes.
        assert_eq!(default_capacity(24 * GIB, 2), 723_870);
        assert_eq!(default_capacity(24 * GIB, 1), MOST);
        // A 2 GiB container with one region: about 115,000 keys.
        assert_eq!(default_capacity(2 * GIB, 1), 115_456);
        assert_eq!(default_capacity(16 << 20, 3), FEWEST);
        assert_eq!(default_capacity(0, 0), FEWEST);
        assert_eq!(default_capacity(u64::MAX, usize::MAX), FEWEST);
    }

    #[test]
    fn memory_is_read_on_linux() {
        let memory = available_memory().expect("memory of a Linux machine");
        assert!(memory >= 64 << 20, "{memory} bytes");
    }
}
