"""``ferrotune.Study``: a native ask/tell loop that keeps the trial history in Rust.

``ferrotune.create_study(...)`` gives a study with Optuna's ask/tell/optimize interface whose TPE
is the same as ``ferrotune.TPESampler`` (so, for the same seed and history, the same suggestions as
``optuna.samplers.TPESampler``), without Optuna's storage and trial objects in the loop. The
per-parameter columns of finished trials, the running trials (constant liar) and the TPE random
stream live in a ``TrialStore`` (``ferrotune._core.TrialStore``, or ``ferrotune._trial_store``
with ``FERROTUNE_BACKEND=python``); a TPE step is one call into it with the GIL released.

``Study.to_optuna`` writes every trial into an Optuna storage and ``Study.from_optuna`` warm-starts
from an Optuna study.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import warnings
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    _get_single_value,
    check_distribution_compatibility,
)
from optuna.exceptions import TrialPruned
from optuna.logging import get_logger
from optuna.samplers import RandomSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from ferrotune import _history
from ferrotune._backend import get_backend
from ferrotune._space import encode_distribution
from ferrotune._trial_store import make_store
from ferrotune.exceptions import InvalidArgumentError
from ferrotune.sampler import (
    TPESampler,
    default_gamma,
    default_gamma_multiobjective,
    default_weights,
)

_logger = get_logger("ferrotune.study")
_MISSING = object()

_RUNNING = TrialState.RUNNING
_COMPLETE = TrialState.COMPLETE
_PRUNED = TrialState.PRUNED
_FAIL = TrialState.FAIL

# Distributions are immutable; one object per distinct suggest call (checked by identity).
_dist_cache: dict[tuple, tuple[BaseDistribution, tuple, bool]] = {}
_dist_cache_lock = threading.Lock()


def _make_dist(
    key: tuple, factory: Callable[[], BaseDistribution]
) -> tuple[BaseDistribution, tuple, bool]:
    try:
        dist = factory()
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
    except TypeError as exc:
        raise InvalidArgumentError(str(exc)) from None
    dim = tuple(encode_distribution("?", dist))
    entry = (dist, dim, dist.single())
    try:
        with _dist_cache_lock:
            if len(_dist_cache) > 4096:
                _dist_cache.clear()
            _dist_cache[key] = entry
    except TypeError:  # unhashable key: not cached
        pass
    return entry


def _compatible(old: BaseDistribution, new: BaseDistribution) -> None:
    if old is new:
        return
    try:
        check_distribution_compatibility(old, new)
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None


class _Record:
    """One trial's data on the Python side (external parameter values and metadata)."""

    __slots__ = (
        "number",
        "state",
        "values",
        "params",
        "distributions",
        "intermediate_values",
        "user_attrs",
        "system_attrs",
        "start",
        "complete",
        "row",
        "shape",
        "pvalues",
    )

    def __init__(self, number: int) -> None:
        self.number = number
        self.state = _RUNNING
        self.values: Optional[list[float]] = None
        # While running: dicts. Once finished: ``shape`` (parameter names and a distributions
        # dict, shared by all trials with the same distributions) and a tuple of values.
        self.params: Optional[dict[str, Any]] = {}
        self.distributions: Optional[dict[str, BaseDistribution]] = {}
        self.shape: Optional[tuple[tuple[str, ...], dict[str, BaseDistribution]]] = None
        self.pvalues: tuple = ()
        self.intermediate_values: Optional[dict[int, float]] = None
        self.user_attrs: Optional[dict[str, Any]] = None
        self.system_attrs: Optional[dict[str, Any]] = None
        self.start = time.time()
        self.complete: Optional[float] = None
        self.row = -1

    def get_params(self) -> dict[str, Any]:
        if self.params is not None:
            return self.params
        assert self.shape is not None
        return dict(zip(self.shape[0], self.pvalues))

    def get_distributions(self) -> dict[str, BaseDistribution]:
        if self.distributions is not None:
            return self.distributions
        assert self.shape is not None
        return self.shape[1]

    def to_frozen(self) -> FrozenTrial:
        values = self.values
        frozen = FrozenTrial(
            number=self.number,
            state=self.state,
            value=None,
            values=None if values is None else list(values),
            datetime_start=datetime.fromtimestamp(self.start),
            datetime_complete=None if self.complete is None else datetime.fromtimestamp(self.complete),
            params=dict(self.get_params()),
            distributions=dict(self.get_distributions()),
            user_attrs=dict(self.user_attrs or {}),
            system_attrs=dict(self.system_attrs or {}),
            intermediate_values=dict(self.intermediate_values or {}),
            trial_id=self.number,
        )
        return frozen


