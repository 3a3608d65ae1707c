"""The samplers compared by ``python -m ferrotune.bench``.

``SAMPLERS`` maps a name to a factory ``(seed, problem) -> dict | None``: the keyword arguments of
``optuna.create_study`` (``sampler`` and optionally ``pruner``), or ``None`` when the method does
not apply to that problem (grid search without a grid). A method without a ``pruner`` runs every
trial to the end (the runner sets ``optuna.pruners.NopPruner``). Other methods plug in with
``register_sampler(name, factory)`` or by adding an entry here.

The two pruned methods use Hyperband with ``min_resource=1``, ``max_resource=R`` (the problem's full
budget) and ``eta=3``, so its rungs are the budgets the multi-fidelity problems report at:

- ``ferrotune.BOHB``: ``ferrotune.BOHBSampler`` + ``ferrotune.HyperbandPruner``. It also runs on
  the problems without intermediate values (nothing is pruned there, and the sampler models the
  completed trials, a TPE-like density ratio with a multivariate KDE); ``R`` is then 27.
- ``optuna.TPE+Hyperband``: ``optuna.samplers.TPESampler`` + ``optuna.pruners.HyperbandPruner``,
  on multi-fidelity problems only: elsewhere it would be Optuna's TPE restricted to the trials of
  one Hyperband bracket (Optuna's TPE samples from the trial's bracket), with no pruning to gain.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import optuna

import ferrotune
from ferrotune.bench.problems import Problem

Factory = Callable[[int, Problem], Optional[dict[str, Any]]]


def _grid(seed: int, problem: Problem) -> Optional[dict[str, Any]]:
    if problem.grid is None:
        return None
    return {"sampler": optuna.samplers.GridSampler(problem.grid, seed=seed)}


def _cmaes(seed: int, problem: Problem) -> Optional[dict[str, Any]]:
    try:
        import cmaes  # noqa: F401
    except ImportError:
        return None
    return {"sampler": optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)}


HYPERBAND_ETA = 3


def _bohb(seed: int, problem: Problem) -> Optional[dict[str, Any]]:
    top = problem.max_budget or 27
    return {
        "sampler": ferrotune.BOHBSampler(seed=seed),
        "pruner": ferrotune.HyperbandPruner(1, top, HYPERBAND_ETA),
    }


def _tpe_hyperband(seed: int, problem: Problem) -> Optional[dict[str, Any]]:
    if not problem.multi_fidelity:
        return None
    return {
        "sampler": optuna.samplers.TPESampler(seed=seed),
        "pruner": optuna.pruners.HyperbandPruner(1, problem.max_budget, HYPERBAND_ETA),
    }


SAMPLERS: dict[str, Factory] = {
    "ferrotune.GA": lambda s, p: {"sampler": ferrotune.GASampler(seed=s)},
    "ferrotune.PSO": lambda s, p: {"sampler": ferrotune.PSOSampler(seed=s)},
    "ferrotune.ACO": lambda s, p: {"sampler": ferrotune.ACOSampler(seed=s)},
    "ferrotune.TPE": lambda s, p: {"sampler": ferrotune.TPESampler(seed=s)},
    "ferrotune.BOHB": _bohb,
    "optuna.Grid": _grid,
    "optuna.Random": lambda s, p: {"sampler": optuna.samplers.RandomSampler(seed=s)},
    "optuna.TPE": lambda s, p: {"sampler": optuna.samplers.TPESampler(seed=s)},
    "optuna.CmaEs": _cmaes,
    "optuna.NSGAII": lambda s, p: {"sampler": optuna.samplers.NSGAIISampler(seed=s)},
    "optuna.TPE+Hyperband": _tpe_hyperband,
}
"""Every known method, in report order."""


def register_sampler(name: str, factory: Factory) -> None:
    """Add (or replace) a method, e.g. ``register_sampler("ferrotune.BOHB", make_bohb)``."""
    SAMPLERS[name] = factory
