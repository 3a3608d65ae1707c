//! Exact hypervolume of a set of loss vectors with respect to a reference point.
//!
//! Same contract as Optuna's `optuna._hypervolume.compute_hypervolume`: every point must be
//! no worse than the reference point (otherwise an error), a non-finite reference point gives
//! `inf`, an empty set gives 0, and a non-finite result (from `inf - inf`) is reported as `inf`.
//! Two objectives use a sweep over the points sorted by the first objective, three an O(n²)
//! grid over the sorted coordinates, four and more the WFG recursion (exclusive volumes of the
//! points sorted by the first objective, each against the "limited" set of the later points).

use super::points::{n_rows, unique_rows};
use crate::CoreError;

/// Hypervolume of `n` points of `m` objectives (flat row-major) dominated within `reference`.
/// `assume_pareto` only skips the de-duplication and the Pareto filter (a speed-up; the result
/// is the same either way).
pub fn compute_hypervolume(
    loss: &[f64],
    reference: &[f64],
    assume_pareto: bool,
) -> Result<f64, CoreError> {
    let m = reference.len();
    let n = n_rows(loss, m)?;
    let all_inside = (0..n).all(|i| {
        loss[i * m..(i + 1) * m]
            .iter()
            .zip(reference)
            .all(|(v, r)| v <= r)
    });
    if !all_inside {
        return Err(CoreError::InvalidArgument(
            "All points must dominate or equal the reference point. That is, for all points in \
             the loss_vals and the coordinate `i`, `loss_vals[i] <= reference_point[i]`."
                .into(),
        ));
    }
    if !reference.iter().all(|r| r.is_finite()) {
        return Ok(f64::INFINITY);
    }
    if n == 0 {
        return Ok(0.0);
    }
    let sorted = if assume_pareto {
        sort_by_first(loss, m)
    } else {
        let uniq = unique_rows(loss, m);
        let front = pareto_front_of_sorted(&uniq.values, m);
        let mut kept = Vec::with_capacity(uniq.values.len());
        for (i, &on) in front.iter().enumerate() {
            if on {
                kept.extend_from_slice(&uniq.values[i * m..(i + 1) * m]);
            }
        }
        kept
    };
    let hv = hv_sorted(&sorted, reference);
    Ok(if hv.is_finite() { hv } else { f64::INFINITY })
}

/// Hypervolume of points already sorted by their first objective (no checks).
pub(crate) fn hv_sorted(sorted: &[f64], reference: &[f64]) -> f64 {
    match reference.len() {
        1 => sorted
            .iter()
            .map(|&v| reference[0] - v)
            .fold(f64::NEG_INFINITY, f64::max)
            .max(0.0),
        2 => hv_2d(sorted, reference),
        3 => hv_3d(sorted, reference),
        _ => hv_nd(sorted, reference),
    }
}

fn sort_by_first(loss: &[f64], m: usize) -> Vec<f64> {
    let n = loss.len() / m;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| loss[a * m].total_cmp(&loss[b * m]));
    let mut out = Vec::with_capacity(loss.len());
    for i in order {
        out.extend_from_slice(&loss[i * m..(i + 1) * m]);
    }
    out
}

/// Pareto-front mask of points whose first objective is sorted ascending, as Optuna's
/// `_is_pareto_front(..., assume_unique_lexsorted=True)`: a point is kept unless an earlier kept
/// point is no worse in every other objective (so later duplicates are dropped).
pub(crate) fn pareto_front_of_sorted(sorted: &[f64], m: usize) -> Vec<bool> {
    let n = sorted.len() / m;
    let mut on_front = vec![false; n];
    if n == 0 {
        return on_front;
    }
    match m {
        1 => on_front[0] = true,
        2 => {
            let mut best = f64::INFINITY;
            for i in 0..n {
                let y = sorted[2 * i + 1];
                if i == 0 || y < best {
                    on_front[i] = true;
                    best = y;
                }
            }
        }
        _ => {
            let mut front: Vec<usize> = Vec::new();
            for i in 0..n {
                let pi = &sorted[i * m + 1..(i + 1) * m];
                let dominated = front.iter().any(|&j| {
                    sorted[j * m + 1..(j + 1) * m]
                        .iter()
                        .zip(pi)
                        .all(|(a, b)| a <= b)
                });
                if !dominated {
                    front.push(i);
                    on_front[i] = true;
                }
            }
        }
    }
    on_front
}

