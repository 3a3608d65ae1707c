# Type stub of the private native module ferrotune._core (rust/ferrotune-py).
from typing import Optional, Sequence, Tuple

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

# Multi-objective split (rust/ferrotune-py/src/multi_objective.rs; twin: _multi_objective.py).
def mo_nondomination_ranks(
    loss: npt.NDArray[np.float64],
    n_below: Optional[int] = None,
    penalty: Optional[npt.NDArray[np.float64]] = None,
) -> npt.NDArray[np.int64]: ...
def mo_compute_hypervolume(
    loss: npt.NDArray[np.float64], reference: npt.NDArray[np.float64], assume_pareto: bool = False
) -> float: ...
def mo_solve_hssp(
    loss: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    subset_size: int,
    reference: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]: ...
def mo_reference_point(loss: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
def mo_split_below(loss: npt.NDArray[np.float64], n_below: int) -> npt.NDArray[np.bool_]: ...
