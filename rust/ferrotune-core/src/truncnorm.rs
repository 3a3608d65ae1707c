//! Truncated-normal maths as Optuna's `_truncnorm.py` computes them (batch semantics included).
//!
//! Optuna evaluates these functions on numpy arrays split by boolean masks, and two of the
//! splits change the numbers, not just the speed:
//! - in `_log_gauss_mass`, the *central* elements (`a <= 0 < b`) go through `_ndtr` as one
//!   sub-batch, so the number of central elements picks the erf kernel (see
//!   [`crate::special::ErfKernel`]);
//! - `_ndtri_exp` runs Newton steps on the whole batch it is given until *every* element has
//!   converged, so the iteration count (and hence the last bits of each result) depends on the
//!   batch; `ppf` calls it once for its `a < 0` elements and once for the others.
//!
//! The functions here reproduce both splits. `log_gauss_mass`, `ndtri_exp` and `ppf` are
//! bit-exact against Optuna 5.0 on this machine, and so is `logpdf_grid` (element for element
//! the same operations in the same order); see `tests/numerics_golden.rs`. NaN results are NaN
//! in both, payloads are not compared.
//!
//! Speed: most kernels of a Parzen estimator have both truncation bounds beyond 6√2 standard
//! deviations, where either erf is exactly ±1 and the log mass is exactly `-0.0`; those are
//! recognised four at a time without any library call. Loops that call the C library
//! (`erf`, `erfc`, `log`, `exp`, ...) for every element run in stages over the batch (for
//! instance Φ of every element, then every logarithm) rather than element by element, so that
//! the calls of consecutive elements are independent and overlap in the processor instead of
//! waiting for each other; every element still sees exactly the same operations.
//!
//! Every function that takes several equal-length slices has a `try_` twin that returns
//! [`CoreError::InvalidArgument`] on a length mismatch. The fixed-signature versions cannot
//! return an error; on a mismatch they return a NaN-filled vector of the expected output length
//! instead of panicking.

use crate::numpy_ops::{exp_call, exp_m1_call, ln_call, log1p, logaddexp, pairwise_sum_lanes};
use crate::special::{log_ndtr_staged, ErfKernel};
use crate::CoreError;

/// Python's `math.log(math.sqrt(2 * math.pi))` (log of the normal density's normaliser).
const NORM_PDF_LOG_C: f64 = 0.918_938_533_204_672_7;
/// Python's `math.sqrt(3) / math.pi` (scale of the logistic approximation to Φ).
const NDTRI_EXP_APPROX_C: f64 = 0.551_328_895_421_792_1;
/// Maximum number of Newton steps in `_ndtri_exp`.
const NDTRI_EXP_MAX_ITER: usize = 100;
/// Relative tolerance of `_ndtri_exp`'s stopping rule.
const NDTRI_EXP_RTOL: f64 = 1e-8;

fn mismatch(what: &str) -> CoreError {
    CoreError::InvalidArgument(format!("{what}: input lengths differ"))
}

/// `log(exp(lp) - exp(lq))` as Optuna writes it: `lp + log1p(-exp(lq - lp))`.
#[cfg(test)]
fn log_diff(lp: f64, lq: f64) -> f64 {
    lp + log1p(-(lq - lp).exp())
}

/// Optuna's classification of one `(a, b)` pair in `_log_gauss_mass`: `Some(false)` for the
/// left case (`b <= 0`), `Some(true)` for the right case (`a > 0`, which wins over the left case
/// because numpy assigns it second), `None` for the central case (everything else, NaN included).
#[inline(always)]
fn tail_side(a: f64, b: f64) -> Option<bool> {
    if a > 0.0 {
        Some(true)
    } else if b <= 0.0 {
        Some(false)
    } else {
        None
    }
}

/// `_log_gauss_mass(a, b)` over equal-length batches (the central-case subset goes through
/// `ndtr_batch`, so its size decides which erf is used, as in Optuna).
pub fn log_gauss_mass(a: &[f64], b: &[f64]) -> Vec<f64> {
    try_log_gauss_mass(a, b).unwrap_or_else(|_| vec![f64::NAN; a.len()])
}

/// [`log_gauss_mass`] with a length check.
pub fn try_log_gauss_mass(a: &[f64], b: &[f64]) -> Result<Vec<f64>, CoreError> {
    let mut out = vec![0.0; a.len()];
    log_gauss_mass_into(a, b, &mut out)?;
    Ok(out)
}

