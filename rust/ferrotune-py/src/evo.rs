//! Bindings of the evolutionary operators (`ferrotune_core::evo`): GA, PSO and ACO_R.
//!
//! The pure-Python twin of everything registered here is `ferrotune/_evo_py.py` (same names,
//! same signatures, same results). Each function takes the encoded dimensions (`0` = numerical
//! in `[0, 1]`, `n >= 1` = categorical with `n` choices), its population data as flat row-major
//! lists, the operator parameters and an MT19937 state `(key, pos)`, and returns one proposal.
//! Populations are small (tens of points), so the work is microseconds; the GIL is still
//! released around it.

use ferrotune_core::evo::aco::{Aco, AcoInput, AcoParams};
use ferrotune_core::evo::ga::{Ga, GaInput, GaParams};
use ferrotune_core::evo::pso::{Pso, PsoInput, PsoParams};
use ferrotune_core::evo::{random_point, EvoDim, Strategy};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use crate::{map_err, rng_from_state};

fn dims_of(codes: &[usize]) -> Vec<EvoDim> {
    codes.iter().map(|&c| EvoDim::from_code(c)).collect()
}

/// A point drawn uniformly from the encoded space.
#[pyfunction]
fn evo_random_point(
    py: Python<'_>,
    dims: Vec<usize>,
    key: PyReadonlyArray1<'_, u32>,
    pos: usize,
) -> PyResult<Vec<f64>> {
    let mut rng = rng_from_state(py, &key, pos)?;
    Ok(random_point(&dims_of(&dims), &mut rng))
}

/// One GA child from the parent pool (`parents` is `n x d` row-major, `scores` lower = better).
#[pyfunction]
#[pyo3(signature = (dims, parents, scores, tournament_size, crossover_prob, eta_crossover, mutation_prob, eta_mutation, key, pos))]
#[allow(clippy::too_many_arguments)]
fn ga_propose(
    py: Python<'_>,
    dims: Vec<usize>,
    parents: Vec<f64>,
    scores: Vec<f64>,
    tournament_size: usize,
    crossover_prob: f64,
    eta_crossover: f64,
    mutation_prob: f64,
    eta_mutation: f64,
    key: PyReadonlyArray1<'_, u32>,
    pos: usize,
) -> PyResult<Vec<f64>> {
    let mut rng = rng_from_state(py, &key, pos)?;
    let dims = dims_of(&dims);
    let ga = Ga(GaParams {
        tournament_size,
        crossover_prob,
        eta_crossover,
        mutation_prob,
        eta_mutation,
    });
    let input = GaInput {
        parents: &parents,
        n: scores.len(),
        scores: &scores,
    };
    py.detach(|| ga.propose(&dims, &input, &mut rng))
        .map_err(|e| map_err(py, e))
}

/// A fresh particle: position followed by velocity.
#[pyfunction]
#[pyo3(signature = (dims, inertia, cognitive, social, max_velocity, categorical_epsilon, key, pos))]
#[allow(clippy::too_many_arguments)]
fn pso_init(
    py: Python<'_>,
    dims: Vec<usize>,
    inertia: f64,
    cognitive: f64,
    social: f64,
    max_velocity: f64,
    categorical_epsilon: f64,
    key: PyReadonlyArray1<'_, u32>,
    pos: usize,
) -> PyResult<Vec<f64>> {
    let mut rng = rng_from_state(py, &key, pos)?;
    let pso = Pso(PsoParams {
        inertia,
        cognitive,
        social,
        max_velocity,
        categorical_epsilon,
    });
    pso.init(&dims_of(&dims), &mut rng)
        .map_err(|e| map_err(py, e))
}

/// One particle move: new position followed by new velocity.
#[pyfunction]
#[pyo3(signature = (dims, position, velocity, personal_best, global_best, inertia, cognitive, social, max_velocity, categorical_epsilon, key, pos))]
#[allow(clippy::too_many_arguments)]
fn pso_propose(
    py: Python<'_>,
    dims: Vec<usize>,
    position: Vec<f64>,
    velocity: Vec<f64>,
    personal_best: Vec<f64>,
    global_best: Vec<f64>,
    inertia: f64,
    cognitive: f64,
    social: f64,
    max_velocity: f64,
    categorical_epsilon: f64,
    key: PyReadonlyArray1<'_, u32>,
    pos: usize,
) -> PyResult<Vec<f64>> {
    let mut rng = rng_from_state(py, &key, pos)?;
    let dims = dims_of(&dims);
    let pso = Pso(PsoParams {
        inertia,
        cognitive,
        social,
        max_velocity,
        categorical_epsilon,
    });
    let input = PsoInput {
        position: &position,
        velocity: &velocity,
        personal_best: &personal_best,
        global_best: &global_best,
    };
    py.detach(|| pso.propose(&dims, &input, &mut rng))
        .map_err(|e| map_err(py, e))
}

/// One ACO_R ant from the archive (`archive` is `k x d` row-major, best first).
#[pyfunction]
#[pyo3(signature = (dims, archive, k, q, xi, categorical_epsilon, key, pos))]
#[allow(clippy::too_many_arguments)]
fn aco_propose(
    py: Python<'_>,
    dims: Vec<usize>,
    archive: Vec<f64>,
    k: usize,
    q: f64,
    xi: f64,
    categorical_epsilon: f64,
    key: PyReadonlyArray1<'_, u32>,
    pos: usize,
) -> PyResult<Vec<f64>> {
    let mut rng = rng_from_state(py, &key, pos)?;
    let dims = dims_of(&dims);
    let aco = Aco(AcoParams {
        q,
        xi,
        categorical_epsilon,
    });
    let input = AcoInput {
        archive: &archive,
        k,
    };
    py.detach(|| aco.propose(&dims, &input, &mut rng))
        .map_err(|e| map_err(py, e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(evo_random_point, m)?)?;
    m.add_function(wrap_pyfunction!(ga_propose, m)?)?;
    m.add_function(wrap_pyfunction!(pso_init, m)?)?;
    m.add_function(wrap_pyfunction!(pso_propose, m)?)?;
    m.add_function(wrap_pyfunction!(aco_propose, m)?)?;
    Ok(())
}
