//! Bindings of the Hyperband / successive-halving core (`ferrotune_core::hyperband`).
//!
//! The pure-Python twin of everything registered here is `ferrotune/_hyperband_py.py` (same
//! names, same signatures, same results). Every call is O(1) or O(log n) work of well under a
//! microsecond, so the GIL is kept: releasing and re-acquiring it would cost more than the work.

use ferrotune_core::hyperband::brackets::bracket_of_trial;
use ferrotune_core::hyperband::{
    allocation_budgets, crc32, hyperband_plan, is_promotable, n_brackets, promotion_step,
    Direction, Mode, PromotionRule, RungTable, Scheduler,
};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::{invalid, map_err};

/// A Python `int` argument in the `i64` range; anything else (a bool, a float, a huge int) is an
/// `InvalidArgumentError`, as in the pure-Python twin.
fn int_arg(py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    let bad = || {
        invalid(
            py,
            format!("{name} must be an integer in [0, 2^63), got {obj}"),
        )
    };
    if obj.is_instance_of::<PyBool>() {
        return Err(bad());
    }
    obj.extract::<i64>().map_err(|_| bad())
}

/// A Python `int` argument in `[0, 2^63)` as `u64`.
fn uint_arg(py: Python<'_>, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    let value = int_arg(py, name, obj)?;
    non_negative(py, name, value)
}

/// A non-negative Python integer (given as `i64`) as `u64`, or `InvalidArgumentError`.
fn non_negative(py: Python<'_>, name: &str, value: i64) -> PyResult<u64> {
    u64::try_from(value).map_err(|_| {
        invalid(
            py,
            format!("{name} must be a non-negative integer, got {value}"),
        )
    })
}

fn direction(maximize: bool) -> Direction {
    if maximize {
        Direction::Maximize
    } else {
        Direction::Minimize
    }
}

/// CRC-32 of the UTF-8 encoding of `text` (equal to `binascii.crc32(text.encode())`).
#[pyfunction]
fn hb_crc32(text: &str) -> u32 {
    crc32(text.as_bytes())
}

/// Exact `floor(log_eta(max_resource / min_resource)) + 1`.
#[pyfunction]
fn hb_n_brackets(
    py: Python<'_>,
    min_resource: &Bound<'_, PyAny>,
    max_resource: &Bound<'_, PyAny>,
    eta: &Bound<'_, PyAny>,
) -> PyResult<u32> {
    let min = uint_arg(py, "min_resource", min_resource)?;
    let max = uint_arg(py, "max_resource", max_resource)?;
    let eta = uint_arg(py, "reduction_factor", eta)?;
    n_brackets(min, max, eta).map_err(|e| map_err(py, e))
}

/// Optuna's allocation budget of every bracket, `ceil(n * eta^s / (s + 1))`.
#[pyfunction]
fn hb_allocation_budgets(
    py: Python<'_>,
    n_brackets: &Bound<'_, PyAny>,
    eta: &Bound<'_, PyAny>,
) -> PyResult<Vec<u128>> {
    let n_brackets = int_arg(py, "n_brackets", n_brackets)?;
    let n = u32::try_from(n_brackets).map_err(|_| {
        invalid(
            py,
            format!("n_brackets must be in [1, 2^32), got {n_brackets}"),
        )
    })?;
    let eta = uint_arg(py, "reduction_factor", eta)?;
    allocation_budgets(n, eta).map_err(|e| map_err(py, e))
}

/// Bracket of trial `number` of `study_name`: crc32 of `"{study_name}_{number}"` modulo the total
/// budget, walked through the cumulative `budgets`.
#[pyfunction]
fn hb_bracket_of_trial(
    py: Python<'_>,
    study_name: &str,
    number: &Bound<'_, PyAny>,
    budgets: Vec<u128>,
) -> PyResult<usize> {
    let number = uint_arg(py, "trial number", number)?;
    bracket_of_trial(study_name, number, &budgets).map_err(|e| map_err(py, e))
}

