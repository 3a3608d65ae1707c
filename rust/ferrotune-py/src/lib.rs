//! PyO3 bindings of `ferrotune-core`, built as the private module `ferrotune._core`.
//!
//! This crate only converts arguments, maps errors onto the exception classes defined once in
//! `ferrotune/exceptions.py`, and releases the GIL around the Rust work. All logic lives in the
//! core crate.

mod bohb;
mod evo;
mod hyperband;
mod multi_objective;
mod study;

use ferrotune_core::parzen::{ParzenEstimator, ParzenParams};
use ferrotune_core::rng::{Mt19937, MT_N};
use ferrotune_core::sort::ArgSort;
use ferrotune_core::space::Dim;
use ferrotune_core::split::{self, TrialColumns};
use ferrotune_core::{tpe, truncnorm, CoreError};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

/// A dimension as the Python layer encodes it: `(kind, low, high, step, log, n_choices)`,
/// with kind 0 = numerical, 1 = categorical and step 0.0 meaning continuous.
pub(crate) type DimTuple = (u8, f64, f64, f64, bool, usize);

/// Values plus the advanced MT19937 state `(key, pos)`.
type WithState<'py, T> = (Bound<'py, T>, Bound<'py, PyArray1<u32>>, usize);

fn exception(py: Python<'_>, class: &str, message: String) -> PyErr {
    let made = py
        .import("ferrotune.exceptions")
        .and_then(|m| m.getattr(class))
        .and_then(|cls| cls.call1((message.clone(),)));
    match made {
        Ok(instance) => PyErr::from_value(instance),
        Err(_) => PyValueError::new_err(message),
    }
}

pub(crate) fn map_err(py: Python<'_>, err: CoreError) -> PyErr {
    match err {
        CoreError::InvalidSearchSpace(m) => exception(py, "SearchSpaceError", m),
        CoreError::InvalidArgument(m) => exception(py, "InvalidArgumentError", m),
    }
}

pub(crate) fn invalid(py: Python<'_>, message: String) -> PyErr {
    exception(py, "InvalidArgumentError", message)
}

pub(crate) fn convert_dims(py: Python<'_>, dims: &[DimTuple]) -> PyResult<Vec<Dim>> {
    dims.iter()
        .enumerate()
        .map(|(i, &(kind, low, high, step, log, n_choices))| match kind {
            0 => Ok(Dim::Numerical {
                low,
                high,
                step: if step == 0.0 { None } else { Some(step) },
                log,
            }),
            1 => Ok(Dim::Categorical { n_choices }),
            other => Err(invalid(
                py,
                format!("dimension {i}: unknown kind {other} (expected 0 or 1)"),
            )),
        })
        .collect()
}

pub(crate) fn rng_from_state(
    py: Python<'_>,
    key: &PyReadonlyArray1<'_, u32>,
    pos: usize,
) -> PyResult<Mt19937> {
    let key = key
        .as_slice()
        .map_err(|e| invalid(py, format!("MT19937 key must be contiguous: {e}")))?;
    if key.len() != MT_N {
        return Err(invalid(
            py,
            format!("MT19937 key must have {MT_N} words, got {}", key.len()),
        ));
    }
    Mt19937::from_state(key, pos).map_err(|e| map_err(py, e))
}

fn matrix<'a>(
    py: Python<'_>,
    name: &str,
    arr: &'a PyReadonlyArray2<'_, f64>,
) -> PyResult<(&'a [f64], usize, usize)> {
    let shape = arr.shape();
    let (rows, cols) = (shape[0], shape[1]);
    let data = arr.as_slice().map_err(|e| {
        invalid(
            py,
            format!("{name} must be a C-contiguous float64 array: {e}"),
        )
    })?;
    Ok((data, rows, cols))
}

