"""BOHB: the model (budget choice, good/bad split, bandwidths, random fraction), the Rust core
against its numpy twin, ``ferrotune.BOHBSampler`` in Optuna studies with ferrotune's
``HyperbandPruner``, the ``ferrotune.BOHB`` scheduler, and bad input."""

from __future__ import annotations

import copy
import math
import pickle
from collections import Counter

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

import ferrotune
from ferrotune import _bohb_py
from ferrotune._bohb_space import Encoder, bohb_core
from ferrotune.bohb_sampler import _observations
from ferrotune.exceptions import InvalidArgumentError, SearchSpaceError

from _native import core as _core
from _native import needs_native as _needs_native

needs_native = _needs_native("bohb_propose", " (with the BOHB core)")

NO_MODEL, RANDOM, MODEL, FALLBACK = 0, 1, 2, 3
DEFAULT_OPTS = (0, 15, 64, 1 / 3, 3.0, 1e-3)

SPACE = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "width": FloatDistribution(0.0, 1.0, step=0.25),
    "layers": IntDistribution(1, 8),
    "units": IntDistribution(16, 512, log=True),
    "act": CategoricalDistribution(["relu", "tanh", None]),
}


def loss_of(params: dict, budget: float) -> float:
    base = (math.log10(params["lr"]) + 2.5) ** 2 + params["dropout"] + 0.1 * params["layers"]
    return base + (params["act"] != "tanh") * 0.3 + 1.0 / budget


def random_observations(seed: int, kinds: list, n: int, budgets=(1.0, 3.0, 9.0)):
    rs = np.random.RandomState(seed)
    cols = [rs.rand(n) if c == 0 else rs.randint(c, size=n).astype(float) for c in kinds]
    vectors = np.column_stack(cols) if kinds else np.zeros((n, 0))
    losses = vectors[:, 0] ** 2 + rs.rand(n) * 0.1 if kinds and kinds[0] == 0 else rs.rand(n)
    losses[rs.rand(n) < 0.1] = np.inf
    return rs.choice(budgets, size=n), np.ascontiguousarray(vectors), losses


# --- Rust core against the numpy twin -----------------------------------------------------------


@needs_native
@pytest.mark.parametrize("seed", range(6))
def test_rust_and_numpy_models_and_proposals_are_identical(seed: int) -> None:
    kinds = [[0], [0, 3], [0, 4, 0, 1], [2, 0, 0, 0, 5, 0]][seed % 4]
    budgets, vectors, losses = random_observations(seed, kinds, 25 + 15 * seed)
    opts = [DEFAULT_OPTS, (0, 30, 16, 0.2, 1.5, 0.05), (8, 10, 64, 0.0, 3.0, 1e-3)][seed % 3]
    assert _core.bohb_model(kinds, budgets, vectors, losses, opts) == _bohb_py.bohb_model(
        kinds, budgets, vectors, losses, opts
    )
    a, b = np.random.RandomState(seed), np.random.RandomState(seed)
    sources = Counter()
    for _ in range(25):
        va, sa, ba = _core.bohb_propose(kinds, budgets, vectors, losses, opts, a)
        vb, sb, bb = _bohb_py.bohb_propose(kinds, budgets, vectors, losses, opts, b)
        assert va.tolist() == vb.tolist() and (sa, ba) == (sb, bb)
        sources[sa] += 1
    sa_, sb_ = a.get_state(), b.get_state()
    assert sa_[1].tolist() == sb_[1].tolist() and sa_[2] == sb_[2]
    assert sources[MODEL] > 0


