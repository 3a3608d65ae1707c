"""Per-study cache of finished trials, converted once into arrays.

Finished trials never change (Optuna's storages refuse updates to them), so each one is converted
to the internal representation exactly once. Every TPE step still reads the trial list from
storage and maps it onto the cache by trial id, so the cache only accelerates: a trial the cache
has not seen is converted on the spot, and the set of trials used is always the storage's.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Optional, Sequence

import numpy as np
from optuna.study import Study, StudyDirection

from ferrotune._backend import get_backend_impl
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
        # The leading run of trials in a final state seen last time (see `scan`).
        self._prefix_ids: list[FrozenTrial] = []
        self._prefix_rows = _Column(np.intp)
        self._prefix_space: dict[str, Any] | None = None

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

    def gather(self, rows: np.ndarray, cols: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Observations of ``rows`` for the matrix columns ``cols``, leaving out rows that lack
        one of them; returns the block and the rows kept."""
        block = self.matrix.take(rows, axis=0)[:, cols]
        missing = np.isnan(block).any(axis=1)
        if missing.any():
            return block[~missing], rows[~missing]
        return block, rows

    def scan(
        self, trials: Sequence[FrozenTrial], exclude_number: int, include_running: bool
    ) -> tuple[np.ndarray, list[FrozenTrial], dict[str, Any]]:
        """Map a storage trial list (all states, in storage order) onto the cache.

        Returns the rows of its COMPLETE and PRUNED trials (in list order), its RUNNING trials
        except trial ``exclude_number`` (when ``include_running``), and the intersection search
        space of the finished trials (parameters every one of them has with the same
        distribution, sorted by name, as Optuna's ``IntersectionSearchSpace``).

        The list always comes from storage; the cache only saves work. The leading run of
        trials whose state is final (COMPLETE, PRUNED, FAIL) is remembered with its rows and
        its intersection, and checked trial by trial against each new list, so only the trials after
        it are looked at one by one. Any other change of the list resets the run.
        """
        ids = self._prefix_ids
        n_prefix = len(ids)
        # Storages that hand out the same trial objects (in-memory) pass on identity alone;
        # otherwise (or past the first differing object) FrozenTrial equality decides.
        if len(trials) < n_prefix or not _same_prefix(trials, ids):
            ids = self._prefix_ids = []
            self._prefix_rows = _Column(np.intp)
            self._prefix_space = None
            n_prefix = 0
        rows = self._prefix_rows
        space = self._prefix_space
        tail_rows: list[int] = []
        running: list[FrozenTrial] = []
        extending = True
        get_row = self.row_of.get
        for t in trials[n_prefix:]:
            row = get_row(t._trial_id)
            if row is None:
                state = t.state
                if state == TrialState.FAIL:
                    if extending:
                        ids.append(t)
                    continue
                if state != TrialState.COMPLETE and state != TrialState.PRUNED:
                    extending = False
                    if include_running and state == TrialState.RUNNING:
                        if t.number != exclude_number:
                            running.append(t)
                    continue
                row = self.add(t)
            dists = self.trials[row].distributions
            if space is None:
                space = dict(dists)
            else:
                space = {k: d for k, d in space.items() if dists.get(k) == d}
            if extending:
                ids.append(t)
                rows.append(row)
                self._prefix_space = space
            else:
                tail_rows.append(row)
        finished = rows.data[: rows.n]
        if tail_rows:
            finished = np.concatenate([finished, np.asarray(tail_rows, dtype=np.intp)])
        return finished, running, ({} if space is None else dict(sorted(space.items())))


def _same_prefix(trials: Sequence[FrozenTrial], ids: list[FrozenTrial]) -> bool:
    """Whether ``trials`` starts with the trials ``ids`` (identical or equal objects)."""
    n = len(ids)
    k = 0
    if type(trials) is list:
        backend = get_backend_impl()
        if backend.name == "rust":
            k = backend.core.identical_prefix(trials, ids)  # type: ignore[attr-defined]
    return k == n or list(trials[k:n]) == ids[k:]


SplitComplete = Callable[[StudyHistory, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def split_rows(
    hist: StudyHistory,
    rows: np.ndarray,
    n_below: int,
    split_complete: Optional[SplitComplete] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Below/above split of finished trials, as Optuna ranks them: complete trials by value
    (stable; descending when maximising), then pruned trials by (-last step, last value), then
    infeasible ones by violation; each side in trial-number order. ``split_complete``
    replaces the ranking of complete trials (multi-objective studies)."""
    kind = hist.kind.data[rows]
    complete = rows[kind == COMPLETE]
    pruned = rows[kind == PRUNED]
    infeasible = rows[kind == INFEASIBLE]

    nb = min(n_below, len(complete))
    if split_complete is not None:
        below_c, above_c = split_complete(hist, complete, nb)
    else:
        vals = hist.value.data[complete]
        order = np.argsort(-vals if hist.maximize else vals, kind="stable")
        below_c, above_c = complete[order[:nb]], complete[order[nb:]]
    n_below = max(0, n_below - len(below_c))

    nb = min(n_below, len(pruned))
    order = np.lexsort((hist.prune1.data[pruned], hist.prune0.data[pruned]))
    below_p, above_p = pruned[order[:nb]], pruned[order[nb:]]
    n_below = max(0, n_below - len(below_p))

    nb = min(n_below, len(infeasible))
    order = np.argsort(hist.infeasible.data[infeasible], kind="stable")
    below_i, above_i = infeasible[order[:nb]], infeasible[order[nb:]]

    below = np.concatenate([below_c, below_p, below_i])
    above = np.concatenate([above_c, above_p, above_i])
    below = below[np.argsort(hist.number.data[below], kind="stable")]
    above = above[np.argsort(hist.number.data[above], kind="stable")]
    return below, above
