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

/// Pairwise sums of the columns of a row-major `n_rows × lanes` block, one per column, into
/// `out[..lanes]`: `out[c]` is exactly `pairwise_sum` of column `c` (what numpy's `.sum(axis=-1)`
/// gives for the transposed, C-ordered array), but the additions run across all columns at once.
/// `scratch` is reused between calls. Does nothing if `rows` or `out` is too short.
pub fn pairwise_sum_lanes(
    rows: &[f64],
    n_rows: usize,
    lanes: usize,
    out: &mut [f64],
    scratch: &mut Vec<f64>,
) {
    let Some(total) = n_rows.checked_mul(lanes) else {
        return;
    };
    if rows.len() < total || out.len() < lanes {
        return;
    }
    let out = &mut out[..lanes];
    pairwise_lanes_rec(&rows[..total], n_rows, lanes, out, scratch);
    for o in out.iter_mut() {
        *o += 0.0;
    }
}

/// [`pairwise_rec`] on `n` rows of `lanes` values at once.
fn pairwise_lanes_rec(
    rows: &[f64],
    n: usize,
    lanes: usize,
    out: &mut [f64],
    scratch: &mut Vec<f64>,
) {
    if lanes == 0 {
        return;
    }
    if n < PW_UNROLL {
        out.fill(0.0);
        for row in rows.chunks_exact(lanes).take(n) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
    } else if n <= PW_BLOCKSIZE {
        scratch.resize(PW_UNROLL * lanes, 0.0);
        let acc = &mut scratch[..PW_UNROLL * lanes];
        acc.copy_from_slice(&rows[..PW_UNROLL * lanes]);
        let full = n - n % PW_UNROLL;
        for group in rows[PW_UNROLL * lanes..full * lanes].chunks_exact(PW_UNROLL * lanes) {
            for (a, &v) in acc.iter_mut().zip(group) {
                *a += v;
            }
        }
        let mut r: [&[f64]; PW_UNROLL] = [&[]; PW_UNROLL];
        for (slot, chunk) in r.iter_mut().zip(acc.chunks_exact(lanes)) {
            *slot = chunk;
        }
        for (c, o) in out.iter_mut().enumerate() {
            let v = |j: usize| r[j].get(c).copied().unwrap_or(0.0);
            *o = ((v(0) + v(1)) + (v(2) + v(3))) + ((v(4) + v(5)) + (v(6) + v(7)));
        }
        for row in rows[full * lanes..].chunks_exact(lanes) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % PW_UNROLL;
        let (left, right) = rows.split_at(n2 * lanes);
        pairwise_lanes_rec(left, n2, lanes, out, scratch);
        let mut right_sum = vec![0.0; lanes];
        pairwise_lanes_rec(right, n - n2, lanes, &mut right_sum, scratch);
        for (o, &v) in out.iter_mut().zip(&right_sum) {
            *o += v;
        }
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

/// Below this magnitude the C library's `log1p(x)` returns `x` itself (which is also the
/// correctly rounded result, since `x²/2 < ulp(x)/2` there): 2**-54.
const LOG1P_IDENTITY_BELOW: f64 = 5.551_115_123_125_783e-17;

/// `np.log1p(x)`: the C library's `log1p`, skipping the call where it returns its argument
/// (`|x| < 2**-54`, including ±0), which is common when both tails of a truncated normal carry
/// no mass. Bit-exact (the shortcut is checked against the C library in the tests).
#[inline]
pub fn log1p(x: f64) -> f64 {
    if x.abs() < LOG1P_IDENTITY_BELOW {
        x
    } else {
        x.ln_1p()
    }
}

/// `f64::exp`, `f64::ln` and `f64::exp_m1` (the C library's functions) called out of line.
///
/// The compiler treats these functions as free of side effects, so where one is evaluated
/// under a data-dependent condition it may evaluate it unconditionally and select the result
/// afterwards, calling it for every element instead of for those that need it. A call that is
/// not inlined cannot be hoisted that way. The values are the same.
#[inline(never)]
pub(crate) fn exp_call(x: f64) -> f64 {
    x.exp()
}

/// See [`exp_call`].
#[inline(never)]
pub(crate) fn ln_call(x: f64) -> f64 {
    x.ln()
}

/// See [`exp_call`].
#[inline(never)]
pub(crate) fn exp_m1_call(x: f64) -> f64 {
    x.exp_m1()
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
        x + log1p((-tmp).exp())
    } else if tmp <= 0.0 {
        y + log1p(tmp.exp())
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
        assert_eq!(
            logaddexp(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
        assert_eq!(logaddexp(f64::INFINITY, f64::INFINITY), f64::INFINITY);
        assert_eq!(logaddexp(f64::INFINITY, f64::NEG_INFINITY), f64::INFINITY);
        assert_eq!(logaddexp(0.0, f64::NEG_INFINITY), 0.0);
        assert!(logaddexp(f64::NAN, 1.0).is_nan());
        assert!(logaddexp(1.0, f64::NAN).is_nan());
        assert_eq!(logaddexp(0.0, 0.0), LOGE2);
    }

    #[test]
    fn log1p_shortcut_matches_libm() {
        assert_eq!(LOG1P_IDENTITY_BELOW, 2f64.powi(-54));
        let mut x = f64::from_bits(1);
        while x < 1e-12 {
            for v in [x, -x, x * 1.37, -x * 1.37] {
                assert_eq!(log1p(v).to_bits(), v.ln_1p().to_bits(), "x = {v:e}");
            }
            x *= 1.5;
        }
        for v in [0.0, -0.0, LOG1P_IDENTITY_BELOW, -LOG1P_IDENTITY_BELOW] {
            assert_eq!(log1p(v).to_bits(), v.ln_1p().to_bits());
        }
    }

    #[test]
    fn lane_sums_equal_scalar_sums() {
        let mut scratch = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for n in [0usize, 1, 5, 7, 8, 9, 15, 16, 17, 127, 128, 129, 300, 1000] {
            for lanes in [1usize, 3, 24] {
                let rows: Vec<f64> = (0..n * lanes)
                    .map(|i| next() * (1 + i % 7) as f64)
                    .collect();
                let mut out = vec![0.0; lanes];
                pairwise_sum_lanes(&rows, n, lanes, &mut out, &mut scratch);
                for (c, &o) in out.iter().enumerate() {
                    let col: Vec<f64> = (0..n).map(|r| rows[r * lanes + c]).collect();
                    assert_eq!(o.to_bits(), pairwise_sum(&col).to_bits(), "n={n} c={c}");
                }
            }
        }
    }

    #[test]
    fn cumsum_is_sequential() {
        assert_eq!(cumsum(&[]), Vec::<f64>::new());
        assert_eq!(cumsum(&[1.0, 2.0, 3.0]), vec![1.0, 3.0, 6.0]);
        assert_eq!(cumsum(&[-0.0])[0].to_bits(), (-0.0f64).to_bits());
    }
}
