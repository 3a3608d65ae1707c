"""The samplers compared by ``python -m ferrotune.bench``.

``SAMPLERS`` maps a name to a factory ``(seed, problem) -> dict | None``: the keyword arguments of
``optuna.create_study`` (``sampler`` and optionally ``pruner``), or ``None`` when the method does
not apply to that problem (grid search without a grid). Other methods (e.g. ferrotune's BOHB, or
Optuna's TPE with a HyperbandPruner on multi-fidelity problems) plug in with
``register_sampler(name, factory)`` or by adding an entry here.
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


SAMPLERS: dict[str, Factory] = {
    "ferrotune.GA": lambda s, p: {"sampler": ferrotune.GASampler(seed=s)},
    "ferrotune.PSO": lambda s, p: {"sampler": ferrotune.PSOSampler(seed=s)},
    "ferrotune.ACO": lambda s, p: {"sampler": ferrotune.ACOSampler(seed=s)},
    "ferrotune.TPE": lambda s, p: {"sampler": ferrotune.TPESampler(seed=s)},
    "optuna.Grid": _grid,
    "optuna.Random": lambda s, p: {"sampler": optuna.samplers.RandomSampler(seed=s)},
    "optuna.TPE": lambda s, p: {"sampler": optuna.samplers.TPESampler(seed=s)},
    "optuna.CmaEs": _cmaes,
    "optuna.NSGAII": lambda s, p: {"sampler": optuna.samplers.NSGAIISampler(seed=s)},
}
"""Every known method, in report order."""


def register_sampler(name: str, factory: Factory) -> None:
    """Add (or replace) a method, e.g. ``register_sampler("ferrotune.BOHB", make_bohb)``."""
    SAMPLERS[name] = factory
