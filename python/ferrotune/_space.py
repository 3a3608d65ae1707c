"""Encoding of Optuna distributions into the flat dimension records both backends understand."""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from ferrotune.exceptions import SearchSpaceError

NUMERICAL = 0
CATEGORICAL = 1


class Dim(NamedTuple):
    """One dimension of a search space, in the internal representation.

    ``kind`` is NUMERICAL or CATEGORICAL. For numerical dimensions ``low``/``high`` are the
    distribution's own bounds (not log-transformed), ``step`` is 0.0 for continuous floats and
    the grid step for stepped floats and ints, ``log`` tells a log scale. For categorical
    dimensions only ``n_choices`` matters (observations are choice indices).
    """

    kind: int
    low: float
    high: float
    step: float
    log: bool
    n_choices: int


def encode_distribution(name: str, dist: BaseDistribution) -> Dim:
    if isinstance(dist, CategoricalDistribution):
        return Dim(CATEGORICAL, 0.0, float(len(dist.choices) - 1), 0.0, False, len(dist.choices))
    if isinstance(dist, IntDistribution):
        return Dim(NUMERICAL, float(dist.low), float(dist.high), float(dist.step), bool(dist.log), 0)
    if isinstance(dist, FloatDistribution):
        step = 0.0 if dist.step is None else float(dist.step)
        low, high = float(dist.low), float(dist.high)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise SearchSpaceError(f"Parameter {name!r}: bounds must be finite, got {dist}.")
        return Dim(NUMERICAL, low, high, step, bool(dist.log), 0)
    raise SearchSpaceError(
        f"Parameter {name!r}: unsupported distribution type {type(dist).__name__}; "
        "ferrotune supports FloatDistribution, IntDistribution and CategoricalDistribution."
    )


def encode_space(search_space: Mapping[str, BaseDistribution]) -> list[Dim]:
    return [encode_distribution(name, dist) for name, dist in search_space.items()]
