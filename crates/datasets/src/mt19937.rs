//! MT19937, the Mersenne Twister (Matsumoto and Nishimura, 1998), exactly as NumPy's legacy
//! `np.random.RandomState` runs it, so that index shuffles match NumPy and scikit-learn.
//!
//! Reference: the authors' `mt19937ar.c` (`init_genrand`, `init_by_array`, `genrand_int32`) and
//! NumPy's `numpy/random/src/legacy` + `distributions.c` (`random_interval`) and `_legacy.pyx`
//! (`RandomState.shuffle`).

/// Words of state.
const N: usize = 624;
/// The middle word of the recurrence.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

#[derive(Clone)]
pub struct Mt19937 {
    state: [u32; N],
    /// Index of the next word to temper; `N` means the state must be regenerated first.
    next: usize,
}

impl Mt19937 {
    /// `init_genrand(seed)`: what `np.random.RandomState(seed)` does for an integer seed below
    /// 2^32.
    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, next: N }
    }

    /// `init_by_array(key)`: what `np.random.RandomState(key)` does for a non-empty array of
    /// 32-bit words. An empty key is treated as `[0]`.
    pub fn from_key(key: &[u32]) -> Mt19937 {
        let key = if key.is_empty() { &[0u32][..] } else { key };
        let mut mt = Mt19937::new(19_650_218);
        let s = &mut mt.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = s[i - 1];
            s[i] = (s[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = s[i - 1];
            s[i] =
                (s[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                s[0] = s[N - 1];
                i = 1;
            }
        }
        // The most significant bit set: the state is never all zero.
        s[0] = 0x8000_0000;
        mt
    }

    /// The raw state words, as `RandomState.get_state()[1]` shows them.
    pub fn state(&self) -> &[u32; N] {
        &self.state
    }

    /// `genrand_int32`: the next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        if self.next >= N {
            self.regenerate();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        // Tempering.
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// NumPy's `next_uint64` for MT19937: two draws, the first in the high half.
    pub fn next_u64(&mut self) -> u64 {
        let high = self.next_u32() as u64;
        (high << 32) | self.next_u32() as u64
    }

    /// NumPy's `random_interval(max)`: uniform in `0..=max`, by masking draws with the smallest
    /// all-ones mask that covers `max` and rejecting values above it.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u32::MAX as u64 {
            loop {
                let value = self.next_u32() as u64 & mask;
                if value <= max {
                    return value;
                }
            }
        }
        loop {
            let value = self.next_u64() & mask;
            if value <= max {
                return value;
            }
        }
    }

    /// `RandomState.shuffle` (the legacy Fisher-Yates, walking from the end).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.interval(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// `RandomState.permutation(n)`: `0..n` shuffled.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut items: Vec<usize> = (0..n).collect();
        self.shuffle(&mut items);
        items
    }

    /// Makes the next `N` words of state (the twist).
    fn regenerate(&mut self) {
        let s = &mut self.state;
        for i in 0..N {
            let y = (s[i] & UPPER_MASK) | (s[(i + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            s[i] = s[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C++ standard fixes this value: the 10,000th output of `std::mt19937` default-seeded
    /// with 5489 is 4123659995 ([rand.predef]).
    #[test]
    fn ten_thousandth_output_matches_the_cpp_standard() {
        let mut mt = Mt19937::new(5489);
        let last = (0..10_000).map(|_| mt.next_u32()).last();
        assert_eq!(last, Some(4_123_659_995));
    }

    /// `mt19937ar.out`, the authors' reference output for `init_by_array({0x123, 0x234, 0x345,
    /// 0x456})`, begins with these words.
    #[test]
    fn init_by_array_matches_the_reference_output() {
        let mut mt = Mt19937::from_key(&[0x123, 0x234, 0x345, 0x456]);
        let first: Vec<u32> = (0..5).map(|_| mt.next_u32()).collect();
        assert_eq!(
            first,
            [1067595299, 955945823, 477289528, 4107218783, 4228976476]
        );
    }

    #[test]
    fn interval_stays_in_range_including_64_bit_bounds() {
        let mut mt = Mt19937::new(1);
        for max in [
            1u64,
            2,
            3,
            7,
            8,
            1000,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
            u64::MAX,
        ] {
            for _ in 0..100 {
                assert!(mt.interval(max) <= max, "max {max}");
            }
        }
    }
}
