"""``ferrotune.PSOSampler``: particle swarm optimisation as an Optuna sampler.

Trial ``n`` moves particle ``n % swarm_size``. The particle's state is read from the study's
storage: its position is the parameters of its latest completed trial, its velocity the system
attribute ``ferrotune:pso:velocity`` of that trial, its personal best the best of its completed
trials; the swarm's best is the best completed trial. A particle with no completed trial yet is
(re)initialised at a random position with a random velocity.

Numerical parameters move with inertia, cognitive and social pulls, the velocity clamped to
``max_velocity`` (in units of the parameter's encoded range). Categorical parameters have no
velocity: the next choice is drawn with weight ``inertia`` on the current choice,
``cognitive * r1`` on the personal best's, ``social * r2`` on the swarm best's (``r1``, ``r2``
uniform in [0, 1)) and ``categorical_epsilon / n_choices`` on every choice.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np
from optuna.trial import FrozenTrial

from ferrotune._evo_base import EvoSamplerBase, best_indices, check_float, check_positive_int, operators
from ferrotune.exceptions import InvalidArgumentError


class PSOSampler(EvoSamplerBase):
    """Particle swarm optimisation (inertia, cognitive/social weights, velocity clamping).

    Args:
        swarm_size: number of particles (>= 1).
        inertia: inertia weight ``w``.
        cognitive: cognitive weight ``c1`` (pull towards the particle's best).
        social: social weight ``c2`` (pull towards the swarm's best).
        max_velocity: velocity clamp per coordinate, as a fraction of the encoded range (0, 1].
        categorical_epsilon: exploration mass spread over the choices of a categorical parameter.
        seed: seed for reproducible runs.

    Defaults are Clerc's constriction coefficients (w = 0.7298, c1 = c2 = 1.49618).
    """

    _attr_prefix = "ferrotune:pso"

    def __init__(
        self,
        *,
        swarm_size: int = 20,
        inertia: float = 0.7298,
        cognitive: float = 1.49618,
        social: float = 1.49618,
        max_velocity: float = 0.2,
        categorical_epsilon: float = 0.1,
        seed: Optional[int] = None,
    ) -> None:
        self._swarm_size = check_positive_int("swarm_size", swarm_size, 1)
        self._inertia = check_float("inertia", inertia, 0.0, 10.0)
        self._cognitive = check_float("cognitive", cognitive, 0.0, 10.0)
        self._social = check_float("social", social, 0.0, 10.0)
        self._max_velocity = check_float("max_velocity", max_velocity, 0.0, 1.0, open_low=True)
        self._epsilon = check_float("categorical_epsilon", categorical_epsilon, 0.0, 1.0)
        if self._inertia + self._cognitive + self._social + self._epsilon <= 0.0:
            raise InvalidArgumentError("inertia, cognitive, social and categorical_epsilon are all zero")
        super().__init__(seed)

    def _coefficients(self) -> tuple[float, float, float, float, float]:
        return (self._inertia, self._cognitive, self._social, self._max_velocity, self._epsilon)

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
        d = len(dims)
        particle = trial.number % self._swarm_size
        mine = [i for i, t in enumerate(pop) if self._attr(t, "particle") == particle]
        latest = mine[-1] if mine else None  # pop is sorted by trial number
        velocity = None if latest is None else self._attr(pop[latest], "velocity")
        valid = (
            isinstance(velocity, list)
            and len(velocity) == d
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in velocity)
        )
        if latest is None or not valid:
            out = ops.pso_init(dims, *self._coefficients(), key, pos)
        else:
            own_best = mine[best_indices([scores[i] for i in mine], 1)[0]]
            swarm_best = best_indices(scores, 1)[0]
            out = ops.pso_propose(
                dims,
                rows[latest],
                [float(v) for v in velocity],
                rows[own_best],
                rows[swarm_best],
                *self._coefficients(),
                key,
                pos,
            )
        return out[:d], {"particle": particle, "velocity": [float(v) for v in out[d:]]}
