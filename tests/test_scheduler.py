"""ferrotune.Hyperband (the ask/tell scheduler): Li et al.'s bracket tables, whole synchronous
brackets, ASHA promotions, reproducibility, both backends agreeing, and bad input."""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ferrotune.exceptions import InvalidArgumentError, SearchSpaceError
from ferrotune.scheduler import Hyperband, Job

from _native import needs_native as _needs_native

needs_native = _needs_native("HbScheduler", " (with the Hyperband core)")

SPACE = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "width": FloatDistribution(0.0, 1.0, step=0.25),
    "layers": IntDistribution(1, 8),
    "units": IntDistribution(16, 512, log=True),
    "batch": IntDistribution(32, 256, step=32),
    "act": CategoricalDistribution(["relu", "tanh", None]),
}


def loss_of(params: dict, budget: float) -> float:
    """A deterministic loss that improves with the budget."""
    base = (math.log10(params["lr"]) + 2.5) ** 2 + params["dropout"] + 0.1 * params["layers"]
    return base + 1.0 / budget


# --- Bracket tables ------------------------------------------------------------------------------


def test_bracket_table_81_3() -> None:
    # Li et al., JMLR 2018, Table 1 (R = 81, eta = 3), computed by hand:
    # s_max = 4; n = ceil(5 * 3^s / (s + 1)) = 81, 34 (33.75), 15, 8 (7.5), 5; n_i = floor(n / 3^i).
    hb = Hyperband({}, 1, 81, eta=3)
    assert hb.brackets == [
        (4, [(81, 1.0), (27, 3.0), (9, 9.0), (3, 27.0), (1, 81.0)]),
        (3, [(34, 3.0), (11, 9.0), (3, 27.0), (1, 81.0)]),
        (2, [(15, 9.0), (5, 27.0), (1, 81.0)]),
        (1, [(8, 27.0), (2, 81.0)]),
        (0, [(5, 81.0)]),
    ]


def test_bracket_table_27_3() -> None:
    # s_max = 3; n = ceil(4 * 3^s / (s + 1)) = 27, 12, 6, 4.
    hb = Hyperband({}, 1, 27, eta=3)
    assert hb.brackets == [
        (3, [(27, 1.0), (9, 3.0), (3, 9.0), (1, 27.0)]),
        (2, [(12, 3.0), (4, 9.0), (1, 27.0)]),
        (1, [(6, 9.0), (2, 27.0)]),
        (0, [(4, 27.0)]),
    ]


def test_fractional_budgets_anchor_at_max_budget() -> None:
    hb = Hyperband({}, 0.01, 1.0, eta=3)
    s, rungs = hb.brackets[0]
    assert s == 4
    assert [r for _, r in rungs] == [1 / 81, 1 / 27, 1 / 9, 1 / 3, 1.0]


# --- Synchronous mode ----------------------------------------------------------------------------


def test_sequential_sync_walk_through_all_brackets() -> None:
    hb = Hyperband(SPACE, 1, 27, eta=3, seed=0)
    params_of: dict = {}
    for s, rungs in hb.brackets:
        previous = None
        for i, (n_i, r_i) in enumerate(rungs):
            known_before = set(params_of)
            jobs = [hb.ask() for _ in range(n_i)]
            for job in jobs:
                assert (job.bracket, job.rung, job.budget) == (s, i, r_i)
                if job.config_id in params_of:
                    assert job.params == params_of[job.config_id]
                params_of[job.config_id] = job.params
            if previous is None:
                # Rung 0 runs n_i new, distinct configurations.
                assert not {j.config_id for j in jobs} & known_before
                assert len({j.config_id for j in jobs}) == n_i
            else:
                # The n_i best of the previous rung, best first.
                ranked = sorted(previous, key=lambda j: (loss_of(j.params, j.budget), j.id))
                assert [j.config_id for j in jobs] == [j.config_id for j in ranked[:n_i]]
            for job in jobs:
                hb.tell(job, loss_of(job.params, job.budget))
            previous = jobs
    assert hb.n_pending == 0
    # 27 + 12 + 6 + 4 configurations, then the cycle restarts with s = 3.
    assert len(params_of) == 49
    nxt = hb.ask()
    assert (nxt.bracket, nxt.rung, nxt.budget) == (3, 0, 1.0)
    assert nxt.config_id == 49
    best = hb.best()
    assert best is not None and best.job.budget == 27.0
    at_top = [r.loss for r in hb.results if r.job.budget == 27.0]
    assert best.loss == min(at_top)


