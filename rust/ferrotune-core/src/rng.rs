//! numpy's legacy `RandomState` stream (MT19937), as Optuna consumes it.
//!
//! Everything here is bit-exact against `numpy.random.RandomState` (numpy 2.4): the integer
//! seeding, the 624-word state and its position (the same numbers `get_state()` reports), the
//! tempered 32-bit outputs, the 53-bit doubles of `random_sample`/`rand`, `uniform` with scalar
//! bounds (one value or a filled slice), and the legacy `choice(n, p=p, size=size)` algorithm.
//! The Gaussian cache of `RandomState` (`has_gauss`/`cached_gaussian`) is not modelled because
//! Optuna's TPE never draws normals from this stream.

use crate::numpy_ops::cumsum;
use crate::CoreError;

/// Number of 32-bit words in the MT19937 state.
pub const MT_N: usize = 624;
/// Offset of the word mixed into each regenerated word.
const MT_M: usize = 397;
/// The twist matrix constant of MT19937.
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

#[derive(Clone, Debug)]
pub struct Mt19937 {
    key: [u32; MT_N],
    pos: usize,
}

/// One step of the MT19937 recurrence: combine the top bit of `hi` with the low bits of `lo`,
/// shift, conditionally xor the matrix constant, and mix in `far`.
#[inline(always)]
fn twist(hi: u32, lo: u32, far: u32) -> u32 {
    let y = (hi & UPPER_MASK) | (lo & LOWER_MASK);
    // `0u32.wrapping_sub(y & 1)` is all ones when the low bit is set, zero otherwise.
    far ^ (y >> 1) ^ (0u32.wrapping_sub(y & 1) & MATRIX_A)
}

impl Mt19937 {
    /// `np.random.RandomState(seed)` for an integer seed in [0, 2**32).
    ///
    /// numpy's legacy integer seeding is Matsumoto & Nishimura's `init_genrand`: word 0 is the
    /// seed, word i is `1812433253 * (w ^ (w >> 30)) + i` (mod 2**32) of the previous word `w`,
    /// and the position starts at 624 so the first draw regenerates the whole block.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; MT_N];
        let mut w = seed;
        for (i, slot) in key.iter_mut().enumerate() {
            *slot = w;
            // `i + 1 < 2**10`, so the cast is lossless.
            w = 1_812_433_253u32
                .wrapping_mul(w ^ (w >> 30))
                .wrapping_add(i as u32 + 1);
        }
        Mt19937 { key, pos: MT_N }
    }

    /// Rebuild from `RandomState.get_state()`'s key (624 words) and position (0..=624).
    pub fn from_state(key: &[u32], pos: usize) -> Result<Self, CoreError> {
        if key.len() != MT_N {
            return Err(CoreError::InvalidArgument(format!(
                "MT19937 state must have {MT_N} words, got {}",
                key.len()
            )));
        }
        if pos > MT_N {
            return Err(CoreError::InvalidArgument(format!(
                "MT19937 position must be in 0..={MT_N}, got {pos}"
            )));
        }
        let mut words = [0u32; MT_N];
        words.copy_from_slice(key);
        Ok(Mt19937 { key: words, pos })
    }

    pub fn key(&self) -> &[u32; MT_N] {
        &self.key
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Regenerate all 624 words in place (the "twist") and rewind the position.
    fn regenerate(&mut self) {
        let k = &mut self.key;
        for i in 0..MT_N - MT_M {
            k[i] = twist(k[i], k[i + 1], k[i + MT_M]);
        }
        for i in MT_N - MT_M..MT_N - 1 {
            k[i] = twist(k[i], k[i + 1], k[i + MT_M - MT_N]);
        }
        k[MT_N - 1] = twist(k[MT_N - 1], k[0], k[MT_M - 1]);
        self.pos = 0;
    }

    /// The next tempered 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= MT_N {
            self.regenerate();
        }
        // `pos < MT_N` here; `get` keeps the indexing panic-free without a bounds assumption.
        let mut y = self.key.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `RandomState.random_sample()`: a 53-bit double in [0, 1).
    ///
    /// Two outputs are consumed: the top 27 bits of the first and the top 26 bits of the second
    /// form a 53-bit integer, which is scaled by 2**-53 (exactly as numpy does it).
    #[inline]
    pub fn random_sample(&mut self) -> f64 {
        let hi = f64::from(self.next_u32() >> 5);
        let lo = f64::from(self.next_u32() >> 6);
        (hi * 67_108_864.0 + lo) / 9_007_199_254_740_992.0
    }

    /// `RandomState.uniform(low, high)` for one value: `low + (high - low) * random_sample()`.
    #[inline]
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        let range = high - low;
        low + range * self.random_sample()
    }

    /// `RandomState.random_sample(size=out.len())` (also `rand(n)`) into `out`, in order.
    pub fn fill_random_sample(&mut self, out: &mut [f64]) {
        for v in out.iter_mut() {
            *v = self.random_sample();
        }
    }

    /// `RandomState.uniform(low, high, size=out.len())` with scalar bounds into `out`, in order.
    pub fn fill_uniform(&mut self, low: f64, high: f64, out: &mut [f64]) {
        let range = high - low;
        for v in out.iter_mut() {
            *v = low + range * self.random_sample();
        }
    }

    /// `RandomState.choice(len(p), p=p, size=size)` (legacy algorithm; `p` already validated and
    /// non-negative with a positive sum).
    ///
    /// The cumulative sum of `p` is taken left to right and divided by its last entry; then
    /// `size` doubles are drawn and each is located with a right-sided binary search (the index
    /// of the first cdf entry greater than the draw). Indices that would fall past the end (only
    /// possible with an invalid `p`, e.g. NaN) are clamped to `p.len() - 1`. An empty `p` yields
    /// an empty vector and consumes nothing. See [`Mt19937::choice_p_checked`] for a version that
    /// validates `p` the way numpy does.
    pub fn choice_p(&mut self, p: &[f64], size: usize) -> Vec<usize> {
        let n = p.len();
        if n == 0 {
            return Vec::new();
        }
        let mut cdf = cumsum(p);
        let total = cdf.last().copied().unwrap_or(1.0);
        for c in cdf.iter_mut() {
            *c /= total;
        }
        let mut out = Vec::with_capacity(size);
        for _ in 0..size {
            let u = self.random_sample();
            out.push(searchsorted_right(&cdf, u).min(n - 1));
        }
        out
    }

    /// [`Mt19937::choice_p`] preceded by numpy's validation of `p`: non-empty, finite,
    /// non-negative, and summing to 1 within `sqrt(f64::EPSILON)` (numpy uses a Kahan sum for this
    /// check). Nothing is drawn when validation fails.
    pub fn choice_p_checked(&mut self, p: &[f64], size: usize) -> Result<Vec<usize>, CoreError> {
        if p.is_empty() {
            return Err(CoreError::InvalidArgument(
                "choice: the population must be non-empty".into(),
            ));
        }
        if p.iter().any(|v| !v.is_finite()) {
            return Err(CoreError::InvalidArgument(
                "choice: probabilities must be finite".into(),
            ));
        }
        if p.iter().any(|&v| v < 0.0) {
            return Err(CoreError::InvalidArgument(
                "choice: probabilities must be non-negative".into(),
            ));
        }
        let atol = f64::EPSILON.sqrt();
        if (kahan_sum(p) - 1.0).abs() > atol {
            return Err(CoreError::InvalidArgument(
                "choice: probabilities do not sum to 1".into(),
            ));
        }
        Ok(self.choice_p(p, size))
    }
}