/// [`log_gauss_mass`] into a caller-provided buffer of the same length.
pub fn log_gauss_mass_into(a: &[f64], b: &[f64], out: &mut [f64]) -> Result<(), CoreError> {
    if a.len() != b.len() || a.len() != out.len() {
        return Err(mismatch("log_gauss_mass"));
    }
    // Most pairs of a Parzen estimator have both bounds far beyond 6√2 standard deviations:
    // then whichever erf Optuna uses returns exactly ∓1 for both arguments (checked by
    // `saturation_shortcut_is_exact`), so the central formula evaluates to
    // log1p(-0.0 - 0.0) = -0.0 without any transcendental call. One pass writes those, counts
    // the central pairs (which picks the erf kernel) and collects the others.
    let mut rest = Vec::new();
    let central = classify_pairs(a, b, out, &mut rest);
    let kernel = ErfKernel::for_batch_len(central);
    let ra: Vec<f64> = rest.iter().map(|&i| a[i]).collect();
    let rb: Vec<f64> = rest.iter().map(|&i| b[i]).collect();
    let mut values = vec![0.0; rest.len()];
    log_gauss_mass_staged(kernel, &ra, &rb, &mut values);
    for (&i, &v) in rest.iter().zip(&values) {
        if let Some(o) = out.get_mut(i) {
            *o = v;
        }
    }
    Ok(())
}

/// One element of `_log_gauss_mass` per pair `(a[i], b[i])` into `out[i]` (only the common
/// length), with the central subset's erf kernel `kernel` (which
/// [`ErfKernel::for_batch_len`] picks from the number of central pairs in the whole batch).
///
/// In stages: the erf values of the central pairs and the log Φ of both bounds of the tail
/// pairs first, then the exponentials, then the outer `log1p`, so that the C library calls of
/// consecutive elements are independent and overlap. Every element sees Optuna's operations:
/// the right tail (`a > 0`) is mirrored into the left one, `log Φ(-a) ⊖ log Φ(-b)`; the left
/// tail (`b <= 0`) is `log Φ(b) ⊖ log Φ(a)` with `lp ⊖ lq = lp + log1p(-exp(lq - lp))`; the
/// central case is `log1p(-Φ(a) - Φ(-b))`, avoiding cancellation near a total mass of 1.
pub(crate) fn log_gauss_mass_staged(kernel: ErfKernel, a: &[f64], b: &[f64], out: &mut [f64]) {
    let n = a.len().min(b.len()).min(out.len());
    let (a, b, out) = (&a[..n], &b[..n], &mut out[..n]);
    // The tail pairs (by index) with the arguments of their two log Φ; the central pairs get
    // the argument of their `log1p`.
    let mut tails = Vec::new();
    let mut p_arg = Vec::new();
    let mut q_arg = Vec::new();
    for (i, ((o, &lo), &hi)) in out.iter_mut().zip(a).zip(b).enumerate() {
        match tail_side(lo, hi) {
            // Mirror the right tail into the left one, where log Φ is accurate.
            Some(true) => {
                tails.push(i);
                p_arg.push(-lo);
                q_arg.push(-hi);
            }
            Some(false) => {
                tails.push(i);
                p_arg.push(hi);
                q_arg.push(lo);
            }
            // Central: log(1 - Φ(a) - Φ(-b)), avoiding cancellation near a total mass of 1.
            None => *o = -kernel.ndtr(lo) - kernel.ndtr(-hi),
        }
    }
    let mut lp = vec![0.0; tails.len()];
    let mut lq = vec![0.0; tails.len()];
    log_ndtr_staged(&p_arg, &mut lp);
    log_ndtr_staged(&q_arg, &mut lq);
    // log(exp(lp) - exp(lq)) as Optuna writes it: lp + log1p(-exp(lq - lp)).
    let e: Vec<f64> = lp.iter().zip(&lq).map(|(&p, &q)| exp_call(q - p)).collect();
    let mut next = tails.iter().peekable();
    let mut t = 0;
    for (i, o) in out.iter_mut().enumerate() {
        if next.peek() == Some(&&i) {
            next.next();
            if let (Some(&p), Some(&ei)) = (lp.get(t), e.get(t)) {
                *o = p + log1p(-ei);
            }
            t += 1;
        } else {
            *o = log1p(*o);
        }
    }
}