class Trial:
    """A running trial of a ``ferrotune.Study``, with Optuna's ``suggest_*`` methods."""

    __slots__ = ("_study", "_rec", "_relative", "_relative_space")

    def __init__(self, study: "Study", rec: _Record) -> None:
        self._study = study
        self._rec = rec
        self._relative: Optional[dict[str, Any]] = None
        self._relative_space: Optional[dict[str, BaseDistribution]] = None

    # -- Optuna's suggest API -------------------------------------------------------------------
    def suggest_float(
        self,
        name: str,
        low: float,
        high: float,
        *,
        step: Optional[float] = None,
        log: bool = False,
    ) -> float:
        key = ("f", low, high, step, log)
        entry = _dist_cache.get(key)
        if entry is None:
            entry = _make_dist(key, lambda: FloatDistribution(low, high, log=log, step=step))
        return self._study._suggest(self, name, entry[0], entry[1], entry[2])

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        key = ("i", type(low), low, type(high), high, step, log)
        entry = _dist_cache.get(key)
        if entry is None:
            entry = _make_dist(key, lambda: IntDistribution(low=low, high=high, log=log, step=step))
        return int(self._suggest(name, entry))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        try:
            key: tuple = ("c", tuple((type(c), c) for c in choices))
            entry = _dist_cache.get(key)
        except TypeError:
            key, entry = ("c", id(choices)), None
        if entry is None:
            entry = _make_dist(key, lambda: CategoricalDistribution(choices=choices))
        return self._suggest(name, entry)

    def _suggest(self, name: str, entry: tuple[BaseDistribution, tuple, bool]) -> Any:
        return self._study._suggest(self, name, entry[0], entry[1], entry[2])

    # -- the rest of Optuna's Trial surface that makes sense without storage ---------------------
    def report(self, value: float, step: int) -> None:
        """Record an intermediate value (kept with the trial; no pruner is attached)."""
        if len(self._study.directions) > 1:
            raise NotImplementedError(
                "Trial.report is not supported for multi-objective optimization."
            )
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"The `value` argument is of type '{type(value)}' but supposed to be a float."
            ) from None
        try:
            step = int(step)
        except (TypeError, ValueError):
            raise TypeError(
                f"The `step` argument is of type '{type(step)}' but supposed to be an int."
            ) from None
        if step < 0:
            raise InvalidArgumentError(f"`step={step}` must be non-negative.")
        with self._study._lock:
            self._study._check_running(self._rec)
            iv = self._rec.intermediate_values
            if iv is None:
                iv = self._rec.intermediate_values = {}
            if step in iv:
                warnings.warn(
                    f"The reported value is ignored because this `step={step}` is already "
                    "reported."
                )
                return
            iv[step] = value

    def should_prune(self) -> bool:
        """Always False: a native study has no pruner."""
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        with self._study._lock:
            self._study._check_running(self._rec)
            if self._rec.user_attrs is None:
                self._rec.user_attrs = {}
            self._rec.user_attrs[key] = value

    @property
    def number(self) -> int:
        return self._rec.number

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._rec.get_params())

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return dict(self._rec.get_distributions())

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._rec.user_attrs or {})

    @property
    def datetime_start(self) -> datetime:
        return datetime.fromtimestamp(self._rec.start)

    @property
    def study(self) -> "Study":
        return self._study

    def __repr__(self) -> str:
        return f"ferrotune.Trial(number={self._rec.number}, params={self._rec.get_params()})"


def _sampler_settings(sampler: Any, seed: Optional[int]) -> dict[str, Any]:
    """The TPE settings and random streams a study runs with (copied from ``sampler``)."""
    if sampler is None:
        sampler = TPESampler(seed=seed)
    elif seed is not None:
        raise InvalidArgumentError("Pass either `sampler` or `seed`, not both.")
    if not isinstance(sampler, TPESampler):
        raise InvalidArgumentError(
            f"ferrotune.Study runs ferrotune.TPESampler only, got {type(sampler).__name__}; "
            "use optuna.create_study for other samplers."
        )
    if sampler._group:
        raise InvalidArgumentError("ferrotune.Study does not support TPESampler(group=True).")
    if sampler._constraints_func is not None:
        raise InvalidArgumentError("ferrotune.Study does not support constraints_func.")
    if sampler._weights is not default_weights:
        raise InvalidArgumentError("ferrotune.Study supports the default `weights` only.")
    return {
        "n_startup_trials": sampler._n_startup_trials,
        "n_ei_candidates": sampler._n_ei_candidates,
        "prior_weight": sampler._prior_weight,
        "consider_magic_clip": sampler._consider_magic_clip,
        "consider_endpoints": sampler._consider_endpoints,
        "constant_liar": sampler._constant_liar,
        "multivariate": sampler._multivariate,
        "gamma": sampler._gamma,
        "rng": copy.deepcopy(sampler._rng.rng),
        "random_sampler": copy.deepcopy(sampler._random_sampler),
    }


