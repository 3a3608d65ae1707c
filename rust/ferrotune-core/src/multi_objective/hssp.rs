//! Greedy hypervolume subset selection (HSSP), as Optuna 5.0's `_solve_hssp` performs it.
//!
//! Points are first de-duplicated in lexicographic order (keeping first occurrences); when fewer
//! distinct points than requested exist, all of them plus the earliest duplicates are taken.
//! Otherwise the greedy loop repeatedly takes the point with the largest hypervolume
//! contribution (the first one on ties, NaN counting as largest like numpy's `argmax`). For two
//! objectives the contributions are rectangle areas updated in place; for more, contributions
//! are updated lazily: a cheap upper bound (the contribution against the last chosen point
//! alone) and the submodularity of the hypervolume let most candidates be skipped, and the others
//! are recomputed exactly, in order of decreasing bound (incrementally as `HV(S + i) - HV(S)`
//! for three objectives, as `box(i) - HV(S limited by i)` for four and more).

use super::hypervolume::{compute_hypervolume, hv_sorted};
use super::points::{argmax, n_rows, unique_rows};
use crate::CoreError;

/// Chooses `subset_size` of the `n` points `loss` (flat, `m = reference.len()` objectives) and
/// returns their labels from `labels` (one per point).
pub fn solve_hssp(
    loss: &[f64],
    labels: &[usize],
    subset_size: usize,
    reference: &[f64],
) -> Result<Vec<usize>, CoreError> {
    let m = reference.len();
    let n = n_rows(loss, m)?;
    if labels.len() != n {
        return Err(CoreError::InvalidArgument(format!(
            "{} labels given for {n} points",
            labels.len()
        )));
    }
    if subset_size > n {
        return Err(CoreError::InvalidArgument(format!(
            "cannot select {subset_size} of {n} points"
        )));
    }
    if subset_size == n {
        return Ok(labels.to_vec());
    }
    let uniq = unique_rows(loss, m);
    let n_unique = uniq.len();
    if n_unique < subset_size {
        let mut chosen = vec![false; n];
        for &i in &uniq.first_index {
            chosen[i] = true;
        }
        let mut extra = subset_size - n_unique;
        for c in chosen.iter_mut() {
            if extra == 0 {
                break;
            }
            if !*c {
                *c = true;
                extra -= 1;
            }
        }
        return Ok((0..n).filter(|&i| chosen[i]).map(|i| labels[i]).collect());
    }
    let picked = solve_on_unique(&uniq.values, &uniq.first_index, subset_size, reference)?;
    Ok(picked.into_iter().map(|i| labels[i]).collect())
}

fn solve_on_unique(
    values: &[f64],
    labels: &[usize],
    subset_size: usize,
    reference: &[f64],
) -> Result<Vec<usize>, CoreError> {
    if !reference.iter().all(|r| r.is_finite()) {
        return Ok(labels[..subset_size].to_vec());
    }
    if labels.len() == subset_size {
        return Ok(labels.to_vec());
    }
    if reference.len() == 2 {
        return Ok(greedy_2d(values, labels, subset_size, reference));
    }
    greedy_lazy(values, labels, subset_size, reference)
}

/// Two objectives on lexicographically sorted distinct points: each candidate's contribution
/// is the rectangle between it and its current "diagonal" corner; choosing a point shrinks the
/// corners of the points on either side of it.
fn greedy_2d(
    values: &[f64],
    labels: &[usize],
    subset_size: usize,
    reference: &[f64],
) -> Vec<usize> {
    let n = labels.len();
    let mut pts: Vec<(f64, f64)> = (0..n).map(|i| (values[2 * i], values[2 * i + 1])).collect();
    let mut idx: Vec<usize> = (0..n).collect();
    let mut diag: Vec<(f64, f64)> = vec![(reference[0], reference[1]); n];
    let mut contribs = Vec::with_capacity(n);
    let mut selected = Vec::with_capacity(subset_size);
    for _ in 0..subset_size {
        contribs.clear();
        contribs.extend(
            pts.iter()
                .zip(&diag)
                .map(|(p, d)| (d.0 - p.0) * (d.1 - p.1)),
        );
        let Some(best) = argmax(&contribs) else {
            break;
        };
        selected.push(labels[idx[best]]);
        let (bx, by) = pts[best];
        pts.remove(best);
        idx.remove(best);
        diag.remove(best);
        for d in &mut diag[..best] {
            d.0 = bx.min(d.0);
        }
        for d in &mut diag[best..] {
            d.1 = by.min(d.1);
        }
    }
    selected
}

fn product_to_reference(point: &[f64], reference: &[f64]) -> f64 {
    point
        .iter()
        .zip(reference)
        .fold(1.0, |acc, (v, r)| acc * (r - v))
}

