"""Identically built workers draw from distinct streams (ferrotune._workers), in one process.

Two ``Study`` objects on one ``InMemoryStorage``, each with its own sampler, take turns: that is
what two worker processes on one database do, without the processes. Runs on both backends.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import optuna
import pytest

import ferrotune
from ferrotune import _workers

optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0, log=False)
    return (x - 1.0) ** 2 + (y + 2.0) ** 2


def _take_turns(samplers, n_rounds: int, storage=None):
    """Each sampler is one worker on a shared storage; the workers run one trial each in turn."""
    storage = storage if storage is not None else optuna.storages.InMemoryStorage()
    name = "shared"
    optuna.create_study(storage=storage, study_name=name)
    studies = [optuna.load_study(study_name=name, storage=storage, sampler=s) for s in samplers]
    for _ in range(n_rounds):
        for study in studies:
            study.optimize(objective, n_trials=1)
    return studies[0].trials


def _keys(trials):
    return [tuple(sorted(t.params.items())) for t in trials]


@pytest.mark.parametrize("how", ["config", "pickle", "deepcopy"])
def test_identical_workers_do_not_repeat_points(how: str) -> None:
    def make(i: int):
        if how == "config":
            return ferrotune.TPESampler(seed=3, n_startup_trials=5)
        base = ferrotune.TPESampler(seed=3, n_startup_trials=5)
        return pickle.loads(pickle.dumps(base)) if how == "pickle" else copy.deepcopy(base)

    trials = _take_turns([make(i) for i in range(3)], 12)
    assert len(trials) == 36
    keys = _keys(trials)
    assert len(set(keys)) == len(keys)


def test_optuna_sampler_repeats_itself_there() -> None:
    # The problem being solved: Optuna's TPESampler copies suggest the same startup points.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samplers = [optuna.samplers.TPESampler(seed=3, n_startup_trials=5) for _ in range(2)]
    keys = _keys(_take_turns(samplers, 3))
    assert len(set(keys)) < len(keys)


def test_shared_study_streams_are_reproducible() -> None:
    first = _keys(_take_turns([ferrotune.TPESampler(seed=11) for _ in range(2)], 15))
    second = _keys(_take_turns([ferrotune.TPESampler(seed=11) for _ in range(2)], 15))
    third = _keys(_take_turns([ferrotune.TPESampler(seed=12) for _ in range(2)], 15))
    assert first == second
    assert first != third


def test_first_worker_keeps_optunas_stream_until_it_sees_another() -> None:
    # Worker 0 runs trials 0..4 alone: Optuna's stream (Optuna's suggestions for the seed).
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="s")
    ours = ferrotune.TPESampler(seed=4, n_startup_trials=3)
    alone = optuna.load_study(study_name="s", storage=storage, sampler=ours)
    alone.optimize(objective, n_trials=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = optuna.create_study(
            sampler=optuna.samplers.TPESampler(seed=4, n_startup_trials=3)
        )
    reference.optimize(objective, n_trials=5)
    assert _keys(alone.trials) == _keys(reference.trials)
    assert all(t.system_attrs[_workers.WORKER_ATTR] == ours._workers.token for t in alone.trials)

    # A second, identical worker joins: it sees trials it did not start, and so does worker 0
    # once the newcomer has a trial running or finished.
    other = ferrotune.TPESampler(seed=4, n_startup_trials=3)
    joined = optuna.load_study(study_name="s", storage=storage, sampler=other)
    joined.optimize(objective, n_trials=1)
    alone.optimize(objective, n_trials=1)
    reference.optimize(objective, n_trials=2)
    trials = alone.trials
    assert trials[5].system_attrs[_workers.WORKER_ATTR] == other._workers.token
    assert trials[6].system_attrs[_workers.WORKER_ATTR] == ours._workers.token
    assert _keys(trials[5:7]) != _keys(reference.trials[5:7])
    assert len(set(_keys(trials))) == 7


def test_resumed_study_does_not_replay_the_first_run() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage, study_name="r", sampler=ferrotune.TPESampler(seed=9)
    )
    study.optimize(objective, n_trials=6)  # startup (random) trials
    resumed = optuna.load_study(
        study_name="r", storage=storage, sampler=ferrotune.TPESampler(seed=9)
    )
    resumed.optimize(objective, n_trials=4)
    keys = _keys(resumed.trials)
    assert len(set(keys)) == 10
    # ... and resuming is reproducible: the same seed gives the same new trials.
    storage2 = optuna.storages.InMemoryStorage()
    again = optuna.create_study(
        storage=storage2, study_name="r", sampler=ferrotune.TPESampler(seed=9)
    )
    again.optimize(objective, n_trials=6)
    resumed2 = optuna.load_study(
        study_name="r", storage=storage2, sampler=ferrotune.TPESampler(seed=9)
    )
    resumed2.optimize(objective, n_trials=4)
    assert _keys(resumed2.trials) == keys


def test_unseeded_copies_differ_and_reseed_switches_to_the_token() -> None:
    base = ferrotune.TPESampler(n_startup_trials=2)
    base_study = optuna.create_study(sampler=base)
    base_study.optimize(objective, n_trials=3)  # the stream state is now in the pickle
    copies = [pickle.loads(pickle.dumps(base)) for _ in range(2)]
    assert copies[0]._workers.token != copies[1]._workers.token != base._workers.token
    keys = _keys(_take_turns(copies, 6))
    assert len(set(keys)) == 12

    seeded = ferrotune.TPESampler(seed=1)
    assert seeded._workers.material() == "seed:1"
    seeded.reseed_rng()
    assert seeded._workers.material().startswith("entropy:")
    assert seeded._workers.material() != f"entropy:{seeded._workers.token}"


def test_trial_seed_depends_on_seed_and_number_only() -> None:
    a = _workers.trial_seed("seed:1", 5)
    assert a.dtype.name == "uint32" and a.shape == (4,)
    assert list(a) == list(_workers.trial_seed("seed:1", 5))
    assert list(a) != list(_workers.trial_seed("seed:1", 6))
    assert list(a) != list(_workers.trial_seed("seed:2", 5))


def test_threads_are_one_worker() -> None:
    sampler = ferrotune.TPESampler(seed=0, n_startup_trials=5)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=40, n_jobs=4)
    trials = study.trials
    assert {t.system_attrs[_workers.WORKER_ATTR] for t in trials} == {sampler._workers.token}
    assert len(set(_keys(trials))) == 40


# --- BOHBSampler: the same streams ---------------------------------------------------------------


def _pruned_objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    loss = (x - 1.0) ** 2 + (y + 2.0) ** 2 + (0.0 if kind == "b" else 1.0)
    for step in (1, 3, 9):
        trial.report(loss + 1.0 / step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return loss


def _bohb_turns(samplers, n_rounds: int):
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="shared")
    studies = [
        optuna.load_study(
            study_name="shared",
            storage=storage,
            sampler=s,
            pruner=ferrotune.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3),
        )
        for s in samplers
    ]
    for _ in range(n_rounds):
        for study in studies:
            study.optimize(_pruned_objective, n_trials=1)
    return studies[0].trials


@pytest.mark.parametrize("model", ["tpe", "kde"])
@pytest.mark.parametrize("how", ["config", "pickle"])
def test_identical_bohb_workers_do_not_repeat_configurations(model: str, how: str) -> None:
    def make():
        base = ferrotune.BOHBSampler(seed=0, model=model)
        return base if how == "config" else pickle.loads(pickle.dumps(base))

    samplers = [make() for _ in range(3)]
    trials = _bohb_turns(samplers, 25)
    keys = _keys(trials)
    assert len(keys) == 75 and len(set(keys)) == 75
    # The model still proposes once the study has enough results, on the per-trial streams
    # (source 2: the model; 1: the KDE model's random fraction).
    sources = {s.last_source for s in samplers}
    assert 2 in sources and sources <= {1, 2}
    # Per-trial streams depend on the seed and the trial number only: the run replays.
    assert _keys(_bohb_turns([make() for _ in range(3)], 25)) == keys


def test_optuna_style_shared_bohb_stream_would_repeat() -> None:
    # Without per-trial streams, identical copies repeat each other's configurations.
    samplers = [ferrotune.BOHBSampler(seed=0, model="kde") for _ in range(3)]
    for s in samplers:
        s._workers.streams = lambda study, trial: None  # every trial on the sampler's own stream
    keys = _keys(_bohb_turns(samplers, 10))
    assert len(set(keys)) < len(keys)


def test_lone_bohb_sampler_keeps_its_own_stream() -> None:
    # One worker: every trial on the sampler's own stream, as before there were workers.
    a = ferrotune.BOHBSampler(seed=5)
    own = _keys(_bohb_turns([a], 40))
    b = ferrotune.BOHBSampler(seed=5)
    b._workers.streams = lambda study, trial: None
    assert _keys(_bohb_turns([b], 40)) == own
    study = optuna.create_study(sampler=ferrotune.BOHBSampler(seed=5))
    study.optimize(_pruned_objective, n_trials=30, n_jobs=3)  # threads are one worker
    assert len({t.system_attrs[_workers.WORKER_ATTR] for t in study.trials}) == 1


# --- GA / PSO / ACO: independent draws on the same streams ---------------------------------------


@pytest.mark.parametrize("cls", [ferrotune.GASampler, ferrotune.PSOSampler, ferrotune.ACOSampler])
def test_identical_evo_workers_do_not_start_with_the_same_trial(cls) -> None:
    # Workers that start together: every first trial is sampled before any trial completed
    # (empty search space, all parameters independent).
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="s")
    studies = [
        optuna.load_study(study_name="s", storage=storage, sampler=cls(seed=1)) for _ in range(3)
    ]
    trials = [study.ask() for study in studies]
    points = [(t.suggest_float("x", -5.0, 5.0), t.suggest_int("n", 0, 10**6)) for t in trials]
    assert len(set(points)) == 3
    for study, trial in zip(studies, trials):
        study.tell(trial, 1.0)
    # A lone sampler keeps its own stream: its first trial is the RandomSampler's for the seed.
    alone = optuna.create_study(sampler=cls(seed=1))
    first = alone.ask()
    reference = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    assert first.suggest_float("x", -5.0, 5.0) == reference.suggest_float("x", -5.0, 5.0)
