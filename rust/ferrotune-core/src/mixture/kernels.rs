//! The kernels of one dimension of a mixture: truncated normals (numerical dimensions) or
//! probability rows (categorical dimensions).

use super::Buf;
use crate::numpy_ops;

/// The kernels of one numerical dimension, in the working space (log-transformed for log
/// dimensions). The last component is the prior.
#[derive(Clone, Debug)]
pub struct NumericalKernels {
    pub(super) mu: Buf<f64>,
    pub(super) sigma: Buf<f64>,
    /// The distribution's own bounds (not widened, not log-transformed).
    pub(super) low: f64,
    pub(super) high: f64,
    /// `0.0` for continuous dimensions.
    pub(super) step: f64,
    pub(super) log: bool,
    /// Truncation bounds in the working space.
    pub(super) adapted_low: f64,
    pub(super) adapted_high: f64,
}

impl NumericalKernels {
    /// `low`, `high`, `step`, `log` describe the distribution itself (as in [`Dim`]); `mu` and
    /// `sigma` are in the working space.
    pub(crate) fn new(
        mu: Buf<f64>,
        sigma: Buf<f64>,
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
        NumericalKernels {
            mu,
            sigma,
            low,
            high,
            step: step.unwrap_or(0.0),
            log,
            adapted_low,
            adapted_high,
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
    /// Standardised lower truncation bound of a component, `(adapted_low - μ) / σ`, as Optuna
    /// computes it.
    #[inline]
    pub(super) fn a(&self, comp: usize) -> f64 {
        (self.adapted_low - self.mu[comp]) / self.sigma[comp]
    }
    /// Standardised upper truncation bound, `(adapted_high - μ) / σ`.
    #[inline]
    pub(super) fn b(&self, comp: usize) -> f64 {
        (self.adapted_high - self.mu[comp]) / self.sigma[comp]
    }
    pub(super) fn is_discrete(&self) -> bool {
        self.step != 0.0
    }
}

/// The kernels of one categorical dimension: a `K × n_choices` row-stochastic matrix, stored
/// compactly. An observation row holds one value at its observed choice and another value
/// everywhere else, and rows with the same observed choice are identical, so only two numbers
/// per observed choice (plus the uniform prior row) are kept.
#[derive(Clone, Debug)]
pub struct CategoricalKernels {
    pub(super) n_choices: usize,
    /// Observed choice of each observation component. Components at or past its length are the
    /// prior (there is exactly one).
    pub(super) observed: Buf<usize>,
    /// Per choice: the row value at the observed choice and elsewhere (meaningful only for
    /// choices that were observed).
    pub(super) hit: Vec<f64>,
    pub(super) miss: Vec<f64>,
    pub(super) log_hit: Vec<f64>,
    pub(super) log_miss: Vec<f64>,
    /// The value of every entry of the prior row.
    pub(super) prior: f64,
    pub(super) log_prior: f64,
}

impl CategoricalKernels {
    /// Builds Optuna's categorical kernel matrix: entries start at `prior_weight / (n + 1)`,
    /// each observation adds 1 at its choice, every row is divided by its (pairwise) sum, a
    /// zero sum dividing by 1. Without observations the single row is `1 / n_choices`.
    /// `observed` must hold valid choice indices.
    pub(crate) fn new(n_choices: usize, observed: Buf<usize>, prior_weight: f64) -> Self {
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
            for &c in observed.iter() {
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
    pub(super) fn log_weight(&self, component: usize, choice: usize) -> f64 {
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
    pub(super) fn draw(&self, component: usize, q: f64) -> usize {
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