/// Writes `-0.0` to `out[i]` for every saturated pair (`a[i] <= -POLY_SATURATED` and
/// `b[i] >= POLY_SATURATED`), appends the indices of the other pairs to `rest` in order, and
/// returns the number of central-case pairs (neither `a > 0` nor `b <= 0`, NaN included).
fn classify_pairs(a: &[f64], b: &[f64], out: &mut [f64], rest: &mut Vec<usize>) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() {
            // SAFETY: the CPU supports AVX2 (`use_avx2` checked it).
            return unsafe { classify_pairs_avx2(a, b, out, rest) };
        }
    }
    classify_pairs_portable(a, b, out, rest, 0)
}

/// [`classify_pairs`] element by element; indices in `rest` are offset by `base`.
fn classify_pairs_portable(
    a: &[f64],
    b: &[f64],
    out: &mut [f64],
    rest: &mut Vec<usize>,
    base: usize,
) -> usize {
    let mut central = 0;
    for (i, ((o, &lo), &hi)) in out.iter_mut().zip(a).zip(b).enumerate() {
        central += usize::from(tail_side(lo, hi).is_none());
        if lo <= -POLY_SATURATED && hi >= POLY_SATURATED {
            *o = -0.0;
        } else {
            rest.push(base + i);
        }
    }
    central
}

/// # Safety
///
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn classify_pairs_avx2(
    a: &[f64],
    b: &[f64],
    out: &mut [f64],
    rest: &mut Vec<usize>,
) -> usize {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len()).min(out.len());
    let full = n - n % 4;
    let zero = _mm256_setzero_pd();
    let sat_lo = _mm256_set1_pd(-POLY_SATURATED);
    let sat_hi = _mm256_set1_pd(POLY_SATURATED);
    let neg_zero = _mm256_set1_pd(-0.0);
    let mut central = 0usize;
    let mut i = 0;
    while i < full {
        // In bounds: i + 4 <= full <= n.
        let lo = _mm256_loadu_pd(a.as_ptr().add(i));
        let hi = _mm256_loadu_pd(b.as_ptr().add(i));
        // Central: !(a > 0) && !(b <= 0), true for NaN.
        let c = _mm256_and_pd(
            _mm256_cmp_pd::<_CMP_NGT_UQ>(lo, zero),
            _mm256_cmp_pd::<_CMP_NLE_UQ>(hi, zero),
        );
        central += _mm256_movemask_pd(c).count_ones() as usize;
        let sat = _mm256_and_pd(
            _mm256_cmp_pd::<_CMP_LE_OQ>(lo, sat_lo),
            _mm256_cmp_pd::<_CMP_GE_OQ>(hi, sat_hi),
        );
        let mask = _mm256_movemask_pd(sat);
        let op = out.as_mut_ptr().add(i);
        if mask == 0b1111 {
            _mm256_storeu_pd(op, neg_zero);
        } else {
            for l in 0..4 {
                if mask & (1 << l) != 0 {
                    *op.add(l) = -0.0;
                } else {
                    rest.push(i + l);
                }
            }
        }
        i += 4;
    }
    central + classify_pairs_portable(&a[full..n], &b[full..n], &mut out[full..n], rest, full)
}

/// A bound a little beyond 6√2 ≈ 8.4852814: for `|t| >= POLY_SATURATED`, `|t| / √2` (rounded)
/// is at least 6, where both erf kernels (the polynomial and the C library's) return exactly
/// ±1. Bounds just inside it simply take
/// the general path, so the exact threshold does not matter for the results.
pub(crate) const POLY_SATURATED: f64 = 8.4853;

/// One element of `_log_gauss_mass` with the central subset's erf kernel: the reference for
/// [`log_gauss_mass_staged`], which performs the same operations in stages.
#[cfg(test)]
fn log_gauss_mass_one(kernel: ErfKernel, lo: f64, hi: f64) -> f64 {
    match tail_side(lo, hi) {
        // Mirror the right tail into the left one, where log Φ is accurate.
        Some(true) => log_diff(crate::special::log_ndtr(-lo), crate::special::log_ndtr(-hi)),
        Some(false) => log_diff(crate::special::log_ndtr(hi), crate::special::log_ndtr(lo)),
        // Central: log(1 - Φ(a) - Φ(-b)), avoiding cancellation near a total mass of 1.
        None => log1p(-kernel.ndtr(lo) - kernel.ndtr(-hi)),
    }
}

