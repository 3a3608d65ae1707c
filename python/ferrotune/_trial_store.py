"""Pure-Python (numpy) twin of the native ``ferrotune._core.TrialStore``.

Same methods, same results: finished trials are rows of column arrays, running trials are kept
apart with their parameters and constant-liar values, and ``sample`` runs one TPE step over them
with the store's own numpy ``RandomState`` (the stream the native store copies at creation).
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from ferrotune import _history
from ferrotune._space import Dim
from ferrotune.exceptions import InvalidArgumentError
from ferrotune.sampler import default_weights


class _Running:
    __slots__ = ("liar", "params")

    def __init__(self) -> None:
        self.liar: dict[int, float] = {}
        self.params: dict[int, float] = {}

    def get(self, col: int) -> Optional[float]:
        v = self.params.get(col)
        return self.liar.get(col) if v is None else v


class PyTrialStore:
    """See ``ferrotune._core.TrialStore``; ``rng`` is the numpy ``RandomState`` of TPE steps."""

    def __init__(self, maximize: bool, rng: np.random.RandomState) -> None:
        self.maximize = bool(maximize)
        self.rng = rng
        self.number = _history._Column(np.int64)
        self.kind = _history._Column(np.int8)
        self.value = _history._Column(np.float64, math.nan)
        self.prune0 = _history._Column(np.float64)
        self.prune1 = _history._Column(np.float64)
        self.infeasible = _history._Column(np.float64)
        self.columns: list[_history._Column] = []
        self.running: dict[int, _Running] = {}
        self._numbers: set[int] = set()

    def __len__(self) -> int:
        return self.number.n

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def table_bytes(self) -> int:
        cols = [self.number, self.kind, self.value, self.prune0, self.prune1, self.infeasible]
        return sum(c.data.nbytes for c in cols + self.columns)

    @property
    def n_running(self) -> int:
        return len(self.running)

    def add_column(self) -> int:
        col = _history._Column(np.float64, math.nan)
        col.data = np.full(max(64, len(self.number.data)), math.nan)
        col.n = self.number.n
        self.columns.append(col)
        return len(self.columns) - 1

    def _check_col(self, col: int) -> None:
        if not 0 <= col < len(self.columns):
            raise InvalidArgumentError(f"no parameter column {col} ({len(self.columns)} exist)")

    def _running(self, number: int) -> _Running:
        r = self.running.get(number)
        if r is None:
            raise InvalidArgumentError(f"trial {number} is not running")
        return r

    def start(self, number: int) -> None:
        if number in self.running or number in self._numbers:
            raise InvalidArgumentError(f"trial {number} already exists")
        self.running[number] = _Running()

    def set_param(self, number: int, col: int, value: float) -> None:
        self._check_col(col)
        if math.isnan(value):
            raise InvalidArgumentError(f"trial {number}: a parameter value must not be NaN")
        r = self._running(number)
        if col in r.params:
            raise InvalidArgumentError(f"trial {number} already has a value for column {col}")
        r.params[col] = float(value)

    def set_liar(self, number: int, cols: Sequence[int], values: Sequence[float]) -> None:
        if len(cols) != len(values):
            raise InvalidArgumentError("cols and values must have equal lengths")
        for c in cols:
            self._check_col(c)
        self._running(number).liar = {int(c): float(v) for c, v in zip(cols, values)}

    def finish(
        self, number: int, kind: int, value: float, prune_step: float, prune_value: float
    ) -> int:
        if kind not in (_history.COMPLETE, _history.PRUNED, _history.INFEASIBLE):
            raise InvalidArgumentError(f"unknown trial kind {kind}")
        r = self._running(number)
        del self.running[number]
        row = self.number.n
        for c, col in enumerate(self.columns):
            col.append(r.params.get(c, math.nan))
        self.number.append(number)
        self.kind.append(kind)
        self.value.append(value)
        self.prune0.append(prune_step)
        self.prune1.append(prune_value)
        self.infeasible.append(0.0)
        self._numbers.add(number)
        return row

    def discard(self, number: int) -> None:
        self._running(number)
        del self.running[number]

    def column(self, col: int) -> np.ndarray:
        self._check_col(col)
        return self.columns[col].data[: self.number.n].copy()

    def numbers(self) -> np.ndarray:
        return self.number.data[: self.number.n].copy()

    def rng_state(self) -> tuple[np.ndarray, int]:
        state = self.rng.get_state(legacy=True)
        return state[1], int(state[2])

    def _gather(
        self, rows: np.ndarray, cols: Sequence[int], liars: Sequence[tuple[int, _Running]]
    ) -> np.ndarray:
        n = self.number.n
        block = np.column_stack([self.columns[c].data[:n][rows] for c in cols]).reshape(
            len(rows), len(cols)
        )
        numbers = self.number.data[rows]
        keep = ~np.isnan(block).any(axis=1)
        block, numbers = block[keep], numbers[keep]
        if liars:
            extra, extra_numbers = [], []
            for num, r in liars:
                point = [r.get(c) for c in cols]
                if all(v is not None for v in point):
                    extra.append(point)
                    extra_numbers.append(num)
            if extra:
                block = np.concatenate([block, np.asarray(extra, dtype=float)])
                numbers = np.concatenate([numbers, np.asarray(extra_numbers, dtype=np.int64)])
                block = block[np.argsort(numbers, kind="stable")]
        return block

    def sample(
        self,
        exclude: int,
        cols: Sequence[int],
        dims: Sequence[Dim],
        n_below: int,
        below_rows: Optional[Sequence[int]],
        uniform_below: bool,
        constant_liar: bool,
        prior_weight: float,
        consider_magic_clip: bool,
        consider_endpoints: bool,
        n_candidates: int,
    ) -> list[float]:
        from ferrotune import _numpy_core

        if not cols or len(dims) != len(cols):
            raise InvalidArgumentError(f"{len(cols)} columns for {len(dims)} dimensions")
        for c in cols:
            self._check_col(c)
        n = self.number.n
        rows = np.argsort(self.number.data[:n], kind="stable")
        if below_rows is not None:
            mask = np.zeros(n, dtype=bool)
            mask[np.asarray(below_rows, dtype=np.intp)] = True
            below, above = rows[mask[rows]], rows[~mask[rows]]
        else:
            below, above = _history.split_rows(self, rows, n_below)
        liars = (
            sorted((num, r) for num, r in self.running.items() if num != exclude)
            if constant_liar
            else []
        )
        below_obs = self._gather(below, cols, [])
        above_obs = self._gather(above, cols, liars)
        nb, na = len(below_obs), len(above_obs)
        below_w = np.ones(nb) if uniform_below else default_weights(nb)
        best = _numpy_core.sample_step(
            list(dims),
            below_obs,
            np.asarray(below_w, dtype=float),
            above_obs,
            np.asarray(default_weights(na), dtype=float),
            prior_weight,
            consider_magic_clip,
            consider_endpoints,
            n_candidates,
            self.rng,
        )
        return [float(v) for v in best]


def make_store(backend: str, maximize: bool, rng: np.random.RandomState) -> Any:
    """A trial store for ``backend`` (``"rust"`` or ``"python"``) starting at ``rng``'s state."""
    if backend == "rust":
        from ferrotune import _core  # type: ignore[attr-defined]

        state = rng.get_state(legacy=True)
        return _core.TrialStore(maximize, np.ascontiguousarray(state[1]), int(state[2]))
    return PyTrialStore(maximize, rng)
