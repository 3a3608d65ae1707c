# Type stub of the private native module ferrotune._core (rust/ferrotune-py).
from typing import List, Optional, Sequence, Tuple

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
def tpe_sample_step_rng(
    dims: Sequence[_Dim],
    below: npt.NDArray[np.float64],
    below_weights: npt.NDArray[np.float64],
    above: npt.NDArray[np.float64],
    above_weights: npt.NDArray[np.float64],
    prior_weight: float,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    n_candidates: int,
    rng: np.random.RandomState,
) -> npt.NDArray[np.float64]: ...
def rng_random_sample(rng: np.random.RandomState, n: int) -> npt.NDArray[np.float64]: ...
def split_and_gather(
    kind: npt.NDArray[np.int8],
    value: npt.NDArray[np.float64],
    prune_step: npt.NDArray[np.float64],
    prune_value: npt.NDArray[np.float64],
    infeasible: npt.NDArray[np.float64],
    number: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    n_below: int,
    maximize: bool,
    table: npt.NDArray[np.float64],
    columns: Sequence[int],
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
def identical_prefix(a: List[object], b: List[object]) -> int: ...

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
# --- Hyperband / successive halving (rust/ferrotune-py/src/hyperband.rs) ---------------------

def hb_crc32(text: str) -> int: ...
def hb_n_brackets(min_resource: int, max_resource: int, eta: int) -> int: ...
def hb_allocation_budgets(n_brackets: int, eta: int) -> List[int]: ...
def hb_bracket_of_trial(study_name: str, number: int, budgets: List[int]) -> int: ...
def hb_promotion_step(min_resource: int, eta: int, exponent: int) -> Optional[int]: ...
def hb_is_promotable(value: float, competitors: List[float], eta: int, maximize: bool) -> bool: ...
def hb_plan(
    min_budget: float, max_budget: float, eta: int
) -> List[Tuple[int, List[Tuple[int, float]]]]: ...

class HbRungTable:
    def __init__(self) -> None: ...
    def set(self, trial: int, group: int, rung: int, value: float) -> None: ...
    def get(self, trial: int, rung: int) -> Optional[float]: ...
    def remove_trial(self, trial: int) -> None: ...
    def count(self, group: int, rung: int) -> int: ...
    def n_trials(self) -> int: ...
    def rank(self, trial: int, group: int, rung: int, value: float, maximize: bool) -> int: ...
    def decide(
        self,
        trial: int,
        group: int,
        rung: int,
        step: int,
        value: float,
        min_resource: int,
        reduction_factor: int,
        min_early_stopping_rate: int,
        bootstrap_count: int,
        maximize: bool,
    ) -> Tuple[int, bool]: ...

class HbScheduler:
    def __init__(self, min_budget: float, max_budget: float, eta: int, mode: str) -> None: ...
    # (job id, config id, bracket s, rung, budget, new config?)
    def ask(self) -> Tuple[int, int, int, int, float, bool]: ...
    def tell(self, job_id: int, loss: float) -> None: ...
    def n_pending(self) -> int: ...
    def n_configs(self) -> int: ...

# --- BOHB model (rust/ferrotune-py/src/bohb.rs) -----------------------------------------------

# (min_points_in_model (0 = dimensions + 1), top_n_percent, num_samples, random_fraction,
#  bandwidth_factor, min_bandwidth)
_BohbOptions = Tuple[int, int, int, float, float, float]

# kinds: 0 = continuous (encoded in [0, 1]), c >= 1 = categorical with c choices (index).
def bohb_model(
    kinds: Sequence[int],
    budgets: npt.NDArray[np.float64],
    vectors: npt.NDArray[np.float64],
    losses: npt.NDArray[np.float64],
    opts: _BohbOptions,
) -> Optional[Tuple[float, int, List[int], List[int], List[float], List[float]]]: ...

# Returns (encoded vector, source: 0 no model / 1 random / 2 model / 3 fallback, model budget).
def bohb_propose(
    kinds: Sequence[int],
    budgets: npt.NDArray[np.float64],
    vectors: npt.NDArray[np.float64],
    losses: npt.NDArray[np.float64],
    opts: _BohbOptions,
    rng: np.random.RandomState,
) -> Tuple[npt.NDArray[np.float64], int, Optional[float]]: ...
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
