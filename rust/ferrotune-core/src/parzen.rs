//! Parzen estimators as Optuna 5.0 builds them (`_ParzenEstimator`): mixture weights with the
//! prior appended, neighbour-gap bandwidths with the endpoint rule and the magic clip, the prior
//! kernel, and categorical kernel rows.
//!
//! Everything here is computed with the same floating-point operations as Optuna, so centres,
//! bandwidths and weights are bit-identical. With the magic clip (the default) the bandwidths
//! are obtained without sorting where possible (see `bucket_bandwidths`): most of them are
//! exactly the clip's minimum, and only the centres next to a gap wider than half of it need
//! their exact neighbour gaps, which are the same subtractions Optuna performs.

use crate::mixture::{Buf, CategoricalKernels, KernelDim, Mixture, NumericalKernels, Scoring};
use crate::numpy_ops;
use crate::rng::Mt19937;
use crate::sort::{stable_argsort_into, ArgSort};
use crate::space::{validate_dims, Dim};
use crate::CoreError;

/// Smallest bandwidth when the magic clip is off (Optuna's `EPS`).
pub const EPS: f64 = 1e-12;

/// The estimator settings of `TPESampler` (Optuna's `_ParzenEstimatorParameters` without the
/// weights function, whose output is passed to [`ParzenEstimator::new`] directly).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParzenParams {
    pub prior_weight: f64,
    pub consider_magic_clip: bool,
    pub consider_endpoints: bool,
}

impl Default for ParzenParams {
    /// Optuna 5.0's defaults: `prior_weight=1.0`, magic clip on, endpoints off.
    fn default() -> Self {
        ParzenParams {
            prior_weight: 1.0,
            consider_magic_clip: true,
            consider_endpoints: false,
        }
    }
}

/// A Parzen estimator over a search space: a [`Mixture`] with one component per observation
/// plus the prior (the last component).
#[derive(Clone, Debug)]
pub struct ParzenEstimator {
    dims: Vec<Dim>,
    mixture: Mixture,
}

impl ParzenEstimator {
    /// Builds the estimator.
    ///
    /// `obs` is `n_obs × d` row-major in the internal representation (floats; categorical =
    /// choice index; log dimensions *not* log-transformed). `weights` are the raw weights of the
    /// `n_obs` observations (what Optuna's weights function returns), before the prior is
    /// appended. `sorter` decides the order of tied centres (see [`crate::sort`]); it is only
    /// consulted for dimensions that contain ties (and, with the magic clip, only when the
    /// order of the tied centres can change a bandwidth).
    ///
    /// Errors: an invalid search space; `obs` or `weights` of the wrong length; non-finite
    /// observations, categorical observations that are not a choice index, non-positive
    /// observations on a log scale; negative, non-finite or all-zero weights; a negative or
    /// non-finite `prior_weight`; a `sorter` result that is not a sorting permutation.
    pub fn new(
        dims: &[Dim],
        obs: &[f64],
        n_obs: usize,
        weights: &[f64],
        params: &ParzenParams,
        sorter: &dyn ArgSort,
    ) -> Result<Self, CoreError> {
        validate_dims(dims)?;
        let d = dims.len();
        let expected = n_obs.checked_mul(d).ok_or_else(|| {
            CoreError::InvalidArgument(format!("n_obs = {n_obs} observations is too large"))
        })?;
        if obs.len() != expected {
            return Err(CoreError::InvalidArgument(format!(
                "observations have {} values, expected n_obs * d = {n_obs} * {d} = {expected}",
                obs.len()
            )));
        }
        let pw = params.prior_weight;
        if !(pw.is_finite() && pw >= 0.0) {
            return Err(CoreError::InvalidArgument(format!(
                "prior_weight must be a finite non-negative number, got {pw}"
            )));
        }
        let mixture_weights = mixture_weights(weights, n_obs, pw)?;

        let mut column = Buf::with_capacity(n_obs + 1);
        let mut scratch = Scratch::default();
        let mut kernels = Vec::with_capacity(d);
        for (i, dim) in dims.iter().enumerate() {
            column.clear();
            column.extend(obs.iter().skip(i).step_by(d).take(n_obs));
            dim.validate_column(&column, &|j| format!("observation [{j}, {i}]"))?;
            kernels.push(match *dim {
                Dim::Categorical { n_choices } => KernelDim::Categorical(CategoricalKernels::new(
                    n_choices,
                    // Validated above: integral and in 0..n_choices.
                    {
                        let mut observed = Buf::with_capacity(n_obs);
                        observed.extend(column.iter().map(|&v| v as usize));
                        observed
                    },
                    pw,
                )),
                Dim::Numerical {
                    low,
                    high,
                    step,
                    log,
                } => KernelDim::Numerical(numerical_kernels(
                    low,
                    high,
                    step,
                    log,
                    std::mem::replace(&mut column, Buf::with_capacity(n_obs + 1)),
                    params,
                    sorter,
                    &mut scratch,
                    i,
                )?),
            });
        }
        Ok(ParzenEstimator {
            dims: dims.to_vec(),
            mixture: Mixture::new(mixture_weights, kernels),
        })
    }

