//! Evolutionary and swarm operators for the `GASampler`, `PSOSampler` and `ACOSampler`.
//!
//! Every strategy works in one encoding: a point is a vector with one entry per dimension; a
//! numerical dimension (float, log float, stepped float, int, log int) is a coordinate in the
//! unit interval `[0, 1]` (the Python layer maps log dimensions through the logarithm and widens
//! stepped/int ranges by half a step on each side before normalising, and rounds back to the grid
//! when decoding), and a categorical dimension holds the index of a choice as a float.
//!
//! The random stream is numpy's legacy MT19937 ([`Mt19937`]); only `random_sample()` draws are
//! consumed, and every derived quantity (integers, Gaussians, choices) is computed here with the
//! same operations in the same order as in the pure-Python twin `ferrotune/_evo_py.py`, so both
//! backends give bit-identical points for the same state.
//!
//! One file per strategy: [`ga`], [`pso`], [`aco`]; each implements [`Strategy`].

pub mod aco;
pub mod ga;
pub mod pso;

use crate::rng::Mt19937;
use crate::CoreError;

/// One dimension of the encoded search space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvoDim {
    /// A numerical dimension, encoded in `[0, 1]`.
    Numeric,
    /// A categorical dimension with `n` choices, encoded as the index `0..n`.
    Categorical(usize),
}

impl EvoDim {
    /// The dimension from its wire form: `0` = numerical, `n >= 1` = categorical with `n` choices.
    pub fn from_code(code: usize) -> Self {
        if code == 0 {
            EvoDim::Numeric
        } else {
            EvoDim::Categorical(code)
        }
    }
}

/// A strategy: given its input (a population, an archive, a particle) and the random stream,
/// propose one new encoded point.
pub trait Strategy {
    /// What the strategy reads (borrowed population data).
    type Input<'a>;
    /// Propose one point.
    fn propose(
        &self,
        dims: &[EvoDim],
        input: &Self::Input<'_>,
        rng: &mut Mt19937,
    ) -> Result<Vec<f64>, CoreError>;
}

/// An integer uniform in `0..n` (`n >= 1`): `min(floor(u * n), n - 1)`.
#[inline]
pub fn int_below(rng: &mut Mt19937, n: usize) -> usize {
    let u = rng.random_sample();
    ((u * n as f64).floor() as usize).min(n.saturating_sub(1))
}

/// A standard normal draw by Box–Muller (two uniforms, the cosine branch only).
#[inline]
pub fn gauss(rng: &mut Mt19937) -> f64 {
    let u1 = rng.random_sample();
    let u2 = rng.random_sample();
    (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Index drawn with probability proportional to the non-negative `weights`: the first index whose
/// running sum (left to right) exceeds `u * total`; the last index if rounding leaves none.
#[inline]
pub fn pick_weighted(rng: &mut Mt19937, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().fold(0.0, |acc, &w| acc + w);
    let target = rng.random_sample() * total;
    let mut acc = 0.0;
    for (i, &w) in weights.iter().enumerate() {
        acc += w;
        if acc > target {
            return i;
        }
    }
    weights.len().saturating_sub(1)
}

/// Clip to the unit interval.
#[inline]
pub fn clip01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

/// A point drawn uniformly from the encoded space (numerical: `u`; categorical: uniform index).
pub fn random_point(dims: &[EvoDim], rng: &mut Mt19937) -> Vec<f64> {
    dims.iter()
        .map(|dim| match *dim {
            EvoDim::Numeric => rng.random_sample(),
            EvoDim::Categorical(n) => int_below(rng, n) as f64,
        })
        .collect()
}

/// Check a row-major `n x d` population (values finite, numerical entries in `[0, 1]`,
/// categorical entries valid indices) and its optional per-row scores.
pub fn check_population(
    name: &str,
    dims: &[EvoDim],
    data: &[f64],
    n: usize,
) -> Result<(), CoreError> {
    let d = dims.len();
    if d == 0 {
        return Err(CoreError::InvalidSearchSpace(
            "the search space has no dimensions".into(),
        ));
    }
    if data.len() != n * d {
        return Err(CoreError::InvalidArgument(format!(
            "{name} has {} entries, expected {n} x {d}",
            data.len()
        )));
    }
    for (j, dim) in dims.iter().enumerate() {
        if let EvoDim::Categorical(0) = dim {
            return Err(CoreError::InvalidSearchSpace(format!(
                "dimension {j}: a categorical dimension needs at least one choice"
            )));
        }
    }
    for (i, row) in data.chunks(d).enumerate() {
        for (j, (&x, dim)) in row.iter().zip(dims).enumerate() {
            let ok = match *dim {
                EvoDim::Numeric => (0.0..=1.0).contains(&x),
                EvoDim::Categorical(k) => x >= 0.0 && x.fract() == 0.0 && (x as usize) < k,
            };
            if !ok {
                return Err(CoreError::InvalidArgument(format!(
                    "{name}[{i}][{j}] = {x} is outside its dimension"
                )));
            }
        }
    }
    Ok(())
}

/// Check that a scalar parameter is finite and within `[low, high]`.
pub fn check_param(name: &str, value: f64, low: f64, high: f64) -> Result<(), CoreError> {
    if !value.is_finite() || value < low || value > high {
        return Err(CoreError::InvalidArgument(format!(
            "{name} must be a finite number in [{low}, {high}], got {value}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_point_respects_dims() {
        let dims = [EvoDim::Numeric, EvoDim::Categorical(3)];
        let mut rng = Mt19937::new(1);
        for _ in 0..200 {
            let p = random_point(&dims, &mut rng);
            assert!((0.0..1.0).contains(&p[0]));
            assert!(p[1] == 0.0 || p[1] == 1.0 || p[1] == 2.0);
        }
    }

    #[test]
    fn pick_weighted_never_picks_zero_weight() {
        let mut rng = Mt19937::new(3);
        for _ in 0..500 {
            let i = pick_weighted(&mut rng, &[0.0, 1.0, 0.0, 2.0]);
            assert!(i == 1 || i == 3);
        }
    }

    #[test]
    fn gauss_has_unit_variance() {
        let mut rng = Mt19937::new(7);
        let n = 20000;
        let xs: Vec<f64> = (0..n).map(|_| gauss(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }

    #[test]
    fn population_checks() {
        let dims = [EvoDim::Numeric, EvoDim::Categorical(2)];
        assert!(check_population("p", &dims, &[0.5, 1.0], 1).is_ok());
        assert!(check_population("p", &dims, &[1.5, 1.0], 1).is_err());
        assert!(check_population("p", &dims, &[0.5, 2.0], 1).is_err());
        assert!(check_population("p", &dims, &[0.5, 0.5], 1).is_err());
        assert!(check_population("p", &dims, &[0.5], 1).is_err());
        assert!(check_population("p", &[], &[], 0).is_err());
    }
}
