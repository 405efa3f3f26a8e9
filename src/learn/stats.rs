//! Recency-weighted reward statistics and the fast hasher the trainer's tables use.

use serde::{Deserialize, Serialize};
use std::hash::{BuildHasherDefault, Hasher};

/// Weighted sums of rewards: `w = Σ wᵢ`, `wr = Σ wᵢ·rᵢ`, `wr2 = Σ wᵢ·rᵢ²`.
///
/// Weights grow with time (`2^(t/half_life)`), so a newer reward counts more without
/// touching older sums; dividing by the current weight scale gives effective counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Sum of weights.
    pub w: f64,
    /// Weighted sum of rewards.
    pub wr: f64,
    /// Weighted sum of squared rewards.
    pub wr2: f64,
}

impl Stat {
    /// Adds one reward `r` with weight `w` (a negative weight removes it again).
    pub fn add(&mut self, w: f64, r: f64) {
        self.w += w;
        self.wr += w * r;
        self.wr2 += w * r * r;
    }

    /// Adds another statistic.
    pub fn merge(&mut self, other: &Stat) {
        self.w += other.w;
        self.wr += other.wr;
        self.wr2 += other.wr2;
    }

    /// Replaces a reward `old` added with weight `w` by `new`, for the share of that weight
    /// the statistic still holds (it may have been discounted since): the count stays.
    pub fn correct(&mut self, w: f64, old: f64, new: f64) {
        let w = w.min(self.w).max(0.0);
        self.wr += w * (new - old);
        self.wr2 = (self.wr2 + w * (new * new - old * old)).max(0.0);
    }

    /// This minus `other`, with tiny negative weights (from rounding) clamped to zero.
    pub fn minus(&self, other: &Stat) -> Stat {
        Stat {
            w: (self.w - other.w).max(0.0),
            wr: self.wr - other.wr,
            wr2: (self.wr2 - other.wr2).max(0.0),
        }
    }

    /// Multiplies every sum by `factor` (rebasing the weight scale).
    pub fn scale(&mut self, factor: f64) {
        self.w *= factor;
        self.wr *= factor;
        self.wr2 *= factor;
    }

    /// Weighted mean, or `None` without weight.
    pub fn mean(&self) -> Option<f64> {
        (self.w > 1e-12).then(|| self.wr / self.w)
    }

    /// Weighted variance (population), or `None` without weight.
    pub fn variance(&self) -> Option<f64> {
        let m = self.mean()?;
        Some((self.wr2 / self.w - m * m).max(0.0))
    }
}

/// FxHash-style hasher: multiply-rotate over machine words. Keys are our own strings (edit
/// ids, model ids), so hash flooding is not a concern and SipHash's cost is.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    fn finish(&self) -> u64 {
        // Multiplication only carries low bits upward; fold the high bits back down so keys
        // that differ in their last bytes (hex ids) land in different buckets.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_adds_removes_and_merges() {
        let mut s = Stat::default();
        assert_eq!(s.mean(), None);
        s.add(1.0, 1.0);
        s.add(3.0, -1.0);
        assert!((s.mean().unwrap() + 0.5).abs() < 1e-12);
        assert!((s.variance().unwrap() - 0.75).abs() < 1e-12);
        s.add(-3.0, -1.0);
        assert!((s.mean().unwrap() - 1.0).abs() < 1e-12);
        let mut t = Stat::default();
        t.merge(&s);
        t.scale(2.0);
        assert!((t.w - 2.0).abs() < 1e-12 && (t.mean().unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(t.minus(&t).w, 0.0);
    }

    #[test]
    fn fast_map_distinguishes_keys() {
        let mut m: FastMap<(&str, &str), u32> = FastMap::default();
        m.insert(("sdxl", "image.lighting.golden-hour"), 1);
        m.insert(("sdxl", "image.lighting.golden-hou"), 2);
        m.insert(("sdx", "limage.lighting.golden-hour"), 3);
        assert_eq!(m.len(), 3);
        assert_eq!(m[&("sdxl", "image.lighting.golden-hour")], 1);
    }
}
