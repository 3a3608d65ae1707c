//! Scoring data of discrete (stepped or integer) numerical dimensions: the mass of each point's
//! cell under every kernel, with Optuna's deduplication of `(μ, σ)` and `(a, b)` pairs.

use super::{Buf, NumericalKernels};
use crate::sort::stable_argsort_into;
use crate::truncnorm;

#[derive(Clone, Debug)]
pub(super) struct DiscScore {
    /// Distinct `(μ, σ)` pairs.
    pub(super) mu: Buf<f64>,
    pub(super) sigma: Buf<f64>,
    /// Component → index of its `(μ, σ)` pair.
    pub(super) inv: Buf<usize>,
    /// `log_gauss_mass` of the truncation interval per distinct pair.
    pub(super) log_norm: Vec<f64>,
}

/// Distinct `(μ, σ)` pairs of a discrete dimension and the log mass of its truncation interval
/// under each (Optuna evaluates that mass on the distinct pairs only, one batch per dimension).
pub(super) fn build_disc_score(num: &NumericalKernels) -> DiscScore {
    let k = num.mu.len();
    // Sort components by (μ, σ) and merge equal pairs (equality as `==`).
    let mut keys = Buf::with_capacity(k);
    let mut order = Buf::with_capacity(k);
    stable_argsort_into(&num.sigma, &mut keys, &mut order);
    let mut by_sigma = Buf::with_capacity(k);
    by_sigma.extend(order.iter().map(|&c| num.mu[c]));
    let mut order2 = Buf::with_capacity(k);
    stable_argsort_into(&by_sigma, &mut keys, &mut order2);
    let mut mu = Buf::with_capacity(k);
    let mut sigma = Buf::with_capacity(k);
    let mut inv = Buf::filled(k, 0usize);
    for &o in order2.iter() {
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
        .zip(sigma.iter())
        .map(|(&m, &s)| (num.adapted_low - m) / s)
        .collect();
    let b: Vec<f64> = mu
        .iter()
        .zip(sigma.iter())
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
pub(super) fn discrete_mass_grid(
    num: &NumericalKernels,
    ds: &DiscScore,
    x: &[f64],
    n: usize,
    d: usize,
    dim: usize,
) -> (Vec<usize>, Buf<f64>) {
    // Distinct values of this column.
    let column: Vec<f64> = x.iter().skip(dim).step_by(d).take(n).copied().collect();
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
    let mut ga = Buf::with_capacity(cells);
    let mut gb = Buf::with_capacity(cells);
    for &v in &xu {
        let (left, right) = if num.log {
            ((v - half).ln(), (v + half).ln())
        } else {
            (v - half, v + half)
        };
        for (&m, &s) in ds.mu.iter().zip(ds.sigma.iter()) {
            ga.push((left - m) / s);
            gb.push((right - m) / s);
        }
    }
    let (ua, ub, idx) = unique_pairs(&ga, &gb);
    let mass = truncnorm::log_gauss_mass(&ua, &ub);
    let mut grid = Buf::with_capacity(cells);
    grid.extend(
        idx.iter()
            .map(|&u| mass.get(u).copied().unwrap_or(f64::NAN)),
    );
    Buf::recycle(mass);
    (xinv, grid)
}

/// Distinct `(a, b)` pairs (compared with `==`, so `-0.0 == 0.0` and every NaN is distinct, as
/// in numpy) and, for each input pair, the index of its distinct pair. Open addressing on the
/// bit patterns.
pub(super) fn unique_pairs(a: &[f64], b: &[f64]) -> (Buf<f64>, Buf<f64>, Buf<usize>) {
    let n = a.len();
    let cap = (2 * n).max(16).next_power_of_two();
    let mask = cap - 1;
    let mut table = Buf::filled(cap, usize::MAX);
    let mut ua = Buf::with_capacity(n);
    let mut ub = Buf::with_capacity(n);
    let mut idx = Buf::with_capacity(n);
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

    #[test]
    fn unique_pairs_merges_equal_pairs_only() {
        let a = [1.0, 2.0, 1.0, -0.0, 0.0, f64::NAN, f64::NAN, 1.0];
        let b = [5.0, 5.0, 5.0, 1.0, 1.0, 1.0, 1.0, 6.0];
        let (ua, ub, idx) = unique_pairs(&a, &b);
        assert_eq!(ua.len(), 6);
        assert_eq!(ub.len(), 6);
        assert_eq!(*idx, vec![0, 1, 0, 2, 2, 3, 4, 5]);
    }
}
