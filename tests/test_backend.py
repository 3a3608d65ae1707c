"""Backend selection and Rust-vs-numpy agreement of the core routines."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ferrotune
from ferrotune import _numpy_core
from ferrotune._space import CATEGORICAL, NUMERICAL, Dim

from _native import core as _core
from _native import needs_native as _needs_native

needs_native = _needs_native()

# Blocks `import ferrotune._core` in a child process, as on a platform without a wheel.
_BLOCK_NATIVE = textwrap.dedent(
    """
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == "ferrotune._core":
                raise ImportError("native module blocked for this test")
            return None
    sys.meta_path.insert(0, _Block())
    """
)


def _child(code: str, backend: str | None, block_native: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("FERROTUNE_BACKEND", None)
    if backend is not None:
        env["FERROTUNE_BACKEND"] = backend
    prefix = _BLOCK_NATIVE if block_native else ""
    return subprocess.run(
        [sys.executable, "-c", prefix + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
    )


def test_active_backend_follows_environment() -> None:
    requested = os.environ.get("FERROTUNE_BACKEND", "auto")
    expected = {"python": "python", "rust": "rust"}.get(requested)
    if expected is None:
        expected = "rust" if _core is not None else "python"
    assert ferrotune.get_backend() == expected


def test_python_backend_forced() -> None:
    out = _child("import ferrotune; print(ferrotune.get_backend())", "python", False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "python"


def test_missing_native_module_falls_back_with_a_warning() -> None:
    code = """
        import warnings, optuna, ferrotune
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            name = ferrotune.get_backend()
        print(name)
        print([str(w.message) for w in caught if "fallback" in str(w.message)])
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=ferrotune.TPESampler(seed=0, n_startup_trials=2))
        study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=5)
        print(len(study.trials))
    """
    out = _child(code, None, True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "python"
    assert "native module blocked for this test" in lines[1]
    assert lines[2] == "5"


def test_rust_backend_required_fails_loudly() -> None:
    code = """
        import ferrotune
        try:
            ferrotune.get_backend()
        except ferrotune.BackendUnavailableError as exc:
            print("raised:", exc)
    """
    out = _child(code, "rust", True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("raised:")
    assert "ferrotune._core" in out.stdout


def test_bad_backend_name_is_a_value_error() -> None:
    code = """
        import ferrotune
        try:
            ferrotune.get_backend()
        except ValueError as exc:
            print(type(exc).__name__, exc)
    """
    out = _child(code, "fortran", False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("InvalidArgumentError")
    assert "FERROTUNE_BACKEND" in out.stdout


# --- Rust and numpy cores agree --------------------------------------------------------------

SPACES = {
    "float": [Dim(NUMERICAL, -3.0, 5.0, 0.0, False, 0), Dim(NUMERICAL, 1e-3, 10.0, 0.0, True, 0)],
    "stepped": [Dim(NUMERICAL, 0.0, 2.0, 0.25, False, 0), Dim(NUMERICAL, -10.0, 10.0, 1.0, False, 0)],
    "logint": [Dim(NUMERICAL, 1.0, 1000.0, 1.0, True, 0), Dim(NUMERICAL, 0.0, 30.0, 3.0, False, 0)],
    "mixed": [
        Dim(NUMERICAL, -1.0, 1.0, 0.0, False, 0),
        Dim(CATEGORICAL, 0.0, 3.0, 0.0, False, 4),
        Dim(NUMERICAL, 1.0, 64.0, 1.0, True, 0),
        Dim(CATEGORICAL, 0.0, 1.0, 0.0, False, 2),
        Dim(NUMERICAL, 0.1, 1.0, 0.1, False, 0),
    ],
}


def _observations(dims: list[Dim], n: int, rng: np.random.Generator) -> np.ndarray:
    cols = []
    for d in dims:
        if d.kind == CATEGORICAL:
            cols.append(rng.integers(0, d.n_choices, n).astype(float))
        elif d.step:
            k = rng.integers(0, int(round((d.high - d.low) / d.step)) + 1, n)
            cols.append(d.low + k * d.step)
        elif d.log:
            cols.append(np.exp(rng.uniform(np.log(d.low), np.log(d.high), n)))
        else:
            cols.append(rng.uniform(d.low, d.high, n))
    return np.column_stack(cols) if n else np.empty((0, len(dims)))


def _tuples(dims: list[Dim]) -> list[tuple]:
    return [tuple(d) for d in dims]


@needs_native
@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("n_obs", [0, 1, 2, 7, 40, 300])
def test_parzen_sample_and_log_pdf_agree(space: str, n_obs: int) -> None:
    dims = SPACES[space]
    gen = np.random.default_rng(n_obs * 31 + len(space))
    obs = _observations(dims, n_obs, gen)
    weights = np.linspace(0.3, 1.0, n_obs)
    est = _numpy_core.ParzenEstimator(dims, obs, weights, 1.0, True, False)

    rs = np.random.RandomState(n_obs)
    expected = est.sample(rs, 50)
    state = np.random.RandomState(n_obs).get_state()
    got, key, pos = _core.parzen_sample(
        _tuples(dims), obs, weights, 1.0, True, False, 50, state[1], state[2]
    )
    np.testing.assert_array_equal(got, expected)
    after = rs.get_state()
    np.testing.assert_array_equal(key, after[1])
    assert pos == after[2]

    x = _observations(dims, 64, gen)
    np.testing.assert_allclose(
        _core.parzen_log_pdf(_tuples(dims), obs, weights, 1.0, True, False, x),
        est.log_pdf(x),
        rtol=1e-12,
        atol=1e-12,
    )


@needs_native
@pytest.mark.parametrize("seed", range(5))
def test_sample_step_agrees(seed: int) -> None:
    dims = SPACES["mixed"]
    gen = np.random.default_rng(seed)
    below = _observations(dims, 12, gen)
    above = _observations(dims, 110, gen)
    bw, aw = np.ones(12), np.concatenate([np.linspace(0.1, 1, 85), np.ones(25)])
    rs = np.random.RandomState(seed)
    expected = _numpy_core.sample_step(dims, below, bw, above, aw, 1.0, True, False, 24, rs)
    rs2 = np.random.RandomState(seed)
    from ferrotune._backend import RustBackend

    got = RustBackend(_core).sample_step(dims, below, bw, above, aw, 1.0, True, False, 24, rs2)
    np.testing.assert_array_equal(got, expected)
    assert rs.get_state()[2] == rs2.get_state()[2]
    np.testing.assert_array_equal(rs.get_state()[1], rs2.get_state()[1])


@needs_native
def test_mt19937_stream_matches_numpy() -> None:
    for seed in (0, 1, 2**32 - 1):
        rs = np.random.RandomState(seed)
        rs.random_sample(1000)  # move near the regeneration boundary
        state = rs.get_state()
        draws, key, pos = _core.mt19937_random_sample(state[1], state[2], 700)
        np.testing.assert_array_equal(draws, rs.random_sample(700))
        assert pos == rs.get_state()[2]


@needs_native
def test_truncnorm_agrees() -> None:
    gen = np.random.default_rng(0)
    a = gen.uniform(-30, 5, 3000)
    b = a + gen.uniform(0, 40, 3000)
    q = gen.uniform(0, 1, 3000)
    np.testing.assert_array_equal(
        _core.truncnorm_log_gauss_mass(a, b), _numpy_core.log_gauss_mass(a, b)
    )
    np.testing.assert_array_equal(_core.truncnorm_ppf(q, a, b), _numpy_core.ppf(q, a, b))


@needs_native
def test_native_errors_are_typed() -> None:
    dims = [(0, 1.0, 0.0, 0.0, False, 0)]  # low > high
    state = np.random.RandomState(0).get_state()
    with pytest.raises(ValueError) as info:
        _core.parzen_sample(dims, np.zeros((0, 1)), np.zeros(0), 1.0, True, False, 3, state[1], 0)
    assert isinstance(info.value, ferrotune.FerrotuneError)
    with pytest.raises(ferrotune.InvalidArgumentError):
        _core.mt19937_random_sample(np.zeros(10, dtype=np.uint32), 0, 3)


@needs_native
def test_in_place_rng_access_matches_numpy() -> None:
    from ferrotune._backend import RustBackend

    assert RustBackend(_core).in_place  # the layout self-check passes on this platform
    for seed in (0, 7, 2**32 - 1):
        ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
        ours.random_sample(300)
        theirs.random_sample(300)
        np.testing.assert_array_equal(_core.rng_random_sample(ours, 1500), theirs.random_sample(1500))
        # numpy keeps drawing from where Rust left off.
        np.testing.assert_array_equal(ours.random_sample(10), theirs.random_sample(10))


@needs_native
def test_in_place_rng_rejects_other_generators() -> None:
    with pytest.raises(ferrotune.InvalidArgumentError):
        _core.rng_random_sample(np.random.default_rng(0), 3)  # PCG64 Generator
    with pytest.raises(ferrotune.InvalidArgumentError):
        _core.rng_random_sample(object(), 3)


@needs_native
def test_identical_prefix_compares_identity_not_equality() -> None:
    objs = [object() for _ in range(6)]
    assert _core.identical_prefix(objs, objs) == 6
    assert _core.identical_prefix(objs, objs[:4]) == 4
    assert _core.identical_prefix(objs, objs[:2] + [object()] + objs[3:]) == 2
    assert _core.identical_prefix([], objs) == 0
    a, b = [[1], [2]], [[1], [2]]  # equal but distinct objects
    assert _core.identical_prefix(a, b) == 0
    with pytest.raises(TypeError):
        _core.identical_prefix((1, 2), [1, 2])


def test_history_prefix_check_falls_back_to_equality() -> None:
    """A storage that returns equal copies (as RDB storages do) keeps the cache; a changed
    trial resets it, whichever backend checks identity."""
    import optuna

    from ferrotune import _history

    study = optuna.create_study(sampler=ferrotune.TPESampler(seed=0, n_startup_trials=2))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    trials = study.get_trials(deepcopy=False)
    copies = study.get_trials(deepcopy=True)
    assert _history._same_prefix(trials, list(trials))
    assert _history._same_prefix(copies, list(trials))
    changed = list(copies)
    changed[2] = optuna.trial.create_trial(
        params={"x": 0.5}, distributions=trials[2].distributions, value=9.0
    )
    assert not _history._same_prefix(changed, list(trials))
    assert _history._same_prefix(trials + copies, list(trials))
