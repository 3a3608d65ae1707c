//! Which budget the model is fitted on, and the good/bad split there (HpBandSter's rules).
//!
//! With `N` observations at a budget and `N_min = max(min_points_in_model, d + 1)`:
//! `n_good = max(N_min, floor(top_n_percent * N / 100))` lowest losses form the good set and the
//! next `n_bad = max(N_min, floor((100 - top_n_percent) * N / 100))` (fewer if fewer remain) the
//! bad set. A budget is *fittable* when `N >= N_min` and both sets have more rows than
//! dimensions. The model uses the largest fittable budget. Because counts only grow, this is the
//! budget HpBandSter uses ("the largest budget that has a model"), computed from the observations
//! alone. Losses are sorted with a stable sort (ties keep the order of the observations); failed
//! evaluations are passed as `+inf` (HpBandSter counts them as bad).

use std::collections::HashMap;

use super::kde::Kde;
use super::options::BohbOptions;
use crate::CoreError;

/// Observations: `budgets[k]`, the encoded configuration `vectors[k*d..(k+1)*d]`, `losses[k]`.
#[derive(Clone, Copy, Debug)]
pub struct Observations<'a> {
    pub budgets: &'a [f64],
    pub vectors: &'a [f64],
    pub losses: &'a [f64],
}

/// A fitted model: the good (l) and bad (g) KDEs at `budget`, with the observation indices
/// (into the observations given) of both sets.
#[derive(Clone, Debug)]
pub struct Model {
    pub budget: f64,
    pub n_observations: usize,
    pub good_idx: Vec<usize>,
    pub bad_idx: Vec<usize>,
    pub good: Kde,
    pub bad: Kde,
}

fn bad(message: String) -> CoreError {
    CoreError::InvalidArgument(message)
}

/// Check the shapes and the values of the observations against `kinds`.
pub fn validate(kinds: &[usize], obs: &Observations<'_>) -> Result<(), CoreError> {
    let n = obs.budgets.len();
    let d = kinds.len();
    if obs.losses.len() != n {
        return Err(bad(format!(
            "{} budgets but {} losses",
            n,
            obs.losses.len()
        )));
    }
    if obs.vectors.len() != n * d {
        return Err(bad(format!(
            "observations must be {n} x {d} values, got {}",
            obs.vectors.len()
        )));
    }
    if let Some(b) = obs.budgets.iter().find(|b| !b.is_finite()) {
        return Err(bad(format!("budgets must be finite, got {b}")));
    }
    if obs.losses.iter().any(|l| l.is_nan()) {
        return Err(bad(
            "losses must not be NaN (pass failed evaluations as +inf)".into(),
        ));
    }
    for (k, row) in obs.vectors.chunks(d.max(1)).enumerate().take(n) {
        for (j, (&v, &c)) in row.iter().zip(kinds).enumerate() {
            let ok = if c == 0 {
                (0.0..=1.0).contains(&v)
            } else {
                v >= 0.0 && v < c as f64 && v.fract() == 0.0
            };
            if !ok {
                return Err(bad(format!(
                    "observation {k}, dimension {j}: encoded value {v} is out of range"
                )));
            }
        }
    }
    Ok(())
}

/// `(n_good, n_bad)` for `n` observations, or `None` when the budget is not fittable.
pub fn split_sizes(n: usize, d: usize, opts: &BohbOptions) -> Option<(usize, usize)> {
    let n_min = opts.n_min(d);
    if n < n_min {
        return None;
    }
    let q = opts.top_n_percent as usize;
    let n_good = n_min.max(q * n / 100);
    let n_bad = n_min.max((100 - q) * n / 100);
    let good = n_good.min(n);
    let bad = (n_good + n_bad).min(n).saturating_sub(n_good);
    (good > d && bad > d).then_some((good, bad))
}

/// The distinct budgets, largest first, each with the indices of its observations (in order).
/// Linear in the number of observations; the budgets are finite (checked by `validate`).
fn by_budget(budgets: &[f64]) -> Vec<(f64, Vec<usize>)> {
    let mut groups: Vec<(f64, Vec<usize>)> = Vec::new();
    // Keyed by the bits of `b + 0.0`, which turns -0.0 into 0.0 (equal budgets, one group).
    let mut slot: HashMap<u64, usize> = HashMap::new();
    for (k, &b) in budgets.iter().enumerate() {
        let g = *slot.entry((b + 0.0).to_bits()).or_insert_with(|| {
            groups.push((b, Vec::new()));
            groups.len() - 1
        });
        if let Some((_, idx)) = groups.get_mut(g) {
            idx.push(k);
        }
    }
    groups.sort_by(|(x, _), (y, _)| y.partial_cmp(x).unwrap_or(std::cmp::Ordering::Equal));
    groups
}

