//! Bindings of the multi-objective core (`ferrotune_core::multi_objective`): non-domination
//! ranks, hypervolume, hypervolume subset selection, the reference point and the split of
//! complete trials. The pure-Python twin is `ferrotune/_multi_objective.py` (same names without
//! the `mo_` prefix, same results). The work runs without the GIL.

use ferrotune_core::multi_objective::{
    compute_hypervolume, nondomination_ranks, nondomination_ranks_with_penalty, reference_point,
    solve_hssp, split_below,
};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::{invalid, map_err, matrix, vector};

fn labels_of(py: Python<'_>, labels: &PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    labels
        .as_slice()
        .map_err(|e| invalid(py, format!("labels must be a contiguous int64 array: {e}")))?
        .iter()
        .map(|&v| usize::try_from(v))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid(py, "labels must be non-negative".to_string()))
}

fn to_i64(values: Vec<usize>) -> Vec<i64> {
    values.into_iter().map(|v| v as i64).collect()
}

/// Non-domination ranks of the rows of `loss` (all objectives minimised), truncated after the
/// best `n_below` distinct points as Optuna does; with `penalty`, infeasible rows (penalty > 0)
/// are ranked after the feasible ones by their penalty.
#[pyfunction]
#[pyo3(signature = (loss, n_below=None, penalty=None))]
fn mo_nondomination_ranks<'py>(
    py: Python<'py>,
    loss: PyReadonlyArray2<'py, f64>,
    n_below: Option<usize>,
    penalty: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (data, _, m) = matrix(py, "loss", &loss)?;
    let penalty = match &penalty {
        Some(p) => Some(vector(py, "penalty", p)?),
        None => None,
    };
    let ranks = py
        .detach(|| match penalty {
            Some(p) => nondomination_ranks_with_penalty(data, m, p, n_below),
            None => nondomination_ranks(data, m, n_below),
        })
        .map_err(|e| map_err(py, e))?;
    Ok(to_i64(ranks).into_pyarray(py))
}

/// Hypervolume of the rows of `loss` with respect to `reference` (Optuna's
/// `compute_hypervolume`).
#[pyfunction]
#[pyo3(signature = (loss, reference, assume_pareto=false))]
fn mo_compute_hypervolume<'py>(
    py: Python<'py>,
    loss: PyReadonlyArray2<'py, f64>,
    reference: PyReadonlyArray1<'py, f64>,
    assume_pareto: bool,
) -> PyResult<f64> {
    let (data, rows, m) = matrix(py, "loss", &loss)?;
    let reference = vector(py, "reference", &reference)?;
    if reference.len() != m && rows > 0 {
        return Err(invalid(
            py,
            format!(
                "the reference point has {} objectives but the points have {m}",
                reference.len()
            ),
        ));
    }
    py.detach(|| compute_hypervolume(data, reference, assume_pareto))
        .map_err(|e| map_err(py, e))
}

/// Greedy hypervolume subset selection: `subset_size` of the rows of `loss`, returned as their
/// `labels`.
#[pyfunction]
fn mo_solve_hssp<'py>(
    py: Python<'py>,
    loss: PyReadonlyArray2<'py, f64>,
    labels: PyReadonlyArray1<'py, i64>,
    subset_size: usize,
    reference: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (data, _, m) = matrix(py, "loss", &loss)?;
    let reference = vector(py, "reference", &reference)?;
    if reference.len() != m {
        return Err(invalid(
            py,
            format!(
                "the reference point has {} objectives but the points have {m}",
                reference.len()
            ),
        ));
    }
    let labels = labels_of(py, &labels)?;
    let chosen = py
        .detach(|| solve_hssp(data, &labels, subset_size, reference))
        .map_err(|e| map_err(py, e))?;
    Ok(to_i64(chosen).into_pyarray(py))
}

/// Optuna's reference point for the rows of `loss`.
#[pyfunction]
fn mo_reference_point<'py>(
    py: Python<'py>,
    loss: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (data, _, m) = matrix(py, "loss", &loss)?;
    let point = reference_point(data, m).map_err(|e| map_err(py, e))?;
    Ok(point.into_pyarray(py))
}

/// Mask of the rows of `loss` (complete trials, minimised objectives) that go below.
#[pyfunction]
fn mo_split_below<'py>(
    py: Python<'py>,
    loss: PyReadonlyArray2<'py, f64>,
    n_below: usize,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let (data, _, m) = matrix(py, "loss", &loss)?;
    let mask = py
        .detach(|| split_below(data, m, n_below))
        .map_err(|e| map_err(py, e))?;
    Ok(mask.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(mo_nondomination_ranks, m)?)?;
    m.add_function(wrap_pyfunction!(mo_compute_hypervolume, m)?)?;
    m.add_function(wrap_pyfunction!(mo_solve_hssp, m)?)?;
    m.add_function(wrap_pyfunction!(mo_reference_point, m)?)?;
    m.add_function(wrap_pyfunction!(mo_split_below, m)?)?;
    Ok(())
}
