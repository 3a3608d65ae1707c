"""Multi-objective TPE: ranks, hypervolume, HSSP and the split against Optuna 5.0, suggestion
parity on 2-, 3- and 4-objective studies (with constraints), mixed fleets of Optuna's and
ferrotune's samplers on one study with the constant liar, and bad input.

The building blocks run on the active backend (``FERROTUNE_BACKEND``); when the native module
is present, its results are also compared with the numpy fallback's directly.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import optuna
import pytest
from optuna._hypervolume import _solve_hssp, compute_hypervolume
from optuna.samplers._tpe.sampler import _get_reference_point, _split_complete_trials
from optuna.study._multi_objective import _fast_non_domination_rank
from optuna.trial import TrialState

import ferrotune
from ferrotune import _multi_objective as mo
from ferrotune.exceptions import InvalidArgumentError

try:
    from ferrotune import _core  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - wheel without the native module
    _core = None


def _front(rng: np.random.RandomState, n: int, m: int, grid: bool = False) -> np.ndarray:
    """Random points of which the non-dominated ones are returned (a single front)."""
    pts = rng.rand(n, m)
    if grid:
        pts = np.round(pts * 6) / 6
    return pts[_fast_non_domination_rank(pts) == 0]


# -- building blocks against Optuna ------------------------------------------------------------
@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_hypervolume_matches_optuna(m: int) -> None:
    rng = np.random.RandomState(m)
    for case in range(40):
        n = rng.randint(1, {2: 200, 3: 120, 4: 40, 5: 20}[m])
        pts = rng.rand(n, m) * rng.choice([1.0, 100.0]) - (case % 3)
        if case % 4 == 0:
            pts = np.round(pts * 3) / 3  # duplicates and ties
        ref = _get_reference_point(pts) + 0.01
        expected = compute_hypervolume(pts, ref)
        assert expected > 0
        assert mo.compute_hypervolume(pts, ref) == pytest.approx(expected, rel=1e-12)
        front = pts[_fast_non_domination_rank(pts) == 0]
        assert mo.compute_hypervolume(front, ref, assume_pareto=True) == pytest.approx(
            compute_hypervolume(front, ref, assume_pareto=True), rel=1e-12
        )


def test_hypervolume_edge_cases() -> None:
    ref = np.array([1.0, 1.0, 1.0])
    assert mo.compute_hypervolume(np.empty((0, 3)), ref) == 0.0
    assert mo.compute_hypervolume(np.zeros((2, 3)), np.array([1.0, np.inf, 1.0])) == math.inf
    assert mo.compute_hypervolume(np.array([[0.5, 0.5, 0.5]]), ref) == pytest.approx(0.125)
    with pytest.raises(ValueError, match="dominate or equal the reference point"):
        mo.compute_hypervolume(np.array([[2.0, 0.0, 0.0]]), ref)
    with pytest.raises(ValueError, match="dominate or equal the reference point"):
        compute_hypervolume(np.array([[2.0, 0.0, 0.0]]), ref)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_nondomination_ranks_match_optuna(m: int) -> None:
    rng = np.random.RandomState(10 + m)
    for case in range(30):
        n = rng.randint(1, 300)
        pts = rng.rand(n, m)
        if case % 3 == 0:
            pts = np.round(pts * 4) / 4
        for n_below in (None, 1, rng.randint(1, n + 1), n):
            expected = _fast_non_domination_rank(pts, n_below=n_below)
            np.testing.assert_array_equal(mo.nondomination_ranks(pts, n_below), expected)
        penalty = np.where(rng.rand(n) < 0.3, rng.rand(n), -rng.rand(n))
        penalty[rng.rand(n) < 0.1] = 0.0
        for n_below in (None, rng.randint(1, n + 1)):
            np.testing.assert_array_equal(
                mo.nondomination_ranks(pts, n_below, penalty),
                _fast_non_domination_rank(pts, penalty=penalty, n_below=n_below),
            )


def test_nondomination_ranks_2d_large() -> None:
    rng = np.random.RandomState(3)
    pts = rng.rand(5000, 2)
    np.testing.assert_array_equal(mo.nondomination_ranks(pts), _fast_non_domination_rank(pts))


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hssp_matches_optuna(m: int) -> None:
    rng = np.random.RandomState(20 + m)
    checked = 0
    for case in range(40):
        # Ties in contributions are broken by rounding noise, so grids only for 2-D (exact).
        grid = m == 2 and case % 2 == 0
        pts = _front(rng, rng.randint(5, {2: 400, 3: 300, 4: 120}[m]), m, grid)
        n = len(pts)
        if n < 3:
            continue
        if case % 5 == 0:
            pts = np.concatenate([pts, pts[: n // 2]])  # duplicated points
            n = len(pts)
        ref = _get_reference_point(pts)
        labels = rng.permutation(1000)[:n]
        for k in {1, rng.randint(1, n), n - 1}:
            expected = sorted(_solve_hssp(pts, labels, k, ref).tolist())
            assert sorted(mo.solve_hssp(pts, labels, k, ref).tolist()) == expected
            checked += 1
    assert checked > 60


def test_reference_point_matches_optuna() -> None:
    rng = np.random.RandomState(5)
    for _ in range(20):
        pts = rng.randn(rng.randint(1, 30), 3)
        pts[:, rng.randint(3)] = 0.0
        np.testing.assert_array_equal(mo.reference_point(pts), _get_reference_point(pts))


def _trials_for(loss: np.ndarray) -> list[optuna.trial.FrozenTrial]:
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    return [
        optuna.trial.create_trial(params={"x": 0.5}, distributions=dist, values=list(row))
        for row in loss
    ]


@pytest.mark.parametrize("m", [2, 3, 4])
def test_split_matches_optuna(m: int) -> None:
    rng = np.random.RandomState(30 + m)
    study = optuna.create_study(directions=["minimize"] * m)
    for case in range(25):
        n = rng.randint(2, {2: 400, 3: 300, 4: 150}[m])
        loss = rng.rand(n, m) ** 2
        if m == 2 and case % 2 == 0:
            loss = np.round(loss * 5) / 5
        trials = _trials_for(loss)
        for n_below in (1, int(math.ceil(0.1 * n)), n // 2, n):
            below, _ = _split_complete_trials(trials, study, n_below)
            position = {id(t): i for i, t in enumerate(trials)}
            expected = sorted(position[id(t)] for t in below)
            mask = mo.split_below(loss, n_below)
            assert sorted(np.flatnonzero(mask).tolist()) == expected


@pytest.mark.skipif(_core is None, reason="native module not built")
def test_rust_and_numpy_agree() -> None:
    rng = np.random.RandomState(7)
    for m in (2, 3, 4):
        for _ in range(10):
            pts = rng.rand(rng.randint(2, 150 if m < 4 else 60), m)
            ref = mo.reference_point_py(pts)
            # Same operation order in both: bit-identical hypervolumes.
            assert _core.mo_compute_hypervolume(pts, ref, False) == mo.compute_hypervolume_py(
                pts, ref
            )
            np.testing.assert_array_equal(
                _core.mo_nondomination_ranks(pts, None, None), mo.nondomination_ranks_py(pts)
            )
            front = pts[mo.nondomination_ranks_py(pts) == 0]
            if len(front) > 2:
                labels = np.arange(len(front), dtype=np.int64)
                fref = mo.reference_point_py(front)
                k = len(front) // 2
                assert sorted(_core.mo_solve_hssp(front, labels, k, fref).tolist()) == sorted(
                    mo.solve_hssp_py(front, labels, k, fref).tolist()
                )
            n_below = max(1, len(pts) // 5)
            np.testing.assert_array_equal(
                _core.mo_split_below(pts, n_below), mo.split_below_py(pts, n_below)
            )


def test_bad_arrays_raise_typed_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="NaN"):
        mo.split_below(np.array([[0.0, np.nan], [1.0, 1.0]]), 1)
    with pytest.raises(InvalidArgumentError, match="NaN"):
        mo.nondomination_ranks(np.array([[0.0, 1.0]]), None, np.array([np.nan]))
    with pytest.raises(InvalidArgumentError, match="length of penalty"):
        mo.nondomination_ranks(np.zeros((3, 2)), None, np.zeros(2))
    with pytest.raises(InvalidArgumentError):
        mo.solve_hssp(np.zeros((3, 2)), np.arange(3), 5, np.ones(2))
    with pytest.raises(InvalidArgumentError):
        mo.solve_hssp(np.zeros((3, 2)), np.arange(3), 1, np.ones(3))
    with pytest.raises(InvalidArgumentError):
        mo.solve_hssp(np.zeros((3, 2)), np.array([0, -1, 2]), 1, np.ones(2))
    with pytest.raises(InvalidArgumentError):
        mo.reference_point(np.empty((0, 2)))
    with pytest.raises(InvalidArgumentError):
        mo.compute_hypervolume(np.zeros((2, 0)), np.ones(0))


# -- suggestion parity -------------------------------------------------------------------------
def _run(sampler: optuna.samplers.BaseSampler, objective: Callable, n: int, directions: list[str]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(sampler=sampler, directions=directions)
        study.optimize(objective, n_trials=n)
    return [(t.state, t.params) for t in study.trials]


def _assert_same(expected: list, actual: list) -> None:
    assert len(expected) == len(actual)
    for number, ((s1, p1), (s2, p2)) in enumerate(zip(expected, actual)):
        assert s1 == s2, f"trial {number}: {s1} != {s2}"
        assert p1.keys() == p2.keys(), f"trial {number}: {p1} != {p2}"
        for name, v1 in p1.items():
            v2 = p2[name]
            if isinstance(v1, float):
                assert math.isclose(v1, v2, rel_tol=1e-9, abs_tol=1e-12), (
                    f"trial {number}, {name}: optuna {v1!r} vs ferrotune {v2!r}"
                )
            else:
                assert v1 == v2, f"trial {number}, {name}: optuna {v1!r} vs ferrotune {v2!r}"


def _compare(objective: Callable, n: int, directions: list[str], **kwargs: Any) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = optuna.samplers.TPESampler(**kwargs)
        ours = ferrotune.TPESampler(**kwargs)
    expected = _run(theirs, objective, n, directions)
    _assert_same(expected, _run(ours, objective, n, directions))
    return expected


def _dtlz_like(n_objectives: int) -> Callable[[optuna.Trial], tuple]:
    def objective(trial: optuna.Trial) -> tuple:
        x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(3)]
        k = trial.suggest_int("k", 0, 4)
        g = sum((v - 0.5) ** 2 for v in x[1:]) + 0.05 * k
        angles = [x[0] * math.pi / 2, x[1] * math.pi / 2, x[2] * math.pi / 2]
        values = []
        for j in range(n_objectives):
            v = 1.0 + g
            for a in angles[: n_objectives - 1 - j]:
                v *= math.cos(a)
            if j > 0:
                v *= math.sin(angles[n_objectives - 1 - j])
            values.append(v)
        return tuple(values)

    return objective


@pytest.mark.parametrize(
    "n_objectives,n_trials,directions",
    [
        (2, 200, ["minimize", "minimize"]),
        (3, 200, ["minimize", "minimize", "minimize"]),
        (4, 120, ["minimize", "minimize", "minimize", "minimize"]),
    ],
)
def test_parity_many_trials(n_objectives: int, n_trials: int, directions: list[str]) -> None:
    history = _compare(_dtlz_like(n_objectives), n_trials, directions, seed=n_objectives)
    assert sum(s == TrialState.COMPLETE for s, _ in history) == n_trials


def test_parity_maximize_and_multivariate() -> None:
    objective = _dtlz_like(3)

    def flipped(trial: optuna.Trial) -> tuple:
        a, b, c = objective(trial)
        return a, -b, c

    _compare(flipped, 120, ["minimize", "maximize", "minimize"], seed=11, multivariate=True)


def test_parity_constraints() -> None:
    base = _dtlz_like(2)

    def objective(trial: optuna.Trial) -> tuple:
        values = base(trial)
        trial.set_constraint("c0", trial.params["x0"] - 0.6)
        trial.set_constraint("c1", 0.2 - trial.params["x1"])
        return values

    history = _compare(objective, 150, ["minimize", "minimize"], seed=12)
    assert len(history) == 150


def test_parity_constraints_func_and_pruned() -> None:
    base = _dtlz_like(3)

    def objective(trial: optuna.Trial) -> tuple:
        values = base(trial)
        if trial.number % 9 == 4:
            raise optuna.TrialPruned()
        return values

    history = _compare(
        objective,
        120,
        ["minimize"] * 3,
        seed=13,
        constraints_func=lambda t: (t.params["k"] - 2.5, t.params["x2"] - 0.8),
    )
    assert any(s == TrialState.PRUNED for s, _ in history)


def test_parity_only_infeasible_history() -> None:
    base = _dtlz_like(2)

    def objective(trial: optuna.Trial) -> tuple:
        values = base(trial)
        trial.set_constraint("always", 1.0 + trial.params["x0"])
        return values

    _compare(objective, 60, ["minimize", "minimize"], seed=14)


def test_nan_constraint_written_to_storage_is_feasible_like_optuna() -> None:
    base = _dtlz_like(2)

    def objective(trial: optuna.Trial) -> tuple:
        values = base(trial)
        value = math.nan if trial.number % 4 == 1 else trial.params["x0"] - 0.5
        trial.storage.set_trial_system_attr(trial._trial_id, "constraints", [value])
        return values

    _compare(objective, 60, ["minimize", "minimize"], seed=15)


def test_nan_constraint_is_rejected_as_optuna() -> None:
    for cls in (optuna.samplers.TPESampler, ferrotune.TPESampler):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler = cls(seed=0, constraints_func=lambda t: (math.nan,))
            study = optuna.create_study(sampler=sampler, directions=["minimize"] * 2)
            with pytest.raises(ValueError, match="NaN"):
                study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
        with pytest.raises(ValueError, match="NaN"):
            study.ask().set_constraint("c", math.nan)


def test_changed_number_of_objectives_raises_value_error() -> None:
    errors = []
    for cls in (optuna.samplers.TPESampler, ferrotune.TPESampler):
        study = optuna.create_study(sampler=cls(seed=0, n_startup_trials=3),
                                    directions=["minimize"] * 2)
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=3)
        with pytest.raises(ValueError):  # Optuna refuses the trial itself
            study.add_trial(
                optuna.trial.create_trial(
                    params={"x": 0.5}, distributions=study.trials[0].distributions,
                    values=[1.0, 2.0, 3.0],
                )
            )
        # Written behind Optuna's back: both samplers fail with a ValueError, no panic.
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE, [1, 2, 3])
        with pytest.raises(ValueError) as info:
            study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
        errors.append(info.value)
    assert isinstance(errors[1], InvalidArgumentError)


# -- mixed fleets ------------------------------------------------------------------------------
def _fleet(second: type, n_rounds: int, directions: list[str]) -> tuple[list, list]:
    """One study on one storage, two workers: Optuna's TPESampler and ``second``. Each worker
    samples while the other's trial is still running with only its first parameter set, so each
    sees the other's in-flight params only through the constant liar's system attributes."""
    objective = _dtlz_like(len(directions))
    storage = optuna.storages.InMemoryStorage()
    kwargs = dict(n_startup_trials=6, multivariate=True, constant_liar=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = optuna.create_study(
            storage=storage, study_name="fleet", directions=directions,
            sampler=optuna.samplers.TPESampler(seed=21, **kwargs),
        )
        b = optuna.load_study(storage=storage, study_name="fleet", sampler=second(seed=22, **kwargs))
        running = a.ask()
        running.suggest_float("x0", 0.0, 1.0)  # draws all relative params, sets only x0
        owner = a
        for _ in range(n_rounds):
            other = b if owner is a else a
            asked = other.ask()
            asked.suggest_float("x0", 0.0, 1.0)  # sees `running` as in flight
            owner.tell(running, objective(running))
            running, owner = asked, other
        owner.tell(running, objective(running))
    trials = storage.get_all_trials(a._study_id)
    attrs = [
        any(key.startswith("tpe:relative_params") for key in t.system_attrs) for t in trials
    ]
    return [(t.state, t.params) for t in trials], attrs


class _OptunaOnTrialStreams(optuna.samplers.TPESampler):
    """Optuna's TPESampler drawing trial ``n`` from the stream ferrotune's sampler uses once it
    sees another writer in the study (``ferrotune._workers.trial_seed``; issue 6): in the fleet
    below ferrotune's worker is never alone, so this is what it must match, draw for draw."""

    def __init__(self, seed: int, **kwargs: object) -> None:
        super().__init__(seed=seed, **kwargs)  # type: ignore[arg-type]
        self._material = f"seed:{seed}"

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        from ferrotune import _workers

        seed = _workers.trial_seed(self._material, trial.number)
        self._rng.rng.seed(seed)
        self._random_sampler = optuna.samplers.RandomSampler(seed=seed)  # type: ignore[arg-type]
        super().before_trial(study, trial)


@pytest.mark.parametrize("directions", [["minimize"], ["minimize", "maximize"]])
def test_mixed_fleet_with_constant_liar(directions: list[str]) -> None:
    expected, attrs_expected = _fleet(_OptunaOnTrialStreams, 60, directions)
    actual, attrs_actual = _fleet(ferrotune.TPESampler, 60, directions)
    _assert_same(expected, actual)
    # Every trial after the startup ones published its relative params, by either sampler.
    assert attrs_actual == attrs_expected
    assert all(attrs_actual[8:]) and sum(attrs_actual[1::2]) >= 25


def test_mixed_fleet_detects_missing_liar_attrs() -> None:
    """The fleet comparison above can fail: a worker that does not publish its in-flight params
    changes what Optuna's worker suggests."""

    class Silent(ferrotune.TPESampler):
        def sample_relative(self, study, trial, search_space):  # type: ignore[no-untyped-def]
            return self._sample_relative(study, trial, search_space)

    expected, _ = _fleet(_OptunaOnTrialStreams, 40, ["minimize", "maximize"])
    actual, _ = _fleet(Silent, 40, ["minimize", "maximize"])
    with pytest.raises(AssertionError):
        _assert_same(expected, actual)
