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
//! [`Mixture::log_pdf`] evaluates the same per-element expressions in the same order as Optuna
//! (including numpy's pairwise summation over dimensions and components, and the same batches
//! handed to `log_gauss_mass`, whose size decides which `erf` is used). It differs only in
//! *how* the work is organised, none of which changes a value:
//! - quantities that do not depend on the evaluated points (standardised truncation bounds,
//!   `log_gauss_mass` of the bounds, `log σ`, `log W`, `log weights`) are computed once per
//!   mixture and cached;
//! - the `n × K × d` array of Optuna's continuous log-pdf is never materialised: one
//!   `d × K` block is filled per point and reduced column-wise right away;
//! - discrete masses are evaluated once per distinct `(a, b)` pair (Optuna's own dedup);
//! - `exp(v)` in the final log-sum-exp is replaced by its exact value `0.0` for `v < -746`
//!   (where it underflows to zero anyway).

use std::sync::OnceLock;

use crate::numpy_ops;
use crate::rng::Mt19937;
use crate::sort::stable_argsort_into;
use crate::space::Dim;
use crate::truncnorm;
use crate::CoreError;

/// `log(sqrt(2π))` as Optuna evaluates it (`math.log(math.sqrt(2 * math.pi))`).
pub(crate) const LOG_SQRT_2PI: f64 = 0.918_938_533_204_672_7;

/// Below this, `exp` underflows to exactly `0.0` (the smallest subnormal is `exp(-744.44)`).
const EXP_UNDERFLOW: f64 = -746.0;

/// The kernels of one numerical dimension, in the working space (log-transformed for log
/// dimensions). The last component is the prior.
#[derive(Clone, Debug)]
pub struct NumericalKernels {
    mu: Vec<f64>,
    sigma: Vec<f64>,
    /// The distribution's own bounds (not widened, not log-transformed).
    low: f64,
    high: f64,
    /// `0.0` for continuous dimensions.
    step: f64,
    log: bool,
    /// Truncation bounds in the working space.
    adapted_low: f64,
    adapted_high: f64,
    /// Standardised truncation bounds `(adapted_low - μ) / σ` and `(adapted_high - μ) / σ`.
    a: Vec<f64>,
    b: Vec<f64>,
}

impl NumericalKernels {
    /// `low`, `high`, `step`, `log` describe the distribution itself (as in [`Dim`]); `mu` and
    /// `sigma` are in the working space.
    pub(crate) fn new(
        mu: Vec<f64>,
        sigma: Vec<f64>,
        low: f64,
        high: f64,
        step: Option<f64>,
        log: bool,
    ) -> Self {
        let (adapted_low, adapted_high) = match step {
            None => (low, high),
            Some(s) => (low - s / 2.0, high + s / 2.0),
        };
        let (adapted_low, adapted_high) = if log {
            (adapted_low.ln(), adapted_high.ln())
        } else {
            (adapted_low, adapted_high)
        };
        let a = mu
            .iter()
            .zip(&sigma)
            .map(|(&m, &s)| (adapted_low - m) / s)
            .collect();
        let b = mu
            .iter()
            .zip(&sigma)
            .map(|(&m, &s)| (adapted_high - m) / s)
            .collect();
        NumericalKernels {
            mu,
            sigma,
            low,
            high,
            step: step.unwrap_or(0.0),
            log,
            adapted_low,
            adapted_high,
            a,
            b,
        }
    }

    /// Kernel centres (working space; the prior is last).
    pub fn mu(&self) -> &[f64] {
        &self.mu
    }
    /// Kernel bandwidths (working space; the prior is last).
    pub fn sigma(&self) -> &[f64] {
        &self.sigma
    }
    /// The truncation interval in the working space.
    pub fn adapted_bounds(&self) -> (f64, f64) {
        (self.adapted_low, self.adapted_high)
    }
    fn is_discrete(&self) -> bool {
        self.step != 0.0
    }
}

/// The kernels of one categorical dimension: a `K × n_choices` row-stochastic matrix, stored
/// compactly. An observation row holds one value at its observed choice and another value
/// everywhere else, and rows with the same observed choice are identical, so only two numbers
/// per observed choice (plus the uniform prior row) are kept.
#[derive(Clone, Debug)]
pub struct CategoricalKernels {
    n_choices: usize,
    /// Observed choice of each observation component. Components at or past its length are the
    /// prior (there is exactly one).
    observed: Vec<usize>,
    /// Per choice: the row value at the observed choice and elsewhere (meaningful only for
    /// choices that were observed).
    hit: Vec<f64>,
    miss: Vec<f64>,
    log_hit: Vec<f64>,
    log_miss: Vec<f64>,
    /// The value of every entry of the prior row.
    prior: f64,
    log_prior: f64,
}

