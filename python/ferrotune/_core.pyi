# Type stub of the private native module ferrotune._core (rust/ferrotune-py).
from typing import Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

# (kind, low, high, step, log, n_choices); kind 0 = numerical, 1 = categorical; step 0.0 = none.
_Dim = Tuple[int, float, float, float, bool, int]

def tpe_sample_step(
    dims: Sequence[_Dim],
    below: npt.NDArray[np.float64],
    below_weights: npt.NDArray[np.float64],
    above: npt.NDArray[np.float64],
    above_weights: npt.NDArray[np.float64],
    prior_weight: float,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    n_candidates: int,
    key: npt.NDArray[np.uint32],
    pos: int,
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32], int]: ...
def parzen_sample(
    dims: Sequence[_Dim],
    obs: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    prior_weight: float,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    size: int,
    key: npt.NDArray[np.uint32],
    pos: int,
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32], int]: ...
def parzen_log_pdf(
    dims: Sequence[_Dim],
    obs: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    prior_weight: float,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    x: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def truncnorm_ppf(
    q: npt.NDArray[np.float64], a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...
def truncnorm_log_gauss_mass(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...
def mt19937_random_sample(
    key: npt.NDArray[np.uint32], pos: int, n: int
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32], int]: ...

# Evolutionary operators (rust/ferrotune-py/src/evo.rs; twin: ferrotune/_evo_py.py).
def evo_random_point(dims: Sequence[int], key: npt.NDArray[np.uint32], pos: int) -> list[float]: ...
def ga_propose(
    dims: Sequence[int],
    parents: Sequence[float],
    scores: Sequence[float],
    tournament_size: int,
    crossover_prob: float,
    eta_crossover: float,
    mutation_prob: float,
    eta_mutation: float,
    key: npt.NDArray[np.uint32],
    pos: int,
) -> list[float]: ...
def pso_init(
    dims: Sequence[int],
    inertia: float,
    cognitive: float,
    social: float,
    max_velocity: float,
    categorical_epsilon: float,
    key: npt.NDArray[np.uint32],
    pos: int,
) -> list[float]: ...
def pso_propose(
    dims: Sequence[int],
    position: Sequence[float],
    velocity: Sequence[float],
    personal_best: Sequence[float],
    global_best: Sequence[float],
    inertia: float,
    cognitive: float,
    social: float,
    max_velocity: float,
    categorical_epsilon: float,
    key: npt.NDArray[np.uint32],
    pos: int,
) -> list[float]: ...
def aco_propose(
    dims: Sequence[int],
    archive: Sequence[float],
    k: int,
    q: float,
    xi: float,
    categorical_epsilon: float,
    key: npt.NDArray[np.uint32],
    pos: int,
) -> list[float]: ...
