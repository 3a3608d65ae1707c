"""``ferrotune.Hyperband``: a Hyperband scheduler for ask/tell loops, without an Optuna study.

::

    hb = ferrotune.Hyperband(
        {"lr": FloatDistribution(1e-4, 1e-1, log=True), "layers": IntDistribution(1, 4)},
        min_budget=1, max_budget=81, eta=3, seed=0,
    )
    for _ in range(200):
        job = hb.ask()
        loss = train(job.params, epochs=job.budget)
        hb.tell(job.id, loss)
    print(hb.best())

``mode="sync"`` runs Li et al.'s brackets (JMLR 2018): bracket ``s`` starts ``n`` new
configurations at budget ``max_budget / eta**s`` and, once every job of a rung is told, keeps the
best ``n_{i+1} = floor(n / eta**(i+1))`` for the next rung (see :attr:`Hyperband.brackets`). One
worker asking and telling in turn walks through whole brackets, ``s = s_max, ..., 0`` and again;
when every open bracket waits for results, ``ask`` opens the next bracket, so parallel workers
never wait. ``mode="async"`` promotes ASHA-style (Li et al., MLSys 2020): a configuration moves up
as soon as it is in the best ``1/eta`` of the results told at its rung, otherwise a new
configuration starts; new configurations go to the brackets in the proportions of one synchronous
iteration.

New configurations are drawn uniformly at random (log-uniformly for ``log=True``, uniformly over
the grid for stepped and integer distributions, uniformly over the choices for categoricals) from
``numpy.random.RandomState(seed)``, so a seed reproduces the whole sequence of jobs. The
bookkeeping runs in the Rust core (``ferrotune._core.HbScheduler``) or in its pure-Python twin,
with identical results. Budgets are floats (``max_budget / eta**k``); round them if your resource
is an integer.
"""

from __future__ import annotations

import math
import numbers
import operator
import threading
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from ferrotune._space import encode_distribution
from ferrotune.exceptions import InvalidArgumentError, SearchSpaceError
from ferrotune.pruners import _hb_core

__all__ = ["Hyperband", "Job"]


class Job(NamedTuple):
    """One evaluation to run: configuration ``params`` with resource ``budget``."""

    id: int
    params: Dict[str, Any]
    budget: float
    bracket: int
    """``s`` of the bracket: how many halvings it performs (``s_max`` is the most aggressive)."""
    rung: int
    """Rung within the bracket, 0 for the cheapest."""
    config_id: int
    """Identifies the configuration across its jobs at increasing budgets."""


_FAILED = float(np.finfo(np.float64).max)
"""What the bracket bookkeeping is told for a failed job: worse than any finite loss."""


class Result(NamedTuple):
    job: Job
    loss: float


