"""Shared machinery of the evolutionary samplers (``GASampler``, ``PSOSampler``, ``ACOSampler``).

* Relative sampling over Optuna's ``IntersectionSearchSpace`` of completed trials (single-value
  distributions left out); anything outside it is sampled independently by an Optuna
  ``RandomSampler`` with the same seed, or, once several workers share the study, by one
  seeded per trial (``ferrotune._workers``, as ``TPESampler``), so identically built workers
  that start together do not all draw the same first trial.
* Encoding of every distribution type into the operators' space (``_Codec``, numerical ones
  through ``_unit_space.UnitMap``, shared with BOHB): float in
  ``[low, high]``, log float and log int through the logarithm, stepped float and int widened by
  half a step on each side (so the end points of the grid get a full cell) and rounded back to the
  grid on decoding, categorical as the index of the choice.
* The population is read from the study's storage (completed trials, plus system attributes the
  samplers write on their trials) at every call; what is kept between calls only saves time (the
  search-space cache and the encoded rows of completed trials, which never change).
* The random numbers of a trial come from a ``numpy.random.RandomState`` seeded with
  ``[seed, trial.number]``; its MT19937 state is handed to the operators (Rust core or the
  pure-Python twin ``_evo_py``), so both backends propose exactly the same parameters.
* One lock serialises sampling, so one sampler can be shared by ``n_jobs > 1`` threads; the lock
  is dropped on pickling and re-created on unpickling (``copy.deepcopy`` too).
"""

from __future__ import annotations

import math
import secrets
import threading
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState

from ferrotune import _evo_py, _workers
from ferrotune._backend import get_backend_impl
from ferrotune._unit_space import UnitMap
from ferrotune.exceptions import InvalidArgumentError, SearchSpaceError

if TYPE_CHECKING:
    from optuna.study import Study


def operators() -> Any:
    """The module implementing the operators for the active backend (``_core`` or ``_evo_py``)."""
    backend = get_backend_impl()
    core = getattr(backend, "core", None)
    if backend.name == "rust" and core is not None and hasattr(core, "ga_propose"):
        return core
    return _evo_py


class _Codec:
    """Maps one distribution to an operator coordinate and back: categorical parameters to
    their choice index, numerical ones onto [0, 1] (``UnitMap``)."""

    def __init__(self, name: str, dist: BaseDistribution) -> None:
        self.name = name
        self.dist = dist
        self.unit: Optional[UnitMap] = None
        if isinstance(dist, CategoricalDistribution):
            self.code = len(dist.choices)
            return
        if not isinstance(dist, (FloatDistribution, IntDistribution)):
            raise SearchSpaceError(f"parameter {name!r}: unsupported distribution {dist!r}")
        self.code = 0
        self.unit = UnitMap(dist)

    def encode(self, value: Any) -> float:
        if self.unit is None:
            return float(self.dist.to_internal_repr(value))
        return self.unit.encode(value)

    def decode(self, x: float) -> Any:
        if self.unit is None:
            return self.dist.to_external_repr(int(x))
        return self.unit.decode(x)


