//! Sampling from, and scoring under, a mixture of product kernels: the object Optuna calls
//! `_MixtureOfProductDistribution`.
//!
//! Component `i` of the mixture is one kernel per dimension, all dimensions sharing the
//! component index. Numerical dimensions use (possibly discretised, possibly log-scale)
//! truncated normals; categorical dimensions use one probability row per component.
//!
//! # Exactness
//!
//! [`Mixture::sample`] draws random numbers in exactly Optuna's order and evaluates the same
//! floating-point operations, so its output is bit-identical (given bit-identical
//! [`crate::truncnorm::ppf`] and [`crate::rng::Mt19937`]).
//!
//! Scoring comes in two flavours ([`Scoring`]):
//!
//! - [`Mixture::log_pdf_exact`] evaluates the same per-element expressions in the same order as
//!   Optuna (including numpy's pairwise summation over dimensions and over components, and the
//!   same batches handed to `log_gauss_mass`, whose size decides which `erf` is used), so it is
//!   bit-identical (given bit-identical `truncnorm`). Only the organisation differs: values
//!   that do not depend on the points are computed once per mixture, the `n × K × d` array is
//!   never materialised, discrete masses are evaluated once per distinct `(a, b)` pair
//!   (Optuna's own dedup).
//! - [`Mixture::log_pdf`] (the default, used by the TPE step) is a numerically equivalent
//!   reordering of the continuous part, several times faster and equal to Optuna's values up
//!   to rounding (measured against Optuna in the golden tests: log densities within 3e-15
//!   relative, acquisition values within 7e-15 absolute):
//!   * per component, the constant part of its log density,
//!     `log w + Σ_j (-log√(2π) - log_gauss_mass(a_j, b_j) - log σ_j)`, is computed once, with
//!     `log w - Σ_j log σ_j` taken as `log(w / Π_j σ_j)` (one logarithm per component);
//!   * `z = (x - μ)/σ` is computed as `(x - μ)·(1/σ)` with the reciprocals precomputed
//!     (`a`, `b` likewise, for the cached masses), and `z²/2` summed over the dimensions
//!     sequentially instead of pairwise, by a kernel that holds the partial sums of a tile of
//!     4 points × a block of 8 components in registers while the block's centres and
//!     reciprocal bandwidths (stored block by block) stream past (AVX2 when available; never
//!     FMA, so results do not depend on the CPU; see module `fast`);
//!   * components more than 60 below the maximum are left out of the log-sum-exp (each would
//!     change the sum by less than 1e-26 relative), the others are summed pairwise among
//!     themselves, and `exp` is evaluated by a vectorisable polynomial accurate to 2.3e-16.
//!
//!   Categorical and discrete terms are the exact ones in both flavours. Points outside a
//!   continuous dimension's truncation bounds (whose terms are `-inf`), degenerate bandwidths
//!   or bounds, and NaN or `+inf` constants take the exact path, so special values are
//!   Optuna's.
//!
//!   The fast evaluation is deterministic: the AVX2 and portable code paths perform the same
//!   IEEE operations in the same order and give the same bits (the environment variable
//!   `FERROTUNE_DISABLE_AVX2` forces the portable paths, for testing).
//!
//! Module layout: `kernels` (the per-dimension kernels and drawing from them), `fast` and
//! `exact` (the two scorings of the continuous terms), `discrete` (the cell masses of stepped
//! dimensions), `pool` (buffer recycling).
//!
//! Large buffers are recycled through a small per-thread pool (module `pool`): on the machines
//! measured, faulting in fresh pages for every TPE step cost more than the arithmetic. The
//! scratch of the fast scoring is kept per thread between calls.

mod discrete;
mod exact;
mod fast;
mod kernels;
pub(crate) mod pool;

use std::sync::OnceLock;

use self::discrete::{build_disc_score, discrete_mass_grid, DiscScore};
use self::exact::{log_sum_exp_exact, ContExact, ExactWork};
use self::fast::{ContFast, FastWork, TILE};
pub use self::kernels::{CategoricalKernels, KernelDim, NumericalKernels};
pub(crate) use self::pool::Buf;
use crate::numpy_ops;
use crate::rng::Mt19937;
use crate::space::Dim;
use crate::truncnorm;
use crate::CoreError;

/// `log(sqrt(2π))` as Optuna evaluates it (`math.log(math.sqrt(2 * math.pi))`).
pub(crate) const LOG_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// How [`Mixture::log_pdf_mode`] evaluates the continuous terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scoring {
    /// `(x - μ)·(1/σ)` and per-component constants summed once: equal to Optuna's values up
    /// to rounding (about 1e-15 relative), several times faster.
    #[default]
    Fast,
    /// Optuna's operations in Optuna's order: bit-identical values.
    Exact,
}

