//! Li et al.'s synchronous Hyperband brackets (JMLR 18(185), 2018, Algorithm 1).
//!
//! With `s_max` the largest `s` such that `min_budget * eta^s <= max_budget`, bracket `s`
//! (`s = s_max, ..., 0`) starts `n = ceil((s_max + 1) * eta^s / (s + 1))` configurations and runs
//! rung `i = 0..=s` with `n_i = floor(n / eta^i)` configurations at budget
//! `r_i = max_budget / eta^(s - i)`; after each rung the best `n_{i+1}` go on.
//!
//! For `(1, 81, 3)`: `n_i` = 81,27,9,3,1 / 34,11,3,1 / 15,5,1 / 8,2 / 5 at budgets
//! 1,3,9,27,81 / 3,..,81 / 9,27,81 / 27,81 / 81.
//!
//! Counts are exact `u64` integers (an error if they do not fit). Budgets are `f64`: `eta^k` is
//! formed by repeated multiplication, and the comparison `min_budget * eta^s <= max_budget`
//! replaces `floor(log_eta(max_budget / min_budget))`, so integer budgets give exact results.

use crate::CoreError;

/// One rung of a bracket: how many configurations run it, and with which budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RungPlan {
    pub n_configs: u64,
    pub budget: f64,
}

/// One bracket: its index `s` (the number of halvings) and its rungs, cheapest first.
#[derive(Clone, Debug, PartialEq)]
pub struct BracketPlan {
    pub s: u32,
    pub rungs: Vec<RungPlan>,
}

/// `eta^k` in `f64`, by `k` multiplications (the same operations the Python fallback performs).
pub fn pow_f64(eta: u64, k: u32) -> f64 {
    let base = eta as f64;
    let mut p = 1.0f64;
    for _ in 0..k {
        p *= base;
    }
    p
}

fn invalid(message: String) -> CoreError {
    CoreError::InvalidArgument(message)
}

/// `s_max`: the largest `s` with `min_budget * eta^s <= max_budget`.
pub fn max_bracket_index(min_budget: f64, max_budget: f64, eta: u64) -> Result<u32, CoreError> {
    if !(min_budget.is_finite() && min_budget > 0.0) {
        return Err(invalid(format!(
            "min_budget must be a finite number > 0, got {min_budget}"
        )));
    }
    if !max_budget.is_finite() {
        return Err(invalid(format!(
            "max_budget must be finite, got {max_budget}"
        )));
    }
    if min_budget >= max_budget {
        return Err(invalid(format!(
            "min_budget must be smaller than max_budget, got {min_budget} >= {max_budget}"
        )));
    }
    if eta < 2 {
        return Err(invalid(format!("eta must be an integer >= 2, got {eta}")));
    }
    let base = eta as f64;
    let mut s = 0u32;
    let mut p = base;
    // p grows geometrically and becomes infinite, so the loop ends (after at most ~2100 steps).
    while min_budget * p <= max_budget {
        s += 1;
        p *= base;
    }
    Ok(s)
}

/// The bracket table for `(min_budget, max_budget, eta)`, from `s = s_max` down to `s = 0`.
pub fn hyperband_plan(
    min_budget: f64,
    max_budget: f64,
    eta: u64,
) -> Result<Vec<BracketPlan>, CoreError> {
    let s_max = max_bracket_index(min_budget, max_budget, eta)?;
    let too_big = || {
        invalid(format!(
            "budgets {min_budget:?}..{max_budget:?} with eta {eta} give {} brackets: the bracket \
             sizes do not fit in 64 bits",
            u64::from(s_max) + 1
        ))
    };
    let width = u64::from(s_max) + 1;
    (0..=s_max)
        .rev()
        .map(|s| {
            let eta_s = eta.checked_pow(s).ok_or_else(too_big)?;
            let n = width
                .checked_mul(eta_s)
                .ok_or_else(too_big)?
                .div_ceil(u64::from(s) + 1);
            let mut rungs = Vec::with_capacity(s as usize + 1);
            let mut eta_i = 1u64;
            for i in 0..=s {
                rungs.push(RungPlan {
                    n_configs: n / eta_i,
                    budget: max_budget / pow_f64(eta, s - i),
                });
                // eta^i <= eta^s fits; the last multiplication may not and is not needed.
                eta_i = eta_i.saturating_mul(eta);
            }
            Ok(BracketPlan { s, rungs })
        })
        .collect()
}
