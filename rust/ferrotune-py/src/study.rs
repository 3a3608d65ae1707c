//! Bindings of `ferrotune_core::trial_store`: the `TrialStore` behind `ferrotune.Study`.
//!
//! The store sits behind a mutex. The TPE step runs with the GIL released; short operations
//! take the mutex at once when it is free and otherwise wait for it with the GIL released, so
//! a thread waiting for the store never blocks Python.

use crate::{convert_dims, map_err, rng_from_state, DimTuple, NumpyArgSort};
use ferrotune_core::parzen::ParzenParams;
use ferrotune_core::trial_store::{SampleRequest, TrialStore};
use ferrotune_core::CoreError;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use std::sync::Mutex;

#[pyclass(frozen, module = "ferrotune._core", name = "TrialStore")]
pub struct PyTrialStore {
    inner: Mutex<TrialStore>,
}

impl PyTrialStore {
    /// Run a short operation: at once if the store is free, otherwise wait for it without the
    /// GIL (the holder may need the GIL to finish).
    fn quick<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut TrialStore) -> Result<R, CoreError> + Send,
    ) -> PyResult<R> {
        if let Ok(mut guard) = self.inner.try_lock() {
            return f(&mut guard).map_err(|e| map_err(py, e));
        }
        self.with(py, f)
    }

    /// Run an operation with the GIL released.
    fn with<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut TrialStore) -> Result<R, CoreError> + Send,
    ) -> PyResult<R> {
        let out = py.detach(|| match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(_) => Err(CoreError::InvalidArgument(
                "the trial store was poisoned by an earlier panic".into(),
            )),
        });
        out.map_err(|e| map_err(py, e))
    }
}

#[pymethods]
impl PyTrialStore {
    /// `TrialStore(maximize, key, pos)`: an empty store whose TPE stream starts at the MT19937
    /// state `(key, pos)` (numpy's `RandomState.get_state()[1:3]`).
    #[new]
    fn new(
        py: Python<'_>,
        maximize: bool,
        key: PyReadonlyArray1<'_, u32>,
        pos: usize,
    ) -> PyResult<Self> {
        let rng = rng_from_state(py, &key, pos)?;
        Ok(PyTrialStore {
            inner: Mutex::new(TrialStore::new(maximize, rng)),
        })
    }

    fn add_column(&self, py: Python<'_>) -> PyResult<usize> {
        self.quick(py, |s| Ok(s.add_column()))
    }

    fn start(&self, py: Python<'_>, number: i64) -> PyResult<()> {
        self.quick(py, |s| s.start(number))
    }

    fn set_param(&self, py: Python<'_>, number: i64, col: usize, value: f64) -> PyResult<()> {
        self.quick(py, |s| s.set_param(number, col, value))
    }

    fn set_liar(
        &self,
        py: Python<'_>,
        number: i64,
        cols: Vec<usize>,
        values: Vec<f64>,
    ) -> PyResult<()> {
        self.quick(py, |s| s.set_liar(number, &cols, &values))
    }

    fn finish(
        &self,
        py: Python<'_>,
        number: i64,
        kind: i8,
        value: f64,
        prune_step: f64,
        prune_value: f64,
    ) -> PyResult<usize> {
        self.quick(py, |s| {
            s.finish(number, kind, value, prune_step, prune_value)
        })
    }

    fn discard(&self, py: Python<'_>, number: i64) -> PyResult<()> {
        self.quick(py, |s| s.discard(number))
    }

    /// One TPE step; returns the chosen point in the internal representation as a list.
    #[pyo3(signature = (exclude, cols, dims, n_below, below_rows, uniform_below, constant_liar, prior_weight, consider_magic_clip, consider_endpoints, n_candidates))]
    #[allow(clippy::too_many_arguments)]
    fn sample(
        &self,
        py: Python<'_>,
        exclude: i64,
        cols: Vec<usize>,
        dims: Vec<DimTuple>,
        n_below: usize,
        below_rows: Option<Vec<usize>>,
        uniform_below: bool,
        constant_liar: bool,
        prior_weight: f64,
        consider_magic_clip: bool,
        consider_endpoints: bool,
        n_candidates: usize,
    ) -> PyResult<Vec<f64>> {
        let dims = convert_dims(py, &dims)?;
        self.with(py, |s| {
            let req = SampleRequest {
                cols: &cols,
                dims: &dims,
                exclude,
                n_below,
                below_rows: below_rows.as_deref(),
                uniform_below,
                constant_liar,
                params: ParzenParams {
                    prior_weight,
                    consider_magic_clip,
                    consider_endpoints,
                },
                n_candidates,
            };
            s.sample(&req, &NumpyArgSort)
        })
    }

    /// A parameter column (one value per finished trial, in finishing order; NaN = absent).
    fn column<'py>(&self, py: Python<'py>, col: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let data = self.with(py, |s| s.column(col).map(<[f64]>::to_vec))?;
        Ok(data.into_pyarray(py))
    }

    /// Trial numbers of the finished rows, in finishing order.
    fn numbers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let data = self.with(py, |s| Ok(s.numbers().to_vec()))?;
        Ok(data.into_pyarray(py))
    }

    /// The TPE stream's MT19937 state `(key, pos)`.
    fn rng_state<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyArray1<u32>>, usize)> {
        let (key, pos) = self.with(py, |s| Ok((s.rng().key().to_vec(), s.rng().pos())))?;
        Ok((key.into_pyarray(py), pos))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.quick(py, |s| Ok(s.len()))
    }

    #[getter]
    fn n_columns(&self, py: Python<'_>) -> PyResult<usize> {
        self.quick(py, |s| Ok(s.n_columns()))
    }

    /// Heap bytes held by the finished-trial table (allocated capacity).
    #[getter]
    fn table_bytes(&self, py: Python<'_>) -> PyResult<usize> {
        self.quick(py, |s| Ok(s.table_bytes()))
    }

    #[getter]
    fn n_running(&self, py: Python<'_>) -> PyResult<usize> {
        self.quick(py, |s| Ok(s.n_running()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTrialStore>()
}
