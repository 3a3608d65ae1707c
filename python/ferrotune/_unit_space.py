"""The map of a numerical Optuna distribution onto the unit interval, shared by the samplers
that work in [0, 1] coordinates (BOHB's model space, the GA/PSO/ACO operators)."""

from __future__ import annotations

import math
from typing import Any

from optuna.distributions import BaseDistribution, IntDistribution


class UnitMap:
    """Affine map of one numerical (float or int) distribution onto [0, 1] and back.

    Floats map ``[low, high]`` (in ``log`` space for ``log=True``); ints and stepped floats map
    ``[low - step/2, high + step/2]`` (log ints: ``[log(low - 1/2), log(high + 1/2)]``), so that
    every grid value owns an equal share of [0, 1]. Decoding rounds half up to the nearest grid
    value and clips to the bounds; a single-value distribution encodes to 0.
    """

    def __init__(self, dist: BaseDistribution) -> None:
        self.dist = dist
        self.is_int = isinstance(dist, IntDistribution)
        step = dist.step
        self.step = None if step is None else float(step)
        self.log = bool(dist.log)
        low, high = float(dist.low), float(dist.high)
        self.low, self.high = low, high
        if self.step is not None and not self.log:
            lo, hi = low - self.step / 2, high + self.step / 2
        elif self.is_int:  # log int (step 1)
            lo, hi = math.log(low - 0.5), math.log(high + 0.5)
        elif self.log:
            lo, hi = math.log(low), math.log(high)
        else:
            lo, hi = low, high
        self.lo, self.span = lo, hi - lo

    def encode(self, x: Any) -> float:
        if self.span == 0.0 or self.low == self.high:
            return 0.0
        t = math.log(float(x)) if self.log else float(x)
        return min(max((t - self.lo) / self.span, 0.0), 1.0)

    def decode(self, v: float) -> Any:
        if self.low == self.high:
            return int(self.low) if self.is_int else self.low
        t = self.lo + float(v) * self.span
        x = math.exp(t) if self.log else t
        if self.step is not None and not self.log:
            n = int(round((self.high - self.low) / self.step))
            k = min(max(int(math.floor((x - self.low) / self.step + 0.5)), 0), n)
            x = self.low + k * self.step
            return int(round(x)) if self.is_int else min(x, self.high)
        if self.is_int:
            return min(max(int(math.floor(x + 0.5)), int(self.low)), int(self.high))
        return min(max(x, self.low), self.high)
