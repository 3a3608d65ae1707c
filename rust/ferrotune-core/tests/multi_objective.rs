//! Unit tests of the multi-objective core: hypervolumes with known values, ranks, HSSP, the
//! reference point and the split, and errors instead of panics on bad input. (Parity with
//! Optuna itself is tested from Python, in tests/test_multi_objective.py.)

use ferrotune_core::multi_objective::{
    compute_hypervolume, nondomination_ranks, nondomination_ranks_with_penalty, reference_point,
    solve_hssp, split_below,
};
use ferrotune_core::CoreError;

/// A small deterministic generator (xorshift) for random point sets.
struct Rand(u64);

impl Rand {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn points(&mut self, n: usize, m: usize) -> Vec<f64> {
        (0..n * m).map(|_| self.next()).collect()
    }
}

/// Hypervolume by brute force over the grid of all coordinates (small sets only).
fn brute_force_hv(points: &[f64], reference: &[f64]) -> f64 {
    let m = reference.len();
    let n = points.len() / m;
    let mut axes: Vec<Vec<f64>> = (0..m)
        .map(|k| {
            let mut v: Vec<f64> = (0..n).map(|i| points[i * m + k]).collect();
            v.push(reference[k]);
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        })
        .collect();
    let sizes: Vec<usize> = axes.iter_mut().map(|a| a.len() - 1).collect();
    let total_cells: usize = sizes.iter().product();
    let mut volume = 0.0;
    for cell in 0..total_cells {
        let mut rem = cell;
        let mut lo = vec![0.0; m];
        let mut size = 1.0;
        for k in 0..m {
            let idx = rem % sizes[k];
            rem /= sizes[k];
            lo[k] = axes[k][idx];
            size *= axes[k][idx + 1] - axes[k][idx];
        }
        let covered = (0..n).any(|i| (0..m).all(|k| points[i * m + k] <= lo[k]));
        if covered {
            volume += size;
        }
    }
    volume
}

#[test]
fn hypervolume_of_single_boxes_and_known_sets() {
    assert_eq!(
        compute_hypervolume(&[0.5, 0.5], &[1.0, 1.0], false).unwrap(),
        0.25
    );
    // Two overlapping boxes in 2-D: 0.5 + 0.5 - 0.25.
    let hv = compute_hypervolume(&[0.0, 0.5, 0.5, 0.0], &[1.0, 1.0], false).unwrap();
    assert!((hv - 0.75).abs() < 1e-15);
    // Dominated and duplicated points change nothing.
    let hv2 = compute_hypervolume(
        &[0.0, 0.5, 0.5, 0.0, 0.6, 0.6, 0.0, 0.5],
        &[1.0, 1.0],
        false,
    )
    .unwrap();
    assert!((hv2 - 0.75).abs() < 1e-15);
    assert_eq!(
        compute_hypervolume(&[], &[1.0, 1.0, 1.0], false).unwrap(),
        0.0
    );
    assert_eq!(
        compute_hypervolume(&[0.0, 0.0], &[1.0, f64::INFINITY], false).unwrap(),
        f64::INFINITY
    );
}

#[test]
fn hypervolume_matches_brute_force_in_2_to_5_dimensions() {
    let mut rng = Rand(0x9e3779b97f4a7c15);
    for m in 2..=5 {
        for case in 0..30 {
            let n = 1 + case % 9;
            let pts = rng.points(n, m);
            let reference = vec![1.05; m];
            let expected = brute_force_hv(&pts, &reference);
            // The 2-D sweep with `assume_pareto` needs a real front (as Optuna's).
            let flags: &[bool] = if m == 2 { &[false] } else { &[false, true] };
            for &assume_pareto in flags {
                let hv = compute_hypervolume(&pts, &reference, assume_pareto).unwrap();
                assert!(
                    (hv - expected).abs() <= 1e-12 * expected.max(1.0),
                    "m={m} n={n}: {hv} vs {expected}"
                );
            }
        }
    }
}

#[test]
fn hypervolume_rejects_points_beyond_the_reference() {
    let err = compute_hypervolume(&[2.0, 0.0], &[1.0, 1.0], false).unwrap_err();
    assert!(matches!(err, CoreError::InvalidArgument(_)));
    assert!(compute_hypervolume(&[f64::NAN, 0.0], &[1.0, 1.0], false).is_err());
    assert!(compute_hypervolume(&[0.0, 0.0, 0.0], &[1.0, 1.0], false).is_err());
}

/// Ranks by the definition: 1 + the largest rank among the dominators.
fn definition_ranks(pts: &[f64], m: usize) -> Vec<usize> {
    let n = pts.len() / m;
    let dominates = |a: usize, b: usize| {
        let (pa, pb) = (&pts[a * m..(a + 1) * m], &pts[b * m..(b + 1) * m]);
        pa.iter().zip(pb).all(|(x, y)| x <= y) && pa.iter().zip(pb).any(|(x, y)| x < y)
    };
    let mut ranks = vec![usize::MAX; n];
    let mut assigned = 0;
    let mut rank = 0;
    while assigned < n {
        let front: Vec<usize> = (0..n)
            .filter(|&i| ranks[i] == usize::MAX)
            .filter(|&i| (0..n).all(|j| ranks[j] < rank || j == i || !dominates(j, i)))
            .collect();
        for &i in &front {
            ranks[i] = rank;
        }
        assigned += front.len();
        rank += 1;
    }
    ranks
}

