//! The below/above split of finished trials, as Optuna's TPE ranks them, and the gathering of
//! their observations.
//!
//! Single-objective ranking: COMPLETE trials by value (stable, so ties keep trial order;
//! descending for maximisation), then PRUNED trials by `(-last_step, last_value)` (trials that
//! got further first; NaN values are passed in as +inf), then infeasible trials by their total
//! constraint violation. The first `n_below` of that ranking go below, the rest above, and each
//! side is returned in trial-number order.

use crate::CoreError;
use std::cmp::Ordering;

/// Trial categories, as stored per finished trial.
pub const KIND_COMPLETE: i8 = 0;
pub const KIND_PRUNED: i8 = 1;
pub const KIND_INFEASIBLE: i8 = 2;

/// Column views of the finished-trial table (one entry per cached trial row).
pub struct TrialColumns<'a> {
    pub kind: &'a [i8],
    pub value: &'a [f64],
    pub prune_step: &'a [f64],
    pub prune_value: &'a [f64],
    pub infeasible: &'a [f64],
    pub number: &'a [i64],
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Split `rows` (indices into the columns, in storage order) into below and above.
pub fn split(
    cols: &TrialColumns<'_>,
    rows: &[usize],
    n_below: usize,
    maximize: bool,
) -> Result<(Vec<usize>, Vec<usize>), CoreError> {
    let n = cols.kind.len();
    let lengths = [
        cols.value.len(),
        cols.prune_step.len(),
        cols.prune_value.len(),
        cols.infeasible.len(),
        cols.number.len(),
    ];
    if lengths.iter().any(|&l| l != n) {
        return Err(CoreError::InvalidArgument(
            "trial columns must all have the same length".into(),
        ));
    }
    if let Some(&bad) = rows.iter().find(|&&r| r >= n) {
        return Err(CoreError::InvalidArgument(format!(
            "row {bad} is out of range for {n} cached trials"
        )));
    }
    let mut complete = Vec::with_capacity(rows.len());
    let mut pruned = Vec::new();
    let mut infeasible = Vec::new();
    for &r in rows {
        match cols.kind[r] {
            KIND_COMPLETE => complete.push(r),
            KIND_PRUNED => pruned.push(r),
            KIND_INFEASIBLE => infeasible.push(r),
            other => {
                return Err(CoreError::InvalidArgument(format!(
                    "unknown trial kind {other} in row {r}"
                )))
            }
        }
    }
    // Within a group, ties keep storage order, as Python's `sorted` does. Only which rows
    // make the quota matters (each side is put in trial-number order at the end), so each
    // group is partitioned rather than sorted.
    let sign = if maximize { -1.0 } else { 1.0 };
    let mut quota = n_below;
    let take = quota.min(complete.len());
    partition_first_by_key(&mut complete, take, |r| sign * cols.value[r]);
    quota -= take;
    let take_pruned = quota.min(pruned.len());
    if take_pruned < pruned.len() {
        pruned.sort_by(|&a, &b| {
            cmp_f64(cols.prune_step[a], cols.prune_step[b])
                .then_with(|| cmp_f64(cols.prune_value[a], cols.prune_value[b]))
        });
    }
    quota -= take_pruned;
    let take_infeasible = quota.min(infeasible.len());
    partition_first_by_key(&mut infeasible, take_infeasible, |r| cols.infeasible[r]);

    let mut in_below = vec![false; n];
    for (group, take) in [
        (&complete, take),
        (&pruned, take_pruned),
        (&infeasible, take_infeasible),
    ] {
        for &r in &group[..take] {
            in_below[r] = true;
        }
    }
    let mut below = Vec::with_capacity(n_below.min(rows.len()));
    let mut above = Vec::with_capacity(rows.len());
    for &r in rows {
        if in_below[r] {
            below.push(r);
        } else {
            above.push(r);
        }
    }
    // Storage order is trial-number order in Optuna; sort only if the caller's is not.
    for side in [&mut below, &mut above] {
        if !side
            .windows(2)
            .all(|w| cols.number[w[0]] < cols.number[w[1]])
        {
            side.sort_by_key(|&r| cols.number[r]);
        }
    }
    Ok((below, above))
}

