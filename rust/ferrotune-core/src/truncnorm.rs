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
//! Every function that takes several equal-length slices has a `try_` twin that returns
//! [`CoreError::InvalidArgument`] on a length mismatch. The fixed-signature versions cannot
//! return an error; on a mismatch they return a NaN-filled vector of the expected output length
//! instead of panicking.

use crate::numpy_ops::logaddexp;
use crate::special::{log_ndtr, ErfKernel};
use crate::CoreError;

/// Python's `math.log(math.sqrt(2 * math.pi))` (log of the normal density's normaliser).
const NORM_PDF_LOG_C: f64 = f64::from_bits(0x3fed_67f1_c864_beb4);
/// Python's `math.sqrt(3) / math.pi` (scale of the logistic approximation to Φ).
const NDTRI_EXP_APPROX_C: f64 = f64::from_bits(0x3fe1_a47c_7ee5_a514);
/// Maximum number of Newton steps in `_ndtri_exp`.
const NDTRI_EXP_MAX_ITER: usize = 100;
/// Relative tolerance of `_ndtri_exp`'s stopping rule.
const NDTRI_EXP_RTOL: f64 = 1e-8;

fn mismatch(what: &str) -> CoreError {
    CoreError::InvalidArgument(format!("{what}: input lengths differ"))
}

/// `log(exp(lp) - exp(lq))` as Optuna writes it: `lp + log1p(-exp(lq - lp))`.
#[inline(always)]
fn log_diff(lp: f64, lq: f64) -> f64 {
    lp + (-(lq - lp).exp()).ln_1p()
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

/// Number of central-case pairs, which picks the erf kernel of the central sub-batch.
fn central_count(a: &[f64], b: &[f64]) -> usize {
    a.iter()
        .zip(b)
        .filter(|&(&x, &y)| tail_side(x, y).is_none())
        .count()
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
    let kernel = ErfKernel::for_batch_len(central_count(a, b));
    for ((o, &lo), &hi) in out.iter_mut().zip(a).zip(b) {
        *o = match tail_side(lo, hi) {
            // Mirror the right tail into the left one, where log Φ is accurate.
            Some(true) => log_diff(log_ndtr(-lo), log_ndtr(-hi)),
            Some(false) => log_diff(log_ndtr(hi), log_ndtr(lo)),
            // Central: log(1 - Φ(a) - Φ(-b)), avoiding cancellation near a total mass of 1.
            None => (-kernel.ndtr(lo) - kernel.ndtr(-hi)).ln_1p(),
        };
    }
    Ok(())
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
    for ((xi, zi), &yi) in x.iter_mut().zip(z.iter_mut()).zip(y) {
        let zv = if yi > -1e-2 { (-yi.exp_m1()).ln() } else { yi };
        *zi = zv;
        *xi = if zv < -5.0 {
            -(-2.0 * (zv + NORM_PDF_LOG_C)).sqrt()
        } else if zv >= -5.0 {
            -NDTRI_EXP_APPROX_C * (-zv).exp_m1().ln()
        } else {
            // z is NaN: Optuna leaves this entry uninitialised and the first Newton step turns
            // it into NaN whatever it held.
            f64::NAN
        };
    }
    for _ in 0..NDTRI_EXP_MAX_ITER {
        let mut converged = true;
        for (xi, &zi) in x.iter_mut().zip(z.iter()) {
            let xv = *xi;
            let log_ndtr_x = log_ndtr(xv);
            let log_norm_pdf_x = -0.5 * (xv * xv) - NORM_PDF_LOG_C;
            let dx = (log_ndtr_x - zi) * (log_ndtr_x - log_norm_pdf_x).exp();
            let x_new = xv - dx;
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
    let n_left = a.iter().filter(|&&v| v < 0.0).count();
    let mut targets = vec![0.0; n];
    {
        let (y_left, y_right) = targets.split_at_mut(n_left);
        let mut left_iter = y_left.iter_mut();
        let mut right_iter = y_right.iter_mut();
        for (((&qi, &ai), &bi), &mi) in q.iter().zip(a).zip(b).zip(&log_mass) {
            if ai < 0.0 {
                if let Some(slot) = left_iter.next() {
                    *slot = logaddexp(log_ndtr(ai), qi.ln() + mi);
                }
            } else if let Some(slot) = right_iter.next() {
                *slot = logaddexp(log_ndtr(-bi), (-qi).ln_1p() + mi);
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
    let kd = grid.log_mass.len();
    let mut out = vec![0.0; n_x * kd];
    if kd == 0 || d == 0 {
        return Ok(out);
    }
    for (x_row, out_block) in x.chunks_exact(d).zip(out.chunks_exact_mut(kd)) {
        grid.fill_block(x_row, out_block);
    }
    Ok(out)
}

/// [`logpdf_grid`] summed over `d` the way numpy's `.sum(axis=-1)` sums each contiguous row
/// (pairwise, see [`crate::numpy_ops::pairwise_sum`]), written to `out` (`n_x * k`, row-major).
/// Equivalent to summing the rows of [`logpdf_grid`]'s output, without materialising it.
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
    if d == 0 {
        // numpy's sum over an empty axis is the identity.
        out.iter_mut().for_each(|v| *v = 0.0);
        return Ok(());
    }
    let kd = grid.log_mass.len();
    let mut block = vec![0.0; kd];
    for (x_row, out_row) in x.chunks_exact(d).zip(out.chunks_exact_mut(k.max(1))) {
        grid.fill_block(x_row, &mut block);
        for (o, terms) in out_row.iter_mut().zip(block.chunks_exact(d)) {
            *o = crate::numpy_ops::pairwise_sum(terms);
        }
    }
    Ok(())
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
        if x.len() != xd || a.len() != kd || b.len() != kd || loc.len() != kd || scale.len() != kd
        {
            return Err(mismatch("logpdf_grid"));
        }
        let mut log_mass = vec![0.0; kd];
        log_gauss_mass_into(a, b, &mut log_mass)?;
        let log_scale = scale.iter().map(|s| s.ln()).collect();
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

    /// The `k * d` values of one candidate row `x_row` (length `d`) into `out` (length `k * d`).
    #[inline]
    fn fill_block(&self, x_row: &[f64], out: &mut [f64]) {
        let d = self.d;
        let rows = out
            .chunks_exact_mut(d)
            .zip(self.loc.chunks_exact(d))
            .zip(self.scale.chunks_exact(d))
            .zip(self.log_mass.chunks_exact(d))
            .zip(self.log_scale.chunks_exact(d))
            .zip(self.a.chunks_exact(d).zip(self.b.chunks_exact(d)));
        for (((((o_row, loc), scale), lm), ls), (a, b)) in rows {
            for l in 0..d.min(o_row.len()) {
                let z = (x_row[l] - loc[l]) / scale[l];
                let val = ((-(z * z) / 2.0 - NORM_PDF_LOG_C) - lm[l]) - ls[l];
                let (al, bl) = (a[l], b[l]);
                o_row[l] = if al == bl {
                    f64::NAN
                } else if z < al || z > bl {
                    f64::NEG_INFINITY
                } else {
                    val
                };
            }
        }
    }
}
