"""Pure-Python twin of the native BOHB model (``ferrotune._core.bohb_model`` and
``bohb_propose``; Rust source in ``rust/ferrotune-core/src/bohb/``).

Same names, signatures, results and errors. The float operations run in the same order as in
Rust (products over dimensions left to right, numpy's pairwise sums, Optuna's truncated-normal
``ppf`` on the same batches) and the random numbers come from ``rng.random_sample()`` in the
order documented in ``bohb/propose.rs``, so both give identical proposals and leave the
``RandomState`` in the same state.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ferrotune import _numpy_core
from ferrotune.exceptions import InvalidArgumentError

INV_SQRT_2PI = 0.3989422804014327

Options = Tuple[int, int, int, float, float, float]

NO_MODEL, RANDOM, MODEL, FALLBACK = 0, 1, 2, 3


def _validate_options(opts: Options) -> None:
    _, top, num_samples, random_fraction, bandwidth_factor, min_bandwidth = opts
    if not 1 <= top <= 99:
        raise InvalidArgumentError(f"top_n_percent must be an integer in [1, 99], got {top}")
    if num_samples < 1:
        raise InvalidArgumentError("num_samples must be >= 1")
    if not 0.0 <= random_fraction <= 1.0:
        raise InvalidArgumentError(f"random_fraction must be in [0, 1], got {random_fraction}")
    if not (math.isfinite(bandwidth_factor) and bandwidth_factor > 0.0):
        raise InvalidArgumentError(
            f"bandwidth_factor must be finite and > 0, got {bandwidth_factor}"
        )
    if not (math.isfinite(min_bandwidth) and min_bandwidth > 0.0):
        raise InvalidArgumentError(f"min_bandwidth must be finite and > 0, got {min_bandwidth}")


def _validate(kinds: Sequence[int], budgets: np.ndarray, vectors: np.ndarray, losses: np.ndarray) -> None:
    n, d = budgets.shape[0], len(kinds)
    if vectors.ndim != 2 or vectors.shape[1] != d:
        raise InvalidArgumentError(
            f"vectors have {vectors.shape[-1]} columns but there are {d} dimensions"
        )
    if losses.shape[0] != n:
        raise InvalidArgumentError(f"{n} budgets but {losses.shape[0]} losses")
    if vectors.shape[0] != n:
        raise InvalidArgumentError(
            f"observations must be {n} x {d} values, got {vectors.shape[0] * d}"
        )
    if not np.all(np.isfinite(budgets)):
        raise InvalidArgumentError("budgets must be finite")
    if np.any(np.isnan(losses)):
        raise InvalidArgumentError("losses must not be NaN (pass failed evaluations as +inf)")
    for j, c in enumerate(kinds):
        col = vectors[:, j]
        if c == 0:
            ok = (col >= 0.0) & (col <= 1.0)
        else:
            ok = (col >= 0.0) & (col < c) & (np.floor(col) == col)
        if not np.all(ok):
            k = int(np.argmin(ok))
            raise InvalidArgumentError(
                f"observation {k}, dimension {j}: encoded value {col[k]} is out of range"
            )


def _n_min(opts: Options, d: int) -> int:
    return max(opts[0], d + 1)


def split_sizes(n: int, d: int, opts: Options) -> Optional[Tuple[int, int]]:
    n_min = _n_min(opts, d)
    if n < n_min:
        return None
    q = opts[1]
    n_good = max(n_min, q * n // 100)
    n_bad = max(n_min, (100 - q) * n // 100)
    good = min(n_good, n)
    bad = max(min(n_good + n_bad, n) - n_good, 0)
    return (good, bad) if good > d and bad > d else None


def _std(col: np.ndarray) -> float:
    n = col.shape[0]
    mean = np.add.reduce(col) / n
    dev = col - mean
    return math.sqrt(float(np.add.reduce(dev * dev) / n))


class _Kde:
    def __init__(self, rows: np.ndarray, kinds: Sequence[int], min_bandwidth: float) -> None:
        n, d = rows.shape
        factor = float(n) ** (-1.0 / (4 + d))
        bw: List[float] = []
        for j, c in enumerate(kinds):
            h = 1.06 * _std(np.ascontiguousarray(rows[:, j])) * factor
            h = max(h, min_bandwidth)
            if c >= 2:
                h = min(h, (c - 1) / c)
            bw.append(h)
        self.data = rows
        self.n = n
        self.bw = bw
        self.kinds = list(kinds)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Densities at the rows of ``x`` (``m x d``)."""
        k = np.ones((x.shape[0], self.n))
        for j, c in enumerate(self.kinds):
            h = self.bw[j]
            xj = x[:, j][:, None]
            dj = self.data[:, j][None, :]
            if c == 0:
                z = (xj - dj) / h
                kv = np.exp(-0.5 * z * z) * INV_SQRT_2PI / h
            elif c == 1:
                kv = np.ones_like(k)
            else:
                kv = np.where(xj == dj, 1.0 - h, h / (c - 1))
            k = k * kv
        return np.ascontiguousarray(k).sum(axis=1) / self.n