@needs_native
@pytest.mark.parametrize("model", ["kde", "tpe"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_scheduler_gives_the_same_jobs_on_both_backends(mode: str, model: str, monkeypatch) -> None:
    traces = []
    for backend in ("rust", "python"):
        monkeypatch.setenv("FERROTUNE_BACKEND", backend)
        opt = ferrotune.BOHB(SPACE, 1, 27, eta=3, seed=5, mode=mode, model=model)
        trace = []
        for _ in range(220):
            job = opt.ask()
            opt.tell(job, loss_of(job.params, job.budget))
            trace.append(tuple(job))
        traces.append((trace, opt.sources))
    assert traces[0] == traces[1]
    assert MODEL in traces[0][1]


@needs_native
@pytest.mark.parametrize("model", ["kde", "tpe"])
def test_sampler_gives_the_same_trials_on_both_backends(model: str, monkeypatch) -> None:
    runs = []
    for backend in ("rust", "python"):
        monkeypatch.setenv("FERROTUNE_BACKEND", backend)
        study = _study(seed=2, name="same", model=model)
        study.optimize(_objective, n_trials=70)
        runs.append([(t.params, t.state) for t in study.trials])
    assert runs[0] == runs[1]


# --- The model ----------------------------------------------------------------------------------


def _obs(spec):
    """``spec``: list of (budget, x, loss) for a 1-d continuous space."""
    b = np.array([s[0] for s in spec], dtype=float)
    v = np.array([[s[1]] for s in spec], dtype=float).reshape(len(spec), 1)
    loss = np.array([s[2] for s in spec], dtype=float)
    return b, v, loss


def test_model_budget_is_the_largest_with_enough_observations() -> None:
    core = bohb_core()
    rs = np.random.RandomState(0)
    # d = 2, N_min = 3: good and bad sets both need 3 rows, so a budget needs 6 observations.
    spec = [(1.0, *rs.rand(2), rs.rand()) for _ in range(10)]
    spec += [(9.0, *rs.rand(2), rs.rand()) for _ in range(5)]
    kinds = [0, 0]

    def model(spec, opts=DEFAULT_OPTS):
        b = np.array([s[0] for s in spec])
        v = np.array([s[1:3] for s in spec])
        loss = np.array([s[3] for s in spec])
        return core.bohb_model(kinds, b, v, loss, opts)

    assert model(spec)[:2] == (1.0, 10)
    spec.append((9.0, 0.5, 0.5, 0.1))
    assert model(spec)[:2] == (9.0, 6)
    # A larger N_min moves the model back down (N_min = 4: 4 good + 2 bad rows at budget 9 are
    # too few, 4 + 6 at budget 1 are enough), then nowhere (N_min = 8: 8 + 2 at budget 1).
    assert model(spec, (4,) + DEFAULT_OPTS[1:])[:2] == (1.0, 10)
    assert model(spec, (8,) + DEFAULT_OPTS[1:]) is None
    assert model(spec[:5]) is None


def test_good_and_bad_sets_follow_hpbandster_sizes() -> None:
    core = bohb_core()
    losses = [5.0, 1.0, 3.0, math.inf, 2.0, 0.5, 4.0, 2.0] + [10.0 + k for k in range(12)]
    spec = [(1.0, (k + 0.5) / 20, loss) for k, loss in enumerate(losses)]
    b, v, loss = _obs(spec)
    budget, n, good, bad, gbw, bbw = core.bohb_model([0], b, v, loss, DEFAULT_OPTS)
    order = sorted(range(20), key=lambda k: losses[k])  # stable: index 4 before index 7
    # N = 20, d = 1: n_good = max(2, 15 * 20 // 100) = 3, n_bad = max(2, 85 * 20 // 100) = 17.
    assert (budget, n) == (1.0, 20)
    assert good == order[:3] and bad == order[3:20]
    # Normal-reference bandwidth 1.06 * std * n^(-1/5), floored at min_bandwidth.
    xs = v[good, 0]
    assert gbw[0] == pytest.approx(max(1.06 * xs.std() * 3 ** (-1 / 5), 1e-3), rel=1e-12)
    xs = v[bad, 0]
    assert bbw[0] == pytest.approx(1.06 * xs.std() * 17 ** (-1 / 5), rel=1e-12)


def test_bandwidths_are_floored_and_categoricals_capped() -> None:
    core = bohb_core()
    # Identical good rows: zero spread, the bandwidth is min_bandwidth.
    b = np.ones(8)
    v = np.array([[0.3, 1.0]] * 4 + [[0.9, 0.0], [0.1, 2.0], [0.5, 1.0], [0.7, 2.0]])
    loss = np.arange(8.0)
    out = core.bohb_model([0, 3], b, v, loss, (4, 15, 64, 1 / 3, 3.0, 0.02))
    assert out[4] == [0.02, 0.02]
    assert 0.02 < out[5][1] <= 2 / 3


def test_random_fraction() -> None:
    core = bohb_core()
    spec = [(1.0, (k + 0.5) / 30, abs((k + 0.5) / 30 - 0.7)) for k in range(30)]
    b, v, loss = _obs(spec)
    rng = np.random.RandomState(0)

    def sources(frac, n):
        opts = (0, 15, 8, frac, 3.0, 1e-3)
        return Counter(core.bohb_propose([0], b, v, loss, opts, rng)[1] for _ in range(n))

    assert sources(0.0, 100) == {MODEL: 100}
    assert sources(1.0, 100) == {RANDOM: 100}
    third = sources(1 / 3, 600)
    assert set(third) == {MODEL, RANDOM}
    assert 150 <= third[RANDOM] <= 250  # binomial(600, 1/3): mean 200, sd 11.5
    # No model yet: every proposal is random.
    assert core.bohb_propose([0], b[:3], v[:3], loss[:3], DEFAULT_OPTS, rng)[1:] == (NO_MODEL, None)


def test_model_proposals_concentrate_on_the_good_region() -> None:
    core = bohb_core()
    spec = [(1.0, (k + 0.5) / 40, abs((k + 0.5) / 40 - 0.7)) for k in range(40)]
    b, v, loss = _obs(spec)
    rng = np.random.RandomState(1)
    xs = [
        core.bohb_propose([0], b, v, loss, (0, 15, 64, 0.0, 3.0, 1e-3), rng)[0][0]
        for _ in range(100)
    ]
    assert abs(float(np.median(xs)) - 0.7) < 0.1
    assert np.mean(np.abs(np.array(xs) - 0.7) < 0.2) > 0.7  # random: 0.4


def test_encoding_rounds_ints_steps_and_logs() -> None:
    enc = Encoder(SPACE)
    rng = np.random.RandomState(0)
    seen = {name: Counter() for name in SPACE}
    for _ in range(4000):
        v = [rng.rand() for _ in range(5)] + [float(rng.randint(3))]
        params = enc.decode(v)
        for name, value in params.items():
            assert SPACE[name]._contains(SPACE[name].to_internal_repr(value)), (name, value)
            seen[name][value] += 1
        # Decoding the encoding of a decoded configuration gives it back.
        assert enc.decode(enc.encode(params)) == params
    # Every grid value is reachable, with equal shares for the linear grids.
    assert sorted(seen["layers"]) == list(range(1, 9))
    assert max(seen["layers"].values()) < 1.25 * min(seen["layers"].values())
    assert sorted(seen["width"]) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert max(seen["width"].values()) < 1.25 * min(seen["width"].values())
    assert min(seen["units"]) == 16 and max(seen["units"]) == 512
    assert all(isinstance(u, int) for u in seen["units"])
    # Log scale: about half the learning rates below the geometric midpoint.
    below = sum(c for lr, c in seen["lr"].items() if lr < 10**-2.5) / 4000
    assert 0.45 < below < 0.55


# --- BOHBSampler ----------------------------------------------------------------------------


def _objective_params(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -3, 3)
    y = trial.suggest_int("y", 0, 10)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return (x - 1.0) ** 2 + 0.1 * (y - 7) ** 2 + (c != "b")


def _objective(trial: optuna.Trial) -> float:
    base = _objective_params(trial)
    value = math.nan
    for step in range(1, 10):
        value = base + 2.0 / step
        trial.report(value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


def _study(seed: int, name: str = "bohb", **kwargs) -> optuna.Study:
    return optuna.create_study(
        sampler=ferrotune.BOHBSampler(seed=seed, **kwargs),
        pruner=ferrotune.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3),
        study_name=name,
    )


def test_sampler_with_hyperband_pruner_fits_on_the_largest_rung() -> None:
    study = _study(seed=0, model="kde")  # HpBandSter's gate and random fraction
    sampler = study.sampler
    seen = []
    for _ in range(120):
        study.optimize(_objective, n_trials=1)
        seen.append((sampler.last_source, sampler.last_model_budget))
    budgets = [b for _, b in seen if b is not None]
    assert set(budgets) <= {1.0, 3.0, 9.0}
    assert budgets == sorted(budgets)  # the model budget never goes back down
    assert budgets[-1] == 9.0
    assert {MODEL, RANDOM} <= {s for s, _ in seen}
    # The budget in use is the largest with enough observations, recomputed independently.
    space = sampler.infer_relative_search_space(study, study.trials[-1])
    enc, b, v, loss = sampler.observations(study, space)
    assert set(b) == {1.0, 3.0, 9.0}
    counts = Counter(b)
    d = len(space)
    fittable = [
        r for r in counts if _bohb_py.split_sizes(counts[r], d, DEFAULT_OPTS) is not None
    ]
    model = bohb_core().bohb_model(enc.kinds, np.array(b), np.array(v), np.array(loss), DEFAULT_OPTS)
    assert model[0] == max(fittable) == 9.0
    # The search finds the good region.
    assert study.best_value < 1.0


def test_observations_of_one_trial() -> None:
    dist = {"x": FloatDistribution(0, 1)}
    levels = [1.0, 3.0, 9.0]

    def trial(state, values, value=None):
        return create_trial(
            state=state, params={"x": 0.5}, distributions=dist, value=value,
            intermediate_values=values,
        )

    # Reported every step, pruned after step 4: budgets 1 and 3.
    t = trial(TrialState.PRUNED, {s: 10.0 - s for s in range(1, 5)})
    assert _observations(t, levels, 1.0) == [(1.0, 9.0), (3.0, 7.0)]
    # Reported at 2 and 10 only: 2 is the first step in [1, 3), 10 the first >= 9.
    t = trial(TrialState.COMPLETE, {2: 5.0, 10: 1.0}, value=1.0)
    assert _observations(t, levels, 1.0) == [(1.0, 5.0), (9.0, 1.0)]
    # Maximisation negates; NaN counts as +inf.
    t = trial(TrialState.PRUNED, {1: 2.0, 3: math.nan})
    assert _observations(t, levels, -1.0) == [(1.0, -2.0), (3.0, math.inf)]
    # A failed trial is +inf at the first budget it did not reach.
    t = trial(TrialState.FAIL, {1: 2.0})
    assert _observations(t, levels, 1.0) == [(1.0, 2.0), (3.0, math.inf)]
    # A completed trial that reported nothing counts at the top budget.
    t = trial(TrialState.COMPLETE, {}, value=0.25)
    assert _observations(t, levels, 1.0) == [(9.0, 0.25)]


def test_sampler_is_seeded_picklable_and_deep_copyable() -> None:
    a, b = _study(seed=3, name="s"), _study(seed=3, name="s")
    a.optimize(_objective, n_trials=50)
    b.optimize(_objective, n_trials=50)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    for clone in (pickle.loads(pickle.dumps(a.sampler)), copy.deepcopy(a.sampler)):
        trial = a.trials[-1]
        space = a.sampler.infer_relative_search_space(a, trial)
        assert clone.sample_relative(a, trial, space) == copy.deepcopy(a.sampler).sample_relative(
            a, trial, space
        )
    c = _study(seed=4, name="s")
    c.optimize(_objective, n_trials=50)
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


def test_sampler_is_thread_safe() -> None:
    study = _study(seed=0)
    study.optimize(_objective, n_trials=60, n_jobs=3)
    assert len(study.trials) == 60
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)


def test_sampler_with_explicit_budgets_and_maximisation() -> None:
    study = optuna.create_study(
        sampler=ferrotune.BOHBSampler(seed=0, budgets=[1, 3, 9], random_fraction=0.0),
        direction="maximize",
    )
    study.optimize(lambda t: -_objective(t), n_trials=40)
    assert study.sampler.last_model_budget == 9.0
    assert study.best_value > -1.5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(top_n_percent=0),
        dict(top_n_percent=100),
        dict(top_n_percent=15.5),
        dict(num_samples=0),
        dict(random_fraction=1.5),
        dict(random_fraction=-0.1),
        dict(random_fraction=math.nan),
        dict(bandwidth_factor=0.0),
        dict(bandwidth_factor=math.inf),
        dict(min_bandwidth=-1e-3),
        dict(min_bandwidth=0.0),
        dict(min_points_in_model=0),
        dict(min_points_in_model=True),
        dict(budgets=[3, 1]),
        dict(budgets=[]),
        dict(budgets=[1, math.nan]),
        dict(budgets="abc"),
        dict(seed="x"),
    ],
)
def test_bad_sampler_arguments(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        ferrotune.BOHBSampler(**kwargs)
    assert issubclass(InvalidArgumentError, ValueError)


def test_sampler_rejects_multi_objective_studies() -> None:
    study = optuna.create_study(
        sampler=ferrotune.BOHBSampler(seed=0), directions=["minimize", "minimize"]
    )
    with pytest.raises(InvalidArgumentError):
        study.ask().suggest_float("x", 0, 1)


# --- The BOHB scheduler -------------------------------------------------------------------------


def test_scheduler_walks_the_sync_brackets_like_hyperband() -> None:
    bohb = ferrotune.BOHB(SPACE, 1, 27, eta=3, seed=0, model="kde")  # HpBandSter's gate
    hb = ferrotune.Hyperband(SPACE, 1, 27, eta=3, seed=0)
    assert bohb.brackets == hb.brackets
    # Two iterations of (1, 27, 3): 27+9+3+1, 12+4+1, 6+2, 4 jobs.
    n_jobs = 2 * (40 + 17 + 8 + 4)
    first_params = {}
    shape_b, shape_h = [], []
    for _ in range(n_jobs):
        jb, jh = bohb.ask(), hb.ask()
        shape_b.append((jb.bracket, jb.rung, jb.budget))
        shape_h.append((jh.bracket, jh.rung, jh.budget))
        if jb.rung == 0:
            first_params[jb.config_id] = jb.params
        else:  # promoted configurations keep their parameters
            assert jb.params == first_params[jb.config_id]
        bohb.tell(jb, loss_of(jb.params, jb.budget))
        hb.tell(jh, loss_of(jh.params, jh.budget))
    assert shape_b == shape_h
    assert Counter(shape_b[:40]) == {(3, 0, 1.0): 27, (3, 1, 3.0): 9, (3, 2, 9.0): 3, (3, 3, 27.0): 1}
    assert bohb.n_pending == 0
    # Configurations: random until a budget has enough results (d = 6: 7 good + 7 bad), then
    # model-based or random. Configurations are proposed when dispatched, so the first bracket's
    # 15th configuration already comes from the model fitted on the 14 results at budget 1.
    sources = bohb.sources
    assert sources[:14] == [NO_MODEL] * 14 and sources[14] != NO_MODEL
    assert bohb.model_budgets[14] == 1.0
    assert {MODEL, RANDOM} <= set(sources)
    budgets = [b for b in bohb.model_budgets if b is not None]
    assert budgets == sorted(budgets) and budgets[-1] >= 9.0
    # The model finds better configurations than Hyperband's random ones.
    assert bohb.best().loss < hb.best().loss


def test_scheduler_is_reproducible() -> None:
    def run(seed):
        opt = ferrotune.BOHB(SPACE, 1, 9, seed=seed, mode="async")
        out = []
        for _ in range(120):
            job = opt.ask()
            opt.tell(job, loss_of(job.params, job.budget))
            out.append(tuple(job))
        return out

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_failed_jobs_count_as_bad_and_are_not_promoted() -> None:
    opt = ferrotune.BOHB(SPACE, 1, 9, eta=3, seed=0)
    jobs = [opt.ask() for _ in range(9)]  # rung 0 of bracket s = 2: 9 configs, 3 promoted
    failed = {j.config_id for j in jobs[:4]}
    for j in jobs[:4]:
        opt.fail(j)
    for j in jobs[4:]:
        opt.tell(j, loss_of(j.params, j.budget))
    nxt = [opt.ask() for _ in range(3)]
    assert all(j.rung == 1 for j in nxt) and not failed & {j.config_id for j in nxt}
    assert [r.loss for r in opt.results[:4]] == [math.inf] * 4
    assert all(math.isfinite(r.loss) for r in [opt.best()])
    # A rung where everything failed still moves on (the failed ones fill the places).
    for j in nxt:
        opt.fail(j)
    last = opt.ask()
    assert last.rung == 2 and last.config_id in {j.config_id for j in nxt}
    with pytest.raises(InvalidArgumentError):
        opt.fail(jobs[0])  # told twice
    with pytest.raises(InvalidArgumentError):
        opt.fail(10_000)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(min_budget=9, max_budget=9),
        dict(min_budget=10, max_budget=9),
        dict(min_budget=1, max_budget=9, eta=1),
        dict(min_budget=1, max_budget=9, mode="parallel"),
        dict(min_budget=1, max_budget=9, top_n_percent=0),
        dict(min_budget=1, max_budget=9, random_fraction=2.0),
        dict(min_budget=1, max_budget=9, num_samples=0),
        dict(min_budget=1, max_budget=9, min_bandwidth=0.0),
    ],
)
def test_bad_scheduler_arguments(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        ferrotune.BOHB(SPACE, **kwargs)


def test_bad_scheduler_space_and_tells() -> None:
    with pytest.raises(SearchSpaceError):
        ferrotune.BOHB({"x": "uniform"}, 1, 9)  # type: ignore[dict-item]
    opt = ferrotune.BOHB(SPACE, 1, 9, seed=0)
    job = opt.ask()
    for loss in (math.nan, math.inf, -math.inf, "1"):
        with pytest.raises(InvalidArgumentError):
            opt.tell(job, loss)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        opt.tell(job.id + 100, 1.0)
    opt.tell(job, 1.0)
    with pytest.raises(InvalidArgumentError):
        opt.tell(job, 1.0)
    assert len(opt.results) == 1 and opt.n_pending == 0


# --- The type stub ------------------------------------------------------------------------------


@needs_native
def test_core_stub_covers_the_hyperband_and_bohb_functions() -> None:
    import ast
    import pathlib

    stub = pathlib.Path(ferrotune.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    native = {n for n in dir(_core) if n.startswith(("hb_", "Hb", "bohb_"))}
    assert native and native <= names
    assert {n for n in names if n.startswith(("hb_", "Hb", "bohb_"))} <= native


def test_scheduler_observation_buffer_keeps_every_row() -> None:
    from ferrotune._bohb_space import Observations

    rng = np.random.RandomState(3)
    rows = [(float(rng.choice([1.0, 3.0, 9.0])), list(rng.random_sample(3)), float(rng.randn()))
            for _ in range(70)]
    obs = Observations(3)
    for k, (b, v, loss) in enumerate(rows):
        obs.append(b, v, loss, 1000 + k // 2)
        if k in (0, 15, 16, 17, 69):  # around the first growths
            budgets, vectors, losses, ids = obs.arrays()
            assert len(obs) == k + 1 == budgets.shape[0] == vectors.shape[0] == losses.shape[0]
            assert ids.tolist() == [1000 + i // 2 for i in range(k + 1)]
            assert budgets.tolist() == [r[0] for r in rows[: k + 1]]
            assert vectors.tolist() == [r[1] for r in rows[: k + 1]]
            assert losses.tolist() == [r[2] for r in rows[: k + 1]]
            assert vectors.flags.c_contiguous and not vectors.flags.writeable


def test_cached_observations_match_a_fresh_read() -> None:
    # The sampler caches finished trials' observations between proposals. After every trial,
    # across two studies sharing the sampler (one maximised), failures, NaN values, and a new
    # in-memory study that replaces a deleted one (same study id and trial ids, new content),
    # they must equal what a sampler with no cache reads.
    sampler = ferrotune.BOHBSampler(seed=0)

    def objective(trial: optuna.Trial) -> float:
        if trial.number % 9 == 4:
            raise RuntimeError("failed run")
        if trial.number % 11 == 6:
            return math.nan
        return _objective(trial)

    def check(study: optuna.Study) -> None:
        space = sampler.infer_relative_search_space(study, study.trials[-1])
        fresh = ferrotune.BOHBSampler(seed=0)
        got = sampler.observations(study, space)
        want = fresh.observations(study, space)
        assert got[0].kinds == want[0].kinds and len(got[1]) > 0
        for g, w in zip(got[1:], want[1:]):
            assert g.shape == w.shape and np.array_equal(g, w)

    pruner = ferrotune.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    a = optuna.create_study(sampler=sampler, pruner=pruner, study_name="a")
    b = optuna.create_study(sampler=sampler, pruner=pruner, study_name="b", direction="maximize")
    for _ in range(25):
        for study in (a, b):
            study.optimize(objective, n_trials=1, catch=(RuntimeError,))
            check(study)
    assert {t.state for t in a.trials} >= {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
    del a
    c = optuna.create_study(sampler=sampler, pruner=pruner, study_name="a", direction="maximize")
    for _ in range(15):
        c.optimize(objective, n_trials=1, catch=(RuntimeError,))
        check(c)
    # A running trial ahead of finished ones: its reports must show up as they arrive, the
    # trials finished after it too, and all of them once it finishes.
    running = c.ask()
    value = _objective_params(running)
    running.report(value + 2.0, 1)
    check(c)
    c.optimize(objective, n_trials=3, catch=(RuntimeError,))
    check(c)
    running.report(value + 1.0, 3)
    check(c)
    c.tell(running, value)
    check(c)
    c.optimize(objective, n_trials=2, catch=(RuntimeError,))
    check(c)