/// `_ndtri_exp(y)` with Optuna's shared Newton stopping rule over the whole batch.
pub fn ndtri_exp(y: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; y.len()];
    let mut z = vec![0.0; y.len()];
    ndtri_exp_into(y, &mut x, &mut z);
    x
}

/// `_ndtri_exp` on the batch `y` into `x`, with `z` as scratch. The batch is the common length
/// of the three slices (pass equal lengths; elements beyond it are left untouched).
///
/// Solves log Φ(x) = y. For `y > -0.01` it solves log Φ(-x) = log(1 - e^y) =: z instead and
/// flips the sign at the end (otherwise z = y). The starting point is the Gaussian-tail
/// asymptote for z < -5 and a logistic approximation of Φ otherwise; then up to 100 Newton
/// steps `x -= (log Φ(x) - z) * exp(log Φ(x) - log φ(x))`, all elements stepping together,
/// stopping after the first step in which every `|dx| < 1e-8 |x|` (so one NaN anywhere in the
/// batch means all 100 steps for everybody, as in Optuna).
pub fn ndtri_exp_into(y: &[f64], x: &mut [f64], z: &mut [f64]) {
    let n = y.len().min(x.len()).min(z.len());
    let (y, x, z) = (&y[..n], &mut x[..n], &mut z[..n]);
    for (zi, &yi) in z.iter_mut().zip(y) {
        *zi = if yi > -1e-2 {
            ln_call(-exp_m1_call(yi))
        } else {
            yi
        };
    }
    // The starting points; the logistic one, `-c·log(expm1(-z))`, in two stages (as in the
    // Newton steps below, so that consecutive C library calls are independent).
    for (xi, &zv) in x.iter_mut().zip(z.iter()) {
        *xi = if zv < -5.0 {
            -(-2.0 * (zv + NORM_PDF_LOG_C)).sqrt()
        } else if zv >= -5.0 {
            exp_m1_call(-zv)
        } else {
            // z is NaN: Optuna leaves this entry uninitialised and the first Newton step turns
            // it into NaN whatever it held.
            f64::NAN
        };
    }
    for (xi, &zv) in x.iter_mut().zip(z.iter()) {
        if zv >= -5.0 {
            *xi = -NDTRI_EXP_APPROX_C * ln_call(*xi);
        }
    }
    // Each step runs in stages over the whole batch (log Φ of every element, then every
    // exponential, then the updates) rather than element by element: the C library calls of
    // consecutive elements are then independent and overlap, instead of each element waiting
    // for its own chain erf → log → exp. Every element sees the same operations.
    let mut log_ndtr_x = vec![0.0; n];
    let mut ratio = vec![0.0; n];
    for _ in 0..NDTRI_EXP_MAX_ITER {
        log_ndtr_staged(x, &mut log_ndtr_x);
        for ((r, &l), &xv) in ratio.iter_mut().zip(&log_ndtr_x).zip(x.iter()) {
            let log_norm_pdf_x = -0.5 * (xv * xv) - NORM_PDF_LOG_C;
            *r = (l - log_norm_pdf_x).exp();
        }
        let mut converged = true;
        let terms = log_ndtr_x.iter().zip(&ratio);
        for ((xi, &zi), (&l, &r)) in x.iter_mut().zip(z.iter()).zip(terms) {
            let dx = (l - zi) * r;
            let x_new = *xi - dx;
            *xi = x_new;
            converged &= dx.abs() < NDTRI_EXP_RTOL * x_new.abs();
        }
        if converged {
            break;
        }
    }
    for (xi, &yi) in x.iter_mut().zip(y) {
        if yi > -1e-2 {
            *xi *= -1.0;
        }
    }
}

/// `ppf(q, a, b)` over equal-length batches (left and right cases solved as separate batches).
pub fn ppf(q: &[f64], a: &[f64], b: &[f64]) -> Vec<f64> {
    try_ppf(q, a, b).unwrap_or_else(|_| vec![f64::NAN; q.len()])
}

/// [`ppf`] with a length check.
pub fn try_ppf(q: &[f64], a: &[f64], b: &[f64]) -> Result<Vec<f64>, CoreError> {
    let mut out = vec![0.0; q.len()];
    ppf_into(q, a, b, &mut out)?;
    Ok(out)
}

