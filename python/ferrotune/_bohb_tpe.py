"""BOHB's TPE model (``model="tpe"``, the default of ``ferrotune.BOHB`` and
``ferrotune.BOHBSampler``).

HpBandSter's model (``model="kde"``; ``_bohb_py`` and ``bohb/`` in the Rust core) fits two
multivariate KDEs on the results of one budget. This one fits Optuna's TPE (per dimension in
the scheduler, jointly in the sampler: see **Space**) on every configuration seen so far, each
counted once at the largest budget it reached:

- **Gate**: a model exists once some budget has ``N_min`` results (``min_points_in_model``,
  default and minimum d + 1); before that, and with probability ``random_fraction`` after
  (default 0 for this model: its estimators mix in a prior over the whole space), the
  configuration is uniformly random (the same draws as the KDE model's).
- **Ranking**: configurations by the largest budget at which they have a finite loss (higher
  first), then by that loss (lower first), ties in the order the configurations were first
  seen; configurations that only failed (``+inf``) come last. This is how Optuna's TPESampler ranks pruned trials behind complete ones, so the
  "good" set comes from the largest budgets and everything a successive-halving step stopped
  early counts as "bad" evidence.
- **Split and kernels**: Optuna's defaults: ``min(ceil(n / 10), 25)`` good configurations,
  kernel weights that ramp down for all but the newest 25 of each group, prior weight 1, the
  "magic clip" bandwidth floor, 24 candidates per parameter drawn from the good estimator, the
  one with the best good/bad density ratio wins.
- **Space**: BOHB's encoding (the unit interval for every non-categorical parameter, the choice
  index for a categorical one). ``ferrotune.BOHB`` samples each dimension on its own, in order,
  as Optuna's independent TPE does; ``ferrotune.BOHBSampler`` samples them jointly, as Optuna
  5's default multivariate TPE does. Each is the better of the two for its schedule, measured
  on multi-fidelity Hartmann-6 (``benches/README.md``).

The Parzen estimators and the candidate scoring are the TPE core's (``tpe_sample_step`` in
Rust, or its numpy twin), which consume the ``RandomState`` identically, so both backends give
the same proposals.
"""

from __future__ import annotations

from typing import Any, Sequence, Tuple

import numpy as np

from ferrotune._backend import get_backend_impl
from ferrotune._bohb_py import MODEL, NO_MODEL, RANDOM, Options, _random_vector
from ferrotune._space import CATEGORICAL, NUMERICAL, Dim
from ferrotune.sampler import default_gamma, default_weights

N_CANDIDATES = 24
PRIOR_WEIGHT = 1.0


def model_budget(budgets: np.ndarray, n_min: int) -> Any:
    """The largest budget with at least ``n_min`` results, or ``None``."""
    values, counts = np.unique(budgets, return_counts=True)
    ok = values[counts >= n_min]
    return float(ok[-1]) if ok.size else None


def rank(budgets: np.ndarray, losses: np.ndarray, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(rows, order_seen)``: one row per configuration, best first, and each one's position
    in the order the configurations were first seen.

    Every configuration (``ids``) is represented by its row at the largest budget where its
    loss is finite (the last such row if it has several); a configuration that only failed
    (``+inf``) by its last row, ranked after every configuration with a finite loss."""
    n = budgets.shape[0]
    finite = np.isfinite(losses)
    # Each id's representative is its last row by (finite, budget, row): sort, keep each id's last.
    by_id = np.lexsort((np.arange(n), budgets, finite, ids))
    last = np.ones(n, dtype=bool)
    last[:-1] = ids[by_id[:-1]] != ids[by_id[1:]]
    rows = by_id[last]
    # First appearance of each id. np.unique sorts the ids, as the sort above does: they line up.
    _, first = np.unique(ids, return_index=True)
    order_seen = np.empty(rows.shape[0], dtype=np.int64)
    order_seen[np.argsort(first, kind="stable")] = np.arange(rows.shape[0])
    ranked = np.lexsort((order_seen, losses[rows], -budgets[rows], ~finite[rows]))
    return rows[ranked], order_seen[ranked]


def split(
    budgets: np.ndarray, losses: np.ndarray, ids: np.ndarray
) -> Tuple[np.ndarray, np.ndarray]:
    """Rows of the ``(good, bad)`` sets (``rank``'s first ``default_gamma(n)`` and the rest), each in
    the order its configurations were first seen."""
    rows, seen = rank(budgets, losses, ids)
    k = default_gamma(rows.shape[0])
    good = rows[:k][np.argsort(seen[:k], kind="stable")]
    bad = rows[k:][np.argsort(seen[k:], kind="stable")]
    return good, bad


def _dim(c: int) -> Dim:
    if c == 0:
        return Dim(NUMERICAL, 0.0, 1.0, 0.0, False, 0)
    return Dim(CATEGORICAL, 0.0, float(c - 1), 0.0, False, c)


def tpe_propose(
    kinds: Sequence[int],
    budgets: np.ndarray,
    vectors: np.ndarray,
    losses: np.ndarray,
    ids: np.ndarray,
    opts: Options,
    rng: np.random.RandomState,
    multivariate: bool = False,
) -> Tuple[np.ndarray, int, Any]:
    """One proposal ``(encoded vector, source, model budget or None)`` (sources as
    ``bohb_propose``'s). ``multivariate``: one TPE step over all dimensions at once (Optuna's
    ``multivariate=True``) instead of one per dimension."""
    kinds = list(kinds)
    d = len(kinds)
    budget = model_budget(budgets, max(opts[0], d + 1)) if budgets.shape[0] else None
    if budget is None:
        return _random_vector(kinds, rng), NO_MODEL, None
    if float(rng.random_sample()) < opts[3]:
        return _random_vector(kinds, rng), RANDOM, budget
    good_rows, bad_rows = split(budgets, losses, ids)
    good_w, bad_w = default_weights(good_rows.shape[0]), default_weights(bad_rows.shape[0])
    backend = get_backend_impl()
    groups = [list(range(d))] if multivariate else [[j] for j in range(d)]
    out = np.empty(d)
    for cols in groups:
        best = backend.sample_step(
            [_dim(kinds[j]) for j in cols],
            vectors[np.ix_(good_rows, cols)],
            good_w,
            vectors[np.ix_(bad_rows, cols)],
            bad_w,
            PRIOR_WEIGHT,
            True,
            False,
            N_CANDIDATES,
            rng,
        )
        out[cols] = np.asarray(best, dtype=np.float64)
    return out, MODEL, budget