    /// Draws `size` points, `size × d` row-major in the internal representation, consuming
    /// `rng` exactly as Optuna's `_ParzenEstimator.sample` does.
    pub fn sample(&self, rng: &mut Mt19937, size: usize) -> Vec<f64> {
        self.mixture.sample(rng, size)
    }

    /// Log density at each of the `n` points of `x` (`n × d` row-major, internal
    /// representation). Equal to Optuna's `log_pdf` up to rounding (about 1e-15 relative; see
    /// [`crate::mixture`]); use [`ParzenEstimator::log_pdf_exact`] for bit-identical values.
    pub fn log_pdf(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
        self.mixture.log_pdf(x, n)
    }

    /// Bit-identical to Optuna's `log_pdf` (slower).
    pub fn log_pdf_exact(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
        self.mixture.log_pdf_exact(x, n)
    }

    /// [`ParzenEstimator::log_pdf`] or [`ParzenEstimator::log_pdf_exact`].
    pub fn log_pdf_mode(&self, x: &[f64], n: usize, mode: Scoring) -> Result<Vec<f64>, CoreError> {
        self.mixture.log_pdf_mode(x, n, mode)
    }

    /// The normalised mixture weights (the prior last).
    pub fn weights(&self) -> &[f64] {
        self.mixture.weights()
    }
    /// Number of mixture components (observations + 1).
    pub fn n_components(&self) -> usize {
        self.mixture.n_components()
    }
    pub fn n_dims(&self) -> usize {
        self.dims.len()
    }
    pub fn dims(&self) -> &[Dim] {
        &self.dims
    }
    pub fn mixture(&self) -> &Mixture {
        &self.mixture
    }
    /// Kernel centres of numerical dimension `dim` (working space: log-transformed for log
    /// dimensions; the prior last), `None` for a categorical dimension or out of range.
    pub fn mus(&self, dim: usize) -> Option<&[f64]> {
        match self.mixture.dims().get(dim)? {
            KernelDim::Numerical(k) => Some(k.mu()),
            KernelDim::Categorical(_) => None,
        }
    }
    /// Kernel bandwidths of numerical dimension `dim` (working space; the prior last).
    pub fn sigmas(&self, dim: usize) -> Option<&[f64]> {
        match self.mixture.dims().get(dim)? {
            KernelDim::Numerical(k) => Some(k.sigma()),
            KernelDim::Categorical(_) => None,
        }
    }
    /// The `n_components × n_choices` kernel matrix (row-major) of categorical dimension `dim`.
    pub fn categorical_weights(&self, dim: usize) -> Option<Vec<f64>> {
        match self.mixture.dims().get(dim)? {
            KernelDim::Categorical(c) => Some(c.matrix()),
            KernelDim::Numerical(_) => None,
        }
    }
}