fn vector<'a>(
    py: Python<'_>,
    name: &str,
    arr: &'a PyReadonlyArray1<'_, f64>,
) -> PyResult<&'a [f64]> {
    arr.as_slice().map_err(|e| {
        invalid(
            py,
            format!("{name} must be a contiguous float64 array: {e}"),
        )
    })
}

fn check_width(py: Python<'_>, name: &str, rows: usize, cols: usize, d: usize) -> PyResult<()> {
    if cols != d && rows > 0 {
        return Err(invalid(
            py,
            format!("{name} has {cols} columns but the search space has {d} dimensions"),
        ));
    }
    Ok(())
}

/// Orders tied values exactly as `numpy.argsort` (the default, unstable kind) does on this
/// machine, so that tied kernels get the bandwidths Optuna gives them. Called by the core only
/// for dimensions that contain ties; it takes the GIL back for the duration of the call.
pub(crate) struct NumpyArgSort;

impl ArgSort for NumpyArgSort {
    fn argsort(&self, values: &[f64]) -> Vec<usize> {
        let from_numpy = Python::attach(|py| -> PyResult<Vec<usize>> {
            let np = py.import("numpy")?;
            let arr = PyArray1::from_slice(py, values);
            let order = np.getattr("argsort")?.call1((arr,))?;
            order.extract::<Vec<usize>>()
        });
        match from_numpy {
            Ok(order) if order.len() == values.len() => order,
            // numpy failed (should not happen): fall back to a stable order, never panic.
            _ => ferrotune_core::sort::StableArgSort.argsort(values),
        }
    }
}

/// Layout of numpy's `mt19937_state` (`numpy/random/src/mt19937/mt19937.h`): the 624-word key
/// followed by the position, as a C `int`.
#[repr(C)]
struct NumpyMtState {
    key: [u32; MT_N],
    pos: std::os::raw::c_int,
}

/// Borrow the MT19937 state of a `numpy.random.RandomState` in place. The state is read into a
/// [`Mt19937`], `f` runs with the GIL released, and the advanced state is written back, all while
/// holding the bit generator's own lock, exactly as numpy's methods do.
fn with_numpy_rng<R: Send>(
    py: Python<'_>,
    rng: &Bound<'_, PyAny>,
    f: impl FnOnce(&mut Mt19937) -> Result<R, CoreError> + Send,
) -> PyResult<R> {
    let bitgen = rng
        .getattr("_bit_generator")
        .map_err(|_| invalid(py, "rng must be a numpy.random.RandomState".to_string()))?;
    let ty = bitgen.get_type();
    let qualified = format!("{}.{}", ty.module()?, ty.name()?);
    if qualified != "numpy.random._mt19937.MT19937" {
        return Err(invalid(
            py,
            format!("rng must use numpy's MT19937 bit generator, got {qualified}"),
        ));
    }
    let addr: usize = bitgen
        .getattr("ctypes")?
        .getattr("state_address")?
        .extract()?;
    if addr == 0 || !addr.is_multiple_of(std::mem::align_of::<NumpyMtState>()) {
        return Err(invalid(py, "invalid MT19937 state address".to_string()));
    }
    let lock = bitgen.getattr("lock")?;
    lock.call_method0("acquire")?;
    let outcome = (|| {
        // SAFETY: `addr` is the address of the `mt19937_state` struct embedded in the live
        // `MT19937` object `bitgen` (numpy's documented `ctypes.state_address`), which we keep
        // alive for the whole call; its layout is `NumpyMtState`. We hold the bit generator's
        // lock, so no numpy method touches the state concurrently, and only this function
        // accesses it through the raw pointer.
        let state = unsafe { &mut *(addr as *mut NumpyMtState) };
        let pos = usize::try_from(state.pos)
            .map_err(|_| CoreError::InvalidArgument("MT19937 position is negative".into()))?;
        let mut mt = Mt19937::from_state(&state.key, pos)?;
        let result = py.detach(|| f(&mut mt).map(|r| (r, mt)));
        let (value, mt) = result?;
        state.key = *mt.key();
        // pos <= 624 always fits in a C int.
        state.pos = mt.pos() as std::os::raw::c_int;
        Ok(value)
    })();
    lock.call_method0("release")?;
    outcome.map_err(|e| map_err(py, e))
}

