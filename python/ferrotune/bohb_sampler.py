"""``ferrotune.BOHBSampler``: BOHB's configuration model as an Optuna sampler, for studies pruned
by ``ferrotune.HyperbandPruner`` (or ``SuccessiveHalvingPruner``).

::

    study = optuna.create_study(
        sampler=ferrotune.BOHBSampler(seed=0),
        pruner=ferrotune.HyperbandPruner(min_resource=1, max_resource=81, reduction_factor=3),
    )

**Observations.** The budgets are the pruner's rung steps: ``min_resource * eta**k`` for
``k = 0 .. n_brackets - 1`` with ``HyperbandPruner``, ``min_resource * eta**(rate + k)`` with
``SuccessiveHalvingPruner`` (or the ``budgets`` you pass; with any other pruner, every reported
step is a budget). A trial's loss at budget ``r`` is its intermediate value at the first reported
step ``s`` with ``r <= s`` and ``s`` below the next budget (so reporting every epoch or only at
the rungs gives the same observations). A completed trial that reported nothing at the top budget
counts its final value there. A NaN value, and a failed trial at the first budget it did not
report, count as ``+inf`` ("bad", as HpBandSter counts crashed runs). Running and pruned trials
contribute the budgets they reached. For ``direction="maximize"`` the values are negated.

**Model and proposal** (``model="tpe"``, the default: ``ferrotune._bohb_tpe`` on the TPE core;
``model="kde"``: ``ferrotune._core.bohb_propose`` or its numpy twin): see the BOHB section of
the README. Parameters that are not in the intersection search space of the trials so far
(and the first trial's) are drawn by an ``optuna.samplers.RandomSampler``.

The observations are read from storage on every proposal; those of finished trials (which
never change) are kept between proposals for the last study seen (as arrays for the finished
trials at the start of the study), so a proposal does Python work only for the trials after
the first unfinished one. Thread-safe (one lock), picklable and deep-copyable (the cache is
not pickled). With ``seed`` the proposals are
reproducible, and identical with both backends.

Workers that share one study (processes on one storage, built with the same ``seed`` or from one
pickled sampler) do not propose the same configurations: as ``ferrotune.TPESampler``, a sampler
keeps its own stream while it is the only writer it has seen in the study, and from then on
draws each trial from a stream seeded by the seed and the trial number (``ferrotune._workers``).
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from ferrotune import _workers
from ferrotune._bohb_space import (
    DEFAULTS,
    DEFAULT_MODEL,
    Encoder,
    Observations,
    bohb_core,
    check_options,
    propose,
)
from ferrotune.exceptions import InvalidArgumentError
from ferrotune.pruners import HyperbandPruner, SuccessiveHalvingPruner

__all__ = ["BOHBSampler"]


def _levels_from_pruner(
    pruner: Any, last_step: Callable[[], Optional[int]]
) -> Optional[List[float]]:
    """The pruner's rung budgets; ``last_step()`` (the largest step reported so far, read only
    when the pruner's own arguments do not fix the rungs) bounds open-ended ones."""
    if isinstance(pruner, HyperbandPruner):
        lo, eta, n = pruner._min_resource, pruner._reduction_factor, pruner.n_brackets
        if n is None:
            max_step = last_step()
            if max_step is None:
                return []
            out, r = [], lo
            while r <= max_step:
                out.append(float(r))
                r *= eta
            return out
        return [float(lo * eta**k) for k in range(n)]
    if isinstance(pruner, SuccessiveHalvingPruner):
        lo = pruner.min_resource
        if lo is None:
            return None
        eta, rate = pruner._reduction_factor, pruner._min_early_stopping_rate
        out, r = [], lo * eta**rate
        max_step = last_step()
        top = max_step if max_step is not None else r
        while r <= top:
            out.append(float(r))
            r *= eta
        return out
    return None