def _directions(direction: Any, directions: Any) -> list[StudyDirection]:
    if direction is not None and directions is not None:
        raise InvalidArgumentError("Specify only one of `direction` and `directions`.")
    if directions is None:
        directions = ["minimize" if direction is None else direction]
    if isinstance(directions, (str, StudyDirection)) or not isinstance(directions, Sequence):
        raise InvalidArgumentError("`directions` must be a list of directions.")
    if len(directions) == 0:
        raise InvalidArgumentError("The number of objectives must be greater than 0.")
    out = []
    for d in directions:
        if isinstance(d, StudyDirection) and d != StudyDirection.NOT_SET:
            out.append(d)
        elif isinstance(d, str) and d.lower() in ("minimize", "maximize"):
            out.append(StudyDirection.MINIMIZE if d.lower() == "minimize" else StudyDirection.MAXIMIZE)
        else:
            raise InvalidArgumentError(
                f"Please set either 'minimize' or 'maximize' to direction. You specified {d!r}."
            )
    return out


class Study:
    """A study whose trials live in a native store (see the module documentation).

    Create one with :func:`ferrotune.create_study` or :meth:`Study.from_optuna`.
    """

    def __init__(
        self,
        directions: list[StudyDirection],
        settings: dict[str, Any],
        study_name: Optional[str] = None,
    ) -> None:
        self._directions = list(directions)
        self.study_name = study_name
        # The settings without the random streams (which live on in the store and in
        # ``self._random``), for pickling.
        self._settings = {k: v for k, v in settings.items() if k not in ("rng", "random_sampler")}
        self._multi = len(self._directions) > 1
        self._maximize = (not self._multi) and self._directions[0] == StudyDirection.MAXIMIZE
        self._n_startup = settings["n_startup_trials"]
        self._n_candidates = settings["n_ei_candidates"]
        self._prior_weight = float(settings["prior_weight"])
        self._magic_clip = bool(settings["consider_magic_clip"])
        self._endpoints = bool(settings["consider_endpoints"])
        self._liar = bool(settings["constant_liar"])
        mv = settings["multivariate"]
        self._multivariate = (not self._multi) if mv is None else bool(mv)
        gamma = settings["gamma"]
        if gamma is None:
            gamma = default_gamma_multiobjective if self._multi else default_gamma
        self._gamma = gamma
        self._random = settings["random_sampler"]
        self._backend = get_backend()
        self._store = make_store(self._backend, self._maximize, settings["rng"])
        self._lock = threading.RLock()
        self._records: list[_Record] = []
        self._n_finished = 0  # COMPLETE + PRUNED
        self._col_of: dict[str, int] = {}
        self._param_dist: dict[str, BaseDistribution] = {}
        self._intersection: Optional[dict[str, BaseDistribution]] = None
        self._relative_cache: Optional[
            tuple[dict[str, BaseDistribution], list[int], list[tuple], bool]
        ] = None
        self._best: Optional[_Record] = None
        self._complete_rows: list[_Record] = []  # multi-objective split input
        self._shapes: dict[tuple, tuple[tuple[str, ...], dict[str, BaseDistribution]]] = {}
        self._intersected: set[int] = set()  # ids of shapes (kept alive by _shapes)

    # -- pickling and copying ----------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """The study as plain data: directions, TPE settings, the random streams where they are
        now, and every trial (pickle and ``copy.deepcopy`` rebuild the study from it, so that
        the copy suggests what the original would). Running trials cannot be carried over."""
        with self._lock:
            running = [r.number for r in self._records if r.state == _RUNNING]
            if running:
                raise InvalidArgumentError(
                    f"Cannot pickle or copy a study with running trials (numbers {running}): "
                    "tell them first."
                )
            key, pos = self._store.rng_state()
            rng = np.random.RandomState()
            rng.set_state(("MT19937", np.asarray(key, dtype=np.uint32), int(pos), 0, 0.0))
            return {
                "directions": list(self._directions),
                "settings": dict(self._settings, rng=rng, random_sampler=self._random),
                "study_name": self.study_name,
                "trials": self.get_trials(deepcopy=False),
            }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directions"], state["settings"], state["study_name"])  # type: ignore[misc]
        for t in state["trials"]:
            self._import(t)

    # -- properties -------------------------------------------------------------------------------
    @property
    def directions(self) -> list[StudyDirection]:
        return list(self._directions)

    @property
    def direction(self) -> StudyDirection:
        if self._multi:
            raise RuntimeError(
                "A single direction cannot be retrieved from a multi-objective study. Consider "
                "using Study.directions to retrieve a list containing all directions."
            )
        return self._directions[0]

    @property
    def backend(self) -> str:
        """``"rust"`` or ``"python"``: where the trial store lives."""
        return self._backend

    def __len__(self) -> int:
        return len(self._records)

    @property
    def trials(self) -> list[FrozenTrial]:
        """All trials as ``optuna.trial.FrozenTrial`` objects, in trial-number order."""
        return self.get_trials()

    def get_trials(
        self, deepcopy: bool = True, states: Optional[Sequence[TrialState]] = None
    ) -> list[FrozenTrial]:
        with self._lock:
            recs = list(self._records)
        if states is not None:
            recs = [r for r in recs if r.state in states]
        out = [r.to_frozen() for r in recs]
        return copy.deepcopy(out) if deepcopy else out

    @property
    def best_trial(self) -> FrozenTrial:
        if self._multi:
            raise RuntimeError(
                "A single best trial cannot be retrieved from a multi-objective study. Consider "
                "using Study.best_trials to retrieve a list containing the best trials."
            )
        best = self._best
        if best is None:
            raise ValueError("No trials are completed yet.")
        return copy.deepcopy(best.to_frozen())

    @property
    def best_params(self) -> dict[str, Any]:
        return self.best_trial.params

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto-optimal complete trials (the best trial for a single objective)."""
        from optuna.study._multi_objective import _get_pareto_front_trials_by_trials

        complete = self.get_trials(deepcopy=False, states=(_COMPLETE,))
        return _get_pareto_front_trials_by_trials(complete, self._directions)

    # -- ask / tell -------------------------------------------------------------------------------
    def ask(self, fixed_distributions: Optional[dict[str, BaseDistribution]] = None) -> Trial:
        """Start a trial. Its parameters are drawn when ``suggest_*`` is first called."""
        with self._lock:
            rec = _Record(len(self._records))
            self._store.start(rec.number)
            self._records.append(rec)
        trial = Trial(self, rec)
        for name, dist in (fixed_distributions or {}).items():
            self._suggest(trial, name, dist, tuple(encode_distribution(name, dist)))
        return trial

    def ask_batch(self, k: int) -> list[Trial]:
        """Start ``k`` trials at once. The parameters of the relative (multivariate) search space
        are drawn for each in turn, with the trials before it in "above" (the constant liar),
        so the batch is spread out; parameters outside that space are drawn at ``suggest_*``."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise InvalidArgumentError(f"k must be a non-negative integer, got {k!r}.")
        trials = []
        for _ in range(int(k)):
            t = self.ask()
            self._relative_params(t)
            trials.append(t)
        return trials

    def tell(
        self,
        trial: Union[Trial, int],
        values: Optional[Union[float, Sequence[float]]] = None,
        state: Optional[TrialState] = None,
        skip_if_finished: bool = False,
    ) -> FrozenTrial:
        """Finish a trial, as ``optuna.Study.tell`` does (a NaN or missing value makes it FAIL
        with a warning)."""
        self._tell(trial, values, state, skip_if_finished, warn=True)
        # A fresh FrozenTrial with its own dicts (distributions are immutable and shared).
        return self._resolve(trial).to_frozen()

    def _resolve(self, trial: Union[Trial, int]) -> _Record:
        if isinstance(trial, Trial):
            if trial._study is not self:
                raise InvalidArgumentError(
                    f"Trial {trial.number} belongs to another study and cannot be told here."
                )
            return trial._rec
        if isinstance(trial, (int, np.integer)) and not isinstance(trial, bool):
            n = int(trial)
            with self._lock:
                if 0 <= n < len(self._records):
                    return self._records[n]
            raise InvalidArgumentError(
                f"Cannot tell for trial with number {n} since it has not been created."
            )
        raise TypeError("Trial must be a trial object or trial number.")

    def _check_running(self, rec: _Record) -> None:
        if rec.state != _RUNNING:
            raise InvalidArgumentError(
                f"Trial {rec.number} is already finished ({rec.state.name}); it cannot be changed."
            )

    def _tell(
        self,
        trial: Union[Trial, int],
        value_or_values: Any,
        state: Optional[TrialState],
        skip_if_finished: bool,
        warn: bool,
    ) -> tuple[TrialState, Optional[list[float]], Optional[str]]:
        rec = self._resolve(trial)
        if state is not None and not isinstance(state, TrialState):
            raise InvalidArgumentError(f"state must be a TrialState or None, got {state!r}.")
        with self._lock:
            if rec.state != _RUNNING:
                if skip_if_finished:
                    return rec.state, rec.values, None
                raise InvalidArgumentError(f"Cannot tell a {rec.state.name} trial.")
            values: Optional[list[Any]]
            if value_or_values is None:
                values = None
            elif type(value_or_values) is float:
                values = [value_or_values]
            elif isinstance(value_or_values, Sequence) and not isinstance(value_or_values, str):
                values = list(value_or_values)
            else:
                values = [value_or_values]
            if state == _COMPLETE:
                if values is None:
                    raise InvalidArgumentError(
                        "No values were told. Values are required when state is "
                        "TrialState.COMPLETE."
                    )
            elif state in (_PRUNED, _FAIL):
                if values is not None:
                    raise InvalidArgumentError(
                        "Values were told. Values cannot be specified when state is "
                        "TrialState.PRUNED or TrialState.FAIL."
                    )
            elif state is not None:
                raise InvalidArgumentError(f"Cannot tell with state {state}.")
            message = None
            if state == _COMPLETE:
                message = self._infeasible(values)
                if message is not None:
                    raise InvalidArgumentError(message)
            elif state == _PRUNED:
                iv = rec.intermediate_values
                if iv:
                    last = iv[max(iv)]
                    if self._infeasible([last]) is None:
                        values = [last]
            elif state is None:
                message = (
                    "The value None could not be cast to float."
                    if values is None
                    else self._infeasible(values)
                )
                if message is None:
                    state = _COMPLETE
                else:
                    state = _FAIL
                    values = None
                    if warn:
                        warnings.warn(message)
            assert state is not None
            fvalues = None if values is None else [float(v) for v in values]
            self._finish(rec, state, fvalues)
        return state, fvalues, message

    def _infeasible(self, values: Sequence[Any]) -> Optional[str]:
        if len(values) == 1 == len(self._directions) and type(values[0]) is float:
            return None if values[0] == values[0] else f"The value {values[0]} is not acceptable"
        errors = []
        for v in values:
            try:
                f = float(v)
            except (ValueError, TypeError):
                errors.append(f"The value {v!r} could not be cast to float")
                continue
            if math.isnan(f):
                errors.append(f"The value {v} is not acceptable")
        if errors:
            return "; ".join(errors)
        if len(values) != len(self._directions):
            return (
                f"The number of the values {len(values)} did not match the number of the "
                f"objectives {len(self._directions)}"
            )
        return None

    def _finish(self, rec: _Record, state: TrialState, values: Optional[list[float]]) -> None:
        """Move a running trial to its final state (caller holds the lock, input validated)."""
        if state == _FAIL:
            self._store.discard(rec.number)
        else:
            if state == _COMPLETE:
                kind = _history.COMPLETE
                value = math.nan if self._multi or values is None else values[0]
                key = (0.0, 0.0)
            else:
                kind = _history.PRUNED
                value = math.nan
                key = self._pruned_key(rec)
            rec.row = self._store.finish(rec.number, kind, value, key[0], key[1])
            self._n_finished += 1
            shape = self._compact(rec)
            # Intersecting with the same distributions twice changes nothing.
            if id(shape) not in self._intersected:
                self._intersected.add(id(shape))
                dists = shape[1]
                inter = self._intersection
                if inter is None:
                    self._intersection = dict(dists)
                    self._relative_cache = None
                else:
                    kept = {
                        k: d for k, d in inter.items() if (dists.get(k) is d or dists.get(k) == d)
                    }
                    if len(kept) != len(inter):
                        self._intersection = kept
                        self._relative_cache = None
            if state == _COMPLETE and values is not None:
                if self._multi:
                    self._complete_rows.append(rec)
                else:
                    best = self._best
                    v = values[0]
                    if best is None or (
                        v > best.values[0] if self._maximize else v < best.values[0]  # type: ignore[index]
                    ):
                        self._best = rec
        if rec.params is not None:
            self._compact(rec)
        rec.values = values
        rec.state = state
        rec.complete = time.time()

    def _compact(self, rec: _Record) -> tuple[tuple[str, ...], dict[str, BaseDistribution]]:
        """Replace a finished trial's dicts by a shared shape and a tuple of values."""
        params, dists = rec.params, rec.distributions
        assert params is not None and dists is not None
        key = tuple([(k, id(d)) for k, d in dists.items()])
        shape = self._shapes.get(key)
        if shape is None:
            # The shape holds the distribution objects, so their ids stay valid as keys.
            shape = self._shapes[key] = (tuple(dists), dict(dists))
        rec.shape = shape
        rec.pvalues = tuple(params.values())
        rec.params = rec.distributions = None
        return shape

    def _pruned_key(self, rec: _Record) -> tuple[float, float]:
        iv = rec.intermediate_values
        if not iv:
            return 1.0, 0.0
        step = max(iv)
        value = iv[step]
        if math.isnan(value):
            return -float(step), math.inf
        return -float(step), (-value if self._maximize else value)

    # -- sampling ---------------------------------------------------------------------------------
    def _column(self, name: str) -> int:
        col = self._col_of.get(name)
        if col is None:
            col = self._store.add_column()
            self._col_of[name] = col
        return col

    def _suggest(
        self,
        trial: Trial,
        name: str,
        dist: BaseDistribution,
        dim: tuple,
        single: Optional[bool] = None,
    ) -> Any:
        rec = trial._rec
        with self._lock:
            params = rec.params
            if params is None:
                self._check_running(rec)
            assert params is not None and rec.distributions is not None
            if name in params:
                old = rec.distributions[name]
                _compatible(old, dist)
                if old is not dist and old != dist and not isinstance(old, CategoricalDistribution):
                    warnings.warn(
                        f'Inconsistent parameter values for distribution with name "{name}"! '
                        "Only the values of the first call are used: "
                        f"{old._asdict()}",
                        RuntimeWarning,
                    )
                return params[name]
            first = self._param_dist.get(name)
            if first is None:
                self._param_dist[name] = dist
            elif first is not dist:
                _compatible(first, dist)
            internal = None
            if dist.single() if single is None else single:
                value = _get_single_value(dist)
            else:
                relative = trial._relative
                if relative is None:
                    relative = self._relative_params(trial)
                value = relative.get(name, _MISSING)
                if value is not _MISSING:
                    assert trial._relative_space is not None
                    rel_dist = trial._relative_space[name]
                    if rel_dist is not dist:
                        _compatible(rel_dist, dist)
                    if type(dist) is FloatDistribution and dist.step is None:
                        internal = value  # a float drawn by the store
                        inside = dist.low <= value <= dist.high
                    else:
                        internal = dist.to_internal_repr(value)
                        inside = dist._contains(internal)
                    if not inside:
                        value, internal = _MISSING, None
                if value is _MISSING:
                    value = self._sample_independent(trial, name, dist, dim)
            if internal is None:
                try:
                    internal = dist.to_internal_repr(value)
                except ValueError as exc:
                    raise InvalidArgumentError(str(exc)) from None
            col = self._col_of.get(name)
            if col is None:
                col = self._column(name)
            self._store.set_param(rec.number, col, internal)
            params[name] = value
            rec.distributions[name] = dist
            return value

    def _relative_space(self) -> tuple[dict[str, BaseDistribution], list[int], list[tuple], bool]:
        cached = self._relative_cache
        if cached is None:
            space: dict[str, BaseDistribution] = {}
            if self._multivariate and self._intersection:
                for name in sorted(self._intersection):
                    dist = self._intersection[name]
                    if not dist.single():
                        space[name] = dist
            cols = [self._column(n) for n in space]
            dims = [tuple(encode_distribution(n, d)) for n, d in space.items()]
            # Continuous floats need no conversion (the store returns Python floats).
            plain = all(type(d) is FloatDistribution and d.step is None for d in space.values())
            cached = self._relative_cache = (space, cols, dims, plain)
        return cached

    def _relative_params(self, trial: Trial) -> dict[str, Any]:
        rel = trial._relative
        if rel is not None:
            return rel
        with self._lock:
            space, cols, dims, plain = self._relative_space()
            trial._relative_space = space
            if not space or self._n_finished < self._n_startup:
                rel = trial._relative = {}
                return rel
            best = self._tpe(trial._rec.number, cols, dims)
            if plain:
                rel = dict(zip(space, best))
            else:
                rel = {n: d.to_external_repr(v) for (n, d), v in zip(space.items(), best)}
            if self._liar:
                self._store.set_liar(trial._rec.number, cols, best)
            trial._relative = rel
            return rel

    def _tpe(self, number: int, cols: list[int], dims: list[tuple]) -> list[float]:
        n = self._n_finished
        n_below = int(self._gamma(n))
        below_rows = None
        if self._multi:
            below_rows = self._split_multi_objective(n_below)
        return self._store.sample(
            number,
            cols,
            dims,
            n_below,
            below_rows,
            self._multi,
            self._liar,
            self._prior_weight,
            self._magic_clip,
            self._endpoints,
            self._n_candidates,
        )

    def _split_multi_objective(self, n_below: int) -> list[int]:
        # Optuna 5.0's split (non-domination ranks, HSSP on the last rank), by ferrotune's own
        # Rust/numpy implementation; losses are the values with maximised objectives negated.
        from ferrotune import _multi_objective
        from optuna.study import StudyDirection

        complete = list(self._complete_rows)
        if not complete:
            return []
        signs = np.array(
            [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in self.directions]
        )
        loss = np.array([r.values for r in complete], dtype=np.float64) * signs
        mask = _multi_objective.split_below(loss, min(n_below, len(complete)))
        return sorted(r.row for r, below in zip(complete, mask) if below)

    def _sample_independent(self, trial: Trial, name: str, dist: BaseDistribution, dim: tuple) -> Any:
        if self._n_finished < self._n_startup:
            return self._random.sample_independent(None, None, name, dist)  # type: ignore[arg-type]
        col = self._column(name)
        best = self._tpe(trial._rec.number, [col], [dim])
        return dist.to_external_repr(best[0])

    # -- optimize ---------------------------------------------------------------------------------
    def optimize(
        self,
        func: Callable[[Trial], Any],
        n_trials: Optional[int] = None,
        timeout: Optional[float] = None,
        n_jobs: int = 1,
        catch: Union[type[Exception], Sequence[type[Exception]]] = (),
        callbacks: Optional[Sequence[Callable[["Study", FrozenTrial], None]]] = None,
        gc_after_trial: bool = False,
        show_progress_bar: bool = False,
    ) -> None:
        """Run ``func`` on ``n_trials`` trials (or until ``timeout`` seconds), as
        ``optuna.Study.optimize``; ``n_jobs > 1`` runs the objective on that many threads."""
        if n_trials is not None and (
            isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 0
        ):
            raise InvalidArgumentError(f"n_trials must be a non-negative integer, got {n_trials!r}.")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise InvalidArgumentError(f"timeout must be a non-negative number, got {timeout!r}.")
        if isinstance(catch, type):
            catch = (catch,)
        catch = tuple(catch)
        if n_jobs == -1:
            import os

            n_jobs = os.cpu_count() or 1
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise InvalidArgumentError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}.")
        deadline = None if timeout is None else time.monotonic() + timeout
        progress = _progress(show_progress_bar, n_trials)
        counter = {"started": 0}
        counter_lock = threading.Lock()
        stop = threading.Event()

        def claim() -> bool:
            if stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return False
            with counter_lock:
                if n_trials is not None and counter["started"] >= n_trials:
                    return False
                counter["started"] += 1
                return True

        def worker() -> None:
            while claim():
                try:
                    trial = self._run_trial(func, catch)
                except BaseException:
                    stop.set()
                    raise
                if progress is not None:
                    progress.update(1)
                for cb in callbacks or ():
                    cb(self, trial._rec.to_frozen())
                if gc_after_trial:
                    import gc

                    gc.collect()

        try:
            if n_jobs == 1:
                worker()
            else:
                with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                    futures = [pool.submit(worker) for _ in range(n_jobs)]
                    done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                    for f in futures:
                        f.result()
        finally:
            if progress is not None:
                progress.close()

    def _run_trial(self, func: Callable[[Trial], Any], catch: tuple) -> FrozenTrial:
        trial = self.ask()
        state: Optional[TrialState] = None
        result: Any = None
        err: Optional[BaseException] = None
        try:
            result = func(trial)
        except TrialPruned as e:
            state, err = _PRUNED, e
        except (Exception, KeyboardInterrupt) as e:
            state, err = _FAIL, e
        with self._lock:
            if trial._rec.state == _RUNNING:  # the objective may have told it itself
                state, _, message = self._tell(trial, result if state is None else None, state, False, warn=False)
                if state == _FAIL:
                    _logger.warning(
                        f"Trial {trial.number} failed with parameters: {trial._rec.get_params()} "
                        f"because of the following error: {message if err is None else repr(err)}."
                    )
        if err is not None and state == _FAIL and not isinstance(err, catch):
            raise err
        return trial

    # -- interchange with Optuna ------------------------------------------------------------------
    def to_optuna(
        self,
        storage: Any = None,
        study_name: Optional[str] = None,
        load_if_exists: bool = False,
    ) -> Any:
        """Write every trial (parameters with their distributions, values, states, intermediate
        values, user and system attributes) into a new Optuna study in ``storage`` (any Optuna
        storage or URL; in memory by default) and return it."""
        import optuna

        study = optuna.create_study(
            storage=storage,
            study_name=study_name if study_name is not None else self.study_name,
            directions=self._directions,
            load_if_exists=load_if_exists,
        )
        study.add_trials(self.get_trials(deepcopy=False))
        return study

    @classmethod
    def from_optuna(
        cls,
        optuna_study: Any,
        sampler: Optional[TPESampler] = None,
        seed: Optional[int] = None,
    ) -> "Study":
        """A native study warm-started with the finished (COMPLETE, PRUNED, FAIL) trials of an
        Optuna study, renumbered in order; running and waiting trials are left out."""
        study = cls(
            list(optuna_study.directions),
            _sampler_settings(sampler, seed),
            study_name=getattr(optuna_study, "study_name", None),
        )
        for t in optuna_study.get_trials(deepcopy=False):
            if t.state in (_COMPLETE, _PRUNED, _FAIL):
                study._import(t)
        return study

    def add_trial(self, trial: FrozenTrial) -> None:
        """Add a finished ``optuna.trial.FrozenTrial`` (as ``optuna.Study.add_trial``)."""
        if not isinstance(trial, FrozenTrial):
            raise InvalidArgumentError(f"Expected a FrozenTrial, got {type(trial).__name__}.")
        if trial.state not in (_COMPLETE, _PRUNED, _FAIL):
            raise InvalidArgumentError(f"Cannot add a {trial.state.name} trial.")
        trial._validate()
        self._import(trial)

    def _import(self, t: FrozenTrial) -> None:
        with self._lock:
            if t.state == _COMPLETE:
                message = self._infeasible(t.values or [])
                if message is not None:
                    raise InvalidArgumentError(f"Trial {t.number}: {message}")
            rec = _Record(len(self._records))
            self._store.start(rec.number)
            self._records.append(rec)
            try:
                for name, dist in t.distributions.items():
                    first = self._param_dist.get(name)
                    if first is None:
                        self._param_dist[name] = dist
                    else:
                        _compatible(first, dist)
                    internal = dist.to_internal_repr(t.params[name])
                    self._store.set_param(rec.number, self._column(name), internal)
                    rec.params[name] = t.params[name]
                    rec.distributions[name] = dist
            except Exception:
                self._store.discard(rec.number)
                self._records.pop()
                raise
            rec.intermediate_values = dict(t.intermediate_values) or None
            rec.user_attrs = dict(t.user_attrs) or None
            rec.system_attrs = dict(t.system_attrs) or None
            if t.datetime_start is not None:
                rec.start = t.datetime_start.timestamp()
            values = None if t.values is None else [float(v) for v in t.values]
            self._finish(rec, t.state, values)
            if t.datetime_complete is not None:
                rec.complete = t.datetime_complete.timestamp()

    def trials_dataframe(self, attrs: Sequence[str] = ("number", "value", "datetime_start", "datetime_complete", "duration", "params", "user_attrs", "state")) -> Any:  # noqa: E501
        """The trials as a ``pandas.DataFrame`` (pandas needed), one row per trial."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "Study.trials_dataframe() needs pandas: `pip install pandas`."
            ) from exc
        rows = []
        with self._lock:
            recs = list(self._records)
        for r in recs:
            row: dict[str, Any] = {}
            for a in attrs:
                if a == "number":
                    row["number"] = r.number
                elif a in ("value", "values"):
                    if self._multi:
                        for i in range(len(self._directions)):
                            row[f"values_{i}"] = None if r.values is None else r.values[i]
                    else:
                        row["value"] = None if r.values is None else r.values[0]
                elif a == "datetime_start":
                    row[a] = datetime.fromtimestamp(r.start)
                elif a == "datetime_complete":
                    row[a] = None if r.complete is None else datetime.fromtimestamp(r.complete)
                elif a == "duration":
                    row[a] = None if r.complete is None else pd.Timedelta(seconds=r.complete - r.start)
                elif a == "params":
                    for k, v in r.get_params().items():
                        row[f"params_{k}"] = v
                elif a == "user_attrs":
                    for k, v in (r.user_attrs or {}).items():
                        row[f"user_attrs_{k}"] = v
                elif a == "state":
                    row["state"] = r.state.name
                else:
                    raise InvalidArgumentError(f"Unknown attribute {a!r}.")
            rows.append(row)
        return pd.DataFrame(rows)


def _progress(show: bool, total: Optional[int]) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        warnings.warn("show_progress_bar needs tqdm; running without a progress bar.")
        return None
    return tqdm(total=total)


def create_study(
    direction: Optional[Union[str, StudyDirection]] = None,
    directions: Optional[Sequence[Union[str, StudyDirection]]] = None,
    sampler: Optional[TPESampler] = None,
    seed: Optional[int] = None,
    study_name: Optional[str] = None,
) -> Study:
    """A native :class:`Study`. ``sampler`` is a ``ferrotune.TPESampler`` (its settings and seed
    are used) or None for ``TPESampler(seed=seed)``: for the same seed and history it suggests
    what ``optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))`` suggests."""
    return Study(_directions(direction, directions), _sampler_settings(sampler, seed), study_name)


__all__ = ["Study", "Trial", "create_study"]