/// One TPE step drawing from (and advancing) a `numpy.random.RandomState` in place.
#[pyfunction]
#[pyo3(signature = (dims, below, below_weights, above, above_weights, prior_weight, consider_magic_clip, consider_endpoints, n_candidates, rng))]
#[allow(clippy::too_many_arguments)]
fn tpe_sample_step_rng<'py>(
    py: Python<'py>,
    dims: Vec<DimTuple>,
    below: PyReadonlyArray2<'py, f64>,
    below_weights: PyReadonlyArray1<'py, f64>,
    above: PyReadonlyArray2<'py, f64>,
    above_weights: PyReadonlyArray1<'py, f64>,
    prior_weight: f64,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    n_candidates: usize,
    rng: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let step = StepInput::parse(
        py,
        &dims,
        [&below, &above],
        [&below_weights, &above_weights],
        params(prior_weight, consider_magic_clip, consider_endpoints),
        n_candidates,
    )?;
    let best = with_numpy_rng(py, rng, |mt| step.run(mt))?;
    Ok(best.into_pyarray(py))
}

/// `n` `random_sample()` draws taken from a `numpy.random.RandomState` in place (testing helper
/// that proves the in-place state access agrees with numpy).
#[pyfunction]
fn rng_random_sample<'py>(
    py: Python<'py>,
    rng: &Bound<'py, PyAny>,
    n: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let draws = with_numpy_rng(py, rng, |mt| {
        Ok((0..n).map(|_| mt.random_sample()).collect::<Vec<f64>>())
    })?;
    Ok(draws.into_pyarray(py))
}

/// The converted, validated arguments of one TPE step, borrowing the numpy buffers.
struct StepInput<'a> {
    dims: Vec<Dim>,
    obs: [(&'a [f64], usize); 2],
    weights: [&'a [f64]; 2],
    params: ParzenParams,
    n_candidates: usize,
}

impl<'a> StepInput<'a> {
    fn parse(
        py: Python<'_>,
        dims: &[DimTuple],
        obs: [&'a PyReadonlyArray2<'_, f64>; 2],
        weights: [&'a PyReadonlyArray1<'_, f64>; 2],
        params: ParzenParams,
        n_candidates: usize,
    ) -> PyResult<Self> {
        let dims = convert_dims(py, dims)?;
        let mut blocks = [(&[][..], 0usize); 2];
        for (i, (name, arr)) in ["below", "above"].iter().zip(obs).enumerate() {
            let (data, rows, cols) = matrix(py, name, arr)?;
            check_width(py, name, rows, cols, dims.len())?;
            blocks[i] = (data, rows);
        }
        Ok(Self {
            dims,
            obs: blocks,
            weights: [
                vector(py, "below_weights", weights[0])?,
                vector(py, "above_weights", weights[1])?,
            ],
            params,
            n_candidates,
        })
    }

    fn run(&self, rng: &mut Mt19937) -> Result<Vec<f64>, CoreError> {
        let [(below, n_below), (above, n_above)] = self.obs;
        tpe::sample_step(
            &self.dims,
            below,
            n_below,
            self.weights[0],
            above,
            n_above,
            self.weights[1],
            &self.params,
            self.n_candidates,
            rng,
            &NumpyArgSort,
        )
    }
}

fn params(prior_weight: f64, consider_magic_clip: bool, consider_endpoints: bool) -> ParzenParams {
    ParzenParams {
        prior_weight,
        consider_magic_clip,
        consider_endpoints,
    }
}

/// One TPE step (see `ferrotune_core::tpe::sample_step`). Returns the best candidate in the
/// internal representation and the advanced MT19937 state `(key, pos)`.
#[pyfunction]
#[pyo3(signature = (dims, below, below_weights, above, above_weights, prior_weight, consider_magic_clip, consider_endpoints, n_candidates, key, pos))]
#[allow(clippy::too_many_arguments)]
fn tpe_sample_step<'py>(
    py: Python<'py>,
    dims: Vec<DimTuple>,
    below: PyReadonlyArray2<'py, f64>,
    below_weights: PyReadonlyArray1<'py, f64>,
    above: PyReadonlyArray2<'py, f64>,
    above_weights: PyReadonlyArray1<'py, f64>,
    prior_weight: f64,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    n_candidates: usize,
    key: PyReadonlyArray1<'py, u32>,
    pos: usize,
) -> PyResult<WithState<'py, PyArray1<f64>>> {
    let step = StepInput::parse(
        py,
        &dims,
        [&below, &above],
        [&below_weights, &above_weights],
        params(prior_weight, consider_magic_clip, consider_endpoints),
        n_candidates,
    )?;
    let mut rng = rng_from_state(py, &key, pos)?;
    let result = py.detach(|| step.run(&mut rng).map(|best| (best, rng)));
    let (best, rng) = result.map_err(|e| map_err(py, e))?;
    let new_key = PyArray1::from_slice(py, rng.key());
    Ok((best.into_pyarray(py), new_key, rng.pos()))
}

