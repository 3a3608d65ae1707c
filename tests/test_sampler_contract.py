"""Optuna's sampler contract: Optuna's own test kit, reproducibility, copying, threads, storages."""

from __future__ import annotations

import copy
import math
import pickle
import subprocess
import sys
import textwrap
from typing import Callable

import optuna
import pytest
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)

import ferrotune


class TestOptunaKitUnivariate(BasicSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], optuna.samplers.BaseSampler]:
        return lambda: ferrotune.TPESampler(n_startup_trials=0, multivariate=False)


class TestOptunaKitMultivariate(BasicSamplerTestCase, RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], optuna.samplers.BaseSampler]:
        return lambda: ferrotune.TPESampler(n_startup_trials=0, multivariate=True)


class TestOptunaKitMultiObjective(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], optuna.samplers.BaseSampler]:
        return lambda: ferrotune.TPESampler(n_startup_trials=0)


def objective(trial: optuna.Trial) -> float:
    a = trial.suggest_float("a", 1, 9)
    b = trial.suggest_float("b", 1, 9, log=True)
    c = trial.suggest_float("c", 1, 9, step=1)
    d = trial.suggest_int("d", 1, 9)
    e = trial.suggest_int("e", 1, 9, log=True)
    f = trial.suggest_int("f", 1, 9, step=2)
    g = trial.suggest_categorical("g", list(range(1, 10)))
    return a + b + c + d + e + f + g


def _params(sampler: optuna.samplers.BaseSampler, n: int = 25) -> list[dict]:
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n)
    return [t.params for t in study.trials]


@pytest.mark.parametrize("multivariate", [True, False])
def test_reproducible_with_seed(multivariate: bool) -> None:
    a = _params(ferrotune.TPESampler(seed=3, multivariate=multivariate))
    b = _params(ferrotune.TPESampler(seed=3, multivariate=multivariate))
    assert a == b
    c = _params(ferrotune.TPESampler(seed=4, multivariate=multivariate))
    assert a != c


def test_reproducible_in_other_process() -> None:
    code = textwrap.dedent(
        """
        import json, optuna, ferrotune
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        def objective(trial):
            x = trial.suggest_float("x", -5, 5)
            y = trial.suggest_int("y", 0, 20)
            c = trial.suggest_categorical("c", ["p", "q", "r"])
            return x * x + y + (c == "q")
        study = optuna.create_study(sampler=ferrotune.TPESampler(seed=11))
        study.optimize(objective, n_trials=25)
        print(json.dumps([t.params for t in study.trials]))
        """
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1]
    assert len(outs[0]) > 100


def test_reseed_rng_changes_stream() -> None:
    sampler = ferrotune.TPESampler(seed=0, n_startup_trials=0)
    first = _params(sampler, 12)
    sampler2 = ferrotune.TPESampler(seed=0, n_startup_trials=0)
    sampler2.reseed_rng()
    second = _params(sampler2, 12)
    assert first != second


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickle_and_deepcopy_keep_the_stream(how: str) -> None:
    sampler = ferrotune.TPESampler(seed=5)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=15)
    clone = (
        pickle.loads(pickle.dumps(sampler)) if how == "pickle" else copy.deepcopy(sampler)
    )
    # Continue the same history with the original and with the clone: same suggestions.
    s1 = optuna.create_study(sampler=sampler)
    s2 = optuna.create_study(sampler=clone)
    for t in study.trials:
        s1.add_trial(t)
        s2.add_trial(t)
    s1.optimize(objective, n_trials=10)
    s2.optimize(objective, n_trials=10)
    assert [t.params for t in s1.trials] == [t.params for t in s2.trials]


def test_threads_share_one_sampler() -> None:
    sampler = ferrotune.TPESampler(seed=0, n_startup_trials=5)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=80, n_jobs=4)
    trials = study.trials
    assert len(trials) == 80
    assert sorted(t.number for t in trials) == list(range(80))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    keys = {tuple(sorted(t.params.items())) for t in trials}
    assert len(keys) > 70  # the constant liar keeps parallel trials apart


@pytest.mark.parametrize("storage_kind", ["inmemory", "sqlite", "journal"])
def test_storages(storage_kind: str, tmp_path) -> None:
    if storage_kind == "inmemory":
        storage = optuna.storages.InMemoryStorage()
    elif storage_kind == "sqlite":
        storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    else:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "journal.log"))
        )
    study = optuna.create_study(storage=storage, sampler=ferrotune.TPESampler(seed=1))
    study.optimize(objective, n_trials=20)
    ref = optuna.create_study(sampler=ferrotune.TPESampler(seed=1))
    ref.optimize(objective, n_trials=20)
    assert [t.params for t in study.trials] == [t.params for t in ref.trials]


@pytest.mark.parametrize("pruner", ["hyperband", "median"])
def test_with_optuna_pruners(pruner: str) -> None:
    """Optuna wraps the study given to samplers under HyperbandPruner (_BracketStudy): the
    sampler must work through that wrapper, and prune decisions reach the history."""
    pruners = {
        "hyperband": optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9),
        "median": optuna.pruners.MedianPruner(n_startup_trials=3),
    }

    def curve(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        lr = trial.suggest_float("lr", 1e-4, 1, log=True)
        value = 0.0
        for step in range(1, 10):
            value = (x - 1) ** 2 + abs(math.log10(lr) + 2) + 1 / step
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    study = optuna.create_study(
        sampler=ferrotune.TPESampler(seed=0, n_startup_trials=5),
        pruner=pruners[pruner],
        study_name=f"pruned-{pruner}",
    )
    study.optimize(curve, n_trials=60)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) > 0
    assert states.count(optuna.trial.TrialState.COMPLETE) > 0
    assert study.best_value < 1.5
