"""``ferrotune.BOHB``: Hyperband whose new configurations come from BOHB's model, for ask/tell
loops without Optuna.

::

    bohb = ferrotune.BOHB(space, min_budget=1, max_budget=81, eta=3, seed=0)
    for _ in range(300):
        job = bohb.ask()
        try:
            bohb.tell(job, train(job.params, epochs=job.budget))
        except Diverged:
            bohb.fail(job)
    print(bohb.best())

Same schedule, API and errors as :class:`ferrotune.Hyperband` (``mode="sync"`` or ``"async"``);
only the parameters of a *new* configuration differ: they are proposed by BOHB's model (the
README's BOHB section) fitted on every result told so far, where a failed job (:meth:`fail`)
counts as a loss of ``+inf`` at its budget. Promoted configurations keep their parameters. All
randomness comes from one ``numpy.random.RandomState(seed)``, consumed identically by the Rust
core and its numpy twin, so a seed reproduces the whole run with either backend.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from optuna.distributions import BaseDistribution

from ferrotune._bohb_space import (
    DEFAULTS,
    DEFAULT_MODEL,
    Encoder,
    Observations,
    bohb_core,
    check_options,
    propose,
)
from ferrotune.scheduler import Hyperband, Job

__all__ = ["BOHB"]


class BOHB(Hyperband):
    """BOHB (Falkner, Klein and Hutter, ICML 2018) as an ask/tell scheduler.

    Args:
        search_space, min_budget, max_budget, eta, seed, mode: as for
            :class:`ferrotune.Hyperband`.
        min_points_in_model, top_n_percent, num_samples, random_fraction, bandwidth_factor,
            min_bandwidth, model: BOHB's options, as for :class:`ferrotune.BOHBSampler`
            (default: the TPE model; ``model="kde"`` for HpBandSter's KDEs and defaults).

    Thread-safe. Bad arguments raise ``InvalidArgumentError``/``SearchSpaceError``.
    """

    def __init__(
        self,
        search_space: Mapping[str, BaseDistribution],
        min_budget: float,
        max_budget: float,
        eta: int = 3,
        seed: Optional[int] = None,
        mode: str = "sync",
        *,
        min_points_in_model: Optional[int] = DEFAULTS["min_points_in_model"],
        top_n_percent: int = DEFAULTS["top_n_percent"],
        num_samples: int = DEFAULTS["num_samples"],
        random_fraction: Optional[float] = DEFAULTS["random_fraction"],
        bandwidth_factor: float = DEFAULTS["bandwidth_factor"],
        min_bandwidth: float = DEFAULTS["min_bandwidth"],
        model: str = DEFAULT_MODEL,
    ) -> None:
        self._model, opts = check_options(
            model,
            min_points_in_model,
            top_n_percent,
            num_samples,
            random_fraction,
            bandwidth_factor,
            min_bandwidth,
        )
        super().__init__(search_space, min_budget, max_budget, eta=eta, seed=seed, mode=mode)
        self._opts = opts
        self._encoder = Encoder(self._space)
        self._bohb = bohb_core()
        self._vectors: Dict[int, List[float]] = {}
        self._obs = Observations(len(self._encoder.kinds))
        self._sources: List[int] = []
        self._model_budgets: List[Optional[float]] = []

    @property
    def sources(self) -> List[int]:
        """Per new configuration, where it came from: 0 no model yet, 1 random fraction,
        2 the model, 3 the model gave no usable candidate (random)."""
        with self._lock:
            return list(self._sources)

    @property
    def model_budgets(self) -> List[Optional[float]]:
        """Per new configuration, the budget of the model in use (``None``: no model)."""
        with self._lock:
            return list(self._model_budgets)

    def _new_params(self, config: int) -> Dict[str, Any]:
        params, source, budget = propose(
            self._bohb,
            self._encoder,
            *self._obs.arrays(),
            self._opts,
            self._rng,
            self._model,
        )
        self._vectors[config] = self._encoder.encode(params)
        self._sources.append(source)
        self._model_budgets.append(budget)
        return params

    def _told(self, job: Job, loss: float) -> None:
        self._obs.append(float(job.budget), self._vectors[job.config_id], loss, job.config_id)
