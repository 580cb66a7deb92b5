//! A small seeded generator (SplitMix64) whose stream is fixed forever, unlike `rand::StdRng`,
//! whose algorithm may change between releases. Weights, dropout masks and shuffles all come
//! from it, so a seed reproduces a run bit for bit. Each use draws from its own stream derived
//! from the seed and labels (`derive`), so resuming needs no generator state.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent stream for a sub-task (e.g. one epoch's dropout), derived from a seed and
    /// labels, so the stream does not depend on how many numbers other tasks drew.
    pub fn derive(seed: u64, labels: &[u64]) -> Self {
        let mut rng = Rng::new(seed);
        for &label in labels {
            rng.state ^= label.wrapping_mul(0xD1B5_4A32_D192_ED03);
            rng.next_u64();
        }
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 random bits (every f32 in the range is equally spaced).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn uniform_range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal, by Box-Muller (one of the pair is used: simple, and fast enough for
    /// initialisation).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64; // (0, 1]
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    /// Standard normal truncated to [-2, 2] by redrawing, as Keras's TruncatedNormal.
    pub fn truncated_normal(&mut self) -> f32 {
        loop {
            let v = self.normal();
            if v.abs() <= 2.0 {
                return v;
            }
        }
    }

    /// A uniformly random index in 0..n (n > 0), without modulo bias.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.next_u64();
            if v < zone {
                return (v % n) as usize;
            }
        }
    }

    /// A tensor of uniform values in [-0.5, 0.5), for tests.
    #[cfg(test)]
    pub(crate) fn tensor(&mut self, shape: &[usize]) -> crate::Tensor {
        let len = shape.iter().product();
        let values = (0..len).map(|_| self.uniform() - 0.5).collect();
        crate::Tensor::from_vec("test", shape, values)
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_fixed() {
        // SplitMix64 from seed 0: these are the reference outputs of the published algorithm.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn moments_are_right() {
        let mut r = Rng::new(1);
        let n = 100_000;
        let u: Vec<f32> = (0..n).map(|_| r.uniform()).collect();
        let mean = u.iter().sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.01 && u.iter().all(|&v| (0.0..1.0).contains(&v)));
        let z: Vec<f32> = (0..n).map(|_| r.normal()).collect();
        let var = z.iter().map(|v| v * v).sum::<f32>() / n as f32;
        assert!((var - 1.0).abs() < 0.02, "{var}");
    }
}
