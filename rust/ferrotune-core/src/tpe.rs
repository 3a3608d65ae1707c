//! One TPE step, as Optuna's `TPESampler._sample` performs it once the trials are split: build
//! the "below" and "above" Parzen estimators, draw candidates from "below", score them by
//! `log l(x) - log g(x)` and keep the first maximiser.

use crate::mixture::Scoring;
use crate::parzen::{ParzenEstimator, ParzenParams};
use crate::rng::Mt19937;
use crate::sort::ArgSort;
use crate::space::Dim;
use crate::CoreError;

/// Everything one TPE step computed.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    /// The drawn candidates, `n_candidates × d` row-major (internal representation).
    pub candidates: Vec<f64>,
    /// `log l(x) - log g(x)` per candidate.
    pub acquisition: Vec<f64>,
    /// Index of the chosen candidate (numpy's `argmax`: the first maximum, or the first NaN).
    pub best: usize,
}

impl StepResult {
    /// The chosen candidate (length d; empty if the fields are inconsistent).
    pub fn best_candidate(&self) -> Vec<f64> {
        let d = self.candidates.len() / self.acquisition.len().max(1);
        self.candidates
            .get(self.best * d..(self.best + 1) * d)
            .map(<[f64]>::to_vec)
            .unwrap_or_default()
    }
}

/// One TPE step: build the below and above estimators, draw `n_candidates` from below, score
/// `log l(x) - log g(x)`, return the first argmax candidate (length d, internal repr).
///
/// `below`/`above` are `n × d` row-major observations (internal representation, log dimensions
/// not transformed) and `*_weights` their raw weights (see [`ParzenEstimator::new`]). All input
/// is validated before `rng` is touched.
#[allow(clippy::too_many_arguments)]
pub fn sample_step(
    dims: &[Dim],
    below: &[f64],
    n_below: usize,
    below_weights: &[f64],
    above: &[f64],
    n_above: usize,
    above_weights: &[f64],
    params: &ParzenParams,
    n_candidates: usize,
    rng: &mut Mt19937,
    sorter: &dyn ArgSort,
) -> Result<Vec<f64>, CoreError> {
    sample_step_detailed(
        dims,
        below,
        n_below,
        below_weights,
        above,
        n_above,
        above_weights,
        params,
        n_candidates,
        rng,
        sorter,
        Scoring::Fast,
    )
    .map(|r| r.best_candidate())
}

/// [`sample_step`] returning all candidates and their acquisition values as well, with a
/// choice of how the candidates are scored: [`Scoring::Fast`] (what [`sample_step`] uses;
/// acquisition values equal to Optuna's up to rounding, within 7e-15 absolute in the golden
/// tests) or [`Scoring::Exact`] (bit-identical acquisition values, slower). The candidates are
/// bit-identical either way, and so is the choice unless two acquisition values are within a
/// few ulps of each other.
#[allow(clippy::too_many_arguments)]
pub fn sample_step_detailed(
    dims: &[Dim],
    below: &[f64],
    n_below: usize,
    below_weights: &[f64],
    above: &[f64],
    n_above: usize,
    above_weights: &[f64],
    params: &ParzenParams,
    n_candidates: usize,
    rng: &mut Mt19937,
    sorter: &dyn ArgSort,
    scoring: Scoring,
) -> Result<StepResult, CoreError> {
    if n_candidates == 0 {
        return Err(CoreError::InvalidArgument(
            "n_candidates must be positive, got 0".into(),
        ));
    }
    let mpe_below = ParzenEstimator::new(dims, below, n_below, below_weights, params, sorter)
        .map_err(|e| context(e, "below"))?;
    let mpe_above = ParzenEstimator::new(dims, above, n_above, above_weights, params, sorter)
        .map_err(|e| context(e, "above"))?;
    let candidates = mpe_below.sample(rng, n_candidates);
    let log_l = mpe_below.log_pdf_mode(&candidates, n_candidates, scoring)?;
    let log_g = mpe_above.log_pdf_mode(&candidates, n_candidates, scoring)?;
    let acquisition: Vec<f64> = log_l.iter().zip(&log_g).map(|(l, g)| l - g).collect();
    let best = argmax_first(&acquisition);
    Ok(StepResult {
        candidates,
        acquisition,
        best,
    })
}

/// numpy's `argmax`: the index of the first maximum, or of the first NaN if there is one
/// (0 for an empty slice).
pub fn argmax_first(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            return i;
        }
        if v > values[best] {
            best = i;
        }
    }
    best
}

fn context(e: CoreError, which: &str) -> CoreError {
    match e {
        CoreError::InvalidArgument(m) => {
            CoreError::InvalidArgument(format!("{which} estimator: {m}"))
        }
        CoreError::InvalidSearchSpace(m) => CoreError::InvalidSearchSpace(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_matches_numpy() {
        assert_eq!(argmax_first(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax_first(&[f64::NEG_INFINITY, f64::NEG_INFINITY]), 0);
        assert_eq!(argmax_first(&[1.0, f64::NAN, 5.0, f64::NAN]), 1);
        assert_eq!(argmax_first(&[f64::NAN]), 0);
        assert_eq!(argmax_first(&[-1.0, f64::INFINITY, 2.0]), 1);
        assert_eq!(argmax_first(&[]), 0);
    }
}