/// Data that depends only on the mixture and is needed for scoring; built on first use.
#[derive(Clone, Debug)]
struct ScoringCache {
    /// `log w` per component (built on first use: the fast path folds it into its constants).
    log_weights: OnceLock<Vec<f64>>,
    cont: ContFast,
    /// The exact per-element tables, built on first use of the exact evaluation.
    cont_exact: OnceLock<ContExact>,
    /// Per dimension: the discrete scoring data (for discrete numerical dimensions only).
    disc: Vec<Option<DiscScore>>,
}

/// A mixture of product kernels with normalised weights.
#[derive(Debug)]
pub struct Mixture {
    weights: Vec<f64>,
    dims: Vec<KernelDim>,
    scoring: OnceLock<ScoringCache>,
}

impl Clone for Mixture {
    fn clone(&self) -> Self {
        let scoring = OnceLock::new();
        if let Some(c) = self.scoring.get() {
            let _ = scoring.set(c.clone());
        }
        Mixture {
            weights: self.weights.clone(),
            dims: self.dims.clone(),
            scoring,
        }
    }
}

impl Mixture {
    /// `weights` must be normalised and every kernel dimension must have `weights.len()`
    /// components (checked by the caller that builds them).
    pub(crate) fn new(weights: Vec<f64>, dims: Vec<KernelDim>) -> Self {
        Mixture {
            weights,
            dims,
            scoring: OnceLock::new(),
        }
    }

    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    pub fn dims(&self) -> &[KernelDim] {
        &self.dims
    }
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// Draws `size` points (`size × d` row-major, internal representation), consuming the
    /// random stream exactly as Optuna's `_MixtureOfProductDistribution.sample` does:
    /// `choice(K, p=weights, size)`; then `rand(size)` per categorical dimension in order; then
    /// `uniform(0, 1, (n_numerical, size))` and one `ppf` call over that whole batch.
    pub fn sample(&self, rng: &mut Mt19937, size: usize) -> Vec<f64> {
        let d = self.dims.len();
        if size == 0 {
            return Vec::new();
        }
        let last_component = self.weights.len().saturating_sub(1);
        let mut active = rng.choice_p(&self.weights, size);
        for c in &mut active {
            // Defensive: a conforming `choice_p` never returns an index past the end.
            *c = (*c).min(last_component);
        }
        let mut out = vec![0.0; size * d];

        let mut numerical: Vec<(usize, &NumericalKernels)> = Vec::new();
        for (i, dim) in self.dims.iter().enumerate() {
            match dim {
                KernelDim::Categorical(cat) => {
                    for (j, &comp) in active.iter().enumerate() {
                        let q = rng.random_sample();
                        out[j * d + i] = cat.draw(comp, q) as f64;
                    }
                }
                KernelDim::Numerical(num) => numerical.push((i, num)),
            }
        }
        if numerical.is_empty() {
            return out;
        }

        let m = numerical.len();
        let mut q = Vec::with_capacity(m * size);
        for _ in 0..m * size {
            q.push(rng.uniform(0.0, 1.0));
        }
        let mut a = Vec::with_capacity(m * size);
        let mut b = Vec::with_capacity(m * size);
        for (_, num) in &numerical {
            a.extend(active.iter().map(|&c| num.a(c)));
            b.extend(active.iter().map(|&c| num.b(c)));
        }
        let p = truncnorm::ppf(&q, &a, &b);
        for (r, (i, num)) in numerical.iter().enumerate() {
            for (j, &comp) in active.iter().enumerate() {
                let mut x = p.get(r * size + j).copied().unwrap_or(f64::NAN) * num.sigma[comp]
                    + num.mu[comp];
                if num.log {
                    x = numpy_ops::exp_call(x);
                }
                if num.is_discrete() {
                    let snapped = num.low + ((x - num.low) / num.step).round_ties_even() * num.step;
                    x = np_clip(snapped, num.low, num.high);
                }
                out[j * d + i] = x;
            }
        }
        out
    }

    /// Log density of each of the `n` points in `x` (`n × d` row-major, internal
    /// representation), with the fast evaluation of the continuous terms (equal to Optuna's up
    /// to rounding, about 1e-15 relative; see the module documentation). Errors on a length
    /// mismatch, non-finite values, categorical values that are not a valid choice index, and
    /// non-positive values on a log scale.
    pub fn log_pdf(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
        self.log_pdf_mode(x, n, Scoring::Fast)
    }

    /// Like [`Mixture::log_pdf`], but bit-identical to Optuna's `log_pdf` (slower: one division
    /// per component, dimension and point, as Optuna does).
    pub fn log_pdf_exact(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
        self.log_pdf_mode(x, n, Scoring::Exact)
    }