def _observations(
    t: FrozenTrial, levels: Sequence[float], sign: float
) -> List[Tuple[float, float]]:
    """``(budget, loss)`` pairs of trial ``t`` (see the module documentation)."""
    steps = sorted(t.intermediate_values)
    out: List[Tuple[float, float]] = []
    if not levels:
        if t.state == TrialState.COMPLETE and t.value is not None:
            out.append((0.0, _loss(t.value, sign)))
        elif t.state == TrialState.FAIL:
            out.append((0.0, math.inf))
        return out
    k = 0
    missing: Optional[float] = None
    for i, r in enumerate(levels):
        nxt = levels[i + 1] if i + 1 < len(levels) else math.inf
        while k < len(steps) and steps[k] < r:
            k += 1
        if k < len(steps) and steps[k] < nxt:
            out.append((r, _loss(t.intermediate_values[steps[k]], sign)))
        elif missing is None:
            missing = r
    if t.state == TrialState.COMPLETE and t.value is not None:
        top = levels[-1]
        if not out or out[-1][0] != top:
            out.append((top, _loss(t.value, sign)))
    elif t.state == TrialState.FAIL:
        reached = out[-1][0] if out else -math.inf
        after = [r for r in levels if r > reached]
        if after:
            out.append((after[0], math.inf))
    return out


def _loss(value: Any, sign: float) -> float:
    v = float(value)
    return math.inf if math.isnan(v) else sign * v


_Entry = Tuple[List[Tuple[float, float]], Optional[List[float]]]


def _entry(
    t: FrozenTrial,
    search_space: Dict[str, BaseDistribution],
    encoder: Encoder,
    levels: Sequence[float],
    sign: float,
) -> _Entry:
    """Trial ``t``'s ``(budget, loss)`` pairs and encoded parameters (``([], None)`` when it
    has none, or does not cover ``search_space`` with the same distributions)."""
    if any(n not in t.params or t.distributions[n] != d for n, d in search_space.items()):
        return [], None
    pairs = _observations(t, levels, sign)
    if not pairs:
        return [], None
    return pairs, encoder.encode(t.params)


class _Cache:
    """What the sampler keeps between proposals for one study (see ``_finished_cache``): the
    observations of the longest run of finished trials at the start of the study, as arrays,
    and the entries of finished trials after it. Finished trials never change."""

    def __init__(self, storage: Any, key: Any, d: int) -> None:
        self.storage = storage
        self.key = key
        self.prefix = Observations(d)
        self.n_prefix = 0
        self.last_id: Optional[int] = None
        self.entries: Dict[int, _Entry] = {}

    def advance(self, trials: List[FrozenTrial], entry: Callable[[FrozenTrial], _Entry]) -> int:
        """Extend the prefix over the finished trials that now follow it; its length."""
        if self.n_prefix and (
            len(trials) < self.n_prefix or trials[self.n_prefix - 1]._trial_id != self.last_id
        ):  # not the study this cache was built from: start again
            self.prefix = Observations(self.prefix.d)
            self.n_prefix, self.last_id = 0, None
            self.entries.clear()
        k = self.n_prefix
        while k < len(trials) and trials[k].state.is_finished():
            t = trials[k]
            got = self.entries.pop(t._trial_id, None)
            pairs, vec = got if got is not None else entry(t)
            for b, loss in pairs:
                self.prefix.append(b, vec, loss, t.number)
            self.last_id = t._trial_id
            k += 1
        self.n_prefix = k
        return k


