"""BOHB's TPE model (``model="tpe"``): the ranking of configurations by budget reached, the gate
and random fraction, agreement with Optuna's TPE, both backends, the scheduler and the sampler
with it, and its argument checks."""

from __future__ import annotations

import math
import pickle

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import ferrotune
from ferrotune import _bohb_tpe
from ferrotune.exceptions import InvalidArgumentError

from _native import needs_native as _needs_native

needs_native = _needs_native("bohb_propose", " (with the BOHB core)")

NO_MODEL, RANDOM, MODEL = 0, 1, 2
OPTS = (0, 15, 64, 1 / 3, 3.0, 1e-3)

SPACE = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "layers": IntDistribution(1, 8),
    "act": CategoricalDistribution(["relu", "tanh", None]),
}


def loss_of(params: dict, budget: float) -> float:
    base = (math.log10(params["lr"]) + 2.5) ** 2 + params["dropout"] + 0.1 * params["layers"]
    return base + (params["act"] != "tanh") * 0.3 + 1.0 / budget


def test_split_ranks_configurations_by_budget_reached_then_loss() -> None:
    # (id, budget, loss) rows in arrival order; config 4 was promoted twice, config 2 once.
    rows = [
        (1, 1.0, 0.5), (2, 1.0, 0.1), (3, 1.0, 0.9), (4, 1.0, 0.2), (5, 1.0, 0.05),
        (2, 3.0, 0.7), (4, 3.0, 0.3), (4, 9.0, 0.8), (6, 1.0, math.inf), (7, 1.0, 0.3),
        (8, 1.0, 0.4), (9, 1.0, 0.6), (10, 1.0, 0.7),
        # Failures: config 11 failed after its promotion to budget 3, config 12 at budget 9
        # with no finite loss anywhere.
        (11, 1.0, 0.01), (11, 3.0, math.inf), (12, 9.0, math.inf),
    ]
    ids = np.array([r[0] for r in rows])
    budgets = np.array([r[1] for r in rows])
    losses = np.array([r[2] for r in rows])
    good, bad = _bohb_tpe.split(budgets, losses, ids)
    # 12 configurations: ceil(12 / 10) = 2 good, config 4 at budget 9 (though its loss there is
    # worse than most losses at budget 1) and config 2 on its budget-3 loss; config 12, whose
    # only result is a failure at budget 9, does not outrank them.
    assert ids[good].tolist() == [2, 4] and budgets[good].tolist() == [3.0, 9.0]
    # Every other configuration once, at its largest budget with a finite loss (config 11 at
    # budget 1), in the order first seen.
    assert ids[bad].tolist() == [1, 3, 5, 6, 7, 8, 9, 10, 11, 12]
    assert budgets[bad].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0]
    rows, seen = _bohb_tpe.rank(budgets, losses, ids)
    assert ids[rows].tolist() == [4, 2, 11, 5, 7, 8, 1, 9, 10, 3, 12, 6]
    assert seen.tolist() == [3, 1, 10, 4, 6, 7, 0, 8, 9, 2, 11, 5]


def test_split_sizes_follow_optunas_gamma() -> None:
    rs = np.random.RandomState(0)
    for n in (1, 9, 10, 11, 60, 249, 251, 400):
        ids = rs.permutation(n) * 3 + 7  # ids need not be dense nor sorted
        budgets = rs.choice([1.0, 3.0, 9.0], size=n)
        losses = rs.rand(n)
        good, bad = _bohb_tpe.split(budgets, losses, ids)
        assert len(good) == min(math.ceil(n / 10), 25) and len(good) + len(bad) == n
        # The good set holds the best of the largest budgets: nothing outside it beats it.
        key = lambda r: (-budgets[r], losses[r])  # noqa: E731
        assert max(map(key, good)) <= min(map(key, bad), default=(math.inf,))