    /// [`Mixture::log_pdf`] or [`Mixture::log_pdf_exact`].
    pub fn log_pdf_mode(&self, x: &[f64], n: usize, mode: Scoring) -> Result<Vec<f64>, CoreError> {
        let d = self.dims.len();
        let expected = n.checked_mul(d).ok_or_else(|| {
            CoreError::InvalidArgument(format!("log_pdf: n = {n} points is too large"))
        })?;
        if x.len() != expected {
            return Err(CoreError::InvalidArgument(format!(
                "log_pdf: x has {} values, expected n * d = {n} * {d} = {expected}",
                x.len()
            )));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut column = Vec::with_capacity(n);
        for (i, dim) in self.dims.iter().enumerate() {
            let as_dim = match dim {
                KernelDim::Categorical(c) => Dim::Categorical {
                    n_choices: c.n_choices,
                },
                KernelDim::Numerical(k) => Dim::Numerical {
                    low: k.low,
                    high: k.high,
                    step: None,
                    log: k.log,
                },
            };
            column.clear();
            column.extend(x.iter().skip(i).step_by(d).take(n));
            as_dim.validate_column(&column, &|j| format!("log_pdf: x[{j}, {i}]"))?;
        }
        Ok(self.log_pdf_unchecked(x, n, mode))
    }

    fn log_weights(&self) -> &[f64] {
        self.scoring()
            .log_weights
            .get_or_init(|| self.weights.iter().map(|w| w.ln()).collect())
    }

    fn scoring(&self) -> &ScoringCache {
        self.scoring.get_or_init(|| self.build_scoring())
    }

    fn build_scoring(&self) -> ScoringCache {
        let cont_dims = self.continuous_dims();
        let kernels: Vec<&NumericalKernels> = cont_dims.iter().map(|(_, num)| *num).collect();
        let cont = ContFast::build(
            cont_dims.iter().map(|(i, _)| *i).collect(),
            &kernels,
            &self.weights,
        );
        let disc = self
            .dims
            .iter()
            .map(|dim| match dim {
                KernelDim::Numerical(num) if num.is_discrete() => Some(build_disc_score(num)),
                _ => None,
            })
            .collect();
        ScoringCache {
            log_weights: OnceLock::new(),
            cont,
            cont_exact: OnceLock::new(),
            disc,
        }
    }

    /// The continuous numerical dimensions with their search-space index.
    fn continuous_dims(&self) -> Vec<(usize, &NumericalKernels)> {
        self.dims
            .iter()
            .enumerate()
            .filter_map(|(i, dim)| match dim {
                KernelDim::Numerical(num) if !num.is_discrete() => Some((i, num)),
                _ => None,
            })
            .collect()
    }

    /// The scoring itself; `x` is validated and `n > 0`.
    fn log_pdf_unchecked(&self, x: &[f64], n: usize, mode: Scoring) -> Vec<f64> {
        let cache = self.scoring();
        let d = self.dims.len();
        let k = self.weights.len();

        // Discrete masses for all points, per discrete dimension: the index of each point's
        // value among the distinct values, and the (distinct x) × (distinct (μ, σ)) grid.
        let mut disc_mass: Vec<Option<(Vec<usize>, Buf<f64>)>> = Vec::with_capacity(d);
        for (i, dim) in self.dims.iter().enumerate() {
            match (dim, cache.disc.get(i).and_then(|o| o.as_ref())) {
                (KernelDim::Numerical(num), Some(ds)) => {
                    disc_mass.push(Some(discrete_mass_grid(num, ds, x, n, d, i)));
                }
                _ => disc_mass.push(None),
            }
        }

        let cont_kernels: Vec<&NumericalKernels> = cache
            .cont
            .dims
            .iter()
            .filter_map(|&i| match &self.dims[i] {
                KernelDim::Numerical(num) => Some(num),
                KernelDim::Categorical(_) => None,
            })
            .collect();
        let dc = cont_kernels.len();
        let fast = dc > 0 && mode == Scoring::Fast && cache.cont.usable;
        // Density rows are padded for the fast kernel (the padding stays zero).
        let stride = if fast { cache.cont.padded_len() } else { k };
        // The categorical and discrete terms of every point (n rows of `stride`; all zero, and
        // not materialised, without such dimensions), then the continuous values of every
        // point (n × dc, log-transformed where needed).
        let has_rows = self
            .dims
            .iter()
            .any(|dim| !matches!(dim, KernelDim::Numerical(num) if !num.is_discrete()));
        let mut rows = Buf::filled(if has_rows { n * stride } else { 0 }, 0.0);
        let mut xs = vec![0.0; n * dc];
        let mut fast_points = Vec::with_capacity(n);
        let mut exact_points = Vec::new();
        for p in 0..n {
            let xp = &x[p * d..(p + 1) * d];
            if has_rows {
                let row = &mut rows[p * stride..p * stride + k];
                // Categorical and discrete dimensions, in search-space order.
                for (i, dim) in self.dims.iter().enumerate() {
                    match dim {
                        KernelDim::Categorical(cat) => {
                            let choice = xp[i] as usize;
                            for (comp, r) in row.iter_mut().enumerate() {
                                *r += cat.log_weight(comp, choice);
                            }
                        }
                        KernelDim::Numerical(_) => {
                            if let (Some(Some((xinv, grid))), Some(Some(ds))) =
                                (disc_mass.get(i), cache.disc.get(i))
                            {
                                let nu = ds.mu.len();
                                let g = &grid[xinv[p] * nu..(xinv[p] + 1) * nu];
                                for (r, &u) in row.iter_mut().zip(ds.inv.iter()) {
                                    *r += g[u];
                                    *r -= ds.log_norm[u];
                                }
                            }
                        }
                    }
                }
            }
            let mut inside = true;
            for (j, num) in cont_kernels.iter().enumerate() {
                let v = xp[cache.cont.dims[j]];
                let xv = if num.log { numpy_ops::ln_call(v) } else { v };
                xs[p * dc + j] = xv;
                inside &= num.adapted_low <= xv && xv <= num.adapted_high;
            }
            if fast && inside {
                fast_points.push(p);
            } else {
                exact_points.push(p);
            }
        }

        let mut out = vec![f64::NAN; n];
        if !fast_points.is_empty() {
            let mut work = FastWork::take();
            work.xt.clear();
            work.xt.resize(dc * TILE, 0.0);
            if work.dens.len() < TILE * stride {
                // Grows only: stale values are always overwritten before they are read.
                work.dens.resize(TILE * stride, 0.0);
            }
            for tile in fast_points.chunks(TILE) {
                // A short last tile repeats its last point (whose duplicates are ignored).
                let point = |q: usize| tile[q.min(tile.len() - 1)];
                for q in 0..TILE {
                    let p = point(q);
                    for j in 0..dc {
                        work.xt[j * TILE + q] = xs[p * dc + j];
                    }
                }
                let tile_rows = if has_rows {
                    let row = |q: usize| &rows[point(q) * stride..(point(q) + 1) * stride];
                    Some(std::array::from_fn(row))
                } else {
                    None
                };
                let dens = &mut work.dens[..TILE * stride];
                let Some(summary) = cache.cont.densities(&work.xt, tile_rows, dens) else {
                    // Cannot happen (the lengths are consistent by construction); the points
                    // keep NaN rather than a wrong value.
                    continue;
                };
                let dens = std::mem::take(&mut work.dens);
                for ((q, &p), sum) in tile.iter().enumerate().zip(summary) {
                    let row = &dens[q * stride..(q + 1) * stride];
                    out[p] = work.log_sum_exp(row, sum.max, sum.nan);
                }
                work.dens = dens;
            }
            work.give_back();
        }
        if !exact_points.is_empty() {
            let mut work = ExactWork::default();
            for &p in &exact_points {
                let mut row = Buf::filled(k, 0.0);
                if has_rows {
                    row.copy_from_slice(&rows[p * stride..p * stride + k]);
                }
                if dc > 0 {
                    let exact = cache
                        .cont_exact
                        .get_or_init(|| ContExact::build(&cont_kernels, k));
                    work.add_terms(&cont_kernels, exact, &xs[p * dc..(p + 1) * dc], &mut row);
                }
                for (r, lw) in row.iter_mut().zip(self.log_weights()) {
                    *r += lw;
                }
                out[p] = log_sum_exp_exact(&mut row);
            }
        }
        out
    }
}

/// numpy's `np.clip(v, lo, hi)` for scalars (NaN propagates).
#[inline]
fn np_clip(v: f64, lo: f64, hi: f64) -> f64 {
    let v = if v < lo { lo } else { v };
    if v > hi {
        hi
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_and_draw() {
        assert_eq!(np_clip(5.0, 0.0, 1.0), 1.0);
        assert_eq!(np_clip(-5.0, 0.0, 1.0), 0.0);
        assert!(np_clip(f64::NAN, 0.0, 1.0).is_nan());
        let cat = CategoricalKernels {
            n_choices: 3,
            observed: Buf::from_slice(&[1]),
            hit: vec![f64::NAN, 0.6, f64::NAN],
            miss: vec![f64::NAN, 0.2, f64::NAN],
            log_hit: vec![],
            log_miss: vec![],
            prior: 1.0 / 3.0,
            log_prior: 0.0,
        };
        assert_eq!(cat.draw(0, 0.0), 0);
        assert_eq!(cat.draw(0, 0.19), 0);
        assert_eq!(cat.draw(0, 0.21), 1);
        assert_eq!(cat.draw(0, 0.85), 2);
        assert_eq!(cat.draw(0, 0.999_999), 2);
    }
}
