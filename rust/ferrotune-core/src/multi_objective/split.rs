//! The below/above split of complete trials in a multi-objective study, as Optuna 5.0's TPE
//! makes it: whole non-domination fronts go below while they fit into `n_below`; the front that
//! does not fit is broken by hypervolume subset selection against a reference point computed
//! from that front alone.

use super::hssp::solve_hssp;
use super::nondominated::nondomination_ranks;
use super::points::{check_no_nan, n_rows};
use crate::CoreError;

/// Optuna's reference point for a set of loss vectors: per objective, the worst value moved
/// outwards by 10% (`max(1.1 w, 0.9 w)`), with exact zeros replaced by `1e-12`.
pub fn reference_point(loss: &[f64], m: usize) -> Result<Vec<f64>, CoreError> {
    let n = n_rows(loss, m)?;
    if n == 0 {
        return Err(CoreError::InvalidArgument(
            "the reference point needs at least one point".into(),
        ));
    }
    let mut worst = vec![f64::NEG_INFINITY; m];
    for row in loss.chunks_exact(m) {
        for (w, &v) in worst.iter_mut().zip(row) {
            if v.is_nan() || *w < v {
                *w = if w.is_nan() { *w } else { v };
            }
        }
    }
    Ok(worst
        .into_iter()
        .map(|w| {
            let (a, b) = (1.1 * w, 0.9 * w);
            let r = if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            };
            if r == 0.0 {
                1e-12
            } else {
                r
            }
        })
        .collect())
}

/// Which of `n` complete trials (loss vectors, flat, `m` objectives) go below, for `n_below`
/// below trials (clipped to `n`).
pub fn split_below(loss: &[f64], m: usize, n_below: usize) -> Result<Vec<bool>, CoreError> {
    let n = n_rows(loss, m)?;
    check_no_nan(loss, "objective values")?;
    let n_below = n_below.min(n);
    if n_below == 0 {
        return Ok(vec![false; n]);
    }
    if n_below == n {
        return Ok(vec![true; n]);
    }
    let ranks = nondomination_ranks(loss, m, Some(n_below))?;
    let n_ranks = ranks.iter().copied().max().map_or(0, |r| r + 1);
    let mut counts = vec![0usize; n_ranks];
    for &r in &ranks {
        counts[r] += 1;
    }
    // Whole fronts while they fit.
    let mut taken = 0usize;
    let mut fitting = 0usize; // number of whole fronts below
    for &c in &counts {
        if taken + c > n_below {
            break;
        }
        taken += c;
        fitting += 1;
    }
    let mut below: Vec<bool> = ranks.iter().map(|&r| r < fitting).collect();
    if taken < n_below {
        let tie: Vec<usize> = (0..n).filter(|&i| ranks[i] == fitting).collect();
        let mut tie_loss = Vec::with_capacity(tie.len() * m);
        for &i in &tie {
            tie_loss.extend_from_slice(&loss[i * m..(i + 1) * m]);
        }
        let reference = reference_point(&tie_loss, m)?;
        for i in solve_hssp(&tie_loss, &tie, n_below - taken, &reference)? {
            below[i] = true;
        }
    }
    Ok(below)
}
