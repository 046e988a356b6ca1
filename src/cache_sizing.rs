//! The default capacities of the key and metadata caches, sized from the
//! memory the process may use ([ADR 0026](../docs/adr/0026-cache-capacities-from-memory.md)).

/// Most keys the caches hold by default, however much memory there is.
pub const MOST: usize = 1_000_000;
/// Fewest keys the caches hold by default, however little memory there is.
pub const FEWEST: usize = 1_000;
/// Capacity of both caches when the memory cannot be read: AWS KMS's quota
/// of keys per account and Region.
pub const WITHOUT_MEMORY: usize = 100_000;
/// Bytes one key takes in the key caches: SoftHSM's session object
/// with its attributes, the cache's entry and the fingerprints of four
/// checked material rows (README, "Performance": 8.1 KiB measured with one
/// fingerprint, at 645,000 cached keys).
const KEY_CACHE_ENTRY: u64 = 8_500;
/// Bytes one key takes in the metadata cache: its record and wrapped
/// materials (0.8 KiB measured).
const METADATA_ENTRY: u64 = 800;

/// The capacity of the key caches (all regions together) and of the
/// metadata cache when the configuration names none: as many keys as fit in
/// half of `memory` bytes when each is held once in each, between
/// [`FEWEST`] and [`MOST`].
pub fn default_capacity(memory: u64) -> usize {
    usize::try_from(memory / 2 / (KEY_CACHE_ENTRY + METADATA_ENTRY))
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
        // 24 GiB: 12 GiB / (8,500 + 800) bytes, above the most.
        assert_eq!(default_capacity(24 * GIB), MOST);
        // 16 GiB: 8 GiB / 9,300 bytes.
        assert_eq!(default_capacity(16 * GIB), 923_648);
        // A 2 GiB container: about 115,000 keys.
        assert_eq!(default_capacity(2 * GIB), 115_456);
        assert_eq!(default_capacity(16 << 20), FEWEST);
        assert_eq!(default_capacity(0), FEWEST);
        assert_eq!(default_capacity(u64::MAX), MOST);
    }

    #[test]
    fn memory_is_read_on_linux() {
        let memory = available_memory().expect("memory of a Linux machine");
        assert!(memory >= 64 << 20, "{memory} bytes");
    }
}
