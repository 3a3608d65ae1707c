//! numpy's exact operation order for reductions and a few element-wise ufuncs.
//!
//! numpy's float64 `exp`, `log`, `log1p`, `expm1` on an x86-64 machine without AVX-512 (this
//! project's reference machine reports `X86_V3`) call the C library, exactly like Rust's
//! `f64::exp`, `f64::ln`, `f64::ln_1p`, `f64::exp_m1` do on Linux, so the element-wise helpers
//! below only have to get the order of the arithmetic right. (On an AVX-512 machine numpy would
//! dispatch `exp`/`log` to its own SIMD kernels and the last bit could differ.)

/// `ln 2` as numpy's `NPY_LOGE2` rounds it.
const LOGE2: f64 = std::f64::consts::LN_2;

/// Below this many elements numpy sums with one plain accumulator.
const PW_UNROLL: usize = 8;
/// Largest block numpy sums with eight accumulators before splitting in two.
const PW_BLOCKSIZE: usize = 128;

/// `np.add.reduce` of a contiguous float64 array (numpy's pairwise summation).
///
/// numpy starts the reduction from the additive identity `0.0` and adds the pairwise sum of the
/// whole array to it (so a sum of negative zeros is `+0.0`). The same function applies to a
/// reduction over a contiguous last axis (`a.sum(axis=-1)` of a C-ordered array): call it per
/// row. Bit-exact (checked against numpy for every length 0..=1100 and many lengths up to 5000).
pub fn pairwise_sum(x: &[f64]) -> f64 {
    0.0 + pairwise_rec(x)
}

/// numpy's `pairwise_sum` kernel.
fn pairwise_rec(x: &[f64]) -> f64 {
    let n = x.len();
    if n < PW_UNROLL {
        let mut res = 0.0f64;
        for &v in x {
            res += v;
        }
        res
    } else if n <= PW_BLOCKSIZE {
        // Eight interleaved accumulators over the largest multiple-of-8 prefix, combined as a
        // balanced tree, then the leftover (< 8) elements added one by one.
        let mut r = [0.0f64; PW_UNROLL];
        r.copy_from_slice(&x[..PW_UNROLL]);
        let full = n - n % PW_UNROLL;
        for chunk in x[PW_UNROLL..full].chunks_exact(PW_UNROLL) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &x[full..] {
            res += v;
        }
        res
    } else {
        // Split near the middle, keeping the left part a multiple of 8.
        let mut n2 = n / 2;
        n2 -= n2 % PW_UNROLL;
        let (left, right) = x.split_at(n2);
        pairwise_rec(left) + pairwise_rec(right)
    }
}

/// `np.cumsum` of a 1-D float64 array: a sequential running sum whose first entry is `x[0]`.
pub fn cumsum(x: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut iter = x.iter();
    if let Some(&first) = iter.next() {
        let mut acc = first;
        out.push(acc);
        for &v in iter {
            acc += v;
            out.push(acc);
        }
    }
    out
}

/// `np.logaddexp(x, y)`.
///
/// Equal arguments (including two infinities of the same sign) give `x + ln 2`; otherwise the
/// larger argument plus `log1p(exp(-|x - y|))`; a NaN difference is returned as is. Bit-exact.
#[inline]
pub fn logaddexp(x: f64, y: f64) -> f64 {
    if x == y {
        return x + LOGE2;
    }
    let tmp = x - y;
    if tmp > 0.0 {
        x + (-tmp).exp().ln_1p()
    } else if tmp <= 0.0 {
        y + tmp.exp().ln_1p()
    } else {
        tmp
    }
}

/// Element-wise `np.logaddexp(x, y)` into `out` (all three must have the same length; extra
/// elements of a longer slice are ignored).
pub fn logaddexp_into(x: &[f64], y: &[f64], out: &mut [f64]) {
    for ((o, &a), &b) in out.iter_mut().zip(x).zip(y) {
        *o = logaddexp(a, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sums() {
        assert_eq!(pairwise_sum(&[]).to_bits(), 0.0f64.to_bits());
        assert_eq!(pairwise_sum(&[-0.0; 9]).to_bits(), 0.0f64.to_bits());
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        assert!(pairwise_sum(&[1.0, f64::NAN]).is_nan());
    }

    #[test]
    fn logaddexp_specials() {
        assert_eq!(logaddexp(f64::NEG_INFINITY, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(logaddexp(f64::INFINITY, f64::INFINITY), f64::INFINITY);
        assert_eq!(logaddexp(f64::INFINITY, f64::NEG_INFINITY), f64::INFINITY);
        assert_eq!(logaddexp(0.0, f64::NEG_INFINITY), 0.0);
        assert!(logaddexp(f64::NAN, 1.0).is_nan());
        assert!(logaddexp(1.0, f64::NAN).is_nan());
        assert_eq!(logaddexp(0.0, 0.0), LOGE2);
    }

    #[test]
    fn cumsum_is_sequential() {
        assert_eq!(cumsum(&[]), Vec::<f64>::new());
        assert_eq!(cumsum(&[1.0, 2.0, 3.0]), vec![1.0, 3.0, 6.0]);
        assert_eq!(cumsum(&[-0.0])[0].to_bits(), (-0.0f64).to_bits());
    }
}
