//! Non-domination ranks, as Optuna's `_fast_non_domination_rank` assigns them.
//!
//! Rank 0 is the Pareto front, rank 1 the front of the rest, and so on. Like Optuna, the ranks
//! are exact only up to the front that completes the best `n_below` distinct points: every point
//! behind it gets that front's successor rank. Duplicated points share their rank.
//!
//! Two objectives take O(n log n): after a lexicographic sort a point is dominated exactly by the
//! earlier points whose second objective is not larger, and the minimum second objective of each
//! front is non-decreasing in the rank, so a binary search gives each point's rank. More
//! objectives peel one front at a time, comparing each point with the front found so far.

use super::points::{check_no_nan, n_rows, unique_rows};
use crate::CoreError;

/// Ranks of `n` points of `m` objectives (flat row-major `loss`), truncated after the front that
/// completes the best `n_below` distinct points (`None`: no truncation).
pub fn nondomination_ranks(
    loss: &[f64],
    m: usize,
    n_below: Option<usize>,
) -> Result<Vec<usize>, CoreError> {
    let n = n_rows(loss, m)?;
    check_no_nan(loss, "objective values")?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if n_below == Some(0) {
        return Ok(vec![0; n]);
    }
    let uniq = unique_rows(loss, m);
    let u = uniq.len();
    if m == 1 {
        // A dense ranking of the distinct values (no truncation, as Optuna).
        return Ok(uniq.inverse);
    }
    // Truncate: the first rank k such that the ranks below k cover n_below distinct points.
    let target = n_below.unwrap_or(u).min(u);
    if m > 2 {
        let ranks = ranks_nd_truncated(&uniq.values, m, target);
        return Ok(uniq.inverse.iter().map(|&i| ranks[i]).collect());
    }
    let full = ranks_2d(&uniq.values);
    let n_fronts = full.iter().copied().max().map_or(0, |r| r + 1);
    let mut per_rank = vec![0usize; n_fronts];
    for &r in &full {
        per_rank[r] += 1;
    }
    let mut covered = 0;
    let mut cut = n_fronts;
    for (r, &c) in per_rank.iter().enumerate() {
        if covered >= target {
            cut = r;
            break;
        }
        covered += c;
    }
    Ok(uniq.inverse.iter().map(|&i| full[i].min(cut)).collect())
}

/// Exact ranks of distinct, lexicographically sorted 2-D points.
fn ranks_2d(sorted: &[f64]) -> Vec<usize> {
    let n = sorted.len() / 2;
    // best[r]: the smallest second objective among the points of rank r seen so far.
    let mut best: Vec<f64> = Vec::new();
    let mut ranks = Vec::with_capacity(n);
    for i in 0..n {
        let y = sorted[2 * i + 1];
        let r = best.partition_point(|&b| b <= y);
        if r == best.len() {
            best.push(y);
        } else if y < best[r] {
            best[r] = y;
        }
        ranks.push(r);
    }
    ranks
}

/// Ranks of distinct, lexicographically sorted points of 3+ objectives, peeling one front at a
/// time until `target` points are ranked; the rest get the next rank. A point's dominators all
/// precede it, and a dominated point is dominated by a member of the current front, so each
/// point is only compared with the front members found before it (O(n f m) per front).
fn ranks_nd_truncated(sorted: &[f64], m: usize, target: usize) -> Vec<usize> {
    let n = sorted.len() / m;
    let rest = |i: usize| &sorted[i * m + 1..(i + 1) * m];
    let mut ranks = vec![0usize; n];
    let mut remaining: Vec<usize> = (0..n).collect();
    let mut next = Vec::with_capacity(n);
    let mut front: Vec<usize> = Vec::new();
    let mut covered = 0usize;
    let mut rank = 0usize;
    while covered < target && !remaining.is_empty() {
        front.clear();
        next.clear();
        for &i in &remaining {
            let pi = rest(i);
            let dominated = front
                .iter()
                .any(|&j| rest(j).iter().zip(pi).all(|(a, b)| a <= b));
            if dominated {
                next.push(i);
            } else {
                front.push(i);
                ranks[i] = rank;
            }
        }
        covered += front.len();
        std::mem::swap(&mut remaining, &mut next);
        rank += 1;
    }
    for &i in &remaining {
        ranks[i] = rank;
    }
    ranks
}

/// Ranks with constraint penalties, as Optuna's `_fast_non_domination_rank(penalty=...)`: the
/// feasible points (penalty <= 0) are ranked by their objectives, then the infeasible ones by
/// their penalty alone, after the worst feasible rank.
pub fn nondomination_ranks_with_penalty(
    loss: &[f64],
    m: usize,
    penalty: &[f64],
    n_below: Option<usize>,
) -> Result<Vec<usize>, CoreError> {
    let n = n_rows(loss, m)?;
    if penalty.len() != n {
        return Err(CoreError::InvalidArgument(format!(
            "The length of penalty and loss_values must be same, but got len(penalty)={} and \
             len(loss_values)={n}.",
            penalty.len()
        )));
    }
    if penalty.iter().any(|p| p.is_nan()) {
        return Err(CoreError::InvalidArgument(
            "penalty values must not be NaN".into(),
        ));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let n_below = match n_below {
        Some(0) | None => n,
        Some(k) => k,
    };
    let feasible: Vec<usize> = (0..n).filter(|&i| penalty[i] <= 0.0).collect();
    let infeasible: Vec<usize> = (0..n).filter(|&i| penalty[i] > 0.0).collect();
    let mut ranks = vec![0usize; n];
    let feasible_loss: Vec<f64> = feasible
        .iter()
        .flat_map(|&i| loss[i * m..(i + 1) * m].iter().copied())
        .collect();
    let feasible_ranks = nondomination_ranks(&feasible_loss, m, Some(n_below))?;
    for (&i, &r) in feasible.iter().zip(&feasible_ranks) {
        ranks[i] = r;
    }
    let top = feasible_ranks.iter().copied().max().map_or(0, |r| r + 1);
    let rest = n_below.saturating_sub(feasible.len());
    let pen: Vec<f64> = infeasible.iter().map(|&i| penalty[i]).collect();
    let infeasible_ranks = if rest == 0 {
        vec![0; pen.len()]
    } else {
        nondomination_ranks(&pen, 1, Some(rest))?
    };
    for (&i, &r) in infeasible.iter().zip(&infeasible_ranks) {
        ranks[i] = top + r;
    }
    Ok(ranks)
}
