//! The rung promotion rule of asynchronous successive halving, as Optuna's
//! `SuccessiveHalvingPruner` applies it, and [`RungTable`], an incremental index of the rung
//! values of many trials that answers that rule in `O(log n)`.
//!
//! **The rule.** A trial that completes rung `k` with value `v` competes with the values every
//! other trial (of the same bracket) recorded at rung `k`. With `n` the number of competitors
//! *including* `v` and `k* = max(n / eta - 1, 0)`, the trial is promoted iff `v` is no worse than
//! the `k*`-th best of them (0-based), i.e. iff at most `k*` other values are strictly better.
//! Fewer than `eta` competitors means only a new best (or a tie with it) goes on. A NaN value is
//! pruned; NaN values are never stored as competitors. With `bootstrap_count = b`, a rung with
//! `n <= b` values prunes every trial.

use std::collections::HashMap;

use super::brackets::{promotion_step, INT_LIMIT};
use crate::CoreError;

/// Optimisation direction of the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Minimize,
    Maximize,
}

/// Number of values in the ascending, NaN-free `sorted` that are strictly better than `value`.
fn count_better(sorted: &[f64], value: f64, direction: Direction) -> usize {
    match direction {
        Direction::Minimize => sorted.partition_point(|&x| x < value),
        Direction::Maximize => sorted.len() - sorted.partition_point(|&x| x <= value),
    }
}

/// Promotion test on counts: `n_others` competitors, `n_better` of them strictly better.
fn rank_passes(n_better: usize, n_others: usize, eta: u64) -> bool {
    let n = n_others as u128 + 1;
    let k = (n / u128::from(eta)).saturating_sub(1);
    n_better as u128 <= k
}

/// Optuna's promotion test for one rung: is `value` among the best `max(n / eta - 1, 0) + 1` of
/// `competitors` plus itself? NaN competitors are ignored; a NaN `value` is never promotable.
pub fn is_promotable(
    value: f64,
    competitors: &[f64],
    eta: u64,
    direction: Direction,
) -> Result<bool, CoreError> {
    if eta < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "reduction_factor must be at least 2, got {eta}"
        )));
    }
    if value.is_nan() {
        return Ok(false);
    }
    let mut others: Vec<f64> = competitors
        .iter()
        .copied()
        .filter(|x| !x.is_nan())
        .collect();
    others.sort_by(f64::total_cmp);
    let better = count_better(&others, value, direction);
    Ok(rank_passes(better, others.len(), eta))
}

/// The parameters of one successive-halving bracket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromotionRule {
    /// Steps of the first rung (before the early-stopping rate is applied), at least 1.
    pub min_resource: u64,
    /// `eta`, at least 2.
    pub reduction_factor: u64,
    /// `s`: rung `k` completes at step `min_resource * eta^(s + k)`.
    pub min_early_stopping_rate: u64,
    /// A rung with at most this many values (the new one included) prunes every trial.
    pub bootstrap_count: u64,
    pub direction: Direction,
}

impl PromotionRule {
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = |name: &str, low: u64, got: u64| {
            Err(CoreError::InvalidArgument(format!(
                "{name} must be an integer in [{low}, {INT_LIMIT}], got {got}"
            )))
        };
        if !(1..=INT_LIMIT).contains(&self.min_resource) {
            return bad("min_resource", 1, self.min_resource);
        }
        if !(2..=INT_LIMIT).contains(&self.reduction_factor) {
            return bad("reduction_factor", 2, self.reduction_factor);
        }
        if self.min_early_stopping_rate > INT_LIMIT {
            return bad("min_early_stopping_rate", 0, self.min_early_stopping_rate);
        }
        if self.bootstrap_count > INT_LIMIT {
            return bad("bootstrap_count", 0, self.bootstrap_count);
        }
        Ok(())
    }
}

/// Outcome of one pruning decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// How many consecutive rungs, starting at the trial's current rung, the trial completed in
    /// this call: the caller records the value as `completed_rung_{k}` for each of them.
    pub rungs_completed: u32,
    /// Whether the trial should stop.
    pub prune: bool,
}

/// The rung values one trial has recorded.
#[derive(Clone, Debug)]
struct TrialRungs {
    group: u64,
    values: Vec<(u32, f64)>,
}

/// Rung values of many trials, grouped (a group is a Hyperband bracket; a plain successive-halving
/// pruner uses one group), with per-(group, rung) sorted copies for rank queries.
///
/// Updates are `O(log n + n)` (a binary search plus a `memmove` into a sorted vector) and queries
/// are `O(log n)`, where `n` is the number of values at that rung.
#[derive(Clone, Debug, Default)]
pub struct RungTable {
    sorted: HashMap<(u64, u32), Vec<f64>>,
    trials: HashMap<i64, TrialRungs>,
}