impl CategoricalKernels {
    /// Builds Optuna's categorical kernel matrix: entries start at `prior_weight / (n + 1)`,
    /// each observation adds 1 at its choice, every row is divided by its (pairwise) sum, a
    /// zero sum dividing by 1. Without observations the single row is `1 / n_choices`.
    /// `observed` must hold valid choice indices.
    pub(crate) fn new(n_choices: usize, observed: Vec<usize>, prior_weight: f64) -> Self {
        let mut hit = vec![f64::NAN; n_choices];
        let mut miss = vec![f64::NAN; n_choices];
        let prior;
        if observed.is_empty() {
            prior = 1.0 / n_choices as f64;
        } else {
            let fill = prior_weight / (observed.len() + 1) as f64;
            let mut row = vec![fill; n_choices];
            let s = numpy_ops::pairwise_sum(&row);
            prior = fill / if s == 0.0 { 1.0 } else { s };
            for &c in &observed {
                if !hit[c].is_nan() {
                    continue;
                }
                row[c] = fill + 1.0;
                let s = numpy_ops::pairwise_sum(&row);
                row[c] = fill;
                let s = if s == 0.0 { 1.0 } else { s };
                hit[c] = (fill + 1.0) / s;
                miss[c] = fill / s;
            }
        }
        let log_hit = hit.iter().map(|v| v.ln()).collect();
        let log_miss = miss.iter().map(|v| v.ln()).collect();
        CategoricalKernels {
            n_choices,
            observed,
            hit,
            miss,
            log_hit,
            log_miss,
            prior,
            log_prior: prior.ln(),
        }
    }

    pub fn n_choices(&self) -> usize {
        self.n_choices
    }

    /// Number of rows (components).
    pub fn n_components(&self) -> usize {
        self.observed.len() + 1
    }

    /// `W[component, choice]`.
    #[inline]
    pub fn weight(&self, component: usize, choice: usize) -> f64 {
        match self.observed.get(component) {
            Some(&c) if c == choice => self.hit[c],
            Some(&c) => self.miss[c],
            None => self.prior,
        }
    }

    /// `log W[component, choice]`.
    #[inline]
    fn log_weight(&self, component: usize, choice: usize) -> f64 {
        match self.observed.get(component) {
            Some(&c) if c == choice => self.log_hit[c],
            Some(&c) => self.log_miss[c],
            None => self.log_prior,
        }
    }

    /// The full `K × n_choices` matrix, row-major.
    pub fn matrix(&self) -> Vec<f64> {
        let k = self.n_components();
        let mut m = Vec::with_capacity(k * self.n_choices);
        for comp in 0..k {
            m.extend((0..self.n_choices).map(|c| self.weight(comp, c)));
        }
        m
    }

    /// Inverse-cdf draw of a choice from row `component`: the number of cumulative sums
    /// (sequential, the last forced to 1) strictly below `q`.
    #[inline]
    fn draw(&self, component: usize, q: f64) -> usize {
        let last = self.n_choices - 1;
        let mut cum = 0.0;
        for c in 0..last {
            cum += self.weight(component, c);
            // The cumulative sums never decrease (non-negative entries), and the forced last
            // entry 1.0 exceeds any q in [0, 1), so the count is the first index reaching q.
            if cum >= q {
                return c;
            }
        }
        if 1.0 < q {
            last + 1
        } else {
            last
        }
    }
}

/// The kernels of one dimension.
#[derive(Clone, Debug)]
pub enum KernelDim {
    Numerical(NumericalKernels),
    Categorical(CategoricalKernels),
}

/// Data that depends only on the mixture and is needed for scoring; built on first use.
#[derive(Clone, Debug)]
struct ScoringCache {
    log_weights: Vec<f64>,
    /// Continuous numerical dimensions, in search-space order.
    cont: Vec<ContScore>,
    /// Per dimension: the discrete scoring data (for discrete numerical dimensions only).
    disc: Vec<Option<DiscScore>>,
}

