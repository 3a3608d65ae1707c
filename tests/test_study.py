"""The native ask/tell loop (``ferrotune.create_study`` / ``ferrotune.Study``).

Parity: a native study with seed s suggests, trial by trial, what
``optuna.create_study(sampler=optuna.samplers.TPESampler(seed=s))`` suggests, on several spaces,
through the startup phase and beyond. Both backends of the trial store give the same results.
"""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import optuna
import pytest

import ferrotune
from ferrotune import _trial_store
from ferrotune.exceptions import InvalidArgumentError

optuna.logging.set_verbosity(optuna.logging.ERROR)


def mixed(trial):
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", 1e-3, 10.0, log=True)
    z = trial.suggest_float("z", 0.0, 1.0, step=0.1)
    n = trial.suggest_int("n", 1, 9)
    m = trial.suggest_int("m", 2, 64, log=True)
    s = trial.suggest_int("s", 0, 20, step=4)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return x**2 + math.log(y) ** 2 + z + abs(n - 3) + abs(math.log2(m) - 3) + s / 10 + (c != "b")


def conditional(trial):
    kind = trial.suggest_categorical("kind", ["lin", "quad"])
    if kind == "lin":
        a = trial.suggest_float("a", -2.0, 2.0)
        return abs(a - 0.5)
    b = trial.suggest_float("b", -3.0, 3.0)
    k = trial.suggest_int("k", 1, 4)
    return (b - 1.0) ** 2 + k * 0.1


def with_pruning(trial):
    u = trial.suggest_float("u", 0.0, 1.0)
    v = trial.suggest_float("v", 0.0, 1.0)
    for step in range(3):
        trial.report(u + v + step, step)
    if u > 0.8:
        raise optuna.TrialPruned()
    if v > 0.95:
        return float("nan")  # FAIL with a warning, as in Optuna
    return u - v


def sphere10(trial):
    return sum(trial.suggest_float(f"x{i}", -5.0, 5.0) ** 2 for i in range(10))


