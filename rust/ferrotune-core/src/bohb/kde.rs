//! A product-kernel density estimate over encoded configurations, as statsmodels'
//! `KDEMultivariate(data, var_type, bw="normal_reference")` defines it, with two corrections
//! for categorical dimensions (see below).
//!
//! - Bandwidths: the normal-reference rule `1.06 * std * n^(-1 / (4 + d))` per dimension
//!   (population standard deviation, `n` rows, `d` dimensions), floored at `min_bandwidth`
//!   (HpBandSter clips the fitted bandwidths the same way).
//! - Continuous dimension `j`: Gaussian kernel `phi((x_j - X_ij) / h_j) / h_j` (not truncated to
//!   [0, 1], as in statsmodels).
//! - Categorical dimension with `c` choices: Aitchison–Aitken kernel, `1 - l` on the observed
//!   choice and `l / (c - 1)` on each other one. statsmodels takes `c` as the number of
//!   *distinct values in the data* (so a column with a single value divides by zero); we use the
//!   number of choices of the search space, and cap `l` at `(c - 1) / c` (the uniform kernel)
//!   so that the kernel stays a probability distribution. With `c = 1` the kernel is 1.
//! - Density: `(1/n) * sum_i prod_j k_j(x_j, X_ij)`, the product taken over `j` in order and
//!   the sum with numpy's pairwise summation, so that the numpy twin agrees bit for bit.

use crate::numpy_ops::{exp_call, pairwise_sum};

/// `1 / sqrt(2 pi)`.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// A fitted product-kernel KDE. `kinds[j]` is 0 for a continuous dimension and the number of
/// choices for a categorical one.
#[derive(Clone, Debug, PartialEq)]
pub struct Kde {
    pub data: Vec<f64>,
    pub n: usize,
    pub d: usize,
    pub bw: Vec<f64>,
    pub kinds: Vec<usize>,
}

/// Population standard deviation of `col` in numpy's order of operations:
/// `sqrt(sum((x - mean)**2) / n)` with `mean = sum(x) / n`, both sums pairwise.
pub fn numpy_std(col: &[f64]) -> f64 {
    let n = col.len() as f64;
    let mean = pairwise_sum(col) / n;
    let sq: Vec<f64> = col
        .iter()
        .map(|&x| {
            let dev = x - mean;
            dev * dev
        })
        .collect();
    (pairwise_sum(&sq) / n).sqrt()
}

impl Kde {
    /// Fit on `rows` (row-major, `n x d`, `n >= 1`) with the normal-reference bandwidths.
    pub fn fit(rows: &[f64], n: usize, kinds: &[usize], min_bandwidth: f64) -> Kde {
        let d = kinds.len();
        let factor = (n as f64).powf(-1.0 / ((4 + d) as f64));
        let mut bw = Vec::with_capacity(d);
        let mut col = vec![0.0; n];
        for (j, &c) in kinds.iter().enumerate() {
            for (i, slot) in col.iter_mut().enumerate() {
                *slot = rows.get(i * d + j).copied().unwrap_or(0.0);
            }
            let mut h = 1.06 * numpy_std(&col) * factor;
            h = h.max(min_bandwidth);
            if c >= 2 {
                h = h.min((c - 1) as f64 / c as f64);
            }
            bw.push(h);
        }
        Kde {
            data: rows.to_vec(),
            n,
            d,
            bw,
            kinds: kinds.to_vec(),
        }
    }

    /// The kernel value of dimension `j` between the candidate value `x` and the datum `xi`.
    #[inline]
    pub fn kernel(&self, j: usize, x: f64, xi: f64) -> f64 {
        let h = self.bw.get(j).copied().unwrap_or(1.0);
        match self.kinds.get(j).copied().unwrap_or(0) {
            0 => {
                let z = (x - xi) / h;
                exp_call(-0.5 * z * z) * INV_SQRT_2PI / h
            }
            1 => 1.0,
            c => {
                if x == xi {
                    1.0 - h
                } else {
                    h / (c - 1) as f64
                }
            }
        }
    }

    /// The density at `x` (length `d`).
    pub fn pdf(&self, x: &[f64], scratch: &mut Vec<f64>) -> f64 {
        scratch.clear();
        for i in 0..self.n {
            let mut k = 1.0;
            for (j, &xj) in x.iter().enumerate().take(self.d) {
                let xi = self.data.get(i * self.d + j).copied().unwrap_or(f64::NAN);
                k *= self.kernel(j, xj, xi);
            }
            scratch.push(k);
        }
        pairwise_sum(scratch) / self.n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_kde_integrates_to_one_in_1d() {
        let kde = Kde::fit(&[0.2, 0.4, 0.5, 0.9], 4, &[0], 1e-3);
        let mut s = Vec::new();
        let (lo, hi, m) = (-3.0, 4.0, 7000);
        let dx = (hi - lo) / m as f64;
        let total: f64 = (0..m)
            .map(|k| kde.pdf(&[lo + (k as f64 + 0.5) * dx], &mut s) * dx)
            .sum();
        assert!((total - 1.0).abs() < 1e-6, "{total}");
    }

    #[test]
    fn categorical_kernel_sums_to_one_and_is_capped() {
        // All rows equal: std 0, bandwidth floored; one row per choice: capped at (c-1)/c.
        let kde = Kde::fit(&[0.0, 1.0, 2.0], 3, &[3], 1e-3);
        assert!(kde.bw[0] <= 2.0 / 3.0 + 1e-15);
        let mut s = Vec::new();
        let total: f64 = (0..3).map(|c| kde.pdf(&[c as f64], &mut s)).sum();
        assert!((total - 1.0).abs() < 1e-12);
        let flat = Kde::fit(&[1.0, 1.0], 2, &[4], 1e-3);
        assert_eq!(flat.bw[0], 1e-3);
        assert!((flat.pdf(&[1.0], &mut s) - 0.999).abs() < 1e-15);
    }

    #[test]
    fn bandwidth_follows_the_normal_reference_rule() {
        let rows = [0.1, 0.3, 0.6, 0.7, 0.9];
        let kde = Kde::fit(&rows, 5, &[0], 1e-3);
        let mean = 2.6 / 5.0;
        let var: f64 = rows.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 5.0;
        let want = 1.06 * var.sqrt() * 5f64.powf(-0.2);
        assert!((kde.bw[0] - want).abs() < 1e-12);
    }
}