#[derive(Clone, Debug)]
struct ContScore {
    dim: usize,
    /// `log_gauss_mass(a, b)` per component.
    log_mass: Vec<f64>,
    /// `log σ` per component.
    log_sigma: Vec<f64>,
}

#[derive(Clone, Debug)]
struct DiscScore {
    /// Distinct `(μ, σ)` pairs.
    mu: Vec<f64>,
    sigma: Vec<f64>,
    /// Component → index of its `(μ, σ)` pair.
    inv: Vec<usize>,
    /// `log_gauss_mass` of the truncation interval per distinct pair.
    log_norm: Vec<f64>,
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
            a.extend(active.iter().map(|&c| num.a[c]));
            b.extend(active.iter().map(|&c| num.b[c]));
        }
        let p = truncnorm::ppf(&q, &a, &b);
        for (r, (i, num)) in numerical.iter().enumerate() {
            for (j, &comp) in active.iter().enumerate() {
                let mut x = p.get(r * size + j).copied().unwrap_or(f64::NAN) * num.sigma[comp]
                    + num.mu[comp];
                if num.log {
                    x = x.exp();
                }
                if num.is_discrete() {
                    let snapped =
                        num.low + ((x - num.low) / num.step).round_ties_even() * num.step;
                    x = np_clip(snapped, num.low, num.high);
                }
                out[j * d + i] = x;
            }
        }
        out
    }

    /// Log density of each of the `n` points in `x` (`n × d` row-major, internal
    /// representation). Errors on a length mismatch, non-finite values, categorical values that
    /// are not a valid choice index, and non-positive values on a log scale.
    pub fn log_pdf(&self, x: &[f64], n: usize) -> Result<Vec<f64>, CoreError> {
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
            for j in 0..n {
                as_dim.validate_value(x[j * d + i], &|| format!("log_pdf: x[{j}, {i}]"))?;
            }
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        Ok(self.log_pdf_unchecked(x, n))
    }

    fn scoring(&self) -> &ScoringCache {
        self.scoring.get_or_init(|| self.build_scoring())
    }

    fn build_scoring(&self) -> ScoringCache {
        let k = self.weights.len();
        let log_weights = self.weights.iter().map(|w| w.ln()).collect();

        // Continuous dimensions: Optuna evaluates `log_gauss_mass` once over the whole
        // (component, continuous dimension) grid; the same batch is used here.
        let cont_dims: Vec<(usize, &NumericalKernels)> = self
            .dims
            .iter()
            .enumerate()
            .filter_map(|(i, dim)| match dim {
                KernelDim::Numerical(num) if !num.is_discrete() => Some((i, num)),
                _ => None,
            })
            .collect();
        let dc = cont_dims.len();
        let mut cont = Vec::with_capacity(dc);
        if dc > 0 {
            let mut ga = Vec::with_capacity(k * dc);
            let mut gb = Vec::with_capacity(k * dc);
            for comp in 0..k {
                for (_, num) in &cont_dims {
                    ga.push(num.a[comp]);
                    gb.push(num.b[comp]);
                }
            }
            let lm = truncnorm::log_gauss_mass(&ga, &gb);
            for (j, (i, num)) in cont_dims.iter().enumerate() {
                cont.push(ContScore {
                    dim: *i,
                    log_mass: (0..k)
                        .map(|comp| lm.get(comp * dc + j).copied().unwrap_or(f64::NAN))
                        .collect(),
                    log_sigma: num.sigma.iter().map(|s| s.ln()).collect(),
                });
            }
        }

        let disc = self
            .dims
            .iter()
            .map(|dim| match dim {
                KernelDim::Numerical(num) if num.is_discrete() => Some(build_disc_score(num)),
                _ => None,
            })
            .collect();

        ScoringCache {
            log_weights,
            cont,
            disc,
        }
    }

    /// The scoring itself; `x` is validated and `n > 0`.
    fn log_pdf_unchecked(&self, x: &[f64], n: usize) -> Vec<f64> {
        let cache = self.scoring();
        let d = self.dims.len();
        let k = self.weights.len();

        // Discrete masses for all points, per discrete dimension: `(x index per point,
        // mass grid of (distinct x) × (distinct (μ, σ)))`.
        let mut disc_mass: Vec<Option<(Vec<usize>, Vec<f64>)>> = Vec::with_capacity(d);
        for (i, dim) in self.dims.iter().enumerate() {
            match (dim, cache.disc.get(i).and_then(|o| o.as_ref())) {
                (KernelDim::Numerical(num), Some(ds)) => {
                    disc_mass.push(Some(discrete_mass_grid(num, ds, x, n, d, i)));
                }
                _ => disc_mass.push(None),
            }
        }

        let dc = cache.cont.len();
        let mut row = vec![0.0; k];
        let mut block = vec![0.0; dc * k];
        let mut sums = vec![0.0; if dc > 0 { k } else { 0 }];
        let mut scratch = Vec::new();
        let mut out = Vec::with_capacity(n);

        for p in 0..n {
            let xp = &x[p * d..(p + 1) * d];
            row.fill(0.0);
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
                            for (r, &u) in row.iter_mut().zip(&ds.inv) {
                                *r += g[u];
                                *r -= ds.log_norm[u];
                            }
                        }
                    }
                }
            }
            // Continuous dimensions: fill the (dimension × component) block, then sum each
            // component's column with numpy's pairwise order.
            if dc > 0 {
                for (j, cs) in cache.cont.iter().enumerate() {
                    let num = match &self.dims[cs.dim] {
                        KernelDim::Numerical(num) => num,
                        KernelDim::Categorical(_) => continue,
                    };
                    let xv = if num.log { xp[cs.dim].ln() } else { xp[cs.dim] };
                    let dst = &mut block[j * k..(j + 1) * k];
                    continuous_terms(xv, num, cs, dst);
                }
                column_pairwise_sums(&block, dc, k, &mut sums, &mut scratch);
                for (r, s) in row.iter_mut().zip(&sums) {
                    *r += s;
                }
            }
            for (r, lw) in row.iter_mut().zip(&cache.log_weights) {
                *r += lw;
            }
            out.push(log_sum_exp(&mut row));
        }
        out
    }
}