def _sample(dist: BaseDistribution, rng: np.random.RandomState) -> Any:
    """One uniform draw from ``dist`` in its external representation."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.randint(len(dist.choices)))]
    if isinstance(dist, IntDistribution):
        if dist.log:
            lo, hi = math.log(dist.low - 0.5), math.log(dist.high + 0.5)
            x = int(round(math.exp(float(rng.uniform(lo, hi)))))
            return min(max(x, dist.low), dist.high)
        n = (dist.high - dist.low) // dist.step
        return dist.low + dist.step * int(rng.randint(n + 1))
    if isinstance(dist, FloatDistribution):
        if dist.low == dist.high:
            return float(dist.low)
        if dist.step is not None:
            n = int(round((dist.high - dist.low) / dist.step))
            return min(dist.low + dist.step * int(rng.randint(n + 1)), dist.high)
        if dist.log:
            x = math.exp(float(rng.uniform(math.log(dist.low), math.log(dist.high))))
            return min(max(x, dist.low), dist.high)
        return float(rng.uniform(dist.low, dist.high))
    raise SearchSpaceError(f"unsupported distribution {dist!r}")  # pragma: no cover


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"`{name}` must be a real number, got {value!r}.")
    return float(value)


class Hyperband:
    """Hyperband (``mode="sync"``) or asynchronous Hyperband with ASHA promotions
    (``mode="async"``) over ``search_space`` for an ask/tell loop.

    Args:
        search_space: maps parameter names to Optuna ``FloatDistribution``,
            ``IntDistribution`` or ``CategoricalDistribution``.
        min_budget, max_budget: the smallest and largest budget, ``0 < min_budget < max_budget``.
            The brackets have ``s_max + 1`` rungs at most, ``s_max`` the largest ``s`` with
            ``min_budget * eta**s <= max_budget``; budgets are ``max_budget / eta**k``.
        eta: the reduction factor, an integer >= 2.
        seed: seed of the random configurations (``None``: not reproducible).
        mode: ``"sync"`` or ``"async"``.

    Thread-safe. Errors are ``InvalidArgumentError``/``SearchSpaceError`` (``ValueError``s).
    """

    def __init__(
        self,
        search_space: Mapping[str, BaseDistribution],
        min_budget: float,
        max_budget: float,
        eta: int = 3,
        seed: Optional[int] = None,
        mode: str = "sync",
    ) -> None:
        if not isinstance(search_space, Mapping):
            raise SearchSpaceError(
                f"search_space must map names to Optuna distributions, got {search_space!r}."
            )
        for name, dist in search_space.items():
            if not isinstance(name, str):
                raise SearchSpaceError(f"parameter names must be strings, got {name!r}.")
            encode_distribution(name, dist)  # raises SearchSpaceError for unsupported ones
        if isinstance(eta, bool):
            raise InvalidArgumentError(f"`eta` must be an integer >= 2, got {eta!r}.")
        try:
            eta = operator.index(eta)
        except TypeError:
            raise InvalidArgumentError(f"`eta` must be an integer >= 2, got {eta!r}.") from None
        if not 2 <= eta <= 2**63 - 1:
            raise InvalidArgumentError(f"`eta` must be an integer >= 2, got {eta}.")
        if mode not in ("sync", "async"):
            raise InvalidArgumentError(f"`mode` must be 'sync' or 'async', got {mode!r}.")
        low, high = _real("min_budget", min_budget), _real("max_budget", max_budget)
        try:
            self._rng = np.random.RandomState(seed)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"invalid seed {seed!r}: {exc}") from None
        core = _hb_core()
        self._space = dict(search_space)
        self._core = core.HbScheduler(low, high, eta, mode)
        self._brackets: List[Tuple[int, List[Tuple[int, float]]]] = core.hb_plan(low, high, eta)
        self._mode = mode
        self._eta = eta
        self._configs: Dict[int, Dict[str, Any]] = {}
        self._pending: Dict[int, Job] = {}
        self._results: List[Result] = []
        self._lock = threading.Lock()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def brackets(self) -> List[Tuple[int, List[Tuple[int, float]]]]:
        """Li et al.'s table: ``[(s, [(n_i, r_i), ...]), ...]`` from ``s = s_max`` down to 0."""
        return [(s, list(rungs)) for s, rungs in self._brackets]

    @property
    def results(self) -> List[Result]:
        """Every told job with its loss, in the order told."""
        with self._lock:
            return list(self._results)

    @property
    def n_pending(self) -> int:
        """Jobs handed out and not told yet."""
        with self._lock:
            return len(self._pending)

    def ask(self) -> Job:
        """The next job to run. Never blocks."""
        with self._lock:
            job_id, config, bracket, rung, budget, new = self._core.ask()
            if new:
                self._configs[config] = self._new_params(config)
            job = Job(
                id=job_id,
                params=dict(self._configs[config]),
                budget=budget,
                bracket=bracket,
                rung=rung,
                config_id=config,
            )
            self._pending[job_id] = job
            return job

    def _new_params(self, config: int) -> Dict[str, Any]:
        """Parameters of new configuration ``config`` (called with the lock held)."""
        return {name: _sample(dist, self._rng) for name, dist in self._space.items()}

    def _told(self, job: Job, loss: float) -> None:
        """Hook: ``job`` has been told ``loss`` (``inf`` for a failure; lock held)."""

    @staticmethod
    def _job_id(job: Union[Job, int]) -> int:
        job_id = job.id if isinstance(job, Job) else job
        if isinstance(job_id, bool) or not isinstance(job_id, numbers.Integral):
            raise InvalidArgumentError(f"unknown job {job!r}: pass a Job or its integer id.")
        return int(job_id)

    def tell(self, job: Union[Job, int], loss: float) -> None:
        """Report the loss (lower is better, finite) of a job given by ``ask``, once.

        A NaN or infinite loss raises ``InvalidArgumentError``; report a failed evaluation with
        :meth:`fail` instead."""
        job_id = self._job_id(job)
        if isinstance(loss, bool) or not isinstance(loss, numbers.Real):
            raise InvalidArgumentError(f"the loss must be a real number, got {loss!r}.")
        if not math.isfinite(float(loss)):
            raise InvalidArgumentError(
                f"the loss of job {job_id} must be finite, got {loss!r}; "
                "report a failed evaluation with fail(job)."
            )
        with self._lock:
            self._core.tell(job_id, float(loss))
            told = self._pending.pop(job_id)
            self._results.append(Result(told, float(loss)))
            self._told(told, float(loss))

    def fail(self, job: Union[Job, int]) -> None:
        """Report that a job failed (crashed, diverged, returned NaN), once.

        As in HpBandSter, a failure counts as a loss of ``+inf``: it ranks below every finite
        loss of its rung, so a failed configuration is promoted only when fewer configurations
        of its rung succeeded than the next rung has places (then the next rung re-runs it, in
        rung order). It appears in :attr:`results` with ``loss = inf`` and never in
        :meth:`best`."""
        job_id = self._job_id(job)
        with self._lock:
            self._core.tell(job_id, _FAILED)
            told = self._pending.pop(job_id)
            self._results.append(Result(told, math.inf))
            self._told(told, math.inf)

    def best(self) -> Optional[Result]:
        """The lowest loss among the jobs told at the largest budget any job was told with."""
        with self._lock:
            ok = [r for r in self._results if math.isfinite(r.loss)]
            if not ok:
                return None
            top = max(r.job.budget for r in ok)
            return min((r for r in ok if r.job.budget == top), key=lambda r: r.loss)
