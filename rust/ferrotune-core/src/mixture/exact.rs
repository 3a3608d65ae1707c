//! The exact evaluation of the continuous terms: Optuna's per-element expressions in Optuna's
//! order (see the documentation of [`super`]).

use super::{Buf, NumericalKernels, LOG_SQRT_2PI};
use crate::numpy_ops;
use crate::truncnorm;

/// Below this, `exp` underflows to exactly `0.0` (the smallest subnormal is `exp(-744.44)`).
const EXP_UNDERFLOW: f64 = -746.0;

/// Per-(dimension, component) tables for the exact evaluation, dimension-major.
#[derive(Clone, Debug, Default)]
pub(super) struct ContExact {
    /// `log_gauss_mass(a, b)` computed from Optuna's `a`, `b` in Optuna's batch.
    log_mass: Buf<f64>,
    /// `log σ`.
    log_sigma: Buf<f64>,
}

impl ContExact {
    /// The exact tables of the continuous dimensions `cont` of a mixture of `k` components:
    /// Optuna evaluates `log_gauss_mass` once over the whole (component, continuous dimension)
    /// grid, row-major, with `a = (adapted_low - μ)/σ`, `b = (adapted_high - μ)/σ`; the same
    /// batch is used here (its size decides which erf evaluates the central cases).
    pub(super) fn build(cont: &[&NumericalKernels], k: usize) -> ContExact {
        let dc = cont.len();
        let mut ga = Buf::with_capacity(k * dc);
        let mut gb = Buf::with_capacity(k * dc);
        for comp in 0..k {
            for num in cont {
                ga.push(num.a(comp));
                gb.push(num.b(comp));
            }
        }
        let mut lm = Buf::filled(k * dc, f64::NAN);
        // Lengths match by construction; on a mismatch the NaNs stay.
        let _ = truncnorm::log_gauss_mass_into(&ga, &gb, &mut lm);
        let mut log_mass = Buf::with_capacity(dc * k);
        let mut log_sigma = Buf::with_capacity(dc * k);
        for (j, num) in cont.iter().enumerate() {
            log_mass.extend((0..k).map(|comp| lm[comp * dc + j]));
            log_sigma.extend(num.sigma.iter().map(|s| s.ln()));
        }
        ContExact {
            log_mass,
            log_sigma,
        }
    }
}

/// Per-call scratch of the exact continuous scoring.
#[derive(Default)]
pub(super) struct ExactWork {
    /// The dimension-major block of terms of one point and its column sums.
    block: Buf<f64>,
    sums: Buf<f64>,
    lanes_scratch: Vec<f64>,
}

impl ExactWork {
    /// Optuna's continuous terms for the point `xv` (one value per continuous dimension, in
    /// the working space), summed over the dimensions in numpy's pairwise order and added to
    /// `row`.
    pub(super) fn add_terms(
        &mut self,
        kernels: &[&NumericalKernels],
        ex: &ContExact,
        xv: &[f64],
        row: &mut [f64],
    ) {
        let k = row.len();
        let dc = kernels.len();
        if self.block.len() != dc * k {
            self.block = Buf::filled(dc * k, 0.0);
            self.sums = Buf::filled(k, 0.0);
        }
        for (j, (num, &xv)) in kernels.iter().zip(xv).enumerate() {
            let base = j * k;
            let it = self.block[base..base + k]
                .iter_mut()
                .zip(num.mu.iter().zip(num.sigma.iter()))
                .zip(
                    ex.log_mass[base..base + k]
                        .iter()
                        .zip(&ex.log_sigma[base..base + k]),
                );
            for ((t, (&mu, &sigma)), (&lm, &ls)) in it {
                *t = exact_term(xv, mu, sigma, num.adapted_low, num.adapted_high, lm, ls);
            }
        }
        numpy_ops::pairwise_sum_lanes(&self.block, dc, k, &mut self.sums, &mut self.lanes_scratch);
        for (r, s) in row.iter_mut().zip(self.sums.iter()) {
            *r += s;
        }
    }
}

/// One continuous log-pdf term, as Optuna's `_truncnorm.logpdf` evaluates it:
/// `((-(z²)/2 - log√(2π)) - log_mass) - log σ` with `z = (x - μ)/σ`; `-inf` outside
/// `[a, b] = [(low - μ)/σ, (high - μ)/σ]`, NaN where `a == b`.
#[inline(always)]
fn exact_term(xv: f64, mu: f64, sigma: f64, low: f64, high: f64, lm: f64, ls: f64) -> f64 {
    let z = (xv - mu) / sigma;
    let v = -(z * z) / 2.0 - LOG_SQRT_2PI - lm - ls;
    let a = (low - mu) / sigma;
    let b = (high - mu) / sigma;
    if a == b {
        f64::NAN
    } else if z < a || z > b {
        f64::NEG_INFINITY
    } else {
        v
    }
}

/// `log(sum(exp(row - max))) + max` with Optuna's conventions: a NaN anywhere gives NaN (as
/// `np.max` propagates it), a `-inf` maximum is replaced by 0. The row is overwritten.
pub(super) fn log_sum_exp_exact(row: &mut [f64]) -> f64 {
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
