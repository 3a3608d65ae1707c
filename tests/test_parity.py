"""Same seed, same objective: ferrotune.TPESampler suggests what optuna.samplers.TPESampler does.

Each test runs Optuna's sampler and ours side by side and compares every parameter of every
trial (floats to 1e-9 relative, everything else exactly). It runs on whichever backend
FERROTUNE_BACKEND selects; tests/run.sh runs the suite on both.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import optuna
import pytest

import ferrotune

Objective = Callable[[optuna.Trial], Any]


def _float_space(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", 1e-4, 10.0, log=True)
    z = trial.suggest_float("z", -1.0, 2.0)
    return (x - 1.3) ** 2 + math.log(y) ** 2 + abs(z)


def _stepped_space(trial: optuna.Trial) -> float:
    a = trial.suggest_float("a", 0.0, 3.0, step=0.25)
    b = trial.suggest_float("b", -2.0, 2.0, step=0.1)
    c = trial.suggest_float("c", 0.5, 20.0)
    return (a - 1.0) ** 2 + (b + 0.3) ** 2 + math.sqrt(c)


def _int_space(trial: optuna.Trial) -> float:
    i = trial.suggest_int("i", -10, 10)
    j = trial.suggest_int("j", 1, 1000, log=True)
    k = trial.suggest_int("k", 0, 30, step=3)
    return (i - 3) ** 2 + math.log(j) + abs(k - 12)


def _categorical_space(trial: optuna.Trial) -> float:
    c = trial.suggest_categorical("c", ["relu", "tanh", "gelu", None])
    d = trial.suggest_categorical("d", [1, 2.5, True, "x"])
    x = trial.suggest_float("x", 0.0, 1.0)
    return {"relu": 0.0, "tanh": 0.3, "gelu": 0.1, None: 1.0}[c] + (d == 2.5) + (x - 0.4) ** 2


def _mixed_space(trial: optuna.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    depth = trial.suggest_int("depth", 1, 12)
    frac = trial.suggest_float("frac", 0.1, 1.0, step=0.05)
    act = trial.suggest_categorical("act", ["a", "b", "c"])
    w = trial.suggest_float("w", -3.0, 3.0)
    return (math.log10(lr) + 3) ** 2 + abs(depth - 6) / 3 + (frac - 0.6) ** 2 + (act != "b") + w * w


def _with_pruning_and_failures(base: Objective) -> Objective:
    def objective(trial: optuna.Trial) -> float:
        value = base(trial)
        for step in range(1, 4):
            trial.report(value * (1 + 1 / step), step)
        if trial.number % 7 == 3:
            raise optuna.TrialPruned()
        if trial.number % 11 == 5:
            raise RuntimeError("simulated failure")
        if trial.number % 13 == 8:
            return float("nan")  # becomes a FAIL trial
        return value

    return objective


SPACES: dict[str, Objective] = {
    "float": _float_space,
    "stepped": _stepped_space,
    "int": _int_space,
    "categorical": _categorical_space,
    "mixed": _mixed_space,
}


def _history(sampler: optuna.samplers.BaseSampler, objective: Objective, n: int, direction: str):
    study = optuna.create_study(sampler=sampler, direction=direction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n, catch=(RuntimeError,))
    return [(t.state, t.params) for t in study.trials]


def _assert_same(expected, actual) -> None:
    assert len(expected) == len(actual)
    for number, ((s1, p1), (s2, p2)) in enumerate(zip(expected, actual)):
        assert s1 == s2, f"trial {number}: state {s1} != {s2}"
        assert p1.keys() == p2.keys(), f"trial {number}: {p1} != {p2}"
        for name, v1 in p1.items():
            v2 = p2[name]
            if isinstance(v1, float) and isinstance(v2, float):
                assert math.isclose(v1, v2, rel_tol=1e-9, abs_tol=1e-12), (
                    f"trial {number}, {name}: optuna {v1!r} vs ferrotune {v2!r}"
                )
            else:
                assert v1 == v2 and type(v1) is type(v2), (
                    f"trial {number}, {name}: optuna {v1!r} vs ferrotune {v2!r}"
                )


def _compare(objective: Objective, n: int, seed: int, direction: str = "minimize", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = optuna.samplers.TPESampler(seed=seed, **kwargs)
        ours = ferrotune.TPESampler(seed=seed, **kwargs)
    expected = _history(theirs, objective, n, direction)
    actual = _history(ours, objective, n, direction)
    _assert_same(expected, actual)
    return expected


@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("multivariate", [True, False])
def test_parity_per_space(space: str, multivariate: bool) -> None:
    _compare(SPACES[space], 60, seed=7, multivariate=multivariate)


@pytest.mark.parametrize("seed", [0, 1])
def test_parity_300_trials_multivariate(seed: int) -> None:
    _compare(_mixed_space, 300, seed=seed)


def test_parity_300_trials_univariate() -> None:
    _compare(_float_space, 300, seed=2, multivariate=False)


def test_parity_300_trials_stepped_and_int() -> None:
    _compare(lambda t: _stepped_space(t) + _int_space(t), 300, seed=3)


@pytest.mark.parametrize("constant_liar", [True, False])
@pytest.mark.parametrize("multivariate", [True, False])
def test_parity_pruned_and_failed(constant_liar: bool, multivariate: bool) -> None:
    history = _compare(
        _with_pruning_and_failures(_mixed_space),
        80,
        seed=5,
        multivariate=multivariate,
        constant_liar=constant_liar,
    )
    states = {s for s, _ in history}
    assert optuna.trial.TrialState.PRUNED in states and optuna.trial.TrialState.FAIL in states


def test_parity_maximize() -> None:
    _compare(lambda t: -_mixed_space(t), 80, seed=9, direction="maximize")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_startup_trials=3, n_ei_candidates=7),
        dict(consider_endpoints=True, consider_magic_clip=False),
        dict(prior_weight=0.3),
        dict(gamma=lambda n: min(int(np.ceil(0.25 * n)), 10)),
        dict(weights=lambda n: np.linspace(0.5, 1.0, n)),
    ],
    ids=["startup-candidates", "endpoints-noclip", "prior-weight", "gamma", "weights"],
)
def test_parity_options(kwargs: dict) -> None:
    _compare(_mixed_space, 50, seed=4, **kwargs)


def test_parity_conditional_space() -> None:
    def objective(trial: optuna.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["linear", "tree"])
        if kind == "linear":
            c = trial.suggest_float("C", 1e-3, 1e3, log=True)
            return abs(math.log10(c))
        depth = trial.suggest_int("depth", 2, 20)
        return abs(depth - 7) / 5

    _compare(objective, 80, seed=6)
    _compare(objective, 80, seed=6, multivariate=False)


def test_parity_with_enqueued_and_added_trials() -> None:
    def run(sampler: optuna.samplers.BaseSampler):
        study = optuna.create_study(sampler=sampler)
        study.enqueue_trial({"lr": 1e-3, "depth": 3})
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": 0.01, "depth": 4, "frac": 0.5, "act": "a", "w": 0.0},
                distributions={
                    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
                    "depth": optuna.distributions.IntDistribution(1, 12),
                    "frac": optuna.distributions.FloatDistribution(0.1, 1.0, step=0.05),
                    "act": optuna.distributions.CategoricalDistribution(["a", "b", "c"]),
                    "w": optuna.distributions.FloatDistribution(-3.0, 3.0),
                },
                value=3.0,
            )
        )
        study.optimize(_mixed_space, n_trials=40)
        return [(t.state, t.params) for t in study.trials]

    _assert_same(run(optuna.samplers.TPESampler(seed=8)), run(ferrotune.TPESampler(seed=8)))


def _compare_studies(make_sampler_kwargs: dict, objective: Objective, n: int, **study_kwargs):
    histories = []
    for cls in (optuna.samplers.TPESampler, ferrotune.TPESampler):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = optuna.create_study(sampler=cls(**make_sampler_kwargs), **study_kwargs)
            study.optimize(objective, n_trials=n)
        histories.append([(t.state, t.params) for t in study.trials])
    _assert_same(*histories)


def test_parity_set_constraint() -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        y = trial.suggest_int("y", 0, 10)
        trial.set_constraint("budget", x + y / 5 - 1)
        return x * x + (y - 3) ** 2

    _compare_studies(dict(seed=1), objective, 80)


def test_parity_constraints_func() -> None:
    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", -3, 3) ** 2 + trial.suggest_float("y", -3, 3) ** 2

    _compare_studies(dict(seed=2, constraints_func=lambda t: (t.params["x"] - 1,)), objective, 80)


def test_parity_group() -> None:
    def objective(trial: optuna.Trial) -> float:
        if trial.suggest_categorical("k", ["a", "b"]) == "a":
            return trial.suggest_float("u", 0, 1) + trial.suggest_int("v", 1, 5)
        return trial.suggest_float("w", -1, 1) ** 2

    _compare_studies(dict(seed=3, group=True, multivariate=True), objective, 80)


def test_parity_dynamic_range() -> None:
    def objective(trial: optuna.Trial) -> float:
        spread = 1 + trial.number / 50
        return trial.suggest_float("x", -spread, spread) ** 2

    _compare_studies(dict(seed=6), objective, 80)


@pytest.mark.parametrize("n_objectives", [2, 3])
def test_parity_multi_objective(n_objectives: int) -> None:
    def objective(trial: optuna.Trial):
        x = trial.suggest_float("x", 0, 1)
        y = trial.suggest_float("y", 0, 1)
        z = trial.suggest_int("z", 0, 5)
        values = (x + z, (1 - x) ** 2 + y, y * z)
        return values[:n_objectives]

    directions = ["minimize", "maximize", "minimize"][:n_objectives]
    _compare_studies(dict(seed=4 + n_objectives), objective, 120, directions=directions)
    _compare_studies(
        dict(seed=4 + n_objectives, multivariate=True), objective, 60, directions=directions
    )