/// Reorders `rows` so that `rows[..take]` holds the first `take` of them in the order a stable
/// sort by `key` gives (equal keys, `-0.0` and `0.0` included, keep their order, as Python's
/// `sorted` does); the order within each part is unspecified. Without NaN keys this is an
/// O(n) selection over `(key, position)` pairs; with a NaN (which compares equal to everything
/// here, leaving Python's order unspecified) it falls back to the stable comparison sort.
fn partition_first_by_key(rows: &mut [usize], take: usize, key: impl Fn(usize) -> f64) {
    if take == 0 || take >= rows.len() {
        return;
    }
    let mut keyed: Vec<(f64, usize, usize)> = Vec::with_capacity(rows.len());
    for (pos, &r) in rows.iter().enumerate() {
        let k = key(r);
        if k.is_nan() {
            rows.sort_by(|&a, &b| cmp_f64(key(a), key(b)));
            return;
        }
        // `+ 0.0` turns -0.0 into 0.0, so that `total_cmp` sees them as equal.
        keyed.push((k + 0.0, pos, r));
    }
    keyed.select_nth_unstable_by(take, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (slot, &(_, _, r)) in rows.iter_mut().zip(&keyed) {
        *slot = r;
    }
}

/// Gather the observations of `rows` (a row-major `matrix` of `width` columns) restricted to
/// `columns`, leaving out rows that miss a value (NaN). Returns the flat `kept × columns.len()`
/// block and the rows kept, in order.
pub fn gather(
    matrix: &[f64],
    width: usize,
    rows: &[usize],
    columns: &[usize],
) -> Result<(Vec<f64>, Vec<usize>), CoreError> {
    if width == 0 || !matrix.len().is_multiple_of(width) {
        return Err(CoreError::InvalidArgument(format!(
            "matrix of {} values is not a multiple of width {width}",
            matrix.len()
        )));
    }
    let height = matrix.len() / width;
    if let Some(&c) = columns.iter().find(|&&c| c >= width) {
        return Err(CoreError::InvalidArgument(format!(
            "column {c} is out of range for width {width}"
        )));
    }
    if let Some(&r) = rows.iter().find(|&&r| r >= height) {
        return Err(CoreError::InvalidArgument(format!(
            "row {r} is out of range for {height} rows"
        )));
    }
    let mut out = Vec::with_capacity(rows.len() * columns.len());
    let mut kept = Vec::with_capacity(rows.len());
    // The usual case: the columns are one contiguous run, copied a row slice at a time.
    let run = columns
        .first()
        .filter(|&&c0| columns.iter().enumerate().all(|(i, &c)| c == c0 + i))
        .map(|&c0| c0..c0 + columns.len());
    for &r in rows {
        let line = &matrix[r * width..(r + 1) * width];
        match &run {
            Some(range) => {
                let part = &line[range.clone()];
                if part.iter().any(|v| v.is_nan()) {
                    continue;
                }
                out.extend_from_slice(part);
            }
            None => {
                if columns.iter().any(|&c| line[c].is_nan()) {
                    continue;
                }
                out.extend(columns.iter().map(|&c| line[c]));
            }
        }
        kept.push(r);
    }
    Ok((out, kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Table = (Vec<i8>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<i64>);

    fn table() -> Table {
        // rows: 0..7 with numbers 0..7
        let kind = vec![0, 1, 0, 2, 0, 1, 0];
        let value = vec![3.0, f64::NAN, 1.0, f64::NAN, 1.0, f64::NAN, -2.0];
        let prune_step = vec![0.0, -5.0, 0.0, 0.0, 0.0, -7.0, 0.0];
        let prune_value = vec![0.0, 0.5, 0.0, 0.0, 0.0, 9.0, 0.0];
        let infeasible = vec![0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0];
        let number = vec![0, 1, 2, 3, 4, 5, 6];
        (kind, value, prune_step, prune_value, infeasible, number)
    }

    #[test]
    fn ranks_complete_then_pruned_then_infeasible() {
        let (kind, value, ps, pv, inf, num) = table();
        let cols = TrialColumns {
            kind: &kind,
            value: &value,
            prune_step: &ps,
            prune_value: &pv,
            infeasible: &inf,
            number: &num,
        };
        let rows: Vec<usize> = (0..7).collect();
        // minimise: complete order 6 (-2), 2 (1), 4 (1, tie keeps order), 0 (3)
        let (b, a) = split(&cols, &rows, 3, false).unwrap_or_default();
        assert_eq!(b, vec![2, 4, 6]);
        assert_eq!(a, vec![0, 1, 3, 5]);
        // quota beyond the complete trials: pruned row 5 (step 7) before row 1 (step 5)
        let (b, _) = split(&cols, &rows, 5, false).unwrap_or_default();
        assert_eq!(b, vec![0, 2, 4, 5, 6]);
        let (b, a) = split(&cols, &rows, 7, false).unwrap_or_default();
        assert_eq!(b, rows);
        assert!(a.is_empty());
        // maximise: 0 (3) first, then the tie 2, 4 in storage order
        let (b, _) = split(&cols, &rows, 2, true).unwrap_or_default();
        assert_eq!(b, vec![0, 2]);
    }

    #[test]
    fn rejects_bad_rows_and_kinds() {
        let (kind, value, ps, pv, inf, num) = table();
        let cols = TrialColumns {
            kind: &kind,
            value: &value,
            prune_step: &ps,
            prune_value: &pv,
            infeasible: &inf,
            number: &num,
        };
        assert!(split(&cols, &[9], 1, false).is_err());
        let short = TrialColumns {
            value: &value[..3],
            ..cols
        };
        assert!(split(&short, &[0], 1, false).is_err());
    }

    #[test]
    fn gather_drops_rows_with_missing_values() {
        let m = vec![1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0, 7.0, 8.0, 9.0];
        let (out, kept) = gather(&m, 3, &[2, 1, 0], &[2, 0]).unwrap_or_default();
        assert_eq!(out, vec![9.0, 7.0, 6.0, 4.0, 3.0, 1.0]);
        assert_eq!(kept, vec![2, 1, 0]);
        let (out, kept) = gather(&m, 3, &[2, 0], &[1, 2]).unwrap_or_default();
        assert_eq!(out, vec![8.0, 9.0, 2.0, 3.0]);
        assert_eq!(kept, vec![2, 0]);
        let (out, kept) = gather(&m, 3, &[1], &[1]).unwrap_or_default();
        assert!(out.is_empty() && kept.is_empty());
        assert!(gather(&m, 3, &[5], &[0]).is_err());
        assert!(gather(&m, 3, &[0], &[3]).is_err());
        assert!(gather(&m, 4, &[0], &[0]).is_err());
    }

    #[test]
    fn partition_matches_a_stable_sort_with_ties_and_signed_zeros() {
        // A small LCG gives many ties (keys from a pool of 7 values, -0.0 and 0.0 among them).
        let pool = [3.5, -0.0, 0.0, -2.0, f64::INFINITY, 1e-300, -f64::INFINITY];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for n in [0usize, 1, 2, 17, 300] {
            let keys: Vec<f64> = (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    pool[(state >> 33) as usize % pool.len()]
                })
                .collect();
            for take in [0, 1.min(n), n / 4, n / 2, n.saturating_sub(1), n] {
                // rows in a scrambled storage order
                let mut rows: Vec<usize> = (0..n).rev().collect();
                rows.rotate_left(n / 3);
                let mut expected = rows.clone();
                expected.sort_by(|&a, &b| cmp_f64(keys[a], keys[b]));
                partition_first_by_key(&mut rows, take, |r| keys[r]);
                let mut got_first = rows[..take].to_vec();
                let mut want_first = expected[..take].to_vec();
                got_first.sort_unstable();
                want_first.sort_unstable();
                assert_eq!(got_first, want_first, "n = {n}, take = {take}");
                let mut all = rows.clone();
                all.sort_unstable();
                assert_eq!(all, (0..n).collect::<Vec<_>>());
            }
        }
        // with a NaN key the stable comparison sort is used
        let keys = [2.0, f64::NAN, 1.0];
        let mut rows = vec![0, 1, 2];
        let mut expected = rows.clone();
        expected.sort_by(|&a, &b| cmp_f64(keys[a], keys[b]));
        partition_first_by_key(&mut rows, 1, |r| keys[r]);
        assert_eq!(rows, expected);
    }

    #[test]
    fn sides_come_out_in_trial_number_order_whatever_the_row_order() {
        let kind = vec![0i8; 5];
        let value = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        let zeros = vec![0.0; 5];
        let number = vec![4, 0, 3, 1, 2];
        let cols = TrialColumns {
            kind: &kind,
            value: &value,
            prune_step: &zeros,
            prune_value: &zeros,
            infeasible: &zeros,
            number: &number,
        };
        let (b, a) = split(&cols, &[0, 1, 2, 3, 4], 2, false).unwrap_or_default();
        assert_eq!(b, vec![1, 3]);
        assert_eq!(a, vec![4, 2, 0]);
    }
}