def two_objectives(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    return x + y, (1 - x) ** 2 + y


def params_of(trials):
    return [(t.state, t.params, t.values) for t in trials]


def run_both(func, n_trials, seed, **study_kwargs):
    o = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), **study_kwargs)
    f = ferrotune.create_study(seed=seed, **study_kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o.optimize(func, n_trials=n_trials)
        f.optimize(func, n_trials=n_trials)
    return o, f


@pytest.mark.parametrize(
    "func,n_trials,seed,kwargs",
    [
        (mixed, 110, 0, {}),
        (conditional, 100, 1, {}),
        (with_pruning, 80, 2, {"direction": "maximize"}),
        (sphere10, 60, 3, {}),
        (two_objectives, 50, 4, {"directions": ["minimize", "minimize"]}),
    ],
)
def test_same_suggestions_as_optuna(func, n_trials, seed, kwargs):
    o, f = run_both(func, n_trials, seed, **kwargs)
    ours, theirs = params_of(f.trials), params_of(o.trials)
    assert len(ours) == len(theirs) == n_trials
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"trial {i}: {a} != {b}"
    if "directions" not in kwargs:
        assert f.best_value == o.best_value
        assert f.best_params == o.best_params
        assert f.best_trial.number == o.best_trial.number
    else:
        assert [t.number for t in f.best_trials] == [t.number for t in o.best_trials]


def test_ask_batch_is_optunas_constant_liar():
    seed, k = 5, 4
    o = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    f = ferrotune.create_study(seed=seed)
    for _ in range(8):
        batch_o = []
        for _ in range(k):
            t = o.ask()
            t.relative_params  # draw the relative params now, as ask_batch does
            batch_o.append(t)
        batch_f = f.ask_batch(k)
        assert [t.number for t in batch_f] == [t.number for t in batch_o]
        for to, tf in zip(batch_o, batch_f):
            vo, vf = mixed(to), mixed(tf)
            assert to.params == tf.params
            assert vo == vf
        for to, tf in zip(reversed(batch_o), reversed(batch_f)):  # tell out of order
            o.tell(to, mixed(to))
            f.tell(tf, mixed(tf))
    assert params_of(f.trials) == params_of(o.trials)
    # the batch really is spread out: no two trials of a batch coincide
    last = f.trials[-k:]
    assert len({t.params["x"] for t in last}) == k


def test_ask_batch_validation():
    f = ferrotune.create_study(seed=0)
    assert f.ask_batch(0) == []
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(InvalidArgumentError):
            f.ask_batch(bad)


def test_backends_agree(monkeypatch):
    results = {}
    for backend in ("rust", "python"):
        if backend == "rust" and not ferrotune.native_available():
            pytest.skip("native module not built")
        monkeypatch.setenv("FERROTUNE_BACKEND", backend)
        f = ferrotune.create_study(seed=11)
        assert f.backend == backend
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f.optimize(mixed, n_trials=40)
            batch = f.ask_batch(3)
        for t in batch:
            f.tell(t, mixed(t))
        results[backend] = params_of(f.trials)
        results[backend + "_rng"] = f._store.rng_state()
    assert results["rust"] == results["python"]
    assert np.array_equal(results["rust_rng"][0], results["python_rng"][0])
    assert results["rust_rng"][1] == results["python_rng"][1]


def test_store_twins_agree_on_running_and_pruned_rows():
    """Both store implementations directly: out-of-order finishing, running liars, pruned and
    multi-objective splits."""
    if not ferrotune.native_available():
        pytest.skip("native module not built")
    rng = np.random.RandomState(3)
    stores = [
        _trial_store.make_store("rust", False, np.random.RandomState(9)),
        _trial_store.make_store("python", False, np.random.RandomState(9)),
    ]
    dims = [(0, 0.0, 1.0, 0.0, False, 0), (1, 0.0, 2.0, 0.0, False, 3), (0, 1.0, 9.0, 1.0, False, 0)]
    for s in stores:
        assert [s.add_column() for _ in range(3)] == [0, 1, 2]
    order = rng.permutation(40)
    for n in range(40):
        vals = [rng.uniform(), float(rng.randint(3)), float(rng.randint(1, 10))]
        missing = rng.randint(4)  # some trials lack a parameter
        for s in stores:
            s.start(n)
            for c, v in enumerate(vals):
                if c != missing:
                    s.set_param(n, c, v)
    for i, n in enumerate(order[:34]):
        kind = 1 if i % 7 == 0 else 0
        value = float(rng.uniform()) if kind == 0 else math.nan
        for s in stores:
            s.finish(int(n), kind, value, -float(i % 3), 0.5)
    for s in stores:
        s.set_liar(int(order[35]), [0, 1, 2], [0.5, 1.0, 5.0])
    for args in [
        (int(order[34]), [0, 1, 2], dims, 4, None, False, True),
        (int(order[34]), [0, 2], [dims[0], dims[2]], 10, None, False, False),
        (int(order[36]), [1], [dims[1]], 3, [0, 5, 7], True, True),
    ]:
        outs = [s.sample(*args, 1.0, True, False, 24) for s in stores]
        assert outs[0] == outs[1]
    assert np.array_equal(stores[0].column(2), stores[1].column(2), equal_nan=True)
    for s in stores:
        with pytest.raises(InvalidArgumentError):
            s.finish(int(order[0]), 0, 1.0, 0.0, 0.0)  # already finished
        with pytest.raises(InvalidArgumentError):
            s.sample(0, [7], [dims[0]], 1, None, False, True, 1.0, True, False, 24)
        s.start(100)
        s.set_param(100, 0, 0.1)
        with pytest.raises(InvalidArgumentError):
            s.set_param(100, 0, 0.2)  # already set
        with pytest.raises(InvalidArgumentError):
            s.set_param(100, 1, math.nan)
        with pytest.raises(InvalidArgumentError):
            s.start(int(order[36]))  # exists


def test_optimize_threads_no_lost_or_duplicated_trials():
    f = ferrotune.create_study(seed=0)
    seen = []
    lock = threading.Lock()

    def objective(trial):
        v = sphere10(trial)
        with lock:
            seen.append(trial.number)
        return v

    f.optimize(objective, n_trials=120, n_jobs=4)
    numbers = [t.number for t in f.trials]
    assert numbers == list(range(120))
    assert sorted(seen) == list(range(120))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in f.trials)
    assert len(f._store) == 120 and f._store.n_running == 0
    for t in f.trials:
        assert t.value == pytest.approx(sum(v**2 for v in t.params.values()))
    # the stored columns match the trials' parameters
    col = f._store.column(f._col_of["x3"])
    by_number = dict(zip(f._store.numbers().tolist(), col.tolist()))
    assert all(by_number[t.number] == t.params["x3"] for t in f.trials)


def test_optimize_errors_catch_and_timeout():
    f = ferrotune.create_study(seed=0)

    def boom(trial):
        trial.suggest_float("x", 0, 1)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        f.optimize(boom, n_trials=5)
    assert [t.state.name for t in f.trials] == ["FAIL"]
    f.optimize(boom, n_trials=3, catch=(KeyError,))
    assert [t.state.name for t in f.trials] == ["FAIL"] * 4
    f.optimize(lambda t: t.suggest_float("x", 0, 1), timeout=0.2)
    assert len(f.trials) > 4
    with pytest.raises(InvalidArgumentError):
        f.optimize(sphere10, n_trials=-1)
    with pytest.raises(InvalidArgumentError):
        f.optimize(sphere10, n_trials=1, n_jobs=0)