#[allow(clippy::too_many_arguments)]
fn build_estimator(
    py: Python<'_>,
    dims: &[DimTuple],
    obs: &PyReadonlyArray2<'_, f64>,
    weights: &PyReadonlyArray1<'_, f64>,
    prior_weight: f64,
    consider_magic_clip: bool,
    consider_endpoints: bool,
) -> PyResult<(ParzenEstimator, usize)> {
    let dims = convert_dims(py, dims)?;
    let (obs, n_obs, width) = matrix(py, "obs", obs)?;
    check_width(py, "obs", n_obs, width, dims.len())?;
    let weights = vector(py, "weights", weights)?;
    let p = params(prior_weight, consider_magic_clip, consider_endpoints);
    let est = py
        .detach(|| ParzenEstimator::new(&dims, obs, n_obs, weights, &p, &NumpyArgSort))
        .map_err(|e| map_err(py, e))?;
    Ok((est, dims.len()))
}

/// Draw `size` samples from a Parzen estimator (testing and research helper). Returns the
/// samples as a `(size, d)` array and the advanced MT19937 state.
#[pyfunction]
#[pyo3(signature = (dims, obs, weights, prior_weight, consider_magic_clip, consider_endpoints, size, key, pos))]
#[allow(clippy::too_many_arguments)]
fn parzen_sample<'py>(
    py: Python<'py>,
    dims: Vec<DimTuple>,
    obs: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    prior_weight: f64,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    size: usize,
    key: PyReadonlyArray1<'py, u32>,
    pos: usize,
) -> PyResult<WithState<'py, PyAny>> {
    let (est, d) = build_estimator(
        py,
        &dims,
        &obs,
        &weights,
        prior_weight,
        consider_magic_clip,
        consider_endpoints,
    )?;
    let mut rng = rng_from_state(py, &key, pos)?;
    let (samples, rng) = py.detach(|| {
        let s = est.sample(&mut rng, size);
        (s, rng)
    });
    let arr = samples.into_pyarray(py).reshape([size, d])?;
    let new_key = PyArray1::from_slice(py, rng.key());
    Ok((arr.into_any(), new_key, rng.pos()))
}