def test_sync_never_blocks_parallel_workers() -> None:
    hb = Hyperband(SPACE, 1, 9, eta=3, seed=1)
    first = [hb.ask() for _ in range(9)]  # bracket s=2, rung 0: all in flight
    extra = hb.ask()  # cannot wait for them: opens the next bracket
    assert (extra.bracket, extra.rung, extra.budget) == (1, 0, 3.0)
    assert hb.n_pending == 10
    for k, job in enumerate(first):
        hb.tell(job.id, 10.0 - k)
    promoted = [hb.ask() for _ in range(3)]
    assert [j.config_id for j in promoted] == [first[8].config_id, first[7].config_id,
                                               first[6].config_id]
    assert all((j.bracket, j.rung, j.budget) == (2, 1, 3.0) for j in promoted)


# --- Asynchronous mode ---------------------------------------------------------------------------


def test_async_promotes_asha_style() -> None:
    hb = Hyperband(SPACE, 1, 9, eta=3, seed=0, mode="async")

    def run(loss: float) -> Job:
        job = hb.ask()
        hb.tell(job, loss)
        return job

    a, b, c = run(5.0), run(3.0), run(4.0)
    assert all((j.bracket, j.rung, j.budget) == (2, 0, 1.0) for j in (a, b, c))
    # Three results at rung 0: the best third (b) moves up at once.
    p = run(2.0)
    assert (p.config_id, p.rung, p.budget, p.params) == (b.config_id, 1, 3.0, b.params)
    d = run(1.0)
    assert d.config_id not in {a.config_id, b.config_id, c.config_id}
    # Rung 0 = d(1), b(3), c(4), a(5): floor(4/3) = 1 promotion slot, d's.
    q = hb.ask()
    assert (q.config_id, q.rung) == (d.config_id, 1)
    # A worker never waits: with q pending, a new configuration starts.
    r = hb.ask()
    assert r.rung == 0 and r.config_id not in {a.config_id, b.config_id, c.config_id, d.config_id}
    assert hb.n_pending == 2


def test_async_reaches_the_top_rung_and_spreads_new_configs_over_brackets() -> None:
    hb = Hyperband(SPACE, 1, 9, eta=3, seed=0, mode="async")
    new_per_bracket: Counter = Counter()
    budgets: Counter = Counter()
    seen: set = set()
    while sum(new_per_bracket.values()) < 9 + 5 + 3:
        job = hb.ask()
        if job.config_id not in seen:
            seen.add(job.config_id)
            new_per_bracket[job.bracket] += 1
        budgets[job.budget] += 1
        hb.tell(job, loss_of(job.params, job.budget))
    # One synchronous iteration's proportions: 9 new in s=2, 5 in s=1, 3 in s=0.
    assert new_per_bracket == Counter({2: 9, 1: 5, 0: 3})
    assert budgets[9.0] >= 3 + 1  # s=0's configurations plus promotions to the top


# --- Reproducibility and backends ----------------------------------------------------------------


def _trace(hb: Hyperband, n: int, pattern: int = 3) -> list:
    """Ask/tell with a few jobs in flight at a time (telling out of order)."""
    out, in_flight = [], []
    for k in range(n):
        in_flight.append(hb.ask())
        if len(in_flight) >= pattern or k % 5 == 4:
            job = in_flight.pop(k % len(in_flight))
            hb.tell(job, loss_of(job.params, job.budget))
            out.append(tuple(job))
    return out


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_same_seed_same_jobs(mode: str) -> None:
    a = _trace(Hyperband(SPACE, 1, 27, seed=7, mode=mode), 200)
    b = _trace(Hyperband(SPACE, 1, 27, seed=7, mode=mode), 200)
    c = _trace(Hyperband(SPACE, 1, 27, seed=8, mode=mode), 200)
    assert a == b
    assert [job[1] for job in a] != [job[1] for job in c]