/// [`ppf`] into a caller-provided buffer of the same length.
///
/// With `m = log_gauss_mass(a, b)` over the whole batch: for `a < 0` ("left") solve
/// log Φ(x) = logaddexp(log Φ(a), log q + m); for the others ("right", NaN `a` included) solve
/// log Φ(-x) = logaddexp(log Φ(-b), log1p(-q) + m) and negate. The two groups are separate
/// `_ndtri_exp` batches. Then `q == 0` gives `a`, `q == 1` gives `b`, and `a == b` gives NaN
/// (in that order of precedence, the last one winning).
pub fn ppf_into(q: &[f64], a: &[f64], b: &[f64], out: &mut [f64]) -> Result<(), CoreError> {
    let n = q.len();
    if a.len() != n || b.len() != n || out.len() != n {
        return Err(mismatch("ppf"));
    }
    let mut log_mass = vec![0.0; n];
    log_gauss_mass_into(a, b, &mut log_mass)?;

    // Gather the targets: left-case elements first, right-case ones after, each in order.
    // In stages (the tail log masses, the log quantiles, then the sums) so that the C library
    // calls of consecutive elements are independent; each element sees the same operations.
    let n_left = a.iter().filter(|&&v| v < 0.0).count();
    let tail_at: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(&ai, &bi)| if ai < 0.0 { ai } else { -bi })
        .collect();
    let mut tails = vec![0.0; n];
    log_ndtr_staged(&tail_at, &mut tails);
    let log_q: Vec<f64> = q
        .iter()
        .zip(a)
        .map(|(&qi, &ai)| if ai < 0.0 { ln_call(qi) } else { log1p(-qi) })
        .collect();
    let mut targets = vec![0.0; n];
    {
        let (y_left, y_right) = targets.split_at_mut(n_left);
        let mut left_iter = y_left.iter_mut();
        let mut right_iter = y_right.iter_mut();
        for (i, &ai) in a.iter().enumerate() {
            let slot = if ai < 0.0 {
                left_iter.next()
            } else {
                right_iter.next()
            };
            if let (Some(slot), Some(&tail), Some(&lq), Some(&mi)) =
                (slot, tails.get(i), log_q.get(i), log_mass.get(i))
            {
                *slot = logaddexp(tail, lq + mi);
            }
        }
    }

    // Solve each group as its own batch; `log_mass` is reused as the Newton scratch.
    let mut roots = vec![0.0; n];
    {
        let (y_left, y_right) = targets.split_at(n_left);
        let (x_left, x_right) = roots.split_at_mut(n_left);
        let (z_left, z_right) = log_mass.split_at_mut(n_left);
        if !y_left.is_empty() {
            ndtri_exp_into(y_left, x_left, z_left);
        }
        if !y_right.is_empty() {
            ndtri_exp_into(y_right, x_right, z_right);
        }
    }

    let (x_left, x_right) = roots.split_at(n_left);
    let mut left_iter = x_left.iter();
    let mut right_iter = x_right.iter();
    for (((o, &qi), &ai), &bi) in out.iter_mut().zip(q).zip(a).zip(b) {
        let mut v = if ai < 0.0 {
            left_iter.next().copied().unwrap_or(f64::NAN)
        } else {
            -right_iter.next().copied().unwrap_or(f64::NAN)
        };
        if qi == 0.0 {
            v = ai;
        }
        if qi == 1.0 {
            v = bi;
        }
        if ai == bi {
            v = f64::NAN;
        }
        *o = v;
    }
    Ok(())
}

/// `logpdf(x[:, None, :], a, b, loc, scale)` with Optuna's broadcasting: `x` is `n_x * d`
/// row-major, `a`, `b`, `loc`, `scale` are `k * d` row-major; the result is `n_x * k * d`
/// row-major (not yet summed over `d`). `_log_gauss_mass` is evaluated once on the `k * d` grid.
///
/// Element `(i, j, l)` is, with `z = (x[i, l] - loc[j, l]) / scale[j, l]`,
/// `((-(z * z) / 2 - log √(2π)) - log_gauss_mass[j, l]) - log(scale[j, l])`, replaced by NaN
/// where `a == b` and otherwise by `-inf` where `z < a` or `z > b`. On a length mismatch
/// (or `n_x * k * d` overflowing) a NaN-filled vector of length `n_x * k * d` (empty on
/// overflow) is returned; see [`try_logpdf_grid`].
#[allow(clippy::too_many_arguments)]
pub fn logpdf_grid(
    x: &[f64],
    a: &[f64],
    b: &[f64],
    loc: &[f64],
    scale: &[f64],
    n_x: usize,
    k: usize,
    d: usize,
) -> Vec<f64> {
    match try_logpdf_grid(x, a, b, loc, scale, n_x, k, d) {
        Ok(v) => v,
        Err(_) => {
            let len = n_x.checked_mul(k).and_then(|v| v.checked_mul(d));
            vec![f64::NAN; len.unwrap_or(0)]
        }
    }
}