class BOHBSampler(_workers.WorkerHooks, BaseSampler):
    """BOHB's model-based sampler (Falkner et al., ICML 2018), for use with ferrotune's
    Hyperband or successive-halving pruner.

    Args:
        min_points_in_model: N_min, the number of observations a budget needs before a model is
            fitted on it (default and minimum: number of parameters + 1).
        top_n_percent: (``model="kde"`` only) percentage of the observations (lowest losses)
            in the good set, 1..99.
        num_samples: (``model="kde"`` only) candidates drawn from the good KDE per proposal.
        random_fraction: probability of a uniformly random configuration once a model exists
            (``None``: 0 with ``model="tpe"``; 1/3, HpBandSter's, with ``model="kde"``).
        bandwidth_factor: (``model="kde"`` only) widens the continuous bandwidths when drawing
            candidates.
        min_bandwidth: (``model="kde"`` only) floor on every bandwidth.
        model: ``"tpe"`` (the default: Optuna's multivariate TPE on every trial, ranked by the
            budget it reached, then its loss there; see ``ferrotune._bohb_tpe``) or ``"kde"``
            (HpBandSter's two KDEs on one budget, with HpBandSter's defaults). With ``"tpe"``,
            ``top_n_percent``, ``num_samples``, ``bandwidth_factor`` and ``min_bandwidth`` must
            keep their defaults (``InvalidArgumentError`` otherwise). The README's BOHB section
            says why the TPE model is the default.
        budgets: the budgets (steps) to model, increasing; default: the pruner's rung steps.
        seed: seed of the sampler (``None``: not reproducible).

    Bad arguments raise ``InvalidArgumentError`` (a ``ValueError``). Single-objective only.
    """

    def __init__(
        self,
        *,
        min_points_in_model: Optional[int] = DEFAULTS["min_points_in_model"],
        top_n_percent: int = DEFAULTS["top_n_percent"],
        num_samples: int = DEFAULTS["num_samples"],
        random_fraction: Optional[float] = DEFAULTS["random_fraction"],
        bandwidth_factor: float = DEFAULTS["bandwidth_factor"],
        min_bandwidth: float = DEFAULTS["min_bandwidth"],
        budgets: Optional[Sequence[float]] = None,
        seed: Optional[int] = None,
        model: str = DEFAULT_MODEL,
    ) -> None:
        self._model, self._opts = check_options(
            model,
            min_points_in_model,
            top_n_percent,
            num_samples,
            random_fraction,
            bandwidth_factor,
            min_bandwidth,
        )
        if budgets is not None:
            try:
                levels = [float(b) for b in budgets]
            except (TypeError, ValueError):
                raise InvalidArgumentError(
                    f"`budgets` must be a sequence of numbers, got {budgets!r}."
                ) from None
            if not levels or any(not math.isfinite(b) for b in levels) or any(
                b >= c for b, c in zip(levels, levels[1:])
            ):
                raise InvalidArgumentError(
                    f"`budgets` must be finite and strictly increasing, got {budgets!r}."
                )
            self._budgets: Optional[List[float]] = levels
        else:
            self._budgets = None
        try:
            self._rng = np.random.RandomState(seed)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"invalid seed {seed!r}: {exc}") from None
        self._random = RandomSampler(seed=None if seed is None else (seed + 1) % 2**32)
        # Per-trial streams once several workers share a study (as TPESampler; ferrotune._workers).
        self._workers = _workers.WorkerStreams(seed)
        self._space = IntersectionSearchSpace(include_pruned=True)
        self._lock = threading.Lock()
        self._cache: Optional[_Cache] = None
        self.last_source: Optional[int] = None
        """Where the last relative proposal came from (0 no model, 1 random, 2 model,
        3 fallback)."""
        self.last_model_budget: Optional[float] = None
        """The budget of the model used by the last relative proposal (``None``: no model)."""

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_cache"] = None
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._cache = None

    def reseed_rng(self) -> None:
        with self._lock:
            self._rng.seed()
            self._random.reseed_rng()
            self._workers.reseed()

    def infer_relative_search_space(
        self, study: Any, trial: FrozenTrial
    ) -> Dict[str, BaseDistribution]:
        if study._is_multi_objective():
            raise InvalidArgumentError("BOHBSampler supports single-objective studies only.")
        with self._lock:
            space = self._space.calculate(study)
        return {n: d for n, d in space.items() if not d.single()}

    def _levels(self, study: Any, trials: List[FrozenTrial]) -> List[float]:
        if self._budgets is not None:
            return self._budgets
        def last_step() -> Optional[int]:
            return max((t.last_step for t in trials if t.last_step is not None), default=None)

        levels = _levels_from_pruner(study.pruner, last_step)
        if levels is not None:
            return levels
        return sorted({float(s) for t in trials for s in t.intermediate_values})

    def _finished_cache(
        self,
        study: Any,
        search_space: Dict[str, BaseDistribution],
        levels: List[float],
        sign: float,
        d: int,
    ) -> Optional[_Cache]:
        """The cache for this (storage, study, search space, budgets, direction), a new one if
        the last proposal was for another; ``None`` when the key cannot be hashed or the storage
        held weakly. The storage is compared by identity, so a new storage never reads a stale
        entry. Call with the lock held."""
        try:
            key = (study._study_id, tuple(sorted(search_space.items())), tuple(levels), sign)
            hash(key)
            storage = study._storage
            c = self._cache
            if c is None or c.storage() is not storage or c.key != key:
                c = self._cache = _Cache(weakref.ref(storage), key, d)
            return c
        except TypeError:  # an unhashable distribution or a storage without weak references
            return None

    def observations(
        self, study: Any, search_space: Dict[str, BaseDistribution]
    ) -> Tuple[Encoder, np.ndarray, np.ndarray, np.ndarray]:
        """The model's inputs from the study: ``(encoder, budgets, vectors, losses)``, the
        observations of the trials in trial-number order."""
        return self._observations(study, search_space)[:4]

    def _observations(
        self, study: Any, search_space: Dict[str, BaseDistribution]
    ) -> Tuple[Encoder, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``observations`` plus the trial number of each row."""
        if study._is_multi_objective():
            raise InvalidArgumentError("BOHBSampler supports single-objective studies only.")
        sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
        trials = study._get_trials(deepcopy=False, use_cache=True)
        levels = self._levels(study, trials)
        encoder = Encoder(search_space)
        d = len(encoder.kinds)
        budgets: List[float] = []
        vectors: List[List[float]] = []
        losses: List[float] = []
        numbers: List[int] = []
        with self._lock:
            cache = self._finished_cache(study, search_space, levels, sign, d)
            start = 0
            if cache is not None:
                start = cache.advance(trials, lambda t: _entry(t, search_space, encoder, levels, sign))
            for t in trials[start:]:
                entry = cache.entries.get(t._trial_id) if cache is not None else None
                if entry is None:
                    entry = _entry(t, search_space, encoder, levels, sign)
                    if cache is not None and t.state.is_finished():
                        cache.entries[t._trial_id] = entry
                pairs, vec = entry
                for b, loss in pairs:
                    budgets.append(b)
                    vectors.append(vec)
                    losses.append(loss)
                    numbers.append(t.number)
            tail = (
                np.asarray(budgets, dtype=np.float64),
                np.asarray(vectors, dtype=np.float64).reshape(len(vectors), d),
                np.asarray(losses, dtype=np.float64),
                np.asarray(numbers, dtype=np.int64),
            )
            if cache is None:
                return (encoder, *tail)
            head = cache.prefix.arrays()
            return (encoder, *(np.concatenate([h, t]) for h, t in zip(head, tail)))

    def sample_relative(
        self, study: Any, trial: FrozenTrial, search_space: Dict[str, BaseDistribution]
    ) -> Dict[str, Any]:
        if not search_space:
            return {}
        encoder, budgets, vectors, losses, numbers = self._observations(study, search_space)
        core = bohb_core()
        with self._lock:
            streams = self._workers.streams(study, trial)
            params, source, budget = propose(
                core,
                encoder,
                budgets,
                vectors,
                losses,
                numbers,
                self._opts,
                self._rng if streams is None else streams[0],
                self._model,
                multivariate=True,  # model="tpe": joint, as Optuna 5's TPESampler (measured)
            )
            self.last_source, self.last_model_budget = source, budget
        return params

    def sample_independent(
        self, study: Any, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        with self._lock:
            random = self._random_for(study, trial, self._random)
            return random.sample_independent(study, trial, param_name, param_distribution)
