"""``ferrotune.GASampler``: a real-coded genetic algorithm as an Optuna sampler.

Generational with elitism. Generation 0 is random; each later trial is one child of generation
``g``, bred from the parent pool of ``g``: the completed trials of generation ``g - 1`` plus the
``elite_size`` best completed trials of all generations ``< g``. Parents are chosen by tournament,
recombined by SBX (numerical) / uniform crossover (categorical) and mutated by polynomial
mutation (numerical) / a switch to another category (categorical). A trial's generation is stored
in its system attributes (``ferrotune:ga:generation``), so the population is always rebuilt from
the study's storage: a new generation starts once ``population_size`` trials of the current one
have completed.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from optuna.trial import FrozenTrial

from ferrotune._evo_base import (
    EvoSamplerBase,
    best_indices,
    check_float,
    check_positive_int,
    flatten,
    operators,
)
from ferrotune.exceptions import InvalidArgumentError


class GASampler(EvoSamplerBase):
    """Real-coded genetic algorithm (tournament selection, SBX, polynomial mutation, elitism).

    Args:
        population_size: trials per generation (>= 2).
        elite_size: best trials carried into every parent pool (0 <= elite_size < population_size).
        tournament_size: contestants per tournament (>= 1).
        crossover_prob: probability that two parents are recombined.
        eta_crossover: SBX distribution index (larger = children closer to their parents).
        mutation_prob: per-gene mutation probability; ``None`` = 1 / number of parameters.
        eta_mutation: polynomial-mutation distribution index.
        seed: seed for reproducible runs.
    """

    _attr_prefix = "ferrotune:ga"

    def __init__(
        self,
        *,
        population_size: int = 10,
        elite_size: int = 2,
        tournament_size: int = 3,
        crossover_prob: float = 0.9,
        eta_crossover: float = 15.0,
        mutation_prob: Optional[float] = None,
        eta_mutation: float = 20.0,
        seed: Optional[int] = None,
    ) -> None:
        self._population_size = check_positive_int("population_size", population_size, 2)
        self._elite_size = check_positive_int("elite_size", elite_size, 0)
        if self._elite_size >= self._population_size:
            raise InvalidArgumentError("elite_size must be smaller than population_size")
        self._tournament_size = check_positive_int("tournament_size", tournament_size, 1)
        self._crossover_prob = check_float("crossover_prob", crossover_prob, 0.0, 1.0)
        self._eta_crossover = check_float("eta_crossover", eta_crossover, 0.0, 1e9)
        self._mutation_prob = (
            None if mutation_prob is None else check_float("mutation_prob", mutation_prob, 0.0, 1.0)
        )
        self._eta_mutation = check_float("eta_mutation", eta_mutation, 0.0, 1e9)
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
        gens = [int(self._attr(t, "generation", 0)) for t in pop]
        if not pop:
            return ops.evo_random_point(dims, key, pos), {"generation": 0}
        last = max(gens)
        done = sum(1 for g in gens if g == last)
        gen = last + 1 if done >= self._population_size else last
        if gen == 0:
            return ops.evo_random_point(dims, key, pos), {"generation": 0}
        older = [i for i, g in enumerate(gens) if g < gen]
        pool = {i for i in older if gens[i] == gen - 1}
        elite = best_indices([scores[i] for i in older], self._elite_size)
        pool.update(older[i] for i in elite)
        chosen = sorted(pool)
        mutation_prob = (
            1.0 / len(dims) if self._mutation_prob is None else self._mutation_prob
        )
        child = ops.ga_propose(
            dims,
            flatten([rows[i] for i in chosen]),
            [scores[i] for i in chosen],
            self._tournament_size,
            self._crossover_prob,
            self._eta_crossover,
            mutation_prob,
            self._eta_mutation,
            key,
            pos,
        )
        return child, {"generation": gen}