def _fit(kinds: Sequence[int], budgets: Any, vectors: Any, losses: Any, opts: Options):
    _validate_options(opts)
    budgets = np.asarray(budgets, dtype=np.float64).reshape(-1)
    losses = np.asarray(losses, dtype=np.float64).reshape(-1)
    vectors = np.asarray(vectors, dtype=np.float64)
    _validate(kinds, budgets, vectors, losses)
    d = len(kinds)
    for b in sorted(set(budgets.tolist()), reverse=True):
        idx = np.flatnonzero(budgets == b).tolist()
        sizes = split_sizes(len(idx), d, opts)
        if sizes is None:
            continue
        n_good, n_bad = sizes
        ranked = sorted(idx, key=lambda k: losses[k])
        good_idx = ranked[:n_good]
        bad_idx = ranked[n_good : n_good + n_bad]
        good = _Kde(vectors[good_idx].reshape(len(good_idx), d), kinds, opts[5])
        bad = _Kde(vectors[bad_idx].reshape(len(bad_idx), d), kinds, opts[5])
        return float(b), len(idx), good_idx, bad_idx, good, bad
    return None


def bohb_model(kinds, budgets, vectors, losses, opts):
    """``(budget, n_observations, good_idx, bad_idx, good_bw, bad_bw)`` or ``None``."""
    fitted = _fit(list(kinds), budgets, vectors, losses, tuple(opts))
    if fitted is None:
        return None
    b, n, good_idx, bad_idx, good, bad = fitted
    return b, n, good_idx, bad_idx, list(good.bw), list(bad.bw)


def _index(u: float, n: int) -> int:
    return min(int(u * n), n - 1)


def _random_vector(kinds: Sequence[int], rng: np.random.RandomState) -> np.ndarray:
    out = []
    for c in kinds:
        u = float(rng.random_sample())
        out.append(u if c == 0 else float(_index(u, c)))
    return np.asarray(out, dtype=np.float64)


def bohb_propose(kinds, budgets, vectors, losses, opts, rng):
    """One proposal ``(encoded vector, source, model budget or None)``; see ``propose.rs``."""
    kinds = list(kinds)
    opts = tuple(opts)
    fitted = _fit(kinds, budgets, vectors, losses, opts)
    if fitted is None:
        return _random_vector(kinds, rng), NO_MODEL, None
    budget, _, _, _, good, bad = fitted
    if float(rng.random_sample()) < opts[3]:
        return _random_vector(kinds, rng), RANDOM, budget
    d, s = len(kinds), opts[2]
    cand = np.zeros((s, d))
    means = np.zeros((s, d))
    quantiles = np.zeros((s, d))
    for i in range(s):
        row = _index(float(rng.random_sample()), good.n)
        for j, c in enumerate(kinds):
            m = float(good.data[row, j])
            if c == 0:
                means[i, j] = m
                quantiles[i, j] = rng.random_sample()
            else:
                v = float(rng.random_sample())
                cand[i, j] = m if v < 1.0 - good.bw[j] else float(_index(float(rng.random_sample()), c))
    for j, c in enumerate(kinds):
        if c != 0:
            continue
        bw = opts[4] * good.bw[j]
        m = np.ascontiguousarray(means[:, j])
        a = (0.0 - m) / bw
        b = (1.0 - m) / bw
        z = _numpy_core.ppf(np.ascontiguousarray(quantiles[:, j]), a, b)
        cand[:, j] = np.minimum(np.maximum(m + bw * z, 0.0), 1.0)
    lpdf = good.pdf(cand)
    gpdf = bad.pdf(cand)
    best = math.inf
    pick = None
    for i in range(s):
        l, g = float(lpdf[i]), float(gpdf[i])
        score = max(g, 1e-32) / max(l, 1e-32)
        if not math.isfinite(score) and math.isfinite(l):
            pick = i
            break
        if score < best:
            best = score
            pick = i
    if pick is None:
        return _random_vector(kinds, rng), FALLBACK, budget
    return cand[pick].copy(), MODEL, budget