/// [`logpdf_grid`] with shape checks.
#[allow(clippy::too_many_arguments)]
pub fn try_logpdf_grid(
    x: &[f64],
    a: &[f64],
    b: &[f64],
    loc: &[f64],
    scale: &[f64],
    n_x: usize,
    k: usize,
    d: usize,
) -> Result<Vec<f64>, CoreError> {
    let grid = GridTerms::new(x, a, b, loc, scale, n_x, k, d)?;
    let kd = k * d;
    let mut out = vec![0.0; n_x * kd];
    if n_x == 0 || kd == 0 {
        return Ok(out);
    }
    let xt = transpose(x, n_x, d);
    let mut block = vec![0.0; d * n_x];
    for j in 0..k {
        grid.fill_kernel(j, &xt, n_x, &mut block);
        // block is (l, i); the output wants (i, j, l).
        for (l, col) in block.chunks_exact(n_x).enumerate() {
            for (i, &v) in col.iter().enumerate() {
                if let Some(o) = out.get_mut(i * kd + j * d + l) {
                    *o = v;
                }
            }
        }
    }
    Ok(out)
}

/// [`logpdf_grid`] summed over `d` the way numpy's `.sum(axis=-1)` sums each contiguous row
/// (pairwise, see [`crate::numpy_ops::pairwise_sum`]), written to `out` (`n_x * k`, row-major).
/// Bit-for-bit the row sums of [`logpdf_grid`]'s output, without materialising it.
#[allow(clippy::too_many_arguments)]
pub fn logpdf_grid_sum_d_into(
    x: &[f64],
    a: &[f64],
    b: &[f64],
    loc: &[f64],
    scale: &[f64],
    n_x: usize,
    k: usize,
    d: usize,
    out: &mut [f64],
) -> Result<(), CoreError> {
    let grid = GridTerms::new(x, a, b, loc, scale, n_x, k, d)?;
    if out.len() != n_x * k {
        return Err(mismatch("logpdf_grid_sum_d"));
    }
    if n_x == 0 || k == 0 {
        return Ok(());
    }
    let xt = transpose(x, n_x, d);
    let mut block = vec![0.0; d * n_x];
    let mut sums = vec![0.0; n_x];
    let mut scratch = Vec::new();
    for j in 0..k {
        grid.fill_kernel(j, &xt, n_x, &mut block);
        pairwise_sum_lanes(&block, d, n_x, &mut sums, &mut scratch);
        for (i, &v) in sums.iter().enumerate() {
            if let Some(o) = out.get_mut(i * k + j) {
                *o = v;
            }
        }
    }
    Ok(())
}

/// `x` (`rows × cols`, row-major) transposed to `cols × rows`.
fn transpose(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; rows * cols];
    for (r, row) in x.chunks_exact(cols.max(1)).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            if let Some(slot) = t.get_mut(c * rows + r) {
                *slot = v;
            }
        }
    }
    t
}

/// The per-kernel terms of `logpdf` that do not depend on `x`.
struct GridTerms<'a> {
    a: &'a [f64],
    b: &'a [f64],
    loc: &'a [f64],
    scale: &'a [f64],
    log_mass: Vec<f64>,
    log_scale: Vec<f64>,
    d: usize,
}

