//! Parzen estimators as Optuna 5.0 builds them (`_ParzenEstimator`): mixture weights with the
//! prior appended, neighbour-gap bandwidths with the endpoint rule and the magic clip, the prior
//! kernel, and categorical kernel rows.
//!
//! Everything here is computed with the same floating-point operations, in the same order, as
//! Optuna, so centres, bandwidths and weights are bit-identical.

use crate::mixture::{CategoricalKernels, KernelDim, Mixture, NumericalKernels};
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
    /// consulted for dimensions that contain ties.
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
        for (i, dim) in dims.iter().enumerate() {
            for j in 0..n_obs {
                dim.validate_value(obs[j * d + i], &|| format!("observation [{j}, {i}]"))?;
            }
        }
        let pw = params.prior_weight;
        if !(pw.is_finite() && pw >= 0.0) {
            return Err(CoreError::InvalidArgument(format!(
                "prior_weight must be a finite non-negative number, got {pw}"
            )));
        }
        let mixture_weights = mixture_weights(weights, n_obs, pw)?;

        let mut column = Vec::with_capacity(n_obs);
        let mut scratch = Scratch::default();
        let mut kernels = Vec::with_capacity(d);
        for (i, dim) in dims.iter().enumerate() {
            column.clear();
            column.extend((0..n_obs).map(|j| obs[j * d + i]));
            kernels.push(match *dim {
                Dim::Categorical { n_choices } => KernelDim::Categorical(CategoricalKernels::new(
                    n_choices,
                    // Validated above: integral and in 0..n_choices.
                    column.iter().map(|&v| v as usize).collect(),
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
                    &column,
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
    /// representation).
    pub fn log_pdf(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
        self.mixture.log_pdf(x, n)
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
fn mixture_weights(weights: &[f64], n_obs: usize, prior_weight: f64) -> Result<Vec<f64>, CoreError> {
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
    keys: Vec<u128>,
    order: Vec<usize>,
    sorted: Vec<f64>,
    sorted_sigma: Vec<f64>,
}

/// Centres and bandwidths of one numerical dimension, Optuna's `_calculate_numerical_distributions`.
#[allow(clippy::too_many_arguments)]
fn numerical_kernels(
    low: f64,
    high: f64,
    step: Option<f64>,
    log: bool,
    column: &[f64],
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
    let mut mus: Vec<f64> = column.to_vec();
    if log {
        lo = lo.ln();
        hi = hi.ln();
        for m in &mut mus {
            *m = m.ln();
        }
    }
    let n = mus.len();

    // Sort the centres. Without ties any correct sort gives numpy's permutation; with ties the
    // injected sorter decides.
    stable_argsort_into(&mus, &mut s.keys, &mut s.order);
    let has_ties = s.order.windows(2).any(|w| mus[w[0]] == mus[w[1]]);
    if has_ties {
        let order = sorter.argsort(&mus);
        check_sorting_permutation(&order, &mus, dim_index)?;
        s.order = order;
    }

    // e = [lo, sorted mus..., hi]; the bandwidth of a centre is the larger gap to a neighbour.
    s.sorted.clear();
    s.sorted.push(lo);
    s.sorted.extend(s.order.iter().map(|&i| mus[i]));
    s.sorted.push(hi);
    let e = &s.sorted;
    s.sorted_sigma.clear();
    s.sorted_sigma
        .extend((0..n).map(|j| np_maximum(e[j + 1] - e[j], e[j + 2] - e[j + 1])));
    if !params.consider_endpoints && e.len() >= 4 {
        s.sorted_sigma[0] = e[2] - e[1];
        s.sorted_sigma[n - 1] = e[n] - e[n - 1];
    }

    let maxsigma = hi - lo;
    let minsigma = if params.consider_magic_clip {
        let n_kernels = (n + 1) as f64;
        (hi - lo) / f64::min(100.0, 1.0 + n_kernels)
    } else {
        EPS
    };
    let mut sigmas = vec![0.0; n + 1];
    for (j, &i) in s.order.iter().enumerate() {
        sigmas[i] = np_clip(s.sorted_sigma[j], minsigma, maxsigma);
    }
    // The prior kernel, appended after clipping.
    mus.push(0.5 * (lo + hi));
    sigmas[n] = hi - lo;
    Ok(NumericalKernels::new(mus, sigmas, low, high, step, log))
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

/// `np.maximum` for scalars: NaN if either is NaN.
#[inline]
fn np_maximum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a >= b {
        a
    } else {
        b
    }
}

/// `np.clip` for scalars: `min(max(v, lo), hi)`, NaN propagating.
#[inline]
fn np_clip(v: f64, lo: f64, hi: f64) -> f64 {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}