@needs_native
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_rust_and_python_backends_give_the_same_jobs(mode: str, monkeypatch) -> None:
    traces = []
    for backend in ("rust", "python"):
        monkeypatch.setenv("FERROTUNE_BACKEND", backend)
        traces.append(_trace(Hyperband(SPACE, 1, 81, eta=3, seed=3, mode=mode), 400, pattern=5))
    assert traces[0] == traces[1]


def test_samples_respect_the_distributions() -> None:
    hb = Hyperband(SPACE, 1, 3, eta=3, seed=0, mode="async")
    values = defaultdict(list)
    for _ in range(600):
        job = hb.ask()
        for k, v in job.params.items():
            values[k].append(v)
        hb.tell(job, 0.0)
    assert all(1e-4 <= v <= 1e-1 for v in values["lr"])
    # Log-uniform: about half the draws below the geometric midpoint 10^-2.5.
    below = sum(v < 10**-2.5 for v in values["lr"]) / len(values["lr"])
    assert 0.4 < below < 0.6
    assert set(values["width"]) == {0.0, 0.25, 0.5, 0.75, 1.0}
    assert set(values["layers"]) == set(range(1, 9))
    assert set(values["batch"]) <= set(range(32, 257, 32)) and len(set(values["batch"])) == 8
    assert all(isinstance(v, int) and 16 <= v <= 512 for v in values["units"])
    assert set(values["act"]) == {"relu", "tanh", None}
    assert all(0.0 <= v <= 0.5 for v in values["dropout"])


def test_threads_share_one_scheduler() -> None:
    hb = Hyperband(SPACE, 1, 27, seed=0, mode="async")
    errors: list = []

    def worker() -> None:
        try:
            for _ in range(100):
                job = hb.ask()
                hb.tell(job, loss_of(job.params, job.budget))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(hb.results) == 400 and hb.n_pending == 0
    assert len({r.job.id for r in hb.results}) == 400


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(min_budget=9, max_budget=9),
        dict(min_budget=10, max_budget=9),
        dict(min_budget=0, max_budget=9),
        dict(min_budget=-1, max_budget=9),
        dict(min_budget=float("nan"), max_budget=9),
        dict(min_budget=1, max_budget=float("inf")),
        dict(min_budget="1", max_budget=9),
        dict(min_budget=1, max_budget=9, eta=1),
        dict(min_budget=1, max_budget=9, eta=0),
        dict(min_budget=1, max_budget=9, eta=2.5),
        dict(min_budget=1, max_budget=9, eta=True),
        dict(min_budget=1, max_budget=9, mode="parallel"),
        dict(min_budget=1, max_budget=9, seed="x"),
        dict(min_budget=1e-300, max_budget=1.0, eta=2),  # too many brackets for 64-bit sizes
    ],
)
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        Hyperband(SPACE, **kwargs)


def test_bad_search_space() -> None:
    with pytest.raises(SearchSpaceError):
        Hyperband([("x", FloatDistribution(0, 1))], 1, 9)  # type: ignore[arg-type]
    with pytest.raises(SearchSpaceError):
        Hyperband({"x": "uniform(0, 1)"}, 1, 9)  # type: ignore[dict-item]
    with pytest.raises(SearchSpaceError):
        Hyperband({"x": FloatDistribution(-math.inf, 1)}, 1, 9)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_bad_tell(mode: str) -> None:
    hb = Hyperband(SPACE, 1, 9, seed=0, mode=mode)
    job = hb.ask()
    for loss in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(InvalidArgumentError):
            hb.tell(job, loss)
    with pytest.raises(InvalidArgumentError):
        hb.tell(job, "0.5")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        hb.tell(job.id + 1000, 1.0)
    with pytest.raises(InvalidArgumentError):
        hb.tell(-1, 1.0)
    with pytest.raises(InvalidArgumentError):
        hb.tell("job-0", 1.0)  # type: ignore[arg-type]
    assert hb.n_pending == 1  # failed tells changed nothing
    hb.tell(job, 1.0)
    with pytest.raises(InvalidArgumentError):
        hb.tell(job, 1.0)
    with pytest.raises(InvalidArgumentError):
        hb.tell(job.id, 2.0)
    assert len(hb.results) == 1