def test_bad_input_is_rejected_and_nothing_is_corrupted():
    f = ferrotune.create_study(seed=0)
    g = ferrotune.create_study(seed=0)
    t = f.ask()
    x = t.suggest_float("x", 0.0, 1.0)
    # same name, another distribution kind, in the same trial and in a later one
    with pytest.raises(InvalidArgumentError, match="different distribution kind"):
        t.suggest_int("x", 0, 1)
    with pytest.raises(InvalidArgumentError):
        t.suggest_float("x", 0.1, 1.0, log=True)
    assert t.suggest_float("x", 0.0, 1.0) == x
    with pytest.warns(RuntimeWarning):
        assert t.suggest_float("x", 0.0, 2.0) == x  # compatible: Optuna keeps the first value
    # Optuna's own validation errors, as ferrotune ValueError subclasses
    for bad in (
        lambda: t.suggest_float("a", 1.0, 0.0),
        lambda: t.suggest_float("a", 0.0, 1.0, log=True),
        lambda: t.suggest_float("a", 0.1, 1.0, log=True, step=0.1),
        lambda: t.suggest_int("a", 0, 10, step=0),
        lambda: t.suggest_categorical("a", []),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            bad()
        assert isinstance(info.value, ValueError)
    # a trial of another study
    with pytest.raises(InvalidArgumentError, match="another study"):
        g.tell(t, 1.0)
    with pytest.raises(InvalidArgumentError):
        f.tell(99, 1.0)
    with pytest.raises(TypeError):
        f.tell("0", 1.0)
    # bad value/state combinations leave the trial running
    with pytest.raises(InvalidArgumentError):
        f.tell(t, float("nan"), state=optuna.trial.TrialState.COMPLETE)
    with pytest.raises(InvalidArgumentError):
        f.tell(t, 1.0, state=optuna.trial.TrialState.PRUNED)
    with pytest.raises(InvalidArgumentError):
        f.tell(t, state=optuna.trial.TrialState.RUNNING)
    assert f.trials[0].state.name == "RUNNING"
    f.tell(t, 0.5)
    # telling twice
    with pytest.raises(InvalidArgumentError, match="Cannot tell a COMPLETE trial"):
        f.tell(t, 0.1)
    with pytest.raises(InvalidArgumentError):
        f.tell(0, 0.1)
    assert f.tell(0, 0.1, skip_if_finished=True).value == 0.5
    with pytest.raises(InvalidArgumentError):
        t.suggest_float("y", 0, 1)  # finished trial
    # a NaN value: FAIL with a warning, as Optuna
    t2 = f.ask()
    t2.suggest_float("x", 0.0, 1.0)
    with pytest.warns(UserWarning, match="not acceptable"):
        frozen = f.tell(t2, float("nan"))
    assert frozen.state.name == "FAIL" and frozen.values is None
    t3 = f.ask()
    with pytest.warns(UserWarning):
        f.tell(t3, [1.0, 2.0])  # wrong number of values
    assert f.trials[2].state.name == "FAIL"
    # the store holds exactly the one complete trial, and sampling still matches Optuna
    assert len(f._store) == 1 and f._store.n_running == 0
    assert f.best_value == 0.5 and f.best_params == {"x": x}
    # another distribution for "x" in a later trial is refused before anything is stored
    t4 = f.ask()
    with pytest.raises(InvalidArgumentError):
        t4.suggest_categorical("x", [1, 2])
    assert t4.params == {}
    f.tell(t4, 1.0)
    assert f.trials[3].params == {}


def test_no_trials_yet_and_directions():
    f = ferrotune.create_study(direction="maximize")
    with pytest.raises(ValueError):
        f.best_trial
    with pytest.raises(InvalidArgumentError):
        ferrotune.create_study(direction="up")
    with pytest.raises(InvalidArgumentError):
        ferrotune.create_study(direction="minimize", directions=["minimize"])
    with pytest.raises(InvalidArgumentError):
        ferrotune.create_study(sampler=optuna.samplers.RandomSampler())
    with pytest.raises(InvalidArgumentError):
        ferrotune.create_study(sampler=ferrotune.TPESampler(seed=1), seed=1)
    mo = ferrotune.create_study(directions=["minimize", "maximize"])
    with pytest.raises(RuntimeError):
        mo.best_trial
    t = mo.ask()
    with pytest.raises(NotImplementedError):
        t.report(1.0, 0)


def test_sampler_settings_are_used():
    sampler = ferrotune.TPESampler(seed=7, n_startup_trials=4, n_ei_candidates=8, multivariate=False)
    o = optuna.create_study(
        sampler=optuna.samplers.TPESampler(
            seed=7, n_startup_trials=4, n_ei_candidates=8, multivariate=False
        )
    )
    f = ferrotune.create_study(sampler=sampler)
    o.optimize(mixed, n_trials=25)
    f.optimize(mixed, n_trials=25)
    assert params_of(f.trials) == params_of(o.trials)


def test_round_trip_through_optuna_storage(tmp_path):
    f = ferrotune.create_study(seed=0, direction="maximize")

    def objective(trial):
        trial.set_user_attr("tag", f"t{trial.number}")
        v = -with_pruning(trial)
        return v

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f.optimize(objective, n_trials=40)
    states = {t.state.name for t in f.trials}
    assert {"COMPLETE", "PRUNED", "FAIL"} <= states
    url = f"sqlite:///{tmp_path / 'x.db'}"
    o = f.to_optuna(storage=url, study_name="round")
    loaded = optuna.load_study(study_name="round", storage=url)
    assert loaded.direction == optuna.study.StudyDirection.MAXIMIZE
    for a, b in zip(f.trials, loaded.trials):
        assert (a.number, a.state, a.values, a.params) == (b.number, b.state, b.values, b.params)
        assert a.distributions == b.distributions
        assert a.intermediate_values == b.intermediate_values
        assert a.user_attrs == b.user_attrs
    assert o.best_value == f.best_value
    back = ferrotune.Study.from_optuna(loaded, seed=3)
    assert params_of(back.trials) == params_of(f.trials)
    assert [t.intermediate_values for t in back.trials] == [t.intermediate_values for t in f.trials]
    assert back.best_params == f.best_params
    # warm-started, it continues exactly as Optuna's TPE does on the same history
    cont = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=3)
    )
    cont.add_trials(loaded.trials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cont.optimize(objective, n_trials=15)
        back.optimize(objective, n_trials=15)
    assert params_of(back.trials) == params_of(cont.trials)


def test_trials_dataframe():
    pd = pytest.importorskip("pandas")
    f = ferrotune.create_study(seed=0)
    f.optimize(conditional, n_trials=12)
    df = f.trials_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert list(df["number"]) == list(range(12))
    assert list(df["value"]) == [t.value for t in f.trials]
    assert set(df["state"]) == {"COMPLETE"}
    assert "params_kind" in df.columns


def test_returned_trials_are_copies():
    f = ferrotune.create_study(seed=0)
    t = f.ask()
    t.suggest_float("x", 0.0, 1.0)
    t.set_user_attr("k", 1)
    frozen = f.tell(t, 1.0)
    assert isinstance(frozen, optuna.trial.FrozenTrial) and frozen.value == 1.0
    frozen.params["x"] = 99.0
    frozen.user_attrs["k"] = 2
    f.trials[0].params["x"] = 98.0
    assert f.trials[0].params["x"] != 99.0 and f.trials[0].params["x"] != 98.0
    assert f.trials[0].user_attrs == {"k": 1}
    assert t.params == f.trials[0].params


@pytest.mark.parametrize("directions", [["maximize"], ["minimize", "maximize"]])
def test_pickle_and_deepcopy_keep_trials_and_continue_the_same_stream(directions):
    import copy
    import pickle

    objective = with_pruning if len(directions) == 1 else two_objectives

    f = ferrotune.create_study(seed=5, directions=directions, study_name="p")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f.optimize(objective, n_trials=30)
        copies = [pickle.loads(pickle.dumps(f)), copy.deepcopy(f)]
        for c in copies:
            assert c.study_name == "p" and c.directions == f.directions
            assert len(c.trials) == len(f.trials)
            for a, b in zip(f.trials, c.trials):
                assert (a.number, a.state, a.values, a.params) == (b.number, b.state, b.values, b.params)
                assert a.distributions == b.distributions
                assert a.intermediate_values == b.intermediate_values
        # each copy goes on exactly as the original does (same random streams, same history)
        for s in [f] + copies:
            s.optimize(objective, n_trials=15)
    assert params_of(copies[0].trials) == params_of(f.trials)
    assert params_of(copies[1].trials) == params_of(f.trials)
    # the copies are independent of the original
    assert len(f.trials) == len(copies[0].trials) == 45


def test_pickle_refuses_a_study_with_running_trials():
    import pickle

    f = ferrotune.create_study(seed=0)
    trial = f.ask()
    trial.suggest_float("x", 0.0, 1.0)
    with pytest.raises(InvalidArgumentError, match="running trials"):
        pickle.dumps(f)
    f.tell(trial, 1.0)
    assert len(pickle.loads(pickle.dumps(f)).trials) == 1