impl RungTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of trials with at least one stored value.
    pub fn n_trials(&self) -> usize {
        self.trials.len()
    }

    /// Number of values stored for `rung` of `group`.
    pub fn len(&self, group: u64, rung: u32) -> usize {
        self.sorted.get(&(group, rung)).map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// The value `trial` recorded at `rung`, if any.
    pub fn get(&self, trial: i64, rung: u32) -> Option<f64> {
        let entry = self.trials.get(&trial)?;
        entry
            .values
            .iter()
            .find(|&&(r, _)| r == rung)
            .map(|&(_, v)| v)
    }

    /// Group of `trial`, if it has stored values.
    pub fn group(&self, trial: i64) -> Option<u64> {
        self.trials.get(&trial).map(|e| e.group)
    }

    fn insert_sorted(&mut self, group: u64, rung: u32, value: f64) {
        let level = self.sorted.entry((group, rung)).or_default();
        let at = level.partition_point(|&x| x < value);
        level.insert(at, value);
    }

    fn remove_sorted(&mut self, group: u64, rung: u32, value: f64) {
        if let Some(level) = self.sorted.get_mut(&(group, rung)) {
            let at = level.partition_point(|&x| x < value);
            if at < level.len() && level[at] == value {
                level.remove(at);
            }
            if level.is_empty() {
                self.sorted.remove(&(group, rung));
            }
        }
    }

    /// Drop every value of `trial`.
    pub fn remove_trial(&mut self, trial: i64) {
        if let Some(entry) = self.trials.remove(&trial) {
            for (rung, value) in entry.values {
                self.remove_sorted(entry.group, rung, value);
            }
        }
    }

    /// Record that `trial` (of `group`) completed `rung` with `value`, replacing an earlier value
    /// at that rung. A NaN value only removes the earlier one. If the trial was stored under
    /// another group, all its values move to `group`.
    pub fn set(&mut self, trial: i64, group: u64, rung: u32, value: f64) {
        if let Some(entry) = self.trials.get(&trial) {
            if entry.group != group {
                let moved = entry.values.clone();
                let old = entry.group;
                for &(r, v) in &moved {
                    self.remove_sorted(old, r, v);
                    self.insert_sorted(group, r, v);
                }
                if let Some(e) = self.trials.get_mut(&trial) {
                    e.group = group;
                }
            }
        }
        if let Some(previous) = self.get(trial, rung) {
            if previous == value || (previous.is_nan() && value.is_nan()) {
                return;
            }
            self.remove_sorted(group, rung, previous);
            if let Some(e) = self.trials.get_mut(&trial) {
                e.values.retain(|&(r, _)| r != rung);
            }
        }
        if !value.is_nan() {
            self.insert_sorted(group, rung, value);
            self.trials
                .entry(trial)
                .or_insert_with(|| TrialRungs {
                    group,
                    values: Vec::new(),
                })
                .values
                .push((rung, value));
        }
        if self.trials.get(&trial).is_some_and(|e| e.values.is_empty()) {
            self.trials.remove(&trial);
        }
    }

    /// `(number of other trials' values at the rung, how many of them beat value)`; the value
    /// `trial` itself may have stored there is not a competitor.
    fn competitors(
        &self,
        trial: i64,
        group: u64,
        rung: u32,
        value: f64,
        direction: Direction,
    ) -> (usize, usize) {
        let Some(level) = self.sorted.get(&(group, rung)) else {
            return (0, 0);
        };
        let mut n_others = level.len();
        let mut n_better = count_better(level, value, direction);
        if self.group(trial) == Some(group) {
            if let Some(own) = self.get(trial, rung) {
                n_others = n_others.saturating_sub(1);
                if count_better(&[own], value, direction) == 1 {
                    n_better = n_better.saturating_sub(1);
                }
            }
        }
        if value.is_nan() {
            // NaN ranks below every value.
            n_better = n_others;
        }
        (n_others, n_better)
    }

    /// Number of other trials' values at `rung` of `group` strictly better than `value`
    /// (`trial`'s own value excluded; all of them for a NaN value).
    pub fn rank(
        &self,
        trial: i64,
        group: u64,
        rung: u32,
        value: f64,
        direction: Direction,
    ) -> usize {
        self.competitors(trial, group, rung, value, direction).1
    }

    /// The pruning decision for `trial` (of `group`), whose last report is `value` at `step` and
    /// whose completed rungs are `0..rung`, against the values stored now. Mirrors Optuna's loop:
    /// while `step` reaches the next rung's promotion step, a NaN value prunes; otherwise the rung
    /// is completed (counted in `rungs_completed`) and the trial must pass the bootstrap and
    /// promotion tests to go on to the next rung. Does not modify the table.
    pub fn decide(
        &self,
        trial: i64,
        group: u64,
        rung: u32,
        step: u64,
        value: f64,
        rule: &PromotionRule,
    ) -> Result<Verdict, CoreError> {
        rule.validate()?;
        let mut rung = rung;
        let mut completed = 0u32;
        let go_on = |completed| {
            Ok(Verdict {
                rungs_completed: completed,
                prune: false,
            })
        };
        let stop = |completed| {
            Ok(Verdict {
                rungs_completed: completed,
                prune: true,
            })
        };
        loop {
            let Some(exponent) = rule.min_early_stopping_rate.checked_add(u64::from(rung)) else {
                return go_on(completed);
            };
            match promotion_step(rule.min_resource, rule.reduction_factor, exponent) {
                Some(at) if u128::from(step) >= at => {}
                _ => return go_on(completed),
            }
            if value.is_nan() {
                return stop(completed);
            }
            completed += 1;
            let (n_others, n_better) = self.competitors(trial, group, rung, value, rule.direction);
            if (n_others as u128) < u128::from(rule.bootstrap_count) {
                return stop(completed);
            }
            if !rank_passes(n_better, n_others, rule.reduction_factor) {
                return stop(completed);
            }
            let Some(next) = rung.checked_add(1) else {
                return go_on(completed);
            };
            rung = next;
        }
    }
}