/// Validates the raw weights and returns the normalised mixture weights: the raw weights with
/// `prior_weight` appended (`[1.0]` without observations), divided by their pairwise sum.
fn mixture_weights(
    weights: &[f64],
    n_obs: usize,
    prior_weight: f64,
) -> Result<Vec<f64>, CoreError> {
    if weights.len() != n_obs {
        return Err(CoreError::InvalidArgument(format!(
            "got {} weights for {n_obs} observations",
            weights.len()
        )));
    }
    if let Some((i, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
    {
        return Err(CoreError::InvalidArgument(format!(
            "weights must be finite and non-negative, got weights[{i}] = {w}"
        )));
    }
    if n_obs > 0 && !weights.iter().any(|&w| w > 0.0) {
        return Err(CoreError::InvalidArgument(
            "weights must not be all zero".into(),
        ));
    }
    let mut w: Vec<f64> = if n_obs == 0 {
        vec![1.0]
    } else {
        let mut w = Vec::with_capacity(n_obs + 1);
        w.extend_from_slice(weights);
        w.push(prior_weight);
        w
    };
    let total = numpy_ops::pairwise_sum(&w);
    if !(total.is_finite() && total > 0.0) {
        return Err(CoreError::InvalidArgument(format!(
            "the weights (with the prior weight) must have a finite positive sum, got {total}"
        )));
    }
    for v in &mut w {
        *v /= total;
    }
    Ok(w)
}

#[derive(Default)]
struct Scratch {
    keys: Buf<u64>,
    order: Buf<usize>,
    buckets: Vec<Bucket>,
}

/// The extremes of one bucket of [`bucket_bandwidths`].
#[derive(Clone, Copy)]
struct Bucket {
    count: u32,
    min: f64,
    max: f64,
    arg_min: usize,
    arg_max: usize,
    /// Whether the minimum (maximum) value occurs more than once.
    min_tied: bool,
    max_tied: bool,
}

const EMPTY_BUCKET: Bucket = Bucket {
    count: 0,
    min: f64::INFINITY,
    max: f64::NEG_INFINITY,
    arg_min: 0,
    arg_max: 0,
    min_tied: false,
    max_tied: false,
};

/// The bandwidths of [`bandwidths`] without sorting, for the magic clip (`minsigma > 0`) and
/// centres inside `[lo, hi]`. Returns `false` (having written nothing useful) when it does not
/// apply; the caller then sorts.
///
/// The centres are spread over buckets of width `minsigma / 2` (bucket index
/// `⌊(μ - lo)·2/minsigma⌋`, monotone in μ). Two centres in one bucket are less than
/// `minsigma` apart, even allowing for the rounding of the bucket index, so their computed
/// gap is at most `minsigma`. Hence a centre that is neither the smallest nor the largest of
/// its bucket has both gaps at most `minsigma` and the bandwidth `minsigma` after the clip,
/// whatever the order of equal values. The smallest (largest) centre of a bucket has its right
/// (left) gap at most `minsigma`, and `clip(max(g_l, g_r)) = max(clip(g_l), clip(g_r))`, so
/// only its outer gap matters, to the largest centre of the previous non-empty bucket (the
/// smallest of the next, or the bound), computed exactly as Optuna computes it. The endpoint
/// rule is applied to the global extremes. When the extreme of a bucket is tied, the order of
/// the tied centres would matter: then this returns `false` and the sorted path (with the
/// injected tie order) decides.
#[allow(clippy::too_many_arguments)]
fn bucket_bandwidths(
    mus: &[f64],
    lo: f64,
    hi: f64,
    minsigma: f64,
    maxsigma: f64,
    params: &ParzenParams,
    s: &mut Scratch,
    sigmas: &mut [f64],
) -> bool {
    let n = mus.len();
    let range = hi - lo;
    let inv_width = 2.0 / minsigma;
    if n < 16 || !(range.is_finite() && range > 0.0 && minsigma > 0.0 && inv_width.is_finite()) {
        return false;
    }
    let n_buckets = (range * inv_width) as usize + 2;
    if n_buckets > 4 * n + 1024 {
        return false;
    }
    let buckets = &mut s.buckets;
    buckets.clear();
    buckets.resize(n_buckets, EMPTY_BUCKET);
    let mut inside = true;
    for (i, &m) in mus.iter().enumerate() {
        inside &= lo <= m && m <= hi;
        let b = &mut buckets[(((m - lo) * inv_width) as usize).min(n_buckets - 1)];
        b.count += 1;
        // Branch-free updates (the outcomes are data-dependent and poorly predictable).
        let (new_min, tie_min) = (m < b.min, m == b.min);
        b.min_tied = (b.min_tied && !new_min) || tie_min;
        b.arg_min = if new_min { i } else { b.arg_min };
        b.min = if new_min { m } else { b.min };
        let (new_max, tie_max) = (m > b.max, m == b.max);
        b.max_tied = (b.max_tied && !new_max) || tie_max;
        b.arg_max = if new_max { i } else { b.arg_max };
        b.max = if new_max { m } else { b.max };
    }
    if !inside || buckets.iter().any(|b| b.min_tied || b.max_tied) {
        return false;
    }
    let (Some(first), Some(last)) = (
        buckets.iter().position(|b| b.count > 0),
        buckets.iter().rposition(|b| b.count > 0),
    ) else {
        return false;
    };
    for sg in sigmas[..n].iter_mut() {
        *sg = minsigma;
    }
    let clip = |g: f64| g.max(minsigma).min(maxsigma);
    let inner_only = !params.consider_endpoints && n >= 2;
    let mut prev_max = lo;
    let mut b = first;
    while b <= last {
        let cur = buckets[b];
        // The next non-empty bucket's minimum, or the upper bound.
        let mut nb = b + 1;
        while nb <= last && buckets[nb].count == 0 {
            nb += 1;
        }
        let next_min = if nb <= last { buckets[nb].min } else { hi };
        let (gap_left, gap_right) = (cur.min - prev_max, next_min - cur.max);
        let (is_first, is_last) = (b == first, b == last);
        if cur.count == 1 {
            sigmas[cur.arg_min] = if inner_only && is_first {
                clip(gap_right)
            } else if inner_only && is_last {
                clip(gap_left)
            } else {
                clip(gap_left.max(gap_right))
            };
        } else {
            // The smallest centre: its right gap is within the bucket.
            sigmas[cur.arg_min] = if inner_only && is_first {
                minsigma
            } else {
                clip(gap_left)
            };
            // The largest centre: its left gap is within the bucket.
            sigmas[cur.arg_max] = if inner_only && is_last {
                minsigma
            } else {
                clip(gap_right)
            };
        }
        prev_max = cur.max;
        b = nb;
    }
    true
}

/// Centres and bandwidths of one numerical dimension, Optuna's
/// `_calculate_numerical_distributions`. `mus` holds the observations (capacity for one more).
#[allow(clippy::too_many_arguments)]
fn numerical_kernels(
    low: f64,
    high: f64,
    step: Option<f64>,
    log: bool,
    mut mus: Buf<f64>,
    params: &ParzenParams,
    sorter: &dyn ArgSort,
    s: &mut Scratch,
    dim_index: usize,
) -> Result<NumericalKernels, CoreError> {
    // Working bounds: widened by half a step, then log-transformed.
    let (mut lo, mut hi) = (low, high);
    if let Some(st) = step {
        lo -= st / 2.0;
        hi += st / 2.0;
    }
    if log {
        lo = lo.ln();
        hi = hi.ln();
        for m in mus.iter_mut() {
            *m = m.ln();
        }
    }
    let n = mus.len();
    let maxsigma = hi - lo;
    let minsigma = if params.consider_magic_clip {
        let n_kernels = (n + 1) as f64;
        (hi - lo) / f64::min(100.0, 1.0 + n_kernels)
    } else {
        EPS
    };
    let mut sigmas = Buf::filled(n + 1, 0.0);

    let done = params.consider_magic_clip
        && bucket_bandwidths(&mus, lo, hi, minsigma, maxsigma, params, s, &mut sigmas);
    if !done {
        // Sort the centres. Without ties any correct sort gives numpy's permutation; with ties
        // the injected sorter decides (and the bandwidths are recomputed in its order).
        stable_argsort_into(&mus, &mut s.keys, &mut s.order);
        let tied = bandwidths(
            &mus,
            &s.order,
            lo,
            hi,
            minsigma,
            maxsigma,
            params,
            &mut sigmas,
        );
        if tied {
            let order = sorter.argsort(&mus);
            check_sorting_permutation(&order, &mus, dim_index)?;
            bandwidths(
                &mus,
                &order,
                lo,
                hi,
                minsigma,
                maxsigma,
                params,
                &mut sigmas,
            );
        }
    }
    // The prior kernel, appended after clipping.
    mus.push(0.5 * (lo + hi));
    sigmas[n] = hi - lo;
    Ok(NumericalKernels::new(mus, sigmas, low, high, step, log))
}

/// Optuna's `compute_sigmas` for the centres `mus` visited in the sorting permutation `order`:
/// with `e = [lo, sorted mus..., hi]`, the bandwidth of a centre is the larger gap to a
/// neighbour, except (endpoints off, two or more centres) that the extreme centres use their
/// inner neighbour only; then clipped to `[minsigma, maxsigma]`. Writes `sigmas[..n]` and
/// returns whether two consecutive sorted centres are equal (a tie).
#[allow(clippy::too_many_arguments)]
fn bandwidths(
    mus: &[f64],
    order: &[usize],
    lo: f64,
    hi: f64,
    minsigma: f64,
    maxsigma: f64,
    params: &ParzenParams,
    sigmas: &mut [f64],
) -> bool {
    let n = order.len();
    let inner_only = !params.consider_endpoints && n >= 2;
    let mut tie = false;
    let mut prev = lo;
    for j in 0..n {
        let cur = mus[order[j]];
        let next = if j + 1 < n { mus[order[j + 1]] } else { hi };
        tie |= j > 0 && prev == cur;
        let sg = if inner_only && j == 0 {
            next - cur
        } else if inner_only && j + 1 == n {
            cur - prev
        } else {
            // np.maximum; the gaps are never NaN (finite centres and bounds), so the
            // branch-free max gives the same value (a signed zero aside, which the clip
            // below turns into minsigma, or which only matters for a zero-width range).
            (cur - prev).max(next - cur)
        };
        // np.clip, branch-free for the same reason.
        sigmas[order[j]] = sg.max(minsigma).min(maxsigma);
        prev = cur;
    }
    tie
}

/// Checks that `order` is a permutation of `0..values.len()` that sorts `values` ascending.
fn check_sorting_permutation(order: &[usize], values: &[f64], dim: usize) -> Result<(), CoreError> {
    let bad = |m: &str| {
        Err(CoreError::InvalidArgument(format!(
            "dimension {dim}: the argsort used for tied values {m}"
        )))
    };
    if order.len() != values.len() {
        return bad("returned the wrong number of indices");
    }
    let mut seen = vec![false; values.len()];
    for &i in order {
        match seen.get_mut(i) {
            Some(slot) if !*slot => *slot = true,
            _ => return bad("did not return a permutation"),
        }
    }
    if order.windows(2).any(|w| values[w[0]] > values[w[1]]) {
        return bad("did not sort the values");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucketed bandwidths agree bit for bit with the sorted computation whenever they
    /// apply.
    #[test]
    fn bucket_bandwidths_match_the_sorted_computation() {
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        let mut unif = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut applied = 0;
        for case in 0..600 {
            let n = 1 + (unif() * 400.0) as usize;
            let (lo, hi) = if case % 7 == 0 {
                (1e-3f64.ln(), 10f64.ln())
            } else {
                (-5.0, 10.0 + (case % 3) as f64)
            };
            let mus: Vec<f64> = (0..n)
                .map(|_| match case % 5 {
                    // spread
                    0 => lo + (hi - lo) * unif(),
                    // clustered
                    1 => 0.3 + 1e-3 * unif(),
                    // on a coarse grid (ties)
                    2 => lo + ((hi - lo) * unif() * 8.0).round() / 8.0,
                    // at the bounds sometimes
                    3 => {
                        if unif() < 0.1 {
                            if unif() < 0.5 {
                                lo
                            } else {
                                hi
                            }
                        } else {
                            lo + (hi - lo) * unif()
                        }
                    }
                    // mixture of clusters and spread
                    _ => {
                        if unif() < 0.7 {
                            2.0 + 0.05 * unif()
                        } else {
                            lo + (hi - lo) * unif()
                        }
                    }
                })
                .collect();
            let params = ParzenParams {
                prior_weight: 1.0,
                consider_magic_clip: true,
                consider_endpoints: case % 2 == 0,
            };
            let minsigma = (hi - lo) / f64::min(100.0, 1.0 + (n + 1) as f64);
            let maxsigma = hi - lo;
            let mut s = Scratch::default();
            let mut by_bucket = vec![0.0; n];
            if !bucket_bandwidths(
                &mus,
                lo,
                hi,
                minsigma,
                maxsigma,
                &params,
                &mut s,
                &mut by_bucket,
            ) {
                continue;
            }
            applied += 1;
            let mut keys = Vec::new();
            let mut order = Vec::new();
            stable_argsort_into(&mus, &mut keys, &mut order);
            let mut sorted = vec![0.0; n];
            bandwidths(
                &mus,
                &order,
                lo,
                hi,
                minsigma,
                maxsigma,
                &params,
                &mut sorted,
            );
            for (i, (a, b)) in by_bucket.iter().zip(&sorted).enumerate() {
                assert_eq!(
                    a.to_bits(),
                    b.to_bits(),
                    "case {case}, centre {i}: {a} vs {b}"
                );
            }
        }
        assert!(
            applied > 250,
            "the bucketed path applied only {applied} times"
        );
    }
}