def test_the_model_waits_for_n_min_results_at_one_budget() -> None:
    kinds = [0, 0, 3]  # N_min = 4
    rs = np.random.RandomState(1)
    budgets = np.array([1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 9.0])
    vectors = np.column_stack([rs.rand(7), rs.rand(7), rs.randint(3, size=7)]).astype(float)
    losses, ids = rs.rand(7), np.arange(7)
    rng = np.random.RandomState(0)
    for _ in range(5):
        assert _bohb_tpe.tpe_propose(kinds, budgets, vectors, losses, ids, OPTS, rng)[1:] == (
            NO_MODEL,
            None,
        )
    budgets[0] = 3.0  # now 4 results at budget 3
    sources = {
        _bohb_tpe.tpe_propose(kinds, budgets, vectors, losses, ids, OPTS, rng)[1] for _ in range(60)
    }
    assert sources == {RANDOM, MODEL}
    no_random = OPTS[:3] + (0.0,) + OPTS[4:]
    v, source, budget = _bohb_tpe.tpe_propose(kinds, budgets, vectors, losses, ids, no_random, rng)
    assert (source, budget) == (MODEL, 3.0)
    assert 0.0 <= v[0] <= 1.0 and 0.0 <= v[1] <= 1.0 and v[2] in (0.0, 1.0, 2.0)


@pytest.mark.parametrize("multivariate", [False, True])
def test_proposal_equals_optunas_tpe_on_the_ranked_configurations(multivariate: bool) -> None:
    # The model is Optuna's TPE (independent: the scheduler; multivariate: the sampler) on the
    # configurations ranked as Optuna ranks complete and pruned trials: build that Optuna
    # study and compare the suggestion.
    rs = np.random.RandomState(4)
    n = 40
    ids = np.arange(n)
    budgets = rs.choice([1.0, 3.0, 9.0], size=n, p=[0.6, 0.3, 0.1])
    vectors = np.column_stack([rs.rand(n), rs.rand(n), rs.randint(4, size=n)]).astype(float)
    losses = rs.rand(n)
    dists = {
        "a": FloatDistribution(0.0, 1.0),
        "b": FloatDistribution(0.0, 1.0),
        "c": CategoricalDistribution([0, 1, 2, 3]),
    }
    tpe = optuna.samplers.TPESampler(seed=11, n_startup_trials=0, multivariate=multivariate)
    study = optuna.create_study(sampler=tpe)
    for k in range(n):
        params = {"a": vectors[k, 0], "b": vectors[k, 1], "c": int(vectors[k, 2])}
        if budgets[k] == 9.0:
            trial = optuna.trial.create_trial(params=params, distributions=dists, value=losses[k])
        else:
            trial = optuna.trial.create_trial(
                params=params,
                distributions=dists,
                state=optuna.trial.TrialState.PRUNED,
                intermediate_values={int(budgets[k]): losses[k]},
            )
        study.add_trial(trial)
    expected = study.ask(dists).params
    rng = np.random.RandomState(11)
    no_random = OPTS[:3] + (0.0,) + OPTS[4:]
    v, source, _ = _bohb_tpe.tpe_propose(
        [0, 0, 4], budgets, vectors, losses, ids, no_random, rng, multivariate
    )
    assert source == MODEL
    assert v[0] == pytest.approx(expected["a"], abs=1e-12)
    assert v[1] == pytest.approx(expected["b"], abs=1e-12)
    assert int(v[2]) == expected["c"]


@needs_native
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_scheduler_with_tpe_model_is_the_same_on_both_backends(mode: str, monkeypatch) -> None:
    traces = []
    for backend in ("rust", "python"):
        monkeypatch.setenv("FERROTUNE_BACKEND", backend)
        opt = ferrotune.BOHB(
            SPACE, 1, 27, eta=3, seed=3, mode=mode, model="tpe", random_fraction=1 / 3
        )
        trace = []
        for _ in range(200):
            job = opt.ask()
            if job.id % 17 == 5:
                opt.fail(job)
            else:
                opt.tell(job, loss_of(job.params, job.budget))
            trace.append(tuple(job))
        traces.append((trace, opt.sources))
    assert traces[0] == traces[1]
    assert MODEL in traces[0][1] and RANDOM in traces[0][1]


def test_scheduler_with_tpe_model_learns_and_replays() -> None:
    def run(model: str, seed: int):
        opt = ferrotune.BOHB(SPACE, 1, 27, eta=3, seed=seed, model=model, random_fraction=0.3)
        jobs = []
        for _ in range(300):
            job = opt.ask()
            opt.tell(job, loss_of(job.params, job.budget))
            jobs.append(job)
        return opt, jobs

    opt, jobs = run("tpe", 0)
    assert [tuple(j) for j in jobs] == [tuple(j) for j in run("tpe", 0)[1]]
    assert [tuple(j) for j in jobs] != [tuple(j) for j in run("tpe", 1)[1]]
    for job in jobs:
        for name, dist in SPACE.items():
            assert dist._contains(dist.to_internal_repr(job.params[name]))
    # The model's configurations are better than the random ones on this smooth problem.
    new = [j for j in jobs if j.rung == 0]
    by_source = {s: [] for s in (RANDOM, MODEL)}
    for job, source in zip(new, opt.sources):
        if source in by_source:
            by_source[source].append(loss_of(job.params, 27))
    assert len(by_source[MODEL]) >= 20 and len(by_source[RANDOM]) >= 10
    assert np.median(by_source[MODEL]) < np.median(by_source[RANDOM])


