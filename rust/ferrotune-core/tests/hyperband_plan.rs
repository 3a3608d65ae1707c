//! Li et al.'s synchronous bracket tables.

use ferrotune_core::hyperband::plan::pow_f64;
use ferrotune_core::hyperband::{hyperband_plan, max_bracket_index, BracketPlan};
use ferrotune_core::CoreError;

fn table(plan: &[BracketPlan]) -> Vec<(u32, Vec<u64>, Vec<f64>)> {
    plan.iter()
        .map(|b| {
            (
                b.s,
                b.rungs.iter().map(|r| r.n_configs).collect(),
                b.rungs.iter().map(|r| r.budget).collect(),
            )
        })
        .collect()
}

#[test]
fn table_81_3_matches_the_paper() {
    // Li et al. (JMLR 2018), Table 1: R = 81, eta = 3.
    let plan = hyperband_plan(1.0, 81.0, 3).unwrap_or_default();
    assert_eq!(
        table(&plan),
        vec![
            (4, vec![81, 27, 9, 3, 1], vec![1.0, 3.0, 9.0, 27.0, 81.0]),
            (3, vec![34, 11, 3, 1], vec![3.0, 9.0, 27.0, 81.0]),
            (2, vec![15, 5, 1], vec![9.0, 27.0, 81.0]),
            (1, vec![8, 2], vec![27.0, 81.0]),
            (0, vec![5], vec![81.0]),
        ]
    );
}

#[test]
fn table_27_3() {
    let plan = hyperband_plan(1.0, 27.0, 3).unwrap_or_default();
    assert_eq!(
        table(&plan),
        vec![
            (3, vec![27, 9, 3, 1], vec![1.0, 3.0, 9.0, 27.0]),
            (2, vec![12, 4, 1], vec![3.0, 9.0, 27.0]),
            (1, vec![6, 2], vec![9.0, 27.0]),
            (0, vec![4], vec![27.0]),
        ]
    );
}

#[test]
fn non_power_ratio_anchors_budgets_at_the_maximum() {
    // 1 * 3^4 = 81 <= 100 < 243: s_max = 4 and the budgets are 100 / 3^k.
    assert_eq!(max_bracket_index(1.0, 100.0, 3), Ok(4));
    let plan = hyperband_plan(1.0, 100.0, 3).unwrap_or_default();
    assert_eq!(plan.len(), 5);
    assert_eq!(plan[0].rungs[0].budget, 100.0 / 81.0);
    assert_eq!(plan[0].rungs[4].budget, 100.0);
    // Fractional budgets as in HpBandSter's default (0.01, 1): s_max = 4.
    assert_eq!(max_bracket_index(0.01, 1.0, 3), Ok(4));
    assert_eq!(max_bracket_index(1.0, 2.0, 3), Ok(0));
    assert_eq!(pow_f64(3, 4), 81.0);
}

#[test]
fn bad_budgets_are_rejected() {
    let bad = [
        (1.0, 1.0, 3),
        (2.0, 1.0, 3),
        (0.0, 1.0, 3),
        (-1.0, 1.0, 3),
        (f64::NAN, 1.0, 3),
        (1.0, f64::INFINITY, 3),
        (1.0, f64::NAN, 3),
        (1.0, 81.0, 1),
        (1.0, 81.0, 0),
    ];
    for (lo, hi, eta) in bad {
        assert!(
            matches!(
                hyperband_plan(lo, hi, eta),
                Err(CoreError::InvalidArgument(_))
            ),
            "({lo}, {hi}, {eta})"
        );
    }
    // Too many brackets for 64-bit bracket sizes.
    assert!(hyperband_plan(1e-300, 1.0, 2).is_err());
}