/// The largest fittable budget and its number of observations, if any.
pub fn model_budget(
    kinds: &[usize],
    obs: &Observations<'_>,
    opts: &BohbOptions,
) -> Result<Option<(f64, usize)>, CoreError> {
    opts.validate()?;
    validate(kinds, obs)?;
    let d = kinds.len();
    Ok(by_budget(obs.budgets)
        .into_iter()
        .find(|(_, idx)| split_sizes(idx.len(), d, opts).is_some())
        .map(|(b, idx)| (b, idx.len())))
}

/// Fit the good and bad KDEs at the largest fittable budget (`None` when there is none).
pub fn fit_model(
    kinds: &[usize],
    obs: &Observations<'_>,
    opts: &BohbOptions,
) -> Result<Option<Model>, CoreError> {
    opts.validate()?;
    validate(kinds, obs)?;
    let d = kinds.len();
    for (budget, idx) in by_budget(obs.budgets) {
        let Some((n_good, n_bad)) = split_sizes(idx.len(), d, opts) else {
            continue;
        };
        let mut ranked = idx.clone();
        // Stable: ties keep the order of the observations.
        ranked.sort_by(|&a, &b| {
            let (x, y) = (obs.losses.get(a), obs.losses.get(b));
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        });
        let good_idx: Vec<usize> = ranked.iter().take(n_good).copied().collect();
        let bad_idx: Vec<usize> = ranked.iter().skip(n_good).take(n_bad).copied().collect();
        let rows = |set: &[usize]| -> Vec<f64> {
            set.iter()
                .flat_map(|&k| obs.vectors.get(k * d..(k + 1) * d).unwrap_or(&[]))
                .copied()
                .collect()
        };
        let good = Kde::fit(&rows(&good_idx), good_idx.len(), kinds, opts.min_bandwidth);
        let bad = Kde::fit(&rows(&bad_idx), bad_idx.len(), kinds, opts.min_bandwidth);
        return Ok(Some(Model {
            budget,
            n_observations: idx.len(),
            good_idx,
            bad_idx,
            good,
            bad,
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes_follow_hpbandster() {
        let o = BohbOptions::default();
        // d = 2: N_min = 3; both sets need > 2 rows, so 6 observations are needed.
        assert_eq!(split_sizes(5, 2, &o), None);
        assert_eq!(split_sizes(6, 2, &o), Some((3, 3)));
        assert_eq!(split_sizes(100, 2, &o), Some((15, 85)));
        assert_eq!(split_sizes(10, 2, &o), Some((3, 7)));
    }

    #[test]
    fn the_largest_fittable_budget_wins() {
        let kinds = [0usize];
        // 4 observations at budget 9 (fittable with d = 1: needs 4), 3 at budget 27 (not).
        let budgets = [9.0, 9.0, 27.0, 9.0, 27.0, 9.0, 27.0];
        let vectors = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7];
        let losses = [1.0, 2.0, 3.0, 0.5, 1.0, f64::INFINITY, 2.0];
        let obs = Observations {
            budgets: &budgets,
            vectors: &vectors,
            losses: &losses,
        };
        let o = BohbOptions::default();
        assert_eq!(model_budget(&kinds, &obs, &o), Ok(Some((9.0, 4))));
        let m = fit_model(&kinds, &obs, &o).ok().flatten();
        let m = m.as_ref();
        assert_eq!(m.map(|m| m.good_idx.clone()), Some(vec![3, 0]));
        assert_eq!(m.map(|m| m.bad_idx.clone()), Some(vec![1, 5]));
    }

    #[test]
    fn bad_observations_are_errors() {
        let kinds = [0usize, 3];
        let o = BohbOptions::default();
        let obs = |v: &'static [f64], l: &'static [f64]| Observations {
            budgets: &[1.0],
            vectors: v,
            losses: l,
        };
        assert!(model_budget(&kinds, &obs(&[0.5, 1.0], &[f64::NAN]), &o).is_err());
        assert!(model_budget(&kinds, &obs(&[1.5, 1.0], &[0.0]), &o).is_err());
        assert!(model_budget(&kinds, &obs(&[0.5, 3.0], &[0.0]), &o).is_err());
        assert!(model_budget(&kinds, &obs(&[0.5, 1.5], &[0.0]), &o).is_err());
        assert!(model_budget(&kinds, &obs(&[0.5], &[0.0]), &o).is_err());
        assert_eq!(
            model_budget(&kinds, &obs(&[0.5, 2.0], &[0.0]), &o),
            Ok(None)
        );
    }
}
