"""ferrotune: Rust-accelerated hyperparameter optimisation, Optuna-compatible.

Switch from Optuna's TPE with one line::

    study = optuna.create_study(sampler=ferrotune.TPESampler(seed=0))

The heavy lifting runs in the native module ``ferrotune._core``; when it is missing (or with
``FERROTUNE_BACKEND=python``) a pure-Python fallback gives the same results, slowly.
"""

from __future__ import annotations

from ferrotune._backend import check_native_at_import, get_backend, native_available
from ferrotune._version import __version__
from ferrotune.bohb_sampler import BOHBSampler
from ferrotune.bohb_scheduler import BOHB
from ferrotune.exceptions import (
    BackendUnavailableError,
    FerrotuneError,
    InvalidArgumentError,
    NativeBuildMismatchError,
    SearchSpaceError,
)
from ferrotune.aco_sampler import ACOSampler
from ferrotune.ga_sampler import GASampler
from ferrotune.pso_sampler import PSOSampler
from ferrotune.pruners import HyperbandPruner, SuccessiveHalvingPruner
from ferrotune.sampler import (
    TPESampler,
    default_gamma,
    default_gamma_multiobjective,
    default_weights,
    hyperopt_default_gamma,
)
from ferrotune.scheduler import Hyperband, Job
from ferrotune.study import Study, Trial, create_study

# A native module left over from another version is refused here, at import, not at first use.
check_native_at_import()
del check_native_at_import

__all__ = [
    "__version__",
    "TPESampler",
    "GASampler",
    "PSOSampler",
    "ACOSampler",
    "SuccessiveHalvingPruner",
    "HyperbandPruner",
    "Hyperband",
    "Job",
    "Study",
    "Trial",
    "create_study",
    "BOHBSampler",
    "BOHB",
    "get_backend",
    "native_available",
    "default_gamma",
    "default_gamma_multiobjective",
    "default_weights",
    "hyperopt_default_gamma",
    "FerrotuneError",
    "SearchSpaceError",
    "InvalidArgumentError",
    "BackendUnavailableError",
    "NativeBuildMismatchError",
]