/// Log density of `x` (an `(n, d)` array) under a Parzen estimator (testing helper).
#[pyfunction]
#[pyo3(signature = (dims, obs, weights, prior_weight, consider_magic_clip, consider_endpoints, x))]
#[allow(clippy::too_many_arguments)]
fn parzen_log_pdf<'py>(
    py: Python<'py>,
    dims: Vec<DimTuple>,
    obs: PyReadonlyArray2<'py, f64>,
    weights: PyReadonlyArray1<'py, f64>,
    prior_weight: f64,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    x: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (est, d) = build_estimator(
        py,
        &dims,
        &obs,
        &weights,
        prior_weight,
        consider_magic_clip,
        consider_endpoints,
    )?;
    let (x, n, width) = matrix(py, "x", &x)?;
    check_width(py, "x", n, width, d)?;
    let out = py
        .detach(|| est.log_pdf(x, n))
        .map_err(|e| map_err(py, e))?;
    Ok(out.into_pyarray(py))
}

fn pair<'a>(
    py: Python<'_>,
    a: &'a PyReadonlyArray1<'_, f64>,
    b: &'a PyReadonlyArray1<'_, f64>,
) -> PyResult<(&'a [f64], &'a [f64])> {
    let a = vector(py, "a", a)?;
    let b = vector(py, "b", b)?;
    if a.len() != b.len() {
        return Err(invalid(
            py,
            format!(
                "arrays must have equal lengths, got {} and {}",
                a.len(),
                b.len()
            ),
        ));
    }
    Ok((a, b))
}

/// Truncated-normal `ppf(q, a, b)` on equal-length 1-D arrays (testing helper).
#[pyfunction]
fn truncnorm_ppf<'py>(
    py: Python<'py>,
    q: PyReadonlyArray1<'py, f64>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let q = vector(py, "q", &q)?;
    let (a, b) = pair(py, &a, &b)?;
    if q.len() != a.len() {
        return Err(invalid(
            py,
            "q, a and b must have equal lengths".to_string(),
        ));
    }
    let out = py.detach(|| truncnorm::ppf(q, a, b));
    Ok(out.into_pyarray(py))
}

/// Log of the standard normal mass in `[a, b]` on equal-length 1-D arrays (testing helper).
#[pyfunction]
fn truncnorm_log_gauss_mass<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (a, b) = pair(py, &a, &b)?;
    let out = py.detach(|| truncnorm::log_gauss_mass(a, b));
    Ok(out.into_pyarray(py))
}

/// `n` consecutive `random_sample()` draws from the given MT19937 state (testing helper).
#[pyfunction]
fn mt19937_random_sample<'py>(
    py: Python<'py>,
    key: PyReadonlyArray1<'py, u32>,
    pos: usize,
    n: usize,
) -> PyResult<WithState<'py, PyArray1<f64>>> {
    let mut rng = rng_from_state(py, &key, pos)?;
    let draws: Vec<f64> = (0..n).map(|_| rng.random_sample()).collect();
    let new_key = PyArray1::from_slice(py, rng.key());
    Ok((draws.into_pyarray(py), new_key, rng.pos()))
}

/// `(below, above, above_rows)` of [`split_and_gather`].
type SplitBlocks<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<i64>>,
);

fn slice<'a, T: numpy::Element>(
    py: Python<'_>,
    name: &str,
    arr: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<&'a [T]> {
    arr.as_slice()
        .map_err(|e| invalid(py, format!("{name} must be a contiguous array: {e}")))
}

fn to_matrix<'py>(
    py: Python<'py>,
    flat: Vec<f64>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    flat.into_pyarray(py).reshape([rows, cols])
}