#[test]
fn ranks_follow_the_definition_and_truncate() {
    let mut rng = Rand(12345);
    for m in 2..=4 {
        for case in 0..20 {
            let n = 5 + case * 7;
            let mut pts = rng.points(n, m);
            if case % 3 == 0 {
                for v in &mut pts {
                    *v = (*v * 4.0).round() / 4.0;
                }
            }
            let full = nondomination_ranks(&pts, m, None).unwrap();
            assert_eq!(full, definition_ranks(&pts, m), "m={m} n={n}");
            let n_below = 1 + case % n;
            let cut = nondomination_ranks(&pts, m, Some(n_below)).unwrap();
            // Exact up to the front completing n_below points, one lump after it.
            let lump = cut.iter().copied().max().unwrap();
            for (a, b) in full.iter().zip(&cut) {
                assert_eq!((*a).min(lump), *b);
            }
        }
    }
}

#[test]
fn penalty_ranks_put_infeasible_points_last_by_penalty() {
    let pts = [0.0, 1.0, 1.0, 0.0, 2.0, 2.0, 0.5, 0.5];
    let penalty = [0.0, 0.0, 0.0, 3.0];
    assert_eq!(
        nondomination_ranks_with_penalty(&pts, 2, &penalty, None).unwrap(),
        vec![0, 0, 1, 2]
    );
    assert!(nondomination_ranks_with_penalty(&pts, 2, &[0.0; 3], None).is_err());
    assert!(nondomination_ranks_with_penalty(&pts, 2, &[f64::NAN; 4], None).is_err());
}

#[test]
fn hssp_picks_the_largest_contributions_greedily() {
    // 2-D front: the middle point adds the most, then the two ends.
    let pts = [0.0, 1.0, 0.45, 0.45, 1.0, 0.0];
    let reference = [1.1, 1.1];
    assert_eq!(
        solve_hssp(&pts, &[10, 11, 12], 1, &reference).unwrap(),
        vec![11]
    );
    let mut two = solve_hssp(&pts, &[10, 11, 12], 2, &reference).unwrap();
    two.sort();
    assert_eq!(two.len(), 2);
    assert!(two.contains(&11));
    // Duplicates: all distinct points first, then the earliest duplicates.
    let dup = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
    assert_eq!(
        solve_hssp(&dup, &[0, 1, 2, 3], 3, &[1.1, 1.1]).unwrap(),
        vec![0, 1, 2]
    );
    // 3-D greedy equals exhaustive choice of the best single point.
    let mut rng = Rand(777);
    let pts3 = rng.points(12, 3);
    let labels: Vec<usize> = (0..12).collect();
    let reference3 = reference_point(&pts3, 3).unwrap();
    let best = solve_hssp(&pts3, &labels, 1, &reference3).unwrap()[0];
    let single =
        |i: usize| compute_hypervolume(&pts3[i * 3..i * 3 + 3], &reference3, true).unwrap();
    assert!((0..12).all(|i| single(i) <= single(best)));
    assert!(solve_hssp(&pts3, &labels, 13, &reference3).is_err());
    assert!(solve_hssp(&pts3, &labels[..5], 2, &reference3).is_err());
}

#[test]
fn reference_point_moves_the_worst_values_outwards() {
    let r = reference_point(&[1.0, -2.0, 0.0, 3.0, -4.0, 0.0], 3).unwrap();
    assert_eq!(r, vec![3.3000000000000003, -1.8, 1e-12]);
    assert!(reference_point(&[], 2).is_err());
}

#[test]
fn split_takes_whole_fronts_then_hssp() {
    // Front 0 = {0, 1}, front 1 = {2, 3, 4}, then 5.
    let loss = [0.0, 1.0, 1.0, 0.0, 0.5, 1.5, 1.0, 1.0, 1.5, 0.5, 3.0, 3.0];
    assert_eq!(
        split_below(&loss, 2, 2).unwrap(),
        vec![true, true, false, false, false, false]
    );
    let three = split_below(&loss, 2, 3).unwrap();
    assert_eq!(three.iter().filter(|&&b| b).count(), 3);
    assert!(three[0] && three[1] && three[3]);
    assert_eq!(split_below(&loss, 2, 0).unwrap(), vec![false; 6]);
    assert_eq!(split_below(&loss, 2, 99).unwrap(), vec![true; 6]);
    assert!(split_below(&[0.0, f64::NAN], 2, 1).is_err());
    assert!(split_below(&[0.0, 1.0, 2.0], 2, 1).is_err());
    assert!(nondomination_ranks(&[0.0, 1.0], 0, None).is_err());
}
