"""``ferrotune.TPESampler``: a drop-in replacement for ``optuna.samplers.TPESampler``.

It takes every argument of Optuna 5.0's TPESampler with the same defaults and meaning and, for the
same seed and history, suggests the same values. The Parzen estimators, candidate sampling and
scoring run in the Rust core (or in the numpy fallback, see ``ferrotune._backend``); the trial
bookkeeping is incremental (``ferrotune._history``).
"""

from __future__ import annotations

import functools
import json
import math
import threading
import warnings
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.logging import get_logger
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from ferrotune import _history, _multi_objective, _workers
from ferrotune._backend import get_backend_impl
from ferrotune._space import encode_space
from ferrotune.exceptions import InvalidArgumentError

if TYPE_CHECKING:
    from optuna.study import Study

try:  # Optuna's own decorator, so positional use warns exactly as Optuna's sampler does.
    from optuna._convert_positional_args import convert_positional_args as _positional
except ImportError:  # pragma: no cover - only if a future Optuna moves it

    def _positional(**_: Any) -> Callable[[Any], Any]:
        return lambda f: f


_logger = get_logger("ferrotune.sampler")

RELATIVE_PARAMS_KEY = "tpe:relative_params"
"""System-attribute prefix under which in-flight relative params are published (as Optuna)."""
SYSTEM_ATTR_MAX_LENGTH = 2045
_STATES_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def default_gamma(x: int) -> int:
    """Number of "below" trials for a single-objective study with ``x`` finished trials."""
    return min(math.ceil(0.1 * x), 25)


def default_gamma_multiobjective(x: int) -> int:
    """Number of "below" trials for a multi-objective study (no cap)."""
    return math.ceil(0.1 * x)


def hyperopt_default_gamma(x: int) -> int:
    """hyperopt 0.1.2's gamma: ``min(ceil(0.25 * sqrt(x)), 25)``."""
    return min(math.ceil(0.25 * x**0.5), 25)


def default_weights(x: int) -> np.ndarray:
    """Kernel weights: flat for the newest 25 observations, a linear ramp before them."""
    if x == 0:
        return np.asarray([])
    if x < 25:
        return np.ones(x)
    return np.concatenate([np.linspace(1.0 / x, 1.0, num=x - 25), np.ones(25)], axis=0)


def validate_weights(weights: Callable[[int], Any], n: int) -> np.ndarray:
    """Call a user ``weights`` function and check its output as Optuna does."""
    w = np.array(weights(n), dtype=float)[:n]
    if np.any(w < 0):
        raise InvalidArgumentError(
            f"The `weights` function returned negative values {w} for n={n}."
        )
    if len(w) > 0 and np.sum(w) <= 0:
        raise InvalidArgumentError(f"The `weights` function returned all-zero values {w} for n={n}.")
    if not np.all(np.isfinite(w)):
        raise InvalidArgumentError(
            f"The `weights` function returned infinite or NaN values {w} for n={n}."
        )
    if len(w) != n:
        raise InvalidArgumentError(
            f"The `weights` function returned {len(w)} values for n={n}; it must return n values."
        )
    return w


def _deprecated_argument(name: str, value: Any, default: Any, d_ver: str, r_ver: str) -> Any:
    if value is None:
        return default
    warnings.warn(
        f"{name} has been deprecated in v{d_ver}. This feature will be removed in v{r_ver}. "
        f"See https://github.com/optuna/optuna/releases/tag/v{d_ver}.",
        FutureWarning,
        stacklevel=4,
    )
    return value


@functools.lru_cache(maxsize=8)
def _default_weights_cached(n: int) -> np.ndarray:
    w = default_weights(n).astype(float)
    w.flags.writeable = False
    return w


def _complete_rows(obs: np.ndarray) -> np.ndarray:
    missing = np.isnan(obs).any(axis=1)
    return obs[~missing] if missing.any() else obs


