//! Bindings of BOHB's model (`ferrotune_core::bohb`). The pure-Python twin is
//! `ferrotune/_bohb_py.py` (same names, same signatures, same results).

use ferrotune_core::bohb::{fit_model, propose, BohbOptions, Observations};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::{invalid, map_err, vector, with_numpy_rng};

/// `(min_points_in_model, top_n_percent, num_samples, random_fraction, bandwidth_factor,
/// min_bandwidth)`; `min_points_in_model = 0` means the default (dimensions + 1).
type OptionsTuple = (usize, u32, usize, f64, f64, f64);

/// The fitted model's `(budget, n_observations, good_idx, bad_idx, good_bw, bad_bw)`.
type ModelTuple = (f64, usize, Vec<usize>, Vec<usize>, Vec<f64>, Vec<f64>);

fn options(o: OptionsTuple) -> BohbOptions {
    BohbOptions {
        min_points_in_model: o.0,
        top_n_percent: o.1,
        num_samples: o.2,
        random_fraction: o.3,
        bandwidth_factor: o.4,
        min_bandwidth: o.5,
    }
}

/// The observation arrays as slices, checked for shape.
fn observations<'a>(
    py: Python<'_>,
    kinds: &[usize],
    budgets: &'a PyReadonlyArray1<'_, f64>,
    vectors: &'a PyReadonlyArray2<'_, f64>,
    losses: &'a PyReadonlyArray1<'_, f64>,
) -> PyResult<Observations<'a>> {
    let shape = vectors.shape();
    if shape[1] != kinds.len() {
        return Err(invalid(
            py,
            format!(
                "vectors have {} columns but there are {} dimensions",
                shape[1],
                kinds.len()
            ),
        ));
    }
    let v = vectors.as_slice().map_err(|e| {
        invalid(
            py,
            format!("vectors must be a C-contiguous float64 array: {e}"),
        )
    })?;
    Ok(Observations {
        budgets: vector(py, "budgets", budgets)?,
        vectors: v,
        losses: vector(py, "losses", losses)?,
    })
}

/// The model BOHB would use now: `(budget, n_observations, good_idx, bad_idx, good_bw, bad_bw)`,
/// or `None` when no budget has enough observations.
#[pyfunction]
fn bohb_model(
    py: Python<'_>,
    kinds: Vec<usize>,
    budgets: PyReadonlyArray1<'_, f64>,
    vectors: PyReadonlyArray2<'_, f64>,
    losses: PyReadonlyArray1<'_, f64>,
    opts: OptionsTuple,
) -> PyResult<Option<ModelTuple>> {
    let obs = observations(py, &kinds, &budgets, &vectors, &losses)?;
    let model = fit_model(&kinds, &obs, &options(opts)).map_err(|e| map_err(py, e))?;
    Ok(model.map(|m| {
        (
            m.budget,
            m.n_observations,
            m.good_idx,
            m.bad_idx,
            m.good.bw,
            m.bad.bw,
        )
    }))
}

/// One proposal: `(encoded vector, source, model budget or None)`, drawing from (and advancing)
/// the `numpy.random.RandomState` `rng` in place.
#[pyfunction]
fn bohb_propose<'py>(
    py: Python<'py>,
    kinds: Vec<usize>,
    budgets: PyReadonlyArray1<'py, f64>,
    vectors: PyReadonlyArray2<'py, f64>,
    losses: PyReadonlyArray1<'py, f64>,
    opts: OptionsTuple,
    rng: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, u8, Option<f64>)> {
    let obs = observations(py, &kinds, &budgets, &vectors, &losses)?;
    let o = options(opts);
    let p = with_numpy_rng(py, rng, |mt| propose(&kinds, &obs, &o, mt))?;
    Ok((p.vector.into_pyarray(py), p.source as u8, p.budget))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bohb_model, m)?)?;
    m.add_function(wrap_pyfunction!(bohb_propose, m)?)?;
    Ok(())
}
