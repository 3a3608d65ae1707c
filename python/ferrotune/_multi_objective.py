"""Multi-objective split of complete trials: non-domination ranks, hypervolume, hypervolume
subset selection (HSSP) and the reference point, as Optuna 5.0's TPE computes them.

Each public function runs in the Rust core (``ferrotune._core.mo_*``) when the Rust backend is
active and in the numpy code of this module otherwise (``*_py``); both give the same results.
Nothing here calls Optuna's private functions.

All point sets are loss vectors: every objective minimised (callers negate maximised ones).
"""

from __future__ import annotations

import bisect
import math
from typing import Optional

import numpy as np

from ferrotune._backend import get_backend_impl
from ferrotune.exceptions import InvalidArgumentError

EPS = 1e-12
_HV_OUTSIDE = (
    "All points must dominate or equal the reference point. That is, for all points in the "
    "loss_vals and the coordinate `i`, `loss_vals[i] <= reference_point[i]`."
)


def _core() -> Optional[object]:
    backend = get_backend_impl()
    return getattr(backend, "core", None) if backend.name == "rust" else None


def _as_points(loss: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(loss, dtype=np.float64)
    if arr.ndim != 2:
        raise InvalidArgumentError(f"points must be a 2-D array, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise InvalidArgumentError("points must have at least one objective")
    return arr


def _check_no_nan(arr: np.ndarray, what: str) -> None:
    if np.isnan(arr).any():
        raise InvalidArgumentError(f"{what} must not contain NaN")


# -- public dispatchers -------------------------------------------------------------------------
def nondomination_ranks(
    loss: np.ndarray, n_below: Optional[int] = None, penalty: Optional[np.ndarray] = None
) -> np.ndarray:
    """Non-domination ranks (0 = Pareto front), exact up to the front completing the best
    ``n_below`` distinct points; with ``penalty``, infeasible points (penalty > 0) are ranked by
    penalty after the feasible ones (Optuna's ``_fast_non_domination_rank``)."""
    arr = _as_points(loss)
    pen = None if penalty is None else np.ascontiguousarray(penalty, dtype=np.float64)
    core = _core()
    if core is not None:
        return core.mo_nondomination_ranks(arr, n_below, pen)
    return nondomination_ranks_py(arr, n_below, pen)


def compute_hypervolume(
    loss: np.ndarray, reference: np.ndarray, assume_pareto: bool = False
) -> float:
    arr = _as_points(loss)
    ref = np.ascontiguousarray(reference, dtype=np.float64)
    core = _core()
    if core is not None:
        return float(core.mo_compute_hypervolume(arr, ref, bool(assume_pareto)))
    return compute_hypervolume_py(arr, ref, assume_pareto)


def solve_hssp(
    loss: np.ndarray, labels: np.ndarray, subset_size: int, reference: np.ndarray
) -> np.ndarray:
    arr = _as_points(loss)
    lab = np.ascontiguousarray(labels, dtype=np.int64)
    ref = np.ascontiguousarray(reference, dtype=np.float64)
    core = _core()
    if core is not None:
        return core.mo_solve_hssp(arr, lab, int(subset_size), ref)
    return solve_hssp_py(arr, lab, int(subset_size), ref)


def reference_point(loss: np.ndarray) -> np.ndarray:
    arr = _as_points(loss)
    core = _core()
    if core is not None:
        return core.mo_reference_point(arr)
    return reference_point_py(arr)


def split_below(loss: np.ndarray, n_below: int) -> np.ndarray:
    """Boolean mask of the complete trials (rows of ``loss``) that go below."""
    arr = _as_points(loss)
    core = _core()
    if core is not None:
        return core.mo_split_below(arr, int(n_below))
    return split_below_py(arr, int(n_below))


# -- numpy implementation -----------------------------------------------------------------------
def _unique_rows(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lexicographically sorted distinct rows, the first occurrence of each, and the inverse."""
    n = arr.shape[0]
    order = np.lexsort(arr.T[::-1]) if n else np.zeros(0, dtype=np.intp)  # stable
    srt = arr[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = np.any(srt[1:] != srt[:-1], axis=1)
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    return srt[new], order[new], inverse


def _ranks_2d(srt: np.ndarray) -> np.ndarray:
    best: list[float] = []  # smallest second objective of each front so far (non-decreasing)
    ranks = np.empty(len(srt), dtype=np.int64)
    for i, y in enumerate(srt[:, 1].tolist()):
        r = bisect.bisect_right(best, y)
        if r == len(best):
            best.append(y)
        elif y < best[r]:
            best[r] = y
        ranks[i] = r
    return ranks


def _ranks_nd_truncated(srt: np.ndarray, target: int) -> np.ndarray:
    """Peel fronts of distinct lexicographically sorted points until ``target`` are ranked."""
    rest = srt[:, 1:]
    ranks = np.zeros(len(srt), dtype=np.int64)
    remaining = np.arange(len(srt))
    covered = rank = 0
    while covered < target and len(remaining):
        front: list[int] = []
        later: list[int] = []
        for i in remaining.tolist():
            if front and np.any(np.all(rest[front] <= rest[i], axis=1)):
                later.append(i)
            else:
                front.append(i)
        ranks[front] = rank
        covered += len(front)
        remaining = np.asarray(later, dtype=np.intp)
        rank += 1
    ranks[remaining] = rank
    return ranks


def nondomination_ranks_py(
    loss: np.ndarray, n_below: Optional[int] = None, penalty: Optional[np.ndarray] = None
) -> np.ndarray:
    if penalty is not None:
        return _ranks_with_penalty(loss, penalty, n_below)
    _check_no_nan(loss, "objective values")
    n, m = loss.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n_below == 0:
        return np.zeros(n, dtype=np.int64)
    uniq, _, inverse = _unique_rows(loss)
    if m == 1:
        return inverse.astype(np.int64)
    target = min(len(uniq) if n_below is None else n_below, len(uniq))
    if m > 2:
        return _ranks_nd_truncated(uniq, target)[inverse]
    full = _ranks_2d(uniq)
    counts = np.bincount(full)
    covered = np.concatenate([[0], np.cumsum(counts)])  # covered[r]: points of rank < r
    cut = int(np.argmax(covered >= target))
    return np.minimum(full, cut)[inverse].astype(np.int64)


def _ranks_with_penalty(
    loss: np.ndarray, penalty: np.ndarray, n_below: Optional[int]
) -> np.ndarray:
    n = loss.shape[0]
    if len(penalty) != n:
        raise InvalidArgumentError(
            "The length of penalty and loss_values must be same, but got "
            f"len(penalty)={len(penalty)} and len(loss_values)={n}."
        )
    _check_no_nan(penalty, "penalty values")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    n_below = n_below or n
    feasible = penalty <= 0
    ranks = np.zeros(n, dtype=np.int64)
    feasible_ranks = nondomination_ranks_py(loss[feasible], n_below)
    ranks[feasible] = feasible_ranks
    top = int(feasible_ranks.max()) + 1 if len(feasible_ranks) else 0
    rest = n_below - int(feasible.sum())
    pen = penalty[~feasible][:, None]
    if rest > 0:
        ranks[~feasible] = top + nondomination_ranks_py(pen, rest)
    else:
        ranks[~feasible] = top
    return ranks


def _pareto_mask_sorted(srt: np.ndarray) -> np.ndarray:
    """Front mask of points sorted by the first objective: kept unless an earlier kept point is
    no worse in every other objective (later duplicates are dropped)."""
    n, m = srt.shape
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    if m == 1:
        mask[0] = True
        return mask
    if m == 2:
        ys = srt[:, 1]
        prev_min = np.concatenate([[np.inf], np.minimum.accumulate(ys)[:-1]])
        mask[:] = ys < prev_min
        mask[0] = True
        return mask
    rest = srt[:, 1:]
    kept: list[int] = []
    for i in range(n):
        if not kept or not np.any(np.all(rest[kept] <= rest[i], axis=1)):
            kept.append(i)
            mask[i] = True
    return mask


def _hv_2d(srt: np.ndarray, ref: np.ndarray) -> float:
    upper = np.concatenate([ref[1:2], srt[:-1, 1]])
    # np.cumsum adds left to right, as the Rust loop does (bit-identical sums).
    return float(np.cumsum((ref[0] - srt[:, 0]) * (upper - srt[:, 1]))[-1])


def _hv_3d(srt: np.ndarray, ref: np.ndarray) -> float:
    """Over the grid of sorted x and y coordinates, the dominated height above cell (i, j) is the
    largest ``ref_z - z`` of the points with x-rank <= i and y-rank <= j."""
    n = len(srt)
    y_order = np.argsort(srt[:, 1], kind="stable")
    y_rank = np.empty(n, dtype=np.intp)
    y_rank[y_order] = np.arange(n)
    ys = srt[y_order, 1]
    dy = np.concatenate([ys[1:], ref[1:2]]) - ys
    xs = srt[:, 0]
    dx = np.concatenate([xs[1:], ref[0:1]]) - xs
    heights = np.zeros((n, n))
    heights[np.arange(n), y_rank] = ref[2] - srt[:, 2]
    heights = np.maximum.accumulate(np.maximum.accumulate(heights, axis=0), axis=1)
    # Sequential sums (np.cumsum), in the order of the Rust loops: bit-identical results.
    areas = np.cumsum(heights * dy, axis=1)[:, -1]
    return float(np.cumsum(areas * dx)[-1])


def _box(p: np.ndarray, ref: np.ndarray) -> float:
    v = 1.0
    for r, x in zip(ref.tolist(), p.tolist()):
        v *= r - x
    return v


def _hv_nd(srt: np.ndarray, ref: np.ndarray) -> float:
    n = len(srt)
    if n == 1:
        return _box(srt[0], ref)
    if n == 2:
        return _box(srt[0], ref) + _box(srt[1], ref) - _box(np.maximum(srt[0], srt[1]), ref)
    total = _box(srt[-1], ref)
    for i in range(n - 1):
        limited = np.maximum(srt[i], srt[i + 1 :])
        if len(limited) > 3:
            limited = limited[_pareto_mask_sorted(limited)]
        total += _box(srt[i], ref) - _hv_nd(limited, ref)
    return total


def _hv_sorted(srt: np.ndarray, ref: np.ndarray) -> float:
    m = len(ref)
    if m == 1:
        return max(0.0, float(np.max(ref[0] - srt[:, 0])))
    if m == 2:
        return _hv_2d(srt, ref)
    if m == 3:
        return _hv_3d(srt, ref)
    return _hv_nd(srt, ref)


def compute_hypervolume_py(
    loss: np.ndarray, reference: np.ndarray, assume_pareto: bool = False
) -> float:
    if loss.size and loss.shape[1] != len(reference):
        raise InvalidArgumentError(
            f"the reference point has {len(reference)} objectives but the points have "
            f"{loss.shape[1]}"
        )
    if not np.all(loss <= reference):
        raise InvalidArgumentError(_HV_OUTSIDE)
    if not np.all(np.isfinite(reference)):
        return math.inf
    if len(loss) == 0:
        return 0.0
    if assume_pareto:
        srt = loss[np.argsort(loss[:, 0], kind="stable")]
    else:
        uniq, _, _ = _unique_rows(loss)
        srt = uniq[_pareto_mask_sorted(uniq)]
    hv = _hv_sorted(srt, reference)
    return hv if math.isfinite(hv) else math.inf


def reference_point_py(loss: np.ndarray) -> np.ndarray:
    if len(loss) == 0:
        raise InvalidArgumentError("the reference point needs at least one point")
    worst = np.max(loss, axis=0)
    ref = np.maximum(1.1 * worst, 0.9 * worst)
    ref[ref == 0] = EPS
    return ref


def _argmax(values: np.ndarray) -> int:
    return int(np.argmax(values))  # first maximum; the first NaN if any


def _greedy_2d(vals: np.ndarray, labels: np.ndarray, k: int, ref: np.ndarray) -> np.ndarray:
    pts = vals.copy()
    lab = labels.copy()
    diag = np.tile(ref, (len(pts), 1))
    chosen = []
    for _ in range(k):
        contribs = (diag[:, 0] - pts[:, 0]) * (diag[:, 1] - pts[:, 1])
        b = _argmax(contribs)
        chosen.append(lab[b])
        bx, by = pts[b]
        keep = np.arange(len(pts)) != b
        pts, lab, diag = pts[keep], lab[keep], diag[keep]
        diag[:b, 0] = np.minimum(bx, diag[:b, 0])
        diag[b:, 1] = np.minimum(by, diag[b:, 1])
    return np.asarray(chosen, dtype=np.int64)


def _greedy_lazy(vals: np.ndarray, labels: np.ndarray, k: int, ref: np.ndarray) -> np.ndarray:
    m = len(ref)
    pts = vals.copy()
    lab = labels.copy()
    contribs = np.array([_box(p, ref) for p in pts])
    chosen_vecs: list[np.ndarray] = []
    chosen: list[int] = []
    hv = 0.0
    for step in range(k):
        b = _argmax(contribs)
        hv += float(contribs[b])
        chosen.append(int(lab[b]))
        chosen_vecs.append(pts[b].copy())
        keep = np.arange(len(pts)) != b
        pts, lab, contribs = pts[keep], lab[keep], contribs[keep]
        if step + 1 == k:
            break
        if math.isinf(hv):
            contribs = np.full(len(pts), math.inf)
            continue
        sel = np.asarray(chosen_vecs)
        inclusive = np.array([_box(p, ref) for p in pts])
        bound = inclusive - np.array([_box(np.maximum(p, sel[-1]), ref) for p in pts])
        contribs = np.minimum(contribs, bound)
        best = 0.0
        for i in np.argsort(-contribs, kind="stable"):
            if math.isinf(inclusive[i]):
                contribs[i] = best = math.inf
                continue
            if contribs[i] < best:
                continue
            if m <= 3:
                with_i = np.vstack([sel, pts[i]])
                plus = _hv_sorted(with_i[np.argsort(with_i[:, 0], kind="stable")], ref)
                contribs[i] = (plus if math.isfinite(plus) else math.inf) - hv
            else:
                contribs[i] = inclusive[i] - compute_hypervolume_py(np.maximum(pts[i], sel), ref)
            if not (best > contribs[i]):
                best = float(contribs[i])
    return np.asarray(chosen, dtype=np.int64)


def solve_hssp_py(
    loss: np.ndarray, labels: np.ndarray, subset_size: int, reference: np.ndarray
) -> np.ndarray:
    n, m = loss.shape
    if len(reference) != m:
        raise InvalidArgumentError(
            f"the reference point has {len(reference)} objectives but the points have {m}"
        )
    if len(labels) != n:
        raise InvalidArgumentError(f"{len(labels)} labels given for {n} points")
    if np.any(labels < 0):
        raise InvalidArgumentError("labels must be non-negative")
    if not 0 <= subset_size <= n:
        raise InvalidArgumentError(f"cannot select {subset_size} of {n} points")
    if subset_size == n:
        return labels.copy()
    uniq, first, _ = _unique_rows(loss)
    if len(uniq) < subset_size:
        chosen = np.zeros(n, dtype=bool)
        chosen[first] = True
        extra = np.flatnonzero(~chosen)[: subset_size - len(uniq)]
        chosen[extra] = True
        return labels[chosen]
    if not np.all(np.isfinite(reference)):
        picked = first[:subset_size]
    elif len(uniq) == subset_size:
        picked = first
    elif m == 2:
        picked = _greedy_2d(uniq, first, subset_size, reference)
    else:
        picked = _greedy_lazy(uniq, first, subset_size, reference)
    return labels[picked]


def split_below_py(loss: np.ndarray, n_below: int) -> np.ndarray:
    _check_no_nan(loss, "objective values")
    n = len(loss)
    n_below = min(max(n_below, 0), n)
    if n_below == 0:
        return np.zeros(n, dtype=bool)
    if n_below == n:
        return np.ones(n, dtype=bool)
    ranks = nondomination_ranks_py(loss, n_below)
    counts = np.bincount(ranks)
    fits = np.cumsum(counts) <= n_below
    n_fronts = int(np.argmin(fits)) if not fits.all() else len(counts)
    below = ranks < n_fronts
    taken = int(below.sum())
    if taken < n_below:
        tie = np.flatnonzero(ranks == n_fronts)
        tie_loss = loss[tie]
        chosen = solve_hssp_py(tie_loss, tie.astype(np.int64), n_below - taken,
                               reference_point_py(tie_loss))
        below[chosen] = True
    return below


# -- the sampler's split of complete trials -----------------------------------------------------
class _LossCache:
    """Loss vectors of the cached history rows (filled on first use) and the last split made,
    so the independent sampling of several parameters for one trial splits only once."""

    def __init__(self, n_objectives: int, signs: np.ndarray) -> None:
        self.n_objectives = n_objectives
        self.signs = signs
        self.loss = np.full((64, n_objectives), np.nan)
        self.have = np.zeros(64, dtype=bool)
        self.last_key: Optional[tuple[bytes, int]] = None
        self.last_split: Optional[tuple[np.ndarray, np.ndarray]] = None

    def rows(self, hist: object, rows: np.ndarray) -> np.ndarray:
        need = int(rows.max()) + 1 if len(rows) else 0
        if need > len(self.have):
            size = max(need, 2 * len(self.have))
            loss = np.full((size, self.n_objectives), np.nan)
            loss[: len(self.loss)] = self.loss
            have = np.zeros(size, dtype=bool)
            have[: len(self.have)] = self.have
            self.loss, self.have = loss, have
        missing = rows[~self.have[rows]]
        for r in missing.tolist():
            trial = hist.trials[r]  # type: ignore[attr-defined]
            values = trial.values
            if values is None or len(values) != self.n_objectives:
                got = "no" if values is None else len(values)
                raise InvalidArgumentError(
                    f"Trial {trial.number} has {got} objective values but the study has "
                    f"{self.n_objectives} objectives (Study.directions): the number of values "
                    "and the number of objectives must be identical."
                )
            self.loss[r] = np.asarray(values, dtype=np.float64) * self.signs
            self.have[r] = True
        return self.loss[rows]


def split_complete(
    study: object, hist: object, complete: np.ndarray, n_below: int
) -> tuple[np.ndarray, np.ndarray]:
    """Below/above split of the complete trials ``complete`` (history rows) of a
    multi-objective study, as Optuna 5.0's TPE makes it."""
    cache = _cache_for(study, hist)
    complete = np.asarray(complete, dtype=np.intp)
    mask = np.asarray(split_below(cache.rows(hist, complete), n_below), dtype=bool)
    return complete[mask], complete[~mask]


def _cache_for(study: object, hist: object) -> _LossCache:
    from optuna.study import StudyDirection

    directions = study.directions  # type: ignore[attr-defined]
    signs = np.array([-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in directions])
    cache = getattr(hist, "_mo_loss_cache", None)
    if cache is None or cache.n_objectives != len(directions) or not np.array_equal(
        cache.signs, signs
    ):
        cache = _LossCache(len(directions), signs)
        hist._mo_loss_cache = cache  # type: ignore[attr-defined]
    return cache


def split_rows(
    hist: object, study: object, rows: np.ndarray, n_below: int
) -> tuple[np.ndarray, np.ndarray]:
    """Below/above split of the finished trials ``rows`` of a multi-objective study (complete
    trials by non-domination rank and HSSP, then pruned, then infeasible ones, as
    ``_history.split_rows``). The last split is remembered: finished trials never change, so the
    independent sampling of several parameters of one trial splits only once."""
    from ferrotune import _history

    cache = _cache_for(study, hist)
    rows = np.asarray(rows, dtype=np.intp)
    key = (rows.tobytes(), int(n_below))
    if cache.last_key == key and cache.last_split is not None:
        return cache.last_split
    split = _history.split_rows(
        hist, rows, n_below, lambda h, complete, nb: split_complete(study, h, complete, nb)
    )
    cache.last_key, cache.last_split = key, split
    return split