class _LazyRandomState:
    """A numpy ``RandomState`` created on first use, so that deep copies made before any use
    (without a seed) do not share one stream."""

    def __init__(self, seed: Optional[int] = None) -> None:
        self._rng: Optional[np.random.RandomState] = None
        if seed is not None:
            self.rng.seed(seed=seed)

    @property
    def rng(self) -> np.random.RandomState:
        if self._rng is None:
            self._rng = np.random.RandomState()
        return self._rng


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class TPESampler(BaseSampler):
    """Tree-structured Parzen Estimator sampler, Optuna-compatible and Rust-accelerated.

    Every argument has the meaning and default of ``optuna.samplers.TPESampler`` in Optuna 5.0
    (``consider_prior``, ``prior_weight``, ``consider_magic_clip``, ``consider_endpoints``,
    ``gamma``, ``weights`` and ``warn_independent_sampling`` are deprecated there and warn the
    same way here). For the same ``seed`` and history it suggests the same values as Optuna's
    sampler, as long as it is the only writer it has seen in the study.

    Several workers on one storage: the sampler writes its worker token on every trial it
    starts (system attribute ``ferrotune:worker``) and, once it sees a running or tokened trial
    it did not start, draws each trial ``n`` from a stream seeded by ``(seed, n)``, so workers
    built identically (same seed, copied or pickled) never share a stream. The rules are in
    ``ferrotune._workers`` and docs/distributed.md.

    Example:
        >>> import optuna, ferrotune
        >>> study = optuna.create_study(sampler=ferrotune.TPESampler(seed=0))
    """

    @_positional(
        previous_positional_arg_names=[
            "self",
            "consider_prior",
            "prior_weight",
            "consider_magic_clip",
            "consider_endpoints",
            "n_startup_trials",
            "n_ei_candidates",
            "gamma",
            "weights",
            "seed",
        ],
        deprecated_version="4.4.0",
        removed_version="6.0.0",
    )
    def __init__(
        self,
        *,
        consider_prior: Optional[bool] = None,
        prior_weight: Optional[float] = None,
        consider_magic_clip: Optional[bool] = None,
        consider_endpoints: Optional[bool] = None,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        gamma: Optional[Callable[[int], int]] = None,
        weights: Optional[Callable[[int], np.ndarray]] = None,
        seed: Optional[int] = None,
        multivariate: Optional[bool] = None,
        group: bool = False,
        warn_independent_sampling: Optional[bool] = None,
        constant_liar: bool = True,
        constraints_func: Optional[Callable[[FrozenTrial], Sequence[float]]] = None,
    ) -> None:
        _deprecated_argument("`consider_prior`", consider_prior, True, "4.3.0", "6.0.0")
        prior_weight = _deprecated_argument("`prior_weight`", prior_weight, 1.0, "4.9.0", "6.0.0")
        consider_magic_clip = _deprecated_argument(
            "`consider_magic_clip`", consider_magic_clip, True, "4.9.0", "6.0.0"
        )
        consider_endpoints = _deprecated_argument(
            "`consider_endpoints`", consider_endpoints, False, "4.9.0", "6.0.0"
        )
        gamma = _deprecated_argument("`gamma`", gamma, None, "4.9.0", "6.0.0")
        weights = _deprecated_argument("`weights`", weights, default_weights, "4.9.0", "6.0.0")
        warn_independent_sampling = _deprecated_argument(
            "`warn_independent_sampling`", warn_independent_sampling, False, "4.9.0", "6.0.0"
        )

        try:
            prior_weight = float(prior_weight)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"prior_weight must be a non-negative number, got {prior_weight!r}."
            ) from None
        if not (prior_weight >= 0 and math.isfinite(prior_weight)):
            raise InvalidArgumentError(
                f"A non-negative value must be specified for prior_weight, but got {prior_weight}."
            )
        if not _is_int(n_startup_trials) or n_startup_trials < 0:
            raise InvalidArgumentError(
                f"n_startup_trials must be a non-negative integer, got {n_startup_trials!r}."
            )
        if not _is_int(n_ei_candidates) or n_ei_candidates < 1:
            raise InvalidArgumentError(
                f"n_ei_candidates must be a positive integer, got {n_ei_candidates!r}."
            )
        if gamma is not None and not callable(gamma):
            raise InvalidArgumentError(f"gamma must be callable, got {gamma!r}.")
        if not callable(weights):
            raise InvalidArgumentError(f"weights must be callable, got {weights!r}.")
        if constraints_func is not None and not callable(constraints_func):
            raise InvalidArgumentError(
                f"constraints_func must be callable, got {constraints_func!r}."
            )
        if seed is not None and not _is_int(seed):
            raise InvalidArgumentError(f"seed must be an integer or None, got {seed!r}.")
        if group and multivariate is False:
            raise InvalidArgumentError(
                "``group`` option can only be enabled when ``multivariate`` is enabled."
            )

        self._prior_weight = prior_weight
        self._consider_magic_clip = bool(consider_magic_clip)
        self._consider_endpoints = bool(consider_endpoints)
        self._weights = weights
        self._n_startup_trials = int(n_startup_trials)
        self._n_ei_candidates = int(n_ei_candidates)
        self._gamma = gamma
        self._warn_independent_sampling = bool(warn_independent_sampling)
        self._rng = _LazyRandomState(seed)
        self._random_sampler = RandomSampler(seed=seed)
        self._multivariate = multivariate
        self._group = bool(group)
        self._group_decomposed_search_space: Any = None
        self._search_space_group: Any = None
        self._constant_liar = bool(constant_liar)
        self._constraints_func = constraints_func
        if group:
            from optuna._experimental import warn_experimental_argument
            from optuna.search_space.group_decomposed import _GroupDecomposedSearchSpace

            warn_experimental_argument("group")
            self._group_decomposed_search_space = _GroupDecomposedSearchSpace(True)
        if constraints_func is not None:
            warnings.warn(
                "`constraints_func` has been deprecated in v5.0.0. This feature will be removed "
                "in v7.0.0. See https://github.com/optuna/optuna/releases/tag/v5.0.0. "
                "Use `optuna.trial.Trial.set_constraint` instead.",
                FutureWarning,
                stacklevel=3,
            )
        self._lock = threading.RLock()
        self._histories: dict[tuple[int, int], _history.StudyHistory] = {}
        # trial id -> (history, finished rows, running trials) of the scan made by
        # infer_relative_search_space, reused by the startup check and the step of that trial.
        self._scan_at_infer: dict[int, tuple[Any, np.ndarray, list]] = {}
        self._encoded: Any = None
        # Per-trial streams once several workers share a study (see ferrotune._workers).
        self._workers = _workers.WorkerStreams(seed)

    # -- pickling / copying: the lock and the caches are rebuilt, the random streams are kept.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        del state["_histories"]
        del state["_scan_at_infer"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        self._histories = {}
        self._scan_at_infer = {}

    def reseed_rng(self) -> None:
        with self._lock:
            self._rng.rng.seed()
            self._random_sampler.reseed_rng()
            self._workers.reseed()

    # -- Optuna's sampler interface -------------------------------------------------------------
    def _is_multivariate(self, study: Study) -> bool:
        if self._multivariate is not None:
            return self._multivariate
        if self._group:
            if study._is_multi_objective():
                warnings.warn(
                    "``multivariate`` defaults to False for multi-objective optimization, but"
                    " it is treated as True because ``group`` can only be enabled with the"
                    " multivariate TPE. Set ``multivariate=True`` explicitly to suppress this"
                    " warning."
                )
            return True
        return not study._is_multi_objective()

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if not self._is_multivariate(study):
            return {}
        search_space: dict[str, BaseDistribution] = {}
        if self._group:
            with self._lock:
                self._search_space_group = self._group_decomposed_search_space.calculate(
                    study, True
                )
                groups = self._search_space_group.search_spaces
            for sub_space in groups:
                for name, distribution in sorted(sub_space.items()):
                    if not distribution.single():
                        search_space[name] = distribution
            return search_space
        # The per-ask cached trial list, as Optuna's IntersectionSearchSpace reads it.
        trials = study._get_trials(deepcopy=False, states=None, use_cache=True)
        with self._lock:
            hist = self._history_for(study)
            rows, running, space = hist.scan(trials, trial.number, self._constant_liar)
            # Kept for the startup check of sample_relative (same trial, same cached list) and
            # for its TPE step: Optuna reads the trials again there, microseconds later, which
            # gives the same list unless another thread or worker changed the study in between
            # (a race either way); reading once saves a storage read and a scan per trial.
            if len(self._scan_at_infer) > 1024:  # entries never claimed (errors)
                self._scan_at_infer.clear()
            self._scan_at_infer[trial._trial_id] = (hist, rows.copy(), running)
        for name, distribution in space.items():
            if not distribution.single():
                search_space[name] = distribution
        return search_space

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if self._group:
            params: dict[str, Any] = {}
            groups = self._search_space_group.search_spaces if self._search_space_group else []
            for sub_space in groups:
                sub = {
                    name: dist
                    for name, dist in sorted(sub_space.items())
                    if not dist.single() and name in search_space
                }
                params.update(self._sample_relative(study, trial, sub))
        else:
            params = self._sample_relative(study, trial, search_space)

        if params and self._constant_liar:
            # Publish the in-flight params so that other workers (ferrotune's or Optuna's own
            # TPESampler) treat this running trial as a constant liar.
            text = json.dumps(params)
            for i in range(0, len(text), SYSTEM_ATTR_MAX_LENGTH):
                study._storage.set_trial_system_attr(
                    trial._trial_id,
                    f"{RELATIVE_PARAMS_KEY}:{i // SYSTEM_ATTR_MAX_LENGTH}",
                    text[i : i + SYSTEM_ATTR_MAX_LENGTH],
                )
        return params

    def _n_finished(self, study: Study, trial: FrozenTrial) -> int:
        """Number of COMPLETE and PRUNED trials in the per-ask cached trial list."""
        with self._lock:
            stashed = self._scan_at_infer.get(trial._trial_id)
            if stashed is not None:
                return len(stashed[1])
            trials = study._get_trials(deepcopy=False, states=None, use_cache=True)
            return len(self._history_for(study).scan(trials, trial.number, False)[0])

    def _sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        if self._n_finished(study, trial) < self._n_startup_trials:
            with self._lock:
                self._scan_at_infer.pop(trial._trial_id, None)
            return {}
        return self._sample(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if self._n_finished(study, trial) < self._n_startup_trials:
            with self._lock:
                streams = self._workers.streams(study, trial)
                random_sampler = self._random_sampler if streams is None else streams[1]
                return random_sampler.sample_independent(
                    study, trial, param_name, param_distribution
                )
        if self._warn_independent_sampling and self._is_multivariate(study):
            trials = study._get_trials(deepcopy=False, states=_STATES_FINISHED, use_cache=True)
            if any(param_name in t.params for t in trials):
                _logger.warning(
                    f"The parameter `{param_name}` in Trial#{trial.number} is sampled "
                    f"independently (univariate TPE) instead of by the multivariate "
                    f"`{self.__class__.__name__}`, potentially degrading the optimization "
                    "performance. This fallback happened because `multivariate=True,group=False` "
                    "does not support dynamic search space (but `multivariate=True,group=True` "
                    "works). You can suppress this warning by setting "
                    "`warn_independent_sampling` to `False`."
                )
        return self._sample(study, trial, {param_name: param_distribution})[param_name]

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        with self._lock:
            token = self._workers.start(study, trial)
        study._storage.set_trial_system_attr(trial._trial_id, _workers.WORKER_ATTR, token)
        self._random_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Optional[Sequence[float]],
    ) -> None:
        if self._constraints_func is not None:
            from optuna.samplers._base import _process_constraints_after_trial

            _process_constraints_after_trial(self._constraints_func, study, trial, state)
        self._random_sampler.after_trial(study, trial, state, values)
        with self._lock:
            self._workers.after_trial(trial)
            self._scan_at_infer.pop(trial._trial_id, None)

    # -- the TPE step -----------------------------------------------------------------------------
    def _history_for(self, study: Study) -> _history.StudyHistory:
        key = (id(study._storage), study._study_id)
        hist = self._histories.get(key)
        if hist is None or not hist.matches(study):
            hist = _history.StudyHistory(study)
            self._histories[key] = hist
        return hist

    def _running_params(self, trial: FrozenTrial, multivariate: bool) -> dict[str, Any]:
        if not multivariate:
            return trial.params
        chunks = []
        i = 0
        while chunk := trial.system_attrs.get(f"{RELATIVE_PARAMS_KEY}:{i}"):
            chunks.append(chunk)
            i += 1
        if not chunks:
            return trial.params
        try:
            params = json.loads("".join(chunks))
        except json.JSONDecodeError:
            return trial.params
        params.update(trial.params)
        return params

    def _sample(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        names = list(search_space)
        dims = self._encode(search_space)
        multi_objective = study._is_multi_objective()
        multivariate = self._is_multivariate(study)
        with self._lock:
            stashed = self._scan_at_infer.pop(trial._trial_id, None)
        trials = None
        if stashed is None:
            # With the constant liar, a fresh read of storage (running trials included), as
            # Optuna does.
            trials = study._get_trials(
                deepcopy=False, states=None, use_cache=not self._constant_liar
            )

        with self._lock:
            hist = self._history_for(study)
            if stashed is not None and stashed[0] is hist:
                finished_rows, running = stashed[1], stashed[2]
            else:
                if trials is None:
                    trials = study._get_trials(
                        deepcopy=False, states=None, use_cache=not self._constant_liar
                    )
                finished_rows, running, _ = hist.scan(trials, trial.number, self._constant_liar)

            gamma = self._gamma
            if gamma is None:
                gamma = default_gamma_multiobjective if multi_objective else default_gamma
            n_below = gamma(len(finished_rows))
            cols = [hist.col_of.get(name, -1) for name in names]
            backend = get_backend_impl()
            if -1 in cols:  # a parameter no finished trial has: no complete observation
                below = above = np.empty((0, len(names)))
                above_rows = np.empty(0, dtype=np.intp)
            elif multi_objective:
                below_rows, above_rows = _multi_objective.split_rows(
                    hist, study, finished_rows, n_below
                )
                below, _ = hist.gather(below_rows, cols)
                above, above_rows = hist.gather(above_rows, cols)
            else:
                below, above, above_rows = backend.split_and_gather(
                    hist, finished_rows, n_below, cols
                )
            if running:
                above = self._merge_running(
                    hist, above_rows, above, running, search_space, multivariate
                )

            if multi_objective:
                below_weights = np.ones(len(below))
            else:
                below_weights = self._kernel_weights(len(below))
            above_weights = self._kernel_weights(len(above))

            streams = self._workers.streams(study, trial)
            best = backend.sample_step(
                dims,
                below,
                below_weights,
                above,
                above_weights,
                self._prior_weight,
                self._consider_magic_clip,
                self._consider_endpoints,
                self._n_ei_candidates,
                self._rng.rng if streams is None else streams[0],
            )
        return {
            name: dist.to_external_repr(float(best[i]))
            for i, (name, dist) in enumerate(search_space.items())
        }

    def _encode(self, search_space: dict[str, BaseDistribution]) -> list:
        key = tuple(search_space.items())
        cached = self._encoded
        if cached is not None and cached[0] == key:
            return cached[1]
        dims = encode_space(search_space)
        self._encoded = (key, dims)
        return dims

    def _kernel_weights(self, n: int) -> np.ndarray:
        if self._weights is default_weights:
            return _default_weights_cached(n)
        return validate_weights(self._weights, n)

    def _merge_running(
        self,
        hist: _history.StudyHistory,
        above_rows: np.ndarray,
        above: np.ndarray,
        running: list[FrozenTrial],
        search_space: dict[str, BaseDistribution],
        multivariate: bool,
    ) -> np.ndarray:
        """Running trials always go to "above" (the constant liar), in trial-number order."""
        extra = np.full((len(running), len(search_space)), math.nan)
        for r, t in enumerate(running):
            params = self._running_params(t, multivariate)
            for c, (name, dist) in enumerate(search_space.items()):
                if name in params:
                    extra[r, c] = dist.to_internal_repr(params[name])
        numbers = np.concatenate(
            [hist.number.data[above_rows], np.array([t.number for t in running], dtype=np.int64)]
        )
        order = np.argsort(numbers, kind="stable")
        return _complete_rows(np.concatenate([above, extra])[order])