/// Three or more objectives: greedy selection with lazily updated contributions.
fn greedy_lazy(
    values: &[f64],
    labels: &[usize],
    subset_size: usize,
    reference: &[f64],
) -> Result<Vec<usize>, CoreError> {
    let m = reference.len();
    let mut pts: Vec<f64> = values.to_vec();
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    let mut contribs: Vec<f64> = pts
        .chunks_exact(m)
        .map(|p| product_to_reference(p, reference))
        .collect();
    let mut selected_vecs: Vec<f64> = Vec::with_capacity((subset_size + 1) * m);
    let mut selected = Vec::with_capacity(subset_size);
    let mut hv = 0.0f64;
    for k in 0..subset_size {
        let Some(best) = argmax(&contribs) else {
            break;
        };
        hv += contribs[best];
        selected.push(labels[idx[best]]);
        selected_vecs.extend_from_slice(&pts[best * m..(best + 1) * m]);
        contribs.remove(best);
        idx.remove(best);
        pts.drain(best * m..(best + 1) * m);
        if k + 1 == subset_size {
            break;
        }
        lazy_update(&mut contribs, &pts, &selected_vecs, reference, hv)?;
    }
    Ok(selected)
}

/// Refreshes the contributions of the remaining points `pts` after `chosen` (all the selected
/// points so far, flat) grew by one point; `hv` is the hypervolume of `chosen`.
fn lazy_update(
    contribs: &mut [f64],
    pts: &[f64],
    chosen: &[f64],
    reference: &[f64],
    hv: f64,
) -> Result<(), CoreError> {
    if hv.is_infinite() {
        contribs.fill(f64::INFINITY);
        return Ok(());
    }
    let m = reference.len();
    let n_chosen = chosen.len() / m;
    let last = &chosen[(n_chosen - 1) * m..];
    let n = contribs.len();
    let mut inclusive = Vec::with_capacity(n);
    for (i, c) in contribs.iter_mut().enumerate() {
        let p = &pts[i * m..(i + 1) * m];
        let incl = product_to_reference(p, reference);
        inclusive.push(incl);
        // Upper bound: the contribution of p against the last chosen point alone.
        let shared = p
            .iter()
            .zip(last)
            .zip(reference)
            .fold(1.0, |acc, ((a, b), r)| acc * (r - a.max(*b)));
        let bound = incl - shared;
        *c = if c.is_nan() || bound.is_nan() {
            f64::NAN
        } else {
            c.min(bound)
        };
    }
    // Candidates by decreasing bound (numpy's argsort of the negated values: NaN last).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (-contribs[a], -contribs[b]);
        match (x.is_nan(), y.is_nan()) {
            (false, false) => x.total_cmp(&y),
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (true, true) => std::cmp::Ordering::Equal,
        }
    });
    let mut max_contrib = 0.0f64;
    let incremental = m <= 3;
    let mut with_candidate: Vec<f64> = Vec::with_capacity(chosen.len() + m);
    let mut limited: Vec<f64> = Vec::with_capacity(chosen.len());
    for i in order {
        if inclusive[i].is_infinite() {
            contribs[i] = f64::INFINITY;
            max_contrib = f64::INFINITY;
            continue;
        }
        if contribs[i] < max_contrib {
            continue;
        }
        let p = &pts[i * m..(i + 1) * m];
        contribs[i] = if incremental {
            with_candidate.clear();
            with_candidate.extend_from_slice(chosen);
            with_candidate.extend_from_slice(p);
            sort_rows_by_first(&mut with_candidate, m);
            let plus = hv_sorted(&with_candidate, reference);
            (if plus.is_finite() {
                plus
            } else {
                f64::INFINITY
            }) - hv
        } else {
            limited.clear();
            for s in chosen.chunks_exact(m) {
                limited.extend(p.iter().zip(s).map(|(a, b)| a.max(*b)));
            }
            inclusive[i] - compute_hypervolume(&limited, reference, false)?
        };
        // Python's max(contribs[i], max_contrib): keeps the first unless the second is larger.
        if max_contrib.partial_cmp(&contribs[i]) != Some(std::cmp::Ordering::Greater) {
            max_contrib = contribs[i];
        }
    }
    Ok(())
}

fn sort_rows_by_first(rows: &mut [f64], m: usize) {
    let n = rows.len() / m;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| rows[a * m].total_cmp(&rows[b * m]));
    let copy = rows.to_vec();
    for (dst, &src) in order.iter().enumerate() {
        rows[dst * m..(dst + 1) * m].copy_from_slice(&copy[src * m..(src + 1) * m]);
    }
}