/// Below/above split of cached finished trials (single objective) and the gathering of their
/// observations for `columns` of `table`; rows missing a value are left out. Returns
/// `(below, above, above_rows)`.
#[pyfunction]
#[pyo3(signature = (kind, value, prune_step, prune_value, infeasible, number, rows, n_below, maximize, table, columns))]
#[allow(clippy::too_many_arguments)]
fn split_and_gather<'py>(
    py: Python<'py>,
    kind: PyReadonlyArray1<'py, i8>,
    value: PyReadonlyArray1<'py, f64>,
    prune_step: PyReadonlyArray1<'py, f64>,
    prune_value: PyReadonlyArray1<'py, f64>,
    infeasible: PyReadonlyArray1<'py, f64>,
    number: PyReadonlyArray1<'py, i64>,
    rows: PyReadonlyArray1<'py, i64>,
    n_below: usize,
    maximize: bool,
    table: PyReadonlyArray2<'py, f64>,
    columns: Vec<usize>,
) -> PyResult<SplitBlocks<'py>> {
    let cols = TrialColumns {
        kind: slice(py, "kind", &kind)?,
        value: slice(py, "value", &value)?,
        prune_step: slice(py, "prune_step", &prune_step)?,
        prune_value: slice(py, "prune_value", &prune_value)?,
        infeasible: slice(py, "infeasible", &infeasible)?,
        number: slice(py, "number", &number)?,
    };
    let rows: Vec<usize> = slice(py, "rows", &rows)?
        .iter()
        .map(|&r| usize::try_from(r))
        .collect::<Result<_, _>>()
        .map_err(|_| invalid(py, "rows must be non-negative".to_string()))?;
    let (flat, _, width) = matrix(py, "table", &table)?;
    let d = columns.len();
    let result = py.detach(|| {
        let (below_rows, above_rows) = split::split(&cols, &rows, n_below, maximize)?;
        let (below, _) = split::gather(flat, width, &below_rows, &columns)?;
        let (above, above_kept) = split::gather(flat, width, &above_rows, &columns)?;
        Ok::<_, CoreError>((below, above, above_kept))
    });
    let (below, above, above_kept) = result.map_err(|e| map_err(py, e))?;
    let n_below_kept = below.len().checked_div(d).unwrap_or(0);
    let n_above_kept = above_kept.len();
    let above_kept: Vec<i64> = above_kept.iter().map(|&r| r as i64).collect();
    Ok((
        to_matrix(py, below, n_below_kept, d)?,
        to_matrix(py, above, n_above_kept, d)?,
        above_kept.into_pyarray(py),
    ))
}

/// Number of leading positions at which the lists `a` and `b` hold the very same object
/// (identity, not equality). The history cache checks with it that a storage read still starts
/// with the trials it has converted, without touching the trial objects themselves.
#[pyfunction]
fn identical_prefix(a: &Bound<'_, PyList>, b: &Bound<'_, PyList>) -> usize {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut i = 0;
    while i < n {
        let Ok(at) = pyo3::ffi::Py_ssize_t::try_from(i) else {
            break;
        };
        // SAFETY: the GIL is held (we have `Bound` references) and `at` is below both lengths.
        // `PyList_GetItem` returns borrowed references (null on error); they are only compared
        // as addresses, never dereferenced or kept.
        let (x, y) = unsafe {
            (
                pyo3::ffi::PyList_GetItem(pa, at),
                pyo3::ffi::PyList_GetItem(pb, at),
            )
        };
        if x.is_null() || x != y {
            break;
        }
        i += 1;
    }
    i
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(tpe_sample_step, m)?)?;
    m.add_function(wrap_pyfunction!(tpe_sample_step_rng, m)?)?;
    m.add_function(wrap_pyfunction!(rng_random_sample, m)?)?;
    m.add_function(wrap_pyfunction!(parzen_sample, m)?)?;
    m.add_function(wrap_pyfunction!(parzen_log_pdf, m)?)?;
    m.add_function(wrap_pyfunction!(truncnorm_ppf, m)?)?;
    m.add_function(wrap_pyfunction!(truncnorm_log_gauss_mass, m)?)?;
    m.add_function(wrap_pyfunction!(mt19937_random_sample, m)?)?;
    m.add_function(wrap_pyfunction!(split_and_gather, m)?)?;
    m.add_function(wrap_pyfunction!(identical_prefix, m)?)?;
    hyperband::register(m)?;
    study::register(m)?;
    multi_objective::register(m)?;
    bohb::register(m)?;
    evo::register(m)?;
    Ok(())
}