/// `min_resource * eta^exponent`, or `None` past 2^128.
#[pyfunction]
fn hb_promotion_step(
    py: Python<'_>,
    min_resource: &Bound<'_, PyAny>,
    eta: &Bound<'_, PyAny>,
    exponent: &Bound<'_, PyAny>,
) -> PyResult<Option<u128>> {
    let min = uint_arg(py, "min_resource", min_resource)?;
    let eta = uint_arg(py, "reduction_factor", eta)?;
    let exponent = uint_arg(py, "exponent", exponent)?;
    Ok(promotion_step(min, eta, exponent))
}

/// Optuna's promotion test of `value` against the other trials' `competitors` at one rung.
#[pyfunction]
fn hb_is_promotable(
    py: Python<'_>,
    value: f64,
    competitors: Vec<f64>,
    eta: &Bound<'_, PyAny>,
    maximize: bool,
) -> PyResult<bool> {
    let eta = uint_arg(py, "reduction_factor", eta)?;
    is_promotable(value, &competitors, eta, direction(maximize)).map_err(|e| map_err(py, e))
}

/// `[(s, [(n_i, r_i), ...]), ...]`.
type PlanTable = Vec<(u32, Vec<(u64, f64)>)>;

/// Li et al.'s bracket table: `[(s, [(n_i, r_i), ...]), ...]` from `s = s_max` down to 0.
#[pyfunction]
fn hb_plan(
    py: Python<'_>,
    min_budget: f64,
    max_budget: f64,
    eta: &Bound<'_, PyAny>,
) -> PyResult<PlanTable> {
    let eta = uint_arg(py, "eta", eta)?;
    let plan = hyperband_plan(min_budget, max_budget, eta).map_err(|e| map_err(py, e))?;
    Ok(plan
        .into_iter()
        .map(|b| {
            let rungs = b.rungs.iter().map(|r| (r.n_configs, r.budget)).collect();
            (b.s, rungs)
        })
        .collect())
}

/// Rung values of many trials with O(log n) promotion queries (see `RungTable` in the core).
#[pyclass(name = "HbRungTable", module = "ferrotune._core")]
#[derive(Default)]
struct HbRungTable {
    inner: RungTable,
}

#[pymethods]
impl HbRungTable {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Record `value` for `trial` (of `group`) at `rung`; NaN removes the stored value.
    fn set(
        &mut self,
        py: Python<'_>,
        trial: i64,
        group: i64,
        rung: i64,
        value: f64,
    ) -> PyResult<()> {
        let group = non_negative(py, "group", group)?;
        let rung = u32::try_from(rung)
            .map_err(|_| invalid(py, format!("rung must be in [0, 2^32), got {rung}")))?;
        self.inner.set(trial, group, rung, value);
        Ok(())
    }

    fn get(&self, trial: i64, rung: i64) -> Option<f64> {
        u32::try_from(rung)
            .ok()
            .and_then(|r| self.inner.get(trial, r))
    }

    fn remove_trial(&mut self, trial: i64) {
        self.inner.remove_trial(trial);
    }

    /// Number of values stored at `rung` of `group`.
    fn count(&self, group: i64, rung: i64) -> usize {
        match (u64::try_from(group), u32::try_from(rung)) {
            (Ok(g), Ok(r)) => self.inner.len(g, r),
            _ => 0,
        }
    }

    fn n_trials(&self) -> usize {
        self.inner.n_trials()
    }

    /// Number of other trials' values at the rung strictly better than `value`.
    fn rank(
        &self,
        py: Python<'_>,
        trial: i64,
        group: i64,
        rung: i64,
        value: f64,
        maximize: bool,
    ) -> PyResult<usize> {
        let group = non_negative(py, "group", group)?;
        let Ok(rung) = u32::try_from(rung) else {
            return Ok(0);
        };
        Ok(self
            .inner
            .rank(trial, group, rung, value, direction(maximize)))
    }

