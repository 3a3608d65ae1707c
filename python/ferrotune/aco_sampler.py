"""``ferrotune.ACOSampler``: ACO_R (Socha and Dorigo 2008) as an Optuna sampler.

The solution archive is the ``archive_size`` best completed trials of the study (so it is always
rebuilt from storage; keeping the best k of all solutions is exactly ACO_R's archive update).
Until the study has that many completed trials, ants sample uniformly at random (the random
initial archive). Each trial is one ant: it picks a guiding solution with probability proportional
to the rank weight ``exp(-rank^2 / (2 q^2 k^2))`` and samples every numerical parameter from a
Gaussian centred on the guide with standard deviation ``xi`` times the mean distance from the
guide to the other archive members (in the encoded space: log scale for log parameters).

Categorical parameters (an extension in the spirit of ACO_MV): a choice is drawn with probability
proportional to the total rank weight of the archive members holding it, plus
``categorical_epsilon`` times the total weight spread evenly over all choices.

The paper updates the archive after ``m`` ants; here it is updated after every completed trial.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from optuna.trial import FrozenTrial

from ferrotune._evo_base import EvoSamplerBase, best_indices, check_float, check_positive_int, flatten, operators


class ACOSampler(EvoSamplerBase):
    """Ant colony optimisation for continuous (and mixed) domains, ACO_R.

    Args:
        archive_size: ``k``, the number of solutions in the archive (>= 2).
        q: selection pressure (> 0; small = the best solutions guide almost every ant).
        xi: width factor of the sampling Gaussians (> 0; the paper's evaporation analogue).
        categorical_epsilon: exploration mass for categorical parameters.
        seed: seed for reproducible runs.
    """

    _attr_prefix = "ferrotune:aco"

    def __init__(
        self,
        *,
        archive_size: int = 20,
        q: float = 0.25,
        xi: float = 0.85,
        categorical_epsilon: float = 0.1,
        seed: Optional[int] = None,
    ) -> None:
        self._archive_size = check_positive_int("archive_size", archive_size, 2)
        self._q = check_float("q", q, 0.0, 1e6, open_low=True)
        self._xi = check_float("xi", xi, 0.0, 1e6, open_low=True)
        self._epsilon = check_float("categorical_epsilon", categorical_epsilon, 0.0, 1.0)
        super().__init__(seed)

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
        ops = operators()
        k = self._archive_size
        if len(pop) < k:
            return ops.evo_random_point(dims, key, pos), {}
        archive = best_indices(scores, k)
        point = ops.aco_propose(
            dims, flatten([rows[i] for i in archive]), k, self._q, self._xi, self._epsilon, key, pos
        )
        return point, {}
