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

class TrialStore:
    """The trials of a native ``ferrotune.Study`` (see ``ferrotune._trial_store`` for the twin)."""

    n_columns: int
    n_running: int
    table_bytes: int
    def __init__(self, maximize: bool, key: npt.NDArray[np.uint32], pos: int) -> None: ...
    def add_column(self) -> int: ...
    def start(self, number: int) -> None: ...
    def set_param(self, number: int, col: int, value: float) -> None: ...
    def set_liar(self, number: int, cols: Sequence[int], values: Sequence[float]) -> None: ...
    def finish(
        self, number: int, kind: int, value: float, prune_step: float, prune_value: float
    ) -> int: ...
    def discard(self, number: int) -> None: ...
    def sample(
        self,
        exclude: int,
        cols: Sequence[int],
        dims: Sequence[_Dim],
        n_below: int,
        below_rows: Sequence[int] | None,
        uniform_below: bool,
        constant_liar: bool,
        prior_weight: float,
        consider_magic_clip: bool,
        consider_endpoints: bool,
        n_candidates: int,
    ) -> list[float]: ...
    def column(self, col: int) -> npt.NDArray[np.float64]: ...
    def numbers(self) -> npt.NDArray[np.int64]: ...
    def rng_state(self) -> Tuple[npt.NDArray[np.uint32], int]: ...
    def __len__(self) -> int: ...
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