/// Two objectives: the sum of the slabs between consecutive points along the first axis.
fn hv_2d(sorted: &[f64], reference: &[f64]) -> f64 {
    let n = sorted.len() / 2;
    let mut total = 0.0;
    let mut upper_y = reference[1];
    for i in 0..n {
        let (x, y) = (sorted[2 * i], sorted[2 * i + 1]);
        total += (reference[0] - x) * (upper_y - y);
        upper_y = y;
    }
    total
}

/// Three objectives: over the grid of sorted x and y coordinates, the dominated height above
/// cell (i, j) is the largest `ref_z - z` of the points with x-rank <= i and y-rank <= j.
fn hv_3d(sorted: &[f64], reference: &[f64]) -> f64 {
    let n = sorted.len() / 3;
    let mut y_order: Vec<usize> = (0..n).collect();
    y_order.sort_by(|&a, &b| sorted[3 * a + 1].total_cmp(&sorted[3 * b + 1]));
    let mut y_rank = vec![0usize; n];
    for (r, &i) in y_order.iter().enumerate() {
        y_rank[i] = r;
    }
    let dy: Vec<f64> = (0..n)
        .map(|r| {
            let next = if r + 1 < n {
                sorted[3 * y_order[r + 1] + 1]
            } else {
                reference[1]
            };
            next - sorted[3 * y_order[r] + 1]
        })
        .collect();
    // column[j]: the largest height among the points seen so far with y-rank j.
    let mut column = vec![0.0f64; n];
    let mut total = 0.0;
    for i in 0..n {
        let h = reference[2] - sorted[3 * i + 2];
        let j = y_rank[i];
        if h > column[j] {
            column[j] = h;
        }
        let dx = if i + 1 < n {
            sorted[3 * (i + 1)]
        } else {
            reference[0]
        } - sorted[3 * i];
        let mut running = 0.0f64;
        let mut area = 0.0;
        for (c, d) in column.iter().zip(&dy) {
            if *c > running {
                running = *c;
            }
            area += running * d;
        }
        total += area * dx;
    }
    total
}

fn inclusive(point: &[f64], reference: &[f64]) -> f64 {
    point
        .iter()
        .zip(reference)
        .fold(1.0, |acc, (v, r)| acc * (r - v))
}

/// WFG: the last point's box plus, for each earlier point, its box minus the volume it shares
/// with the later points (the hypervolume of the later points "limited" by it).
fn hv_nd(sorted: &[f64], reference: &[f64]) -> f64 {
    let m = reference.len();
    let n = sorted.len() / m;
    if n == 1 {
        return inclusive(sorted, reference);
    }
    if n == 2 {
        let (a, b) = (&sorted[..m], &sorted[m..]);
        let mut hv1 = 1.0;
        let mut hv2 = 1.0;
        let mut both = 1.0;
        for k in 0..m {
            hv1 *= reference[k] - a[k];
            hv2 *= reference[k] - b[k];
            both *= reference[k] - a[k].max(b[k]);
        }
        return hv1 + hv2 - both;
    }
    let mut total = inclusive(&sorted[(n - 1) * m..], reference);
    let mut limited = Vec::with_capacity(sorted.len());
    for i in 0..n - 1 {
        let p = &sorted[i * m..(i + 1) * m];
        let incl = inclusive(p, reference);
        limited.clear();
        for j in i + 1..n {
            for k in 0..m {
                limited.push(p[k].max(sorted[j * m + k]));
            }
        }
        let shared = if n - 1 - i <= 3 {
            hv_nd(&limited, reference)
        } else {
            let front = pareto_front_of_sorted(&limited, m);
            let mut kept = Vec::with_capacity(limited.len());
            for (r, &on) in front.iter().enumerate() {
                if on {
                    kept.extend_from_slice(&limited[r * m..(r + 1) * m]);
                }
            }
            hv_nd(&kept, reference)
        };
        total += incl - shared;
    }
    total
}