def test_sampler_with_tpe_model_in_a_pruned_study() -> None:
    sampler = ferrotune.BOHBSampler(seed=2, model="tpe")
    sampler = pickle.loads(pickle.dumps(sampler))

    def objective(trial: optuna.Trial) -> float:
        p = {
            "lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "layers": trial.suggest_int("layers", 1, 8),
            "act": trial.suggest_categorical("act", ["relu", "tanh", None]),
        }
        if trial.number % 13 == 6:
            raise RuntimeError("diverged")
        for step in (1, 3, 9, 27):
            trial.report(loss_of(p, step), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss_of(p, 27)

    def run(s):
        # Hyperband assigns brackets by hashing the study name: keep it fixed to replay.
        pruner = ferrotune.HyperbandPruner(1, 27, 3)
        study = optuna.create_study(sampler=s, pruner=pruner, study_name="tpe-model")
        study.optimize(objective, n_trials=90, catch=(RuntimeError,))
        return study

    study = run(sampler)
    assert sampler.last_source in (RANDOM, MODEL)
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.PRUNED in states and optuna.trial.TrialState.FAIL in states
    again = run(ferrotune.BOHBSampler(seed=2, model="tpe"))
    assert [t.params for t in study.trials] == [t.params for t in again.trials]
    kde = run(ferrotune.BOHBSampler(seed=2, model="kde"))
    assert [t.params for t in study.trials] != [t.params for t in kde.trials]


def test_random_fraction_defaults_per_model() -> None:
    # None: HpBandSter's 1/3 with the KDE model, none with the TPE model.
    for model, expected in (("kde", {NO_MODEL, RANDOM, MODEL}), ("tpe", {NO_MODEL, MODEL})):
        opt = ferrotune.BOHB(SPACE, 1, 27, eta=3, seed=0, model=model)
        assert opt._opts[3] == (1 / 3 if model == "kde" else 0.0)
        for _ in range(250):
            job = opt.ask()
            opt.tell(job, loss_of(job.params, job.budget))
        assert set(opt.sources) == expected
    assert ferrotune.BOHBSampler(model="tpe", random_fraction=0.5)._opts[3] == 0.5
    assert ferrotune.BOHBSampler(model="kde")._opts[3] == 1 / 3
    # The default model is the TPE model (no random fraction), for both classes.
    assert ferrotune.BOHBSampler()._model == ferrotune.BOHB(SPACE, 1, 27)._model == "tpe"
    assert ferrotune.BOHBSampler()._opts[3] == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "gp"}, "`model` must be one of"),
        ({"model": None}, "`model` must be one of"),
        ({"model": ["tpe"]}, "`model` must be one of"),
        ({"model": "tpe", "random_fraction": 1.5}, "`random_fraction` must be in"),
        ({"model": "tpe", "num_samples": 32}, "`num_samples` only apply to model='kde'"),
        (
            {"model": "tpe", "top_n_percent": 20, "min_bandwidth": 0.1},
            "`top_n_percent`, `min_bandwidth` only apply",
        ),
        # The default model is "tpe": a KDE option alone says how to get the KDE model.
        ({"bandwidth_factor": 2.0}, "`bandwidth_factor` only apply to model='kde'.*pass model="),
    ],
)
def test_bad_model_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        ferrotune.BOHBSampler(**kwargs)
    with pytest.raises(InvalidArgumentError, match=match):
        ferrotune.BOHB(SPACE, 1, 9, **kwargs)
    # random_fraction and min_points_in_model apply to both models.
    ferrotune.BOHB(SPACE, 1, 9, model="tpe", random_fraction=0.1, min_points_in_model=6)
    ferrotune.BOHB(SPACE, 1, 9, model="kde", top_n_percent=20, bandwidth_factor=2.0)