impl<'a> GridTerms<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        x: &[f64],
        a: &'a [f64],
        b: &'a [f64],
        loc: &'a [f64],
        scale: &'a [f64],
        n_x: usize,
        k: usize,
        d: usize,
    ) -> Result<Self, CoreError> {
        let kd = k
            .checked_mul(d)
            .ok_or_else(|| mismatch("logpdf_grid (k * d overflows)"))?;
        let xd = n_x
            .checked_mul(d)
            .ok_or_else(|| mismatch("logpdf_grid (n_x * d overflows)"))?;
        n_x.checked_mul(kd)
            .ok_or_else(|| mismatch("logpdf_grid (n_x * k * d overflows)"))?;
        if x.len() != xd || a.len() != kd || b.len() != kd || loc.len() != kd || scale.len() != kd {
            return Err(mismatch("logpdf_grid"));
        }
        let mut log_mass = vec![0.0; kd];
        log_gauss_mass_into(a, b, &mut log_mass)?;
        // Bandwidths repeat a lot (most sit at the magic-clip floor), so reuse the logarithm of
        // the previous kernel's bandwidth in the same dimension when the bits are equal.
        let mut log_scale = vec![0.0; kd];
        let mut last: Vec<Option<(u64, f64)>> = vec![None; d];
        for (row_s, row_ls) in scale
            .chunks_exact(d.max(1))
            .zip(log_scale.chunks_exact_mut(d.max(1)))
        {
            for ((&sv, ls), memo) in row_s.iter().zip(row_ls.iter_mut()).zip(last.iter_mut()) {
                *ls = match *memo {
                    Some((bits, v)) if bits == sv.to_bits() => v,
                    _ => {
                        let v = sv.ln();
                        *memo = Some((sv.to_bits(), v));
                        v
                    }
                };
            }
        }
        Ok(GridTerms {
            a,
            b,
            loc,
            scale,
            log_mass,
            log_scale,
            d,
        })
    }

    /// The values of kernel `j` for all candidates, laid out `(l, i)` in `block` (`d * n_x`),
    /// from the transposed candidates `xt` (`d * n_x`).
    #[inline]
    fn fill_kernel(&self, j: usize, xt: &[f64], n_x: usize, block: &mut [f64]) {
        let d = self.d;
        let g0 = j * d;
        let terms = self.a[g0..g0 + d]
            .iter()
            .zip(&self.b[g0..g0 + d])
            .zip(&self.loc[g0..g0 + d])
            .zip(&self.scale[g0..g0 + d])
            .zip(&self.log_mass[g0..g0 + d])
            .zip(&self.log_scale[g0..g0 + d]);
        let lanes = xt.chunks_exact(n_x).zip(block.chunks_exact_mut(n_x));
        for ((((((&al, &bl), &lc), &sc), &lm), &ls), (xs, os)) in terms.zip(lanes) {
            if al == bl {
                os.fill(f64::NAN);
                continue;
            }
            for (o, &xv) in os.iter_mut().zip(xs) {
                let z = (xv - lc) / sc;
                let val = ((-(z * z) / 2.0 - NORM_PDF_LOG_C) - lm) - ls;
                *o = if z < al || z > bl {
                    f64::NEG_INFINITY
                } else {
                    val
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_python() {
        // math.log(math.sqrt(2 * math.pi)) and math.sqrt(3) / math.pi.
        assert_eq!(NORM_PDF_LOG_C.to_bits(), 0x3fed_67f1_c864_beb4);
        assert_eq!(NDTRI_EXP_APPROX_C.to_bits(), 0x3fe1_a47c_7ee5_a514);
    }

    #[test]
    fn saturation_shortcut_is_exact() {
        // Sweep the neighbourhood of the threshold and far beyond it: with either erf kernel,
        // the general central formula must give exactly -0.0 wherever the shortcut applies.
        for kernel in [ErfKernel::Polynomial, ErfKernel::Libm] {
            let mut lo = -POLY_SATURATED;
            while lo > -60.0 {
                for hi in [POLY_SATURATED, 8.5, 9.0, 20.0, 1e3, 1e300, f64::INFINITY] {
                    for (l, h) in [(lo, hi), (-hi, -lo), (f64::NEG_INFINITY, hi)] {
                        let general = log_gauss_mass_one(kernel, l, h);
                        assert_eq!(
                            general.to_bits(),
                            (-0.0f64).to_bits(),
                            "{kernel:?} lo={l} hi={h}"
                        );
                    }
                }
                lo = if lo > -8.6 { lo - 1e-6 } else { lo * 1.01 };
            }
        }
    }

    #[test]
    fn staged_masses_match_element_by_element() {
        let vals = [
            -1e300, -60.0, -30.0, -9.0, -8.48, -6.1, -3.0, -1.0, -0.3, -0.0, 0.0, 0.2, 1.0, 2.5,
            5.9, 6.1, 8.48, 9.0, 25.0, 1e300,
        ];
        let mut a = Vec::new();
        let mut b = Vec::new();
        for &x in &vals {
            for &y in &vals {
                a.push(x);
                b.push(y);
            }
        }
        a.push(f64::NAN);
        b.push(1.0);
        for kernel in [ErfKernel::Polynomial, ErfKernel::Libm] {
            let mut staged = vec![0.0; a.len()];
            log_gauss_mass_staged(kernel, &a, &b, &mut staged);
            for ((&lo, &hi), &got) in a.iter().zip(&b).zip(&staged) {
                let want = log_gauss_mass_one(kernel, lo, hi);
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{kernel:?} lo={lo} hi={hi}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn pair_classification_matches_element_by_element() {
        let vals = [
            -1e300,
            -60.0,
            -9.0,
            -POLY_SATURATED,
            -8.48,
            -1.0,
            -0.0,
            0.0,
            0.5,
            8.48,
            POLY_SATURATED,
            9.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut a = Vec::new();
        let mut b = Vec::new();
        for &x in &vals {
            for &y in &vals {
                a.push(x);
                b.push(y);
            }
        }
        for len in [0, 1, 3, 4, 5, 17, a.len()] {
            let (mut o1, mut o2) = (vec![1.0; len], vec![1.0; len]);
            let (mut r1, mut r2) = (Vec::new(), Vec::new());
            let c1 = classify_pairs_portable(&a[..len], &b[..len], &mut o1, &mut r1, 0);
            let c2 = classify_pairs(&a[..len], &b[..len], &mut o2, &mut r2);
            assert_eq!(c1, c2);
            assert_eq!(r1, r2);
            assert_eq!(
                o1.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                o2.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            let central = a[..len]
                .iter()
                .zip(&b[..len])
                .filter(|&(&x, &y)| tail_side(x, y).is_none())
                .count();
            assert_eq!(c1, central);
        }
    }

    #[test]
    fn length_mismatches_are_errors_not_panics() {
        assert!(try_log_gauss_mass(&[0.0], &[]).is_err());
        let v = log_gauss_mass(&[0.0, 1.0], &[1.0]);
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|x| x.is_nan()));
        assert!(try_ppf(&[0.5], &[0.0, 1.0], &[1.0]).is_err());
        assert_eq!(ppf(&[0.5, 0.5], &[0.0], &[1.0]).len(), 2);
        assert!(try_logpdf_grid(&[0.0], &[0.0], &[1.0], &[0.0], &[1.0], 1, 1, 2).is_err());
        assert_eq!(
            logpdf_grid(&[0.0], &[0.0], &[1.0], &[0.0], &[1.0], 2, 3, 1).len(),
            6
        );
        assert!(logpdf_grid(&[], &[], &[], &[], &[], usize::MAX, 2, 2).is_empty());
        let mut out = vec![0.0; 3];
        assert!(
            logpdf_grid_sum_d_into(&[0.0], &[0.0], &[1.0], &[0.0], &[1.0], 1, 1, 1, &mut out)
                .is_err()
        );
    }

    #[test]
    fn empty_and_degenerate_inputs() {
        assert!(log_gauss_mass(&[], &[]).is_empty());
        assert!(ndtri_exp(&[]).is_empty());
        assert!(ppf(&[], &[], &[]).is_empty());
        assert!(logpdf_grid(&[], &[], &[], &[], &[], 0, 0, 0).is_empty());
        // q == 0 -> a, q == 1 -> b, a == b -> NaN (last wins).
        let out = ppf(&[0.0, 1.0, 0.5], &[-1.0, -1.0, 0.3], &[2.0, 2.0, 0.3]);
        assert_eq!(out[0], -1.0);
        assert_eq!(out[1], 2.0);
        assert!(out[2].is_nan());
        // NaN inputs propagate without panicking.
        assert!(ppf(&[f64::NAN], &[-1.0], &[1.0])[0].is_nan());
        assert!(log_gauss_mass(&[f64::NAN], &[1.0])[0].is_nan());
        assert!(ndtri_exp(&[f64::NAN])[0].is_nan());
    }

    #[test]
    fn logpdf_outside_bounds_and_zero_width() {
        // One kernel N(0.5, 0.1) truncated to [0, 1]; one with a == b.
        let (loc, scale) = ([0.5, 0.5], [0.1, 0.1]);
        let a = [(0.0 - 0.5) / 0.1, 0.2];
        let b = [(1.0 - 0.5) / 0.1, 0.2];
        let out = logpdf_grid(&[-0.1, 0.5, 1.1], &a, &b, &loc, &scale, 3, 2, 1);
        assert_eq!(out[0], f64::NEG_INFINITY);
        assert!(out[2].is_finite());
        assert_eq!(out[4], f64::NEG_INFINITY);
        assert!(out[1].is_nan() && out[3].is_nan() && out[5].is_nan());
    }
}
