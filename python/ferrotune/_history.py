"""Per-study cache of finished trials, converted once into arrays.

Finished trials never change (Optuna's storages refuse updates to them), so each one is converted
to the internal representation exactly once. Every TPE step still reads the trial list from
storage and maps it onto the cache by trial id, so the cache only accelerates: a trial the cache
has not seen is converted on the spot, and the set of trials used is always the storage's.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

COMPLETE = 0
PRUNED = 1
INFEASIBLE = 2


def infeasible_score(trial: FrozenTrial) -> float:
    """Sum of the positive constraint values (0.0 for a feasible trial)."""
    return float(sum(v for v in trial.constraints.values() if v > 0))


def pruned_key(trial: FrozenTrial, maximize: bool) -> tuple[float, float]:
    """Sort key of a pruned trial: trials that got further first, then better last values."""
    if len(trial.intermediate_values) == 0:
        return 1.0, 0.0
    step, value = max(trial.intermediate_values.items())
    if math.isnan(value):
        return -float(step), math.inf
    return -float(step), (-value if maximize else value)


class _Column:
    """A growable 1-D numpy array."""

    __slots__ = ("data", "n")

    def __init__(self, dtype: Any, fill: Any = 0) -> None:
        self.data = np.full(64, fill, dtype=dtype)
        self.n = 0

    def append(self, value: Any) -> None:
        if self.n == len(self.data):
            grown = np.empty(2 * len(self.data), dtype=self.data.dtype)
            grown[: self.n] = self.data
            self.data = grown
        self.data[self.n] = value
        self.n += 1


class StudyHistory:
    """Finished trials of one study in the internal representation."""

    def __init__(self, study: Study) -> None:
        self._storage_ref = weakref.ref(study._storage)
        self.study_id = study._study_id
        self.multi_objective = len(study.directions) > 1
        self.maximize = (not self.multi_objective) and study.direction == StudyDirection.MAXIMIZE
        self.row_of: dict[int, int] = {}
        self.number = _Column(np.int64)
        self.kind = _Column(np.int8)
        self.value = _Column(np.float64, math.nan)
        self.prune0 = _Column(np.float64)
        self.prune1 = _Column(np.float64)
        self.infeasible = _Column(np.float64)
        self.trials: list[FrozenTrial] = []
        self.col_of: dict[str, int] = {}
        self.matrix = np.full((64, 4), math.nan)

    def matches(self, study: Study) -> bool:
        return self._storage_ref() is study._storage and self.study_id == study._study_id

    def __len__(self) -> int:
        return self.number.n

    def column(self, name: str) -> int:
        col = self.col_of.get(name)
        if col is None:
            col = len(self.col_of)
            if col == self.matrix.shape[1]:
                grown = np.full((self.matrix.shape[0], 2 * col), math.nan)
                grown[:, :col] = self.matrix
                self.matrix = grown
            self.col_of[name] = col
        return col

    def add(self, trial: FrozenTrial) -> int:
        """Convert a finished (COMPLETE or PRUNED) trial and return its row."""
        row = self.number.n
        score = infeasible_score(trial)
        if score > 0:
            kind = INFEASIBLE
        elif trial.state == TrialState.COMPLETE:
            kind = COMPLETE
        elif trial.state == TrialState.PRUNED:
            kind = PRUNED
        else:  # pragma: no cover - callers pass finished trials only
            raise ValueError(f"trial {trial.number} is not finished ({trial.state.name})")
        key = pruned_key(trial, self.maximize) if kind == PRUNED else (0.0, 0.0)
        value = trial.value if (kind == COMPLETE and not self.multi_objective) else math.nan

        if row == self.matrix.shape[0]:
            grown = np.full((2 * row, self.matrix.shape[1]), math.nan)
            grown[:row] = self.matrix
            self.matrix = grown
        dists = trial.distributions
        for name, external in trial.params.items():
            col = self.column(name)
            self.matrix[row, col] = dists[name].to_internal_repr(external)

        self.number.append(trial.number)
        self.kind.append(kind)
        self.value.append(math.nan if value is None else value)
        self.prune0.append(key[0])
        self.prune1.append(key[1])
        self.infeasible.append(score)
        self.trials.append(trial)
        self.row_of[trial._trial_id] = row
        return row

    def observations(self, rows: np.ndarray, names: list[str]) -> np.ndarray:
        """The ``(len(rows), len(names))`` block of internal values (NaN where a trial lacks a
        parameter)."""
        cols = [self.col_of.get(name, -1) for name in names]
        out = np.full((len(rows), len(names)), math.nan)
        present = [i for i, c in enumerate(cols) if c >= 0]
        if present and len(rows):
            out[:, present] = self.matrix[np.ix_(rows, [cols[i] for i in present])]
        return out