def check_positive_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(name: str, value: Any, low: float, high: float, open_low: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < low or v > high or (open_low and v <= low):
        bracket = "(" if open_low else "["
        raise InvalidArgumentError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")
    return v


class EvoSamplerBase(_workers.WorkerHooks, BaseSampler):
    """Base class: relative sampling plumbing shared by the GA, PSO and ACO samplers."""

    _attr_prefix = "ferrotune:evo"

    def __init__(self, seed: Optional[int] = None) -> None:
        if seed is not None:
            seed = check_positive_int("seed", seed, 0)
            if seed >= 2**32:
                raise InvalidArgumentError(f"seed must be < 2**32, got {seed}")
        self._seed = secrets.randbits(32) if seed is None else seed
        self._random = RandomSampler(seed=seed)
        # Parameters sampled independently (the first trial, parameters outside the space) come
        # from per-trial streams once several workers share a study (ferrotune._workers).
        self._workers = _workers.WorkerStreams(seed)
        self._search_space = IntersectionSearchSpace()
        self._lock = threading.Lock()
        # Encoded rows of completed trials, for one (storage, study, search space) at a time.
        self._cache_key: Any = None
        self._rows: dict[int, tuple[Optional[list[float]], float]] = {}

    # -- pickling: a lock cannot be pickled --------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_cache_key"], state["_rows"] = None, {}  # storage identities do not survive
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reseed_rng(self) -> None:
        with self._lock:
            self._seed = secrets.randbits(32)
            self._random.reseed_rng()
            self._workers.reseed()

    # -- Optuna sampler API --------------------------------------------------------------------
    def infer_relative_search_space(
        self, study: "Study", trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        with self._lock:
            space = self._search_space.calculate(study)
        return {name: d for name, d in sorted(space.items()) if not d.single()}

    def sample_independent(
        self,
        study: "Study",
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        with self._lock:
            random = self._random_for(study, trial, self._random)
            return random.sample_independent(study, trial, param_name, param_distribution)

    def sample_relative(
        self,
        study: "Study",
        trial: FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if len(study.directions) != 1:
            raise InvalidArgumentError(
                f"{type(self).__name__} supports single-objective studies only"
            )
        codecs = [_Codec(name, d) for name, d in sorted(search_space.items())]
        sign = -1.0 if study.direction.name == "MAXIMIZE" else 1.0
        with self._lock:
            trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            pop: list[FrozenTrial] = []
            rows: list[list[float]] = []
            scores: list[float] = []
            signature = tuple((c.name, repr(c.dist)) for c in codecs)
            where = (id(study._storage), study._study_id)
            if self._cache_key != (where, signature):
                self._cache_key = (where, signature)
                self._rows = {}
            for t in sorted(trials, key=lambda t: t.number):
                cached = self._rows.get(t._trial_id)
                if cached is None:
                    cached = self._encode(t, codecs)
                    self._rows[t._trial_id] = cached
                row, value = cached
                if row is None:
                    continue
                pop.append(t)
                rows.append(row)
                scores.append(sign * value)
            rs = np.random.RandomState([self._seed, trial.number])
            _, key, pos, _, _ = rs.get_state(legacy=True)
            point, attrs = self._propose(
                [c.code for c in codecs], pop, rows, scores, trial, key, int(pos)
            )
            for name, value in attrs.items():
                study._storage.set_trial_system_attr(
                    trial._trial_id, f"{self._attr_prefix}:{name}", value
                )
        return {c.name: c.decode(x) for c, x in zip(codecs, point)}

    @staticmethod
    def _encode(t: FrozenTrial, codecs: Sequence[_Codec]) -> tuple[Optional[list[float]], float]:
        """A completed trial's encoded row (``None`` if it lacks a parameter of the space) and
        value. Completed trials never change, so this is cached per trial (only to save time)."""
        if t.value is None or math.isnan(t.value):
            return None, math.nan
        if not all(c.name in t.params and t.distributions.get(c.name) == c.dist for c in codecs):
            return None, math.nan
        return [c.encode(t.params[c.name]) for c in codecs], float(t.value)

    def _propose(
        self,
        dims: list[int],
        pop: Sequence[FrozenTrial],
        rows: list[list[float]],
        scores: list[float],
        trial: FrozenTrial,
        key: np.ndarray,
        pos: int,
    ) -> tuple[Sequence[float], dict[str, Any]]:
        """One encoded point and the system attributes to record on ``trial``."""
        raise NotImplementedError

    def _attr(self, t: FrozenTrial, name: str, default: Any = None) -> Any:
        return t.system_attrs.get(f"{self._attr_prefix}:{name}", default)


def best_indices(scores: Sequence[float], count: int) -> list[int]:
    """Indices of the ``count`` lowest scores (ties: earlier first)."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    return order[:count]


def flatten(rows: Sequence[Sequence[float]]) -> list[float]:
    return [x for row in rows for x in row]
