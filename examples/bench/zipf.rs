//! A small random generator and a Zipf sampler, so the bench needs no crate for them.

/// SplitMix64: fast, statistically fine for choosing keys and filling plaintexts.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from the clock, the process id and `stream`.
    pub fn new(stream: u64) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut rng = Rng(nanos ^ (u64::from(std::process::id()) << 32) ^ stream.rotate_left(17));
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n), n > 0.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Zipf distribution over `n` items: item of rank k (1-based) has probability
/// proportional to 1/k^s. Ranks are mapped to item indices through a random
/// permutation, so popularity does not follow creation order.
pub struct Zipf {
    cdf: Vec<f64>,
    items: Vec<u32>,
}

impl Zipf {
    /// The distribution over `n` items with exponent `s`.
    pub fn new(n: usize, s: f64, rng: &mut Rng) -> Self {
        assert!(n > 0 && n <= u32::MAX as usize);
        let mut total = 0.0;
        let cdf = (1..=n)
            .map(|k| {
                total += (k as f64).powf(-s);
                total
            })
            .collect();
        let mut items: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            items.swap(i, rng.below(i + 1));
        }
        Zipf { cdf, items }
    }

    /// An item index in [0, n).
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cdf.last().expect("n > 0");
        let u = rng.next_f64() * total;
        let rank = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1);
        self.items[rank] as usize
    }

    /// Share of the samples that fall on the `top` most popular items.
    pub fn head_share(&self, top: usize) -> f64 {
        let total = *self.cdf.last().expect("n > 0");
        self.cdf[top.clamp(1, self.cdf.len()) - 1] / total
    }
}
