//! Optuna's pruner-side Hyperband arithmetic, in exact integers.
//!
//! - number of brackets `floor(log_eta(max/min)) + 1`, counted without a logarithm;
//! - the allocation budget of bracket `b`, `ceil(n_brackets * eta^s / (s + 1))` with
//!   `s = n_brackets - 1 - b`, which weights how often a trial lands in that bracket;
//! - the bracket of a trial: `crc32("{study_name}_{number}") % total_budget`, walked through the
//!   cumulative budgets;
//! - the step at which a rung completes, `min_resource * eta^(min_early_stopping_rate + rung)`.
//!
//! Inputs are bounded by [`INT_LIMIT`] (`i64::MAX`, the range of Optuna's integer steps), so all
//! intermediate products fit in `u128` and the results never depend on overflow.

use super::crc32::crc32;
use crate::CoreError;

/// Largest accepted resource, reduction factor or rate: `i64::MAX`.
pub const INT_LIMIT: u64 = i64::MAX as u64;

fn invalid(message: String) -> CoreError {
    CoreError::InvalidArgument(message)
}

/// Checks `1 <= min_resource <= max_resource <= INT_LIMIT` and `2 <= eta <= INT_LIMIT`.
fn check_range(min_resource: u64, max_resource: u64, eta: u64) -> Result<(), CoreError> {
    if !(2..=INT_LIMIT).contains(&eta) {
        return Err(invalid(format!(
            "reduction_factor must be an integer in [2, {INT_LIMIT}], got {eta}"
        )));
    }
    if !(1..=INT_LIMIT).contains(&min_resource) {
        return Err(invalid(format!(
            "min_resource must be an integer in [1, {INT_LIMIT}], got {min_resource}"
        )));
    }
    if max_resource < min_resource || max_resource > INT_LIMIT {
        return Err(invalid(format!(
            "max_resource must be an integer in [min_resource, {INT_LIMIT}] = \
             [{min_resource}, {INT_LIMIT}], got {max_resource}"
        )));
    }
    Ok(())
}

/// `floor(log_eta(max_resource / min_resource)) + 1`: one more than the largest `s` with
/// `min_resource * eta^s <= max_resource`. Exact, unlike Optuna's floating-point `math.log`
/// (which gives 5 instead of 6 for `(1, 243, 3)`).
pub fn n_brackets(min_resource: u64, max_resource: u64, eta: u64) -> Result<u32, CoreError> {
    check_range(min_resource, max_resource, eta)?;
    let (eta, max) = (u128::from(eta), u128::from(max_resource));
    let mut reached = u128::from(min_resource);
    let mut s = 0u32;
    // reached <= max < 2^63 and eta < 2^63, so the product cannot overflow u128.
    while reached * eta <= max {
        reached *= eta;
        s += 1;
    }
    Ok(s + 1)
}

/// Allocation budget of every bracket, `ceil(n_brackets * eta^s / (s + 1))` for bracket
/// `b = 0..n_brackets` with `s = n_brackets - 1 - b` (Optuna's per-bracket trial weights).
pub fn allocation_budgets(n_brackets: u32, eta: u64) -> Result<Vec<u128>, CoreError> {
    if n_brackets == 0 {
        return Err(invalid("n_brackets must be at least 1".to_string()));
    }
    if !(2..=INT_LIMIT).contains(&eta) {
        return Err(invalid(format!(
            "reduction_factor must be an integer in [2, {INT_LIMIT}], got {eta}"
        )));
    }
    let overflow = || {
        invalid(format!(
            "{n_brackets} brackets with reduction_factor {eta}: allocation budgets overflow"
        ))
    };
    (0..n_brackets)
        .map(|b| {
            let s = n_brackets - 1 - b;
            let weight = u128::from(eta)
                .checked_pow(s)
                .and_then(|p| p.checked_mul(u128::from(n_brackets)))
                .ok_or_else(overflow)?;
            Ok(weight.div_ceil(u128::from(s) + 1))
        })
        .collect()
}

/// Bracket index of a hash: `hash % sum(budgets)`, then the first bracket whose cumulative budget
/// exceeds it.
pub fn bracket_of(hash: u32, budgets: &[u128]) -> Result<usize, CoreError> {
    let total = budgets
        .iter()
        .try_fold(0u128, |acc, &b| acc.checked_add(b))
        .ok_or_else(|| invalid("allocation budgets overflow".to_string()))?;
    if total == 0 {
        return Err(invalid(
            "allocation budgets must contain a positive budget".to_string(),
        ));
    }
    let mut rest = u128::from(hash) % total;
    for (bracket, &budget) in budgets.iter().enumerate() {
        if rest < budget {
            return Ok(bracket);
        }
        rest -= budget;
    }
    // Unreachable: rest < total = sum(budgets).
    Err(invalid("bracket walk ran past the budgets".to_string()))
}

/// Bracket of trial `number` of study `study_name`: the key is `"{study_name}_{number}"`, as
/// Optuna's `HyperbandPruner` forms it.
pub fn bracket_of_trial(
    study_name: &str,
    number: u64,
    budgets: &[u128],
) -> Result<usize, CoreError> {
    let key = format!("{study_name}_{number}");
    bracket_of(crc32(key.as_bytes()), budgets)
}

/// The step at which rung `exponent - min_early_stopping_rate` completes:
/// `min_resource * eta^exponent`, or `None` when it exceeds `u128` (no integer step reaches it).
pub fn promotion_step(min_resource: u64, eta: u64, exponent: u64) -> Option<u128> {
    let exponent = u32::try_from(exponent).ok()?;
    u128::from(eta)
        .checked_pow(exponent)?
        .checked_mul(u128::from(min_resource))
}