    /// The pruning decision `(rungs_completed, prune)` for `trial` at `step` with `value`, its
    /// completed rungs being `0..rung` (does not modify the table).
    #[pyo3(signature = (trial, group, rung, step, value, min_resource, reduction_factor, min_early_stopping_rate, bootstrap_count, maximize))]
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        py: Python<'_>,
        trial: i64,
        group: i64,
        rung: i64,
        step: i64,
        value: f64,
        min_resource: i64,
        reduction_factor: i64,
        min_early_stopping_rate: i64,
        bootstrap_count: i64,
        maximize: bool,
    ) -> PyResult<(u32, bool)> {
        let rule = PromotionRule {
            min_resource: non_negative(py, "min_resource", min_resource)?,
            reduction_factor: non_negative(py, "reduction_factor", reduction_factor)?,
            min_early_stopping_rate: non_negative(
                py,
                "min_early_stopping_rate",
                min_early_stopping_rate,
            )?,
            bootstrap_count: non_negative(py, "bootstrap_count", bootstrap_count)?,
            direction: direction(maximize),
        };
        let group = non_negative(py, "group", group)?;
        let rung = u32::try_from(rung)
            .map_err(|_| invalid(py, format!("rung must be in [0, 2^32), got {rung}")))?;
        let step = non_negative(py, "step", step)?;
        let verdict = self
            .inner
            .decide(trial, group, rung, step, value, &rule)
            .map_err(|e| map_err(py, e))?;
        Ok((verdict.rungs_completed, verdict.prune))
    }
}

/// `(id, config, bracket, rung, budget, new_config)` of a job.
type JobTuple = (u64, u64, u32, u32, f64, bool);

/// The ask/tell Hyperband scheduler over configuration ids (see `Scheduler` in the core).
#[pyclass(name = "HbScheduler", module = "ferrotune._core")]
struct HbScheduler {
    inner: Scheduler,
}

#[pymethods]
impl HbScheduler {
    #[new]
    fn new(
        py: Python<'_>,
        min_budget: f64,
        max_budget: f64,
        eta: &Bound<'_, PyAny>,
        mode: &str,
    ) -> PyResult<Self> {
        let eta = uint_arg(py, "eta", eta)?;
        let mode = match mode {
            "sync" => Mode::Sync,
            "async" => Mode::Async,
            other => {
                return Err(invalid(
                    py,
                    format!("mode must be 'sync' or 'async', got {other:?}"),
                ))
            }
        };
        let inner =
            Scheduler::new(min_budget, max_budget, eta, mode).map_err(|e| map_err(py, e))?;
        Ok(Self { inner })
    }

    fn ask(&mut self, py: Python<'_>) -> PyResult<JobTuple> {
        let j = self.inner.ask().map_err(|e| map_err(py, e))?;
        Ok((j.id, j.config, j.bracket, j.rung, j.budget, j.new_config))
    }

    fn tell(&mut self, py: Python<'_>, job_id: i64, loss: f64) -> PyResult<()> {
        let id =
            u64::try_from(job_id).map_err(|_| invalid(py, format!("unknown job id {job_id}")))?;
        self.inner.tell(id, loss).map_err(|e| map_err(py, e))
    }

    fn n_pending(&self) -> usize {
        self.inner.n_pending()
    }

    fn n_configs(&self) -> u64 {
        self.inner.n_configs()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hb_crc32, m)?)?;
    m.add_function(wrap_pyfunction!(hb_n_brackets, m)?)?;
    m.add_function(wrap_pyfunction!(hb_allocation_budgets, m)?)?;
    m.add_function(wrap_pyfunction!(hb_bracket_of_trial, m)?)?;
    m.add_function(wrap_pyfunction!(hb_promotion_step, m)?)?;
    m.add_function(wrap_pyfunction!(hb_is_promotable, m)?)?;
    m.add_function(wrap_pyfunction!(hb_plan, m)?)?;
    m.add_class::<HbRungTable>()?;
    m.add_class::<HbScheduler>()?;
    Ok(())
}