/// Compensated (Kahan) summation, as numpy's `choice` uses to check that `p` sums to one.
fn kahan_sum(x: &[f64]) -> f64 {
    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    for &v in x {
        let y = v - comp;
        let t = sum + y;
        comp = (t - sum) - y;
        sum = t;
    }
    sum
}

/// numpy's `searchsorted(sorted, key, side='right')` for one key: the number of leading entries
/// that are not greater than `key`, under numpy's float ordering (NaN sorts after everything).
/// `sorted` must be non-decreasing in that ordering for the answer to be meaningful; the search
/// never indexes out of bounds either way.
pub fn searchsorted_right(sorted: &[f64], key: f64) -> usize {
    let mut lo = 0usize;
    let mut hi = sorted.len();
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let v = sorted.get(mid).copied().unwrap_or(f64::NAN);
        // numpy's "less than" for floats: `a < b || (b != b && a == a)`.
        let key_lt_v = key < v || (v.is_nan() && !key.is_nan());
        if key_lt_v {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_matches_reference_mt19937() {
        // The reference implementation's first output for init_genrand(5489) is 3499211612.
        let mut mt = Mt19937::new(5489);
        assert_eq!(mt.pos(), MT_N);
        assert_eq!(mt.next_u32(), 3_499_211_612);
    }

    #[test]
    fn from_state_validates() {
        assert!(Mt19937::from_state(&[0u32; 623], 0).is_err());
        assert!(Mt19937::from_state(&[0u32; MT_N], MT_N + 1).is_err());
        let mt = Mt19937::new(7);
        let back = Mt19937::from_state(mt.key(), mt.pos());
        assert!(back.is_ok());
    }

    #[test]
    fn choice_edge_cases_do_not_panic() {
        let mut mt = Mt19937::new(1);
        assert!(mt.choice_p(&[], 5).is_empty());
        let r = mt.choice_p(&[f64::NAN, 1.0], 10);
        assert!(r.iter().all(|&i| i < 2));
        let r = mt.choice_p(&[0.0, 0.0], 10);
        assert!(r.iter().all(|&i| i < 2));
        assert!(mt.choice_p_checked(&[0.5, 0.6], 1).is_err());
        assert!(mt.choice_p_checked(&[], 1).is_err());
        assert!(mt.choice_p_checked(&[-0.5, 1.5], 1).is_err());
        assert_eq!(mt.choice_p_checked(&[0.0, 1.0], 3), Ok(vec![1, 1, 1]));
    }
}