/// One dimension's continuous log-pdf terms for one point against every component, as
/// Optuna's `_truncnorm.logpdf` evaluates them: `((-(z²)/2 - log√(2π)) - log_mass) - log σ`
/// with `z = (x - μ)/σ`; `-inf` outside `[a, b]`, NaN where `a == b`.
#[inline]
fn continuous_terms(xv: f64, num: &NumericalKernels, cs: &ContScore, dst: &mut [f64]) {
    let it = dst
        .iter_mut()
        .zip(&num.mu)
        .zip(&num.sigma)
        .zip(num.a.iter().zip(&num.b))
        .zip(cs.log_mass.iter().zip(&cs.log_sigma));
    for ((((t, &mu), &sigma), (&a, &b)), (&lm, &ls)) in it {
        let z = (xv - mu) / sigma;
        let v = -(z * z) / 2.0 - LOG_SQRT_2PI - lm - ls;
        *t = if a == b {
            f64::NAN
        } else if z < a || z > b {
            f64::NEG_INFINITY
        } else {
            v
        };
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

/// `log(sum(exp(row - max))) + max` with Optuna's conventions: a NaN anywhere gives NaN (as
/// `np.max` propagates it), a `-inf` maximum is replaced by 0. The row is overwritten.
fn log_sum_exp(row: &mut [f64]) -> f64 {
    let mut max = f64::NEG_INFINITY;
    for &v in row.iter() {
        if v.is_nan() {
            return f64::NAN;
        }
        if v > max {
            max = v;
        }
    }
    if max == f64::NEG_INFINITY {
        max = 0.0;
    }
    for v in row.iter_mut() {
        let t = *v - max;
        *v = if t < EXP_UNDERFLOW { 0.0 } else { t.exp() };
    }
    numpy_ops::pairwise_sum(row).ln() + max
}

/// For each column `c` of the `rows × cols` row-major block `t`, the sum of that column in
/// numpy's pairwise order (what `arr.sum(axis=-1)` does when the summed axis is the last one).
/// `scratch` is grown as needed.
pub(crate) fn column_pairwise_sums(
    t: &[f64],
    rows: usize,
    cols: usize,
    out: &mut [f64],
    scratch: &mut Vec<f64>,
) {
    let out = &mut out[..cols];
    if rows < 8 {
        out.fill(0.0);
        for r in 0..rows {
            for (o, v) in out.iter_mut().zip(&t[r * cols..(r + 1) * cols]) {
                *o += v;
            }
        }
    } else if rows <= 128 {
        scratch.clear();
        scratch.extend_from_slice(&t[..8 * cols]);
        let full = rows - rows % 8;
        let mut r = 8;
        while r < full {
            for (acc, src) in scratch
                .chunks_exact_mut(cols)
                .zip(t[r * cols..(r + 8) * cols].chunks_exact(cols))
            {
                for (a, v) in acc.iter_mut().zip(src) {
                    *a += v;
                }
            }
            r += 8;
        }
        for (c, o) in out.iter_mut().enumerate() {
            let s = |m: usize| scratch[m * cols + c];
            *o = ((s(0) + s(1)) + (s(2) + s(3))) + ((s(4) + s(5)) + (s(6) + s(7)));
        }
        while r < rows {
            for (o, v) in out.iter_mut().zip(&t[r * cols..(r + 1) * cols]) {
                *o += v;
            }
            r += 1;
        }
    } else {
        let mut n2 = rows / 2;
        n2 -= n2 % 8;
        column_pairwise_sums(&t[..n2 * cols], n2, cols, out, scratch);
        let mut right = vec![0.0; cols];
        column_pairwise_sums(&t[n2 * cols..], rows - n2, cols, &mut right, scratch);
        for (o, r) in out.iter_mut().zip(&right) {
            *o += r;
        }
    }
}

/// Distinct `(μ, σ)` pairs of a discrete dimension and the log mass of its truncation interval
/// under each (Optuna evaluates that mass on the distinct pairs only, one batch per dimension).
fn build_disc_score(num: &NumericalKernels) -> DiscScore {
    let k = num.mu.len();
    // Sort components by (μ, σ) and merge equal pairs (equality as `==`).
    let mut keys = Vec::new();
    let mut order = Vec::new();
    stable_argsort_into(&num.sigma, &mut keys, &mut order);
    let by_sigma: Vec<f64> = order.iter().map(|&c| num.mu[c]).collect();
    let mut order2 = Vec::new();
    stable_argsort_into(&by_sigma, &mut keys, &mut order2);
    let mut mu = Vec::new();
    let mut sigma = Vec::new();
    let mut inv = vec![0usize; k];
    for &o in &order2 {
        let comp = order[o];
        let (m, s) = (num.mu[comp], num.sigma[comp]);
        let is_new = match (mu.last(), sigma.last()) {
            (Some(&lm), Some(&ls)) => !(lm == m && ls == s),
            _ => true,
        };
        if is_new {
            mu.push(m);
            sigma.push(s);
        }
        inv[comp] = mu.len() - 1;
    }
    let a: Vec<f64> = mu
        .iter()
        .zip(&sigma)
        .map(|(&m, &s)| (num.adapted_low - m) / s)
        .collect();
    let b: Vec<f64> = mu
        .iter()
        .zip(&sigma)
        .map(|(&m, &s)| (num.adapted_high - m) / s)
        .collect();
    let log_norm = truncnorm::log_gauss_mass(&a, &b);
    DiscScore {
        mu,
        sigma,
        inv,
        log_norm,
    }
}

/// Log mass of each point's cell `[x - step/2, x + step/2]` (log edges on a log scale) under
/// every distinct `(μ, σ)` pair of a discrete dimension. Returns the index of each point's
/// value among the distinct values and the `(distinct x) × (distinct pair)` grid. Like Optuna,
/// `log_gauss_mass` is called once on the distinct standardised `(a, b)` pairs of the grid.
fn discrete_mass_grid(
    num: &NumericalKernels,
    ds: &DiscScore,
    x: &[f64],
    n: usize,
    d: usize,
    dim: usize,
) -> (Vec<usize>, Vec<f64>) {
    // Distinct values of this column.
    let column: Vec<f64> = (0..n).map(|p| x[p * d + dim]).collect();
    let mut keys = Vec::new();
    let mut order = Vec::new();
    stable_argsort_into(&column, &mut keys, &mut order);
    let mut xu: Vec<f64> = Vec::new();
    let mut xinv = vec![0usize; n];
    for &p in &order {
        let v = column[p];
        if xu.last() != Some(&v) {
            xu.push(v);
        }
        xinv[p] = xu.len() - 1;
    }

    let half = num.step / 2.0;
    let nu = ds.mu.len();
    let cells = xu.len() * nu;
    let mut ga = Vec::with_capacity(cells);
    let mut gb = Vec::with_capacity(cells);
    for &v in &xu {
        let (left, right) = if num.log {
            ((v - half).ln(), (v + half).ln())
        } else {
            (v - half, v + half)
        };
        for (&m, &s) in ds.mu.iter().zip(&ds.sigma) {
            ga.push((left - m) / s);
            gb.push((right - m) / s);
        }
    }
    let (ua, ub, idx) = unique_pairs(&ga, &gb);
    let mass = truncnorm::log_gauss_mass(&ua, &ub);
    let grid = idx
        .iter()
        .map(|&u| mass.get(u).copied().unwrap_or(f64::NAN))
        .collect();
    (xinv, grid)
}

/// Distinct `(a, b)` pairs (compared with `==`, so `-0.0 == 0.0` and every NaN is distinct, as
/// in numpy) and, for each input pair, the index of its distinct pair. Open addressing on the
/// bit patterns.
fn unique_pairs(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<usize>) {
    let n = a.len();
    let cap = (2 * n).max(16).next_power_of_two();
    let mask = cap - 1;
    let mut table = vec![usize::MAX; cap];
    let mut ua = Vec::new();
    let mut ub = Vec::new();
    let mut idx = Vec::with_capacity(n);
    for (&x, &y) in a.iter().zip(b) {
        if x.is_nan() || y.is_nan() {
            idx.push(ua.len());
            ua.push(x);
            ub.push(y);
            continue;
        }
        let kx = (x + 0.0).to_bits();
        let ky = (y + 0.0).to_bits();
        let mut h = kx.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ky.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        h ^= h >> 29;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 32;
        let mut slot = (h as usize) & mask;
        loop {
            let e = table[slot];
            if e == usize::MAX {
                table[slot] = ua.len();
                idx.push(ua.len());
                ua.push(x);
                ub.push(y);
                break;
            }
            if ua[e] == x && ub[e] == y {
                idx.push(e);
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    (ua, ub, idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// numpy's pairwise sum of a strided sequence (reference for the column version).
    fn pw(v: &[f64]) -> f64 {
        let n = v.len();
        if n < 8 {
            let mut r = 0.0;
            for x in v {
                r += x;
            }
            r
        } else if n <= 128 {
            let mut r = [0.0; 8];
            r.copy_from_slice(&v[..8]);
            let mut i = 8;
            while i < n - n % 8 {
                for (m, acc) in r.iter_mut().enumerate() {
                    *acc += v[i + m];
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            while i < n {
                res += v[i];
                i += 1;
            }
            res
        } else {
            let mut n2 = n / 2;
            n2 -= n2 % 8;
            pw(&v[..n2]) + pw(&v[n2..])
        }
    }

    #[test]
    fn column_sums_follow_numpy_pairwise_order() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let m = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let e = ((state >> 3) % 40) as i32 - 20;
            m * 10f64.powi(e)
        };
        let mut scratch = Vec::new();
        for &rows in &[1usize, 3, 7, 8, 9, 15, 16, 17, 100, 128, 129, 200, 300, 1000] {
            let cols = 5;
            let t: Vec<f64> = (0..rows * cols).map(|_| next()).collect();
            let mut out = vec![0.0; cols];
            column_pairwise_sums(&t, rows, cols, &mut out, &mut scratch);
            for (c, &o) in out.iter().enumerate() {
                let col: Vec<f64> = (0..rows).map(|r| t[r * cols + c]).collect();
                assert_eq!(o.to_bits(), pw(&col).to_bits(), "rows={rows} col={c}");
            }
        }
    }

    #[test]
    fn unique_pairs_merges_equal_pairs_only() {
        let a = [1.0, 2.0, 1.0, -0.0, 0.0, f64::NAN, f64::NAN, 1.0];
        let b = [5.0, 5.0, 5.0, 1.0, 1.0, 1.0, 1.0, 6.0];
        let (ua, ub, idx) = unique_pairs(&a, &b);
        assert_eq!(ua.len(), 6);
        assert_eq!(ub.len(), 6);
        assert_eq!(idx, vec![0, 1, 0, 2, 2, 3, 4, 5]);
    }

    #[test]
    fn clip_and_draw() {
        assert_eq!(np_clip(5.0, 0.0, 1.0), 1.0);
        assert_eq!(np_clip(-5.0, 0.0, 1.0), 0.0);
        assert!(np_clip(f64::NAN, 0.0, 1.0).is_nan());
        let cat = CategoricalKernels {
            n_choices: 3,
            observed: vec![1],
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
