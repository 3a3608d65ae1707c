"""Tests of the pure-numpy TPE core against Optuna 5.0's own implementation.

Optuna's internals are imported here (only here) as the reference: results must be
bit-for-bit equal, and the random streams must be consumed identically.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe import _erf as ref_erf
from optuna.samplers._tpe import _truncnorm as ref_tn
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights

from ferrotune import _numpy_core as core
from ferrotune._space import CATEGORICAL, NUMERICAL, Dim, encode_space
from ferrotune.exceptions import InvalidArgumentError, SearchSpaceError

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------

SPACES = {
    "float": {"x": FloatDistribution(-3.0, 5.0)},
    "log_float": {"x": FloatDistribution(1e-4, 10.0, log=True)},
    "step_float": {"x": FloatDistribution(0.0, 1.0, step=0.1)},
    "int": {"x": IntDistribution(-5, 20)},
    "step_int": {"x": IntDistribution(0, 30, step=3)},
    "log_int": {"x": IntDistribution(1, 1000, log=True)},
    "categorical": {"x": CategoricalDistribution(["a", "b", "c", "d", "e"])},
    "mixed": {
        "a": FloatDistribution(-3.0, 5.0),
        "b": FloatDistribution(1e-3, 10.0, log=True),
        "c": CategoricalDistribution([1, 2, 3]),
        "d": FloatDistribution(0.0, 1.0, step=0.1),
        "e": IntDistribution(-5, 20),
        "f": IntDistribution(1, 1000, log=True),
        "g": CategoricalDistribution(list("abcdefg")),
        "h": IntDistribution(0, 30, step=3),
        "i": FloatDistribution(2.0, 3.0),
    },
}


def draw_value(dist, rs: np.random.RandomState) -> float:
    """A random internal-representation value of ``dist``."""
    if isinstance(dist, CategoricalDistribution):
        return float(rs.randint(len(dist.choices)))
    if isinstance(dist, IntDistribution):
        if dist.log:
            v = int(round(math.exp(rs.uniform(math.log(dist.low), math.log(dist.high)))))
            return float(min(max(v, dist.low), dist.high))
        return float(dist.low + dist.step * rs.randint((dist.high - dist.low) // dist.step + 1))
    if dist.step is not None:
        k = rs.randint(int(round((dist.high - dist.low) / dist.step)) + 1)
        return float(min(dist.low + k * dist.step, dist.high))
    if dist.log:
        return float(math.exp(rs.uniform(math.log(dist.low), math.log(dist.high))))
    return float(rs.uniform(dist.low, dist.high))


def make_obs(space, n: int, seed: int, tied: bool = False) -> np.ndarray:
    """n random observations; with ``tied``, rows repeat (at most 3 distinct, rows 0 and 1 equal)."""
    rs = np.random.RandomState(seed)
    if tied:
        pool = make_obs(space, 3, seed + 1)
        idx = rs.randint(0, 3, n)
        idx[:2] = 0
        return pool[idx]
    rows = [[draw_value(d, rs) for d in space.values()] for _ in range(n)]
    return np.array(rows, dtype=float).reshape(n, len(space))


def as_dict(space, arr: np.ndarray) -> dict[str, np.ndarray]:
    return {name: arr[:, i] for i, name in enumerate(space)}


def pair(space, obs, prior_weight=1.0, clip=True, endpoints=False, weights_fn=default_weights):
    """(Optuna's estimator, ours) built from the same observations."""
    params = _ParzenEstimatorParameters(prior_weight, clip, endpoints, weights_fn, True)
    ref = _ParzenEstimator(as_dict(space, obs), space, params)
    n = obs.shape[0]
    ours = core.ParzenEstimator(
        encode_space(space), obs, core.validate_weights(weights_fn(n), n), prior_weight, clip, endpoints
    )
    return ref, ours


def assert_same_rng_state(r1: np.random.RandomState, r2: np.random.RandomState) -> None:
    s1, s2 = r1.get_state(), r2.get_state()
    assert s1[0] == s2[0]
    np.testing.assert_array_equal(s1[1], s2[1])
    assert s1[2:] == s2[2:]


def probe_points(space, rs: np.random.RandomState, n: int) -> np.ndarray:
    """Points to score: random in-range values plus every bound."""
    pts = make_obs(space, n, int(rs.randint(1 << 30)))
    edges = []
    for d in space.values():
        if isinstance(d, CategoricalDistribution):
            edges.append([0.0, float(len(d.choices) - 1)])
        else:
            edges.append([float(d.low), float(d.high)])
    return np.vstack([pts, np.array(edges).T])


def check_pair(space, obs, seed, size=64, **kw):
    ref, ours = pair(space, obs, **kw)
    r_ref, r_ours = np.random.RandomState(seed), np.random.RandomState(seed)
    s_ref = ref.sample(r_ref, size)
    s_ref = np.column_stack([s_ref[k] for k in space])
    s_ours = ours.sample(r_ours, size)
    np.testing.assert_array_equal(s_ours, s_ref)
    assert_same_rng_state(r_ours, r_ref)
    # after sampling, both streams continue identically
    assert r_ours.random_sample() == r_ref.random_sample()

    pts = np.vstack([s_ref, probe_points(space, np.random.RandomState(seed + 1), 16)])
    np.testing.assert_array_equal(ours.log_pdf(pts), ref.log_pdf(as_dict(space, pts)))
    return ours


# ---------------------------------------------------------------------------------------
# Parzen estimator: sample / log_pdf against Optuna
# ---------------------------------------------------------------------------------------

FLAG_CYCLE = list(itertools.product([True, False], [False, True], [1.0, 0.0, 2.5]))


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("n_obs", [0, 1, 2, 7, 40])
def test_estimator_matches_optuna(space_name, n_obs):
    space = SPACES[space_name]
    obs = make_obs(space, n_obs, seed=n_obs * 31 + len(space_name))
    # every flag combination, spread over the cases
    for k in range(3):
        clip, endpoints, pw = FLAG_CYCLE[(n_obs + 5 * k + len(space_name)) % len(FLAG_CYCLE)]
        check_pair(space, obs, seed=k + n_obs, prior_weight=pw, clip=clip, endpoints=endpoints)


@pytest.mark.parametrize("clip,endpoints,pw", FLAG_CYCLE)
def test_mixed_space_all_flags(clip, endpoints, pw):
    space = SPACES["mixed"]
    for n_obs in (0, 1, 2, 13):
        obs = make_obs(space, n_obs, seed=100 + n_obs)
        check_pair(space, obs, seed=7, size=24, prior_weight=pw, clip=clip, endpoints=endpoints)


@pytest.mark.parametrize("space_name", ["float", "log_float", "step_float", "int", "log_int", "mixed"])
def test_tied_observations(space_name):
    space = SPACES[space_name]
    for n_obs in (2, 3, 9, 30):
        obs = make_obs(space, n_obs, seed=n_obs, tied=True)
        assert len(np.unique(obs[:, 0])) < n_obs  # really tied
        for clip, endpoints in [(True, False), (False, True)]:
            check_pair(space, obs, seed=n_obs, clip=clip, endpoints=endpoints)


def test_identical_observations_and_boundary_values():
    space = {"x": FloatDistribution(0.0, 1.0), "n": IntDistribution(1, 5)}
    for obs in (
        np.array([[0.5, 3.0]] * 6),
        np.array([[0.0, 1.0], [1.0, 5.0], [0.0, 5.0], [1.0, 1.0]]),
        np.array([[0.25, 2.0], [0.25, 2.0]]),
    ):
        for clip, endpoints in itertools.product([True, False], repeat=2):
            check_pair(space, obs, seed=3, clip=clip, endpoints=endpoints)


@pytest.mark.parametrize(
    "weights_fn",
    [
        lambda n: np.linspace(0.2, 2.0, n),
        lambda n: (np.arange(n, dtype=float) + 1) % 3,  # some zero weights (not all)
        lambda n: [1] * (n + 4),  # integer list, longer than n (truncated)
        default_weights,
    ],
)
def test_custom_weights(weights_fn):
    space = SPACES["mixed"]
    for n_obs in (1, 5, 30):  # 30 > 25: default_weights ramps
        obs = make_obs(space, n_obs, seed=n_obs + 11)
        check_pair(space, obs, seed=n_obs, weights_fn=weights_fn, prior_weight=0.7)


def test_large_batches_use_vectorised_erf(monkeypatch):
    """Enough kernels and candidates that erf calls cross 2000 elements (both code paths)."""
    space = {
        "a": FloatDistribution(-1.0, 1.0),
        "b": FloatDistribution(0.1, 10.0, log=True),
        "c": FloatDistribution(5.0, 6.0),
        "d": FloatDistribution(0.0, 100.0),
        "e": IntDistribution(0, 10_000),
    }
    calls = []
    original = core._erf_vectorised

    def counting(x):
        calls.append(x.size)
        return original(x)

    monkeypatch.setattr(core, "_erf_vectorised", counting)
    obs = make_obs(space, 600, seed=5)
    check_pair(space, obs, seed=9, size=500)
    assert len(calls) >= 3 and min(calls) >= core.ERF_VECTORISE_THRESHOLD


def test_sample_size_zero_and_one():
    space = SPACES["mixed"]
    obs = make_obs(space, 5, seed=1)
    for size in (0, 1):
        check_pair(space, obs, seed=2, size=size)


def test_categorical_probability_table():
    # Optuna's documented example: 3 choices, one observation at index 1, prior weight 1.
    est = core.ParzenEstimator([Dim(CATEGORICAL, 0.0, 2.0, 0.0, False, 3)], [[1.0]], [1.0], 1.0, True, False)
    np.testing.assert_allclose(est.kernels[0].probs[0], [0.2, 0.6, 0.2], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(est.kernels[0].probs[1], [1 / 3] * 3)
    np.testing.assert_array_equal(est.weights, [0.5, 0.5])


def test_no_observations_uses_prior_only():
    est = core.ParzenEstimator(encode_space(SPACES["mixed"]), np.empty((0, 9)), np.empty(0), 3.0, True, False)
    assert est.n_components == 1
    np.testing.assert_array_equal(est.weights, [1.0])


def test_samples_respect_the_grid_and_bounds():
    space = SPACES["mixed"]
    dims = encode_space(space)
    obs = make_obs(space, 20, seed=4)
    est = core.ParzenEstimator(dims, obs, np.ones(20), 1.0, True, False)
    s = est.sample(np.random.RandomState(0), 2000)
    for j, d in enumerate(dims):
        col = s[:, j]
        if d.kind == CATEGORICAL:
            assert set(np.unique(col)) <= set(range(d.n_choices))
        elif d.step:
            k = (col - d.low) / d.step
            np.testing.assert_allclose(k, np.round(k), atol=1e-9)
            assert col.min() >= d.low and col.max() <= d.high
        else:
            # log columns are exp'ed without a final clip, hence the ulp of slack
            assert col.min() >= d.low * (1 - 1e-12) and col.max() <= d.high * (1 + 1e-12)


def test_grid_snapping_rounds_half_to_even():
    values = np.array([[0.5, 0.5], [1.5, 1.5], [2.5, 2.5], [-3.0, -3.0], [12.0, 30.0]])
    got = core._snap_to_grid(values, np.array([0.0, 0.0]), np.array([10.0, 20.0]), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(got, [[0.0, 0.0], [2.0, 2.0], [2.0, 2.0], [0.0, 0.0], [10.0, 20.0]])


# ---------------------------------------------------------------------------------------
# sample_step against Optuna's pipeline
# ---------------------------------------------------------------------------------------


def ref_step(space, below, above, pw, clip, ep, n_cand, rng, weights_fn=default_weights):
    params = _ParzenEstimatorParameters(pw, clip, ep, weights_fn, True)
    l_est = _ParzenEstimator(as_dict(space, below), space, params)
    g_est = _ParzenEstimator(as_dict(space, above), space, params)
    cand = l_est.sample(rng, n_cand)
    acq = l_est.log_pdf(cand) - g_est.log_pdf(cand)
    best = int(np.argmax(acq))
    return np.array([cand[k][best] for k in space])


@pytest.mark.parametrize("space_name", ["float", "log_int", "categorical", "mixed"])
@pytest.mark.parametrize("n_below,n_above", [(0, 0), (1, 0), (1, 9), (3, 27), (25, 30)])
def test_sample_step_matches_optuna(space_name, n_below, n_above):
    space = SPACES[space_name]
    dims = encode_space(space)
    below = make_obs(space, n_below, seed=n_below)
    above = make_obs(space, n_above, seed=1000 + n_above)
    for seed, (clip, ep, pw) in enumerate(FLAG_CYCLE[:4]):
        r_ref, r_ours = np.random.RandomState(seed), np.random.RandomState(seed)
        expected = ref_step(space, below, above, pw, clip, ep, 24, r_ref)
        got = core.sample_step(
            dims,
            below,
            core.validate_weights(default_weights(n_below), n_below),
            above,
            core.validate_weights(default_weights(n_above), n_above),
            pw,
            clip,
            ep,
            24,
            r_ours,
        )
        assert got.shape == (len(space),)
        np.testing.assert_array_equal(got, expected)
        assert_same_rng_state(r_ours, r_ref)


def test_sample_step_reproduces_tpesampler_suggestion():
    """Feed sample_step what TPESampler._sample sees and compare with its suggestion."""
    from optuna.samplers._tpe.sampler import _split_trials
    from optuna.trial import TrialState

    space = dict(sorted(SPACES["mixed"].items()))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        v = [trial._suggest(name, d) for name, d in space.items()]
        return float(v[0] ** 2 + math.log(v[1]) + v[4] * 0.1 + (v[2] == 2))

    study.optimize(objective, n_trials=40)
    for seed in range(3):
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=False, multivariate=True)
        frozen = study._storage.get_trial(study.ask()._trial_id)
        rng = np.random.RandomState(seed)  # TPESampler(seed) seeds its RandomState the same way
        expected = sampler._sample(study, frozen, space)

        trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        below_t, above_t = _split_trials(study, trials, sampler._gamma(len(trials)))
        below = sampler._get_internal_repr(below_t, space, study)
        above = sampler._get_internal_repr(above_t, space, study)
        below = np.column_stack([below[k] for k in space])
        above = np.column_stack([above[k] for k in space])
        got = core.sample_step(
            encode_space(space),
            below,
            core.validate_weights(default_weights(len(below)), len(below)),
            above,
            core.validate_weights(default_weights(len(above)), len(above)),
            1.0,
            True,
            False,
            24,
            rng,
        )
        for j, (name, dist) in enumerate(space.items()):
            assert dist.to_external_repr(got[j]) == expected[name]
        assert_same_rng_state(rng, sampler._rng.rng)


# ---------------------------------------------------------------------------------------
# truncated-normal helpers against optuna.samplers._tpe._truncnorm / _erf
# ---------------------------------------------------------------------------------------

EDGE_X = np.array(
    [
        -np.inf, -1e300, -1e3, -40.0, -38.5, -20.000001, -20.0, -19.99, -8.0, -6.0, -1.0,
        -1 / 2**0.5, -1e-300, -0.0, 0.0, 1e-300, 2**-29, 2**-28, 0.5, 0.84375, 1.0, 1.25,
        1 / 0.35, 3.0, 5.999, 6.0, 6.0000001, 8.3, 30.0, 40.0, 1e3, np.inf,
    ]
)


def test_constants_spelling():
    assert core._ROOT_TWO == math.sqrt(2.0)
    assert core._LOG_ROOT_TWO_PI == ref_tn._norm_pdf_logC
    assert core._LOGISTIC_SCALE == ref_tn._ndtri_exp_approx_C


@pytest.mark.parametrize("n", [1, 17, 1999, 2000, 4096])
def test_erf_both_paths(n):
    rs = np.random.RandomState(n)
    special = np.concatenate([EDGE_X, -EDGE_X, [np.nan]])
    x = np.concatenate([special, rs.standard_normal(n) * 3])[:n]
    got = core.erf(x)
    np.testing.assert_array_equal(got, ref_erf.erf(x))
    if x.size >= 2000:
        # the vectorised branch really is a different code path from math.erf
        assert np.array_equal(got, core._erf_vectorised(x), equal_nan=True)
    else:
        np.testing.assert_array_equal(got, [math.erf(v) for v in x])


def test_erf_vectorised_edges():
    x = np.tile(np.concatenate([EDGE_X, -EDGE_X, [np.nan]]), 40)
    assert x.size >= 2000
    np.testing.assert_array_equal(core.erf(x), ref_erf.erf(x))
    np.testing.assert_array_equal(core.erf(x.reshape(-1, 5)), ref_erf.erf(x.reshape(-1, 5)))


def test_log_ndtr_and_ndtr():
    rs = np.random.RandomState(0)
    x = np.concatenate([EDGE_X, [np.nan], rs.uniform(-60, 15, 500), -rs.exponential(200, 50)])
    x = x[x != -1e300]
    np.testing.assert_array_equal(core.log_ndtr(x), ref_tn._log_ndtr(x))
    # Optuna raises OverflowError from Python's float power here; we return the IEEE limit.
    with pytest.raises(OverflowError):
        ref_tn._log_ndtr(np.array([-1e300]))
    np.testing.assert_array_equal(
        core.log_ndtr([-1e300, -1e155, -1e154]),
        [-np.inf, -np.inf, ref_tn._log_ndtr(np.array([-1e154]))[0]],
    )
    y = np.concatenate([rs.uniform(-8, 8, 300), EDGE_X[8:-8]])
    np.testing.assert_array_equal(core.ndtr(y), ref_tn._ndtr(y))
    big = rs.uniform(-8, 8, 2500)
    np.testing.assert_array_equal(core.ndtr(big), ref_tn._ndtr(big))


def random_intervals(rs, n):
    lo = np.concatenate([rs.uniform(-12, 12, n), rs.uniform(-60, 60, n // 4)])
    width = np.concatenate([rs.exponential(2.0, n), rs.exponential(0.05, n // 4)])
    return lo, lo + width


@pytest.mark.parametrize("n", [50, 3000])
def test_log_gauss_mass(n):
    rs = np.random.RandomState(n)
    a, b = random_intervals(rs, n)
    edges = np.array(
        [
            (-np.inf, np.inf), (-np.inf, -40.0), (40.0, np.inf), (-50.0, -40.0), (40.0, 50.0),
            (-1e-12, 1e-12), (0.0, 0.0), (-0.0, 0.0), (3.0, 3.0), (-7.0, 7.0), (-30.0, 0.0),
            (0.0, 30.0), (5.9, 6.1), (-20.1, -19.9),
        ]
    ).T
    a = np.concatenate([a, edges[0]])
    b = np.concatenate([b, edges[1]])
    np.testing.assert_array_equal(core.log_gauss_mass(a, b), ref_tn._log_gauss_mass(a, b))


@pytest.mark.parametrize("n", [40, 2500])
def test_ndtri_exp(n):
    rs = np.random.RandomState(n)
    y = np.concatenate(
        [
            -rs.exponential(3.0, n),
            -rs.exponential(1e-3, 20),  # flipped branch (y > -1e-2)
            -rs.exponential(500.0, 20),  # deep tail start
            [-1e-2, -0.01000001, -5.0, -4.9999, -1e-300, -1e4, -np.log(2)],
        ]
    )
    np.testing.assert_array_equal(core.ndtri_exp(y), ref_tn._ndtri_exp(y))
    # and it is a good inverse
    x = core.ndtri_exp(y[:n])
    np.testing.assert_allclose(core.log_ndtr(x), y[:n], rtol=1e-7)


@pytest.mark.parametrize("n", [30, 2100])
def test_ppf(n):
    rs = np.random.RandomState(n)
    a, b = random_intervals(rs, n)
    q = rs.uniform(0, 1, a.size)
    q[:5] = 0.0
    q[5:10] = 1.0
    q[10:12] = 1 - 2**-53
    q[12:14] = 2**-53
    b[14:17] = a[14:17]  # a == b -> NaN
    a[17], b[17] = -40.0, -38.0  # deep left tail
    a[18], b[18] = 38.0, 40.0  # deep right tail
    a[19], b[19] = -1e3, 1e3
    np.testing.assert_array_equal(core.ppf(q, a, b), ref_tn.ppf(q, a, b))
    # scalar / broadcast arguments
    np.testing.assert_array_equal(core.ppf(q, -1.0, 2.0), ref_tn.ppf(q, -1.0, 2.0))
    np.testing.assert_array_equal(core.ppf(0.3, a, b), ref_tn.ppf(0.3, a, b))
    assert np.isnan(core.ppf(0.5, 1.0, 1.0)).all()
    np.testing.assert_array_equal(core.ppf([0.0, 1.0], -1.5, 2.5), [-1.5, 2.5])


@pytest.mark.parametrize("n_points,n_kernels,n_dims", [(24, 5, 2), (24, 700, 3)])
def test_logpdf_mixture_shapes(n_points, n_kernels, n_dims):
    """The shapes the estimator uses: x (n, 1, d) against kernels (K, d)."""
    rs = np.random.RandomState(n_kernels)
    mu = rs.uniform(-1, 1, (n_kernels, n_dims))
    sd = rs.exponential(0.3, (n_kernels, n_dims)) + 1e-3
    lo, hi = np.full(n_dims, -1.0), np.full(n_dims, 1.0)
    x = rs.uniform(-1.2, 1.2, (n_points, 1, n_dims))  # some outside -> -inf
    a, b = (lo - mu) / sd, (hi - mu) / sd
    got = core.logpdf(x, a, b, loc=mu, scale=sd)
    np.testing.assert_array_equal(got, ref_tn.logpdf(x, a, b, loc=mu, scale=sd))
    assert np.isneginf(got).any() and np.isfinite(got).any()


def test_logpdf_edges():
    rs = np.random.RandomState(1)
    x = rs.uniform(-5, 5, 200)
    a, b = random_intervals(rs, 160)
    b[:3] = a[:3]
    np.testing.assert_array_equal(core.logpdf(x, a, b), ref_tn.logpdf(x, a, b))
    np.testing.assert_array_equal(
        core.logpdf(x, a, b, loc=0.5, scale=2.0), ref_tn.logpdf(x, a, b, loc=0.5, scale=2.0)
    )
    assert np.isnan(core.logpdf(0.0, 1.0, 1.0)).all()
    assert np.isneginf(core.logpdf(3.0, -1.0, 1.0)).all()


# ---------------------------------------------------------------------------------------
# validation and errors
# ---------------------------------------------------------------------------------------

F = Dim(NUMERICAL, 0.0, 1.0, 0.0, False, 0)
C = Dim(CATEGORICAL, 0.0, 2.0, 0.0, False, 3)


def build(dims=(F, C), obs=((0.5, 1.0),), weights=(1.0,), pw=1.0, clip=True, ep=False):
    return core.ParzenEstimator(list(dims), obs, weights, pw, clip, ep)


@pytest.mark.parametrize(
    "dims",
    [
        [],
        [Dim(7, 0.0, 1.0, 0.0, False, 0)],
        [Dim(NUMERICAL, 1.0, 0.0, 0.0, False, 0)],
        [Dim(NUMERICAL, 1.0, 1.0, 0.0, False, 0)],
        [Dim(NUMERICAL, 0.0, 1.0, -0.1, False, 0)],
        [Dim(NUMERICAL, 0.0, math.inf, 0.0, False, 0)],
        [Dim(NUMERICAL, math.nan, 1.0, 0.0, False, 0)],
        [Dim(NUMERICAL, 0.0, 1.0, 0.0, True, 0)],
        [Dim(NUMERICAL, 1.0, 9.0, 2.0, True, 0)],  # low - step/2 = 0
        [Dim(CATEGORICAL, 0.0, 0.0, 0.0, False, 0)],
        [Dim(CATEGORICAL, 0.0, 0.0, 0.0, False, 2.5)],
        ["not a dim"],
    ],
)
def test_bad_search_space(dims):
    with pytest.raises(SearchSpaceError):
        core.ParzenEstimator(dims, np.empty((0, len(dims))), np.empty(0), 1.0, True, False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"obs": [[0.5, 1.0, 2.0]]},  # wrong width
        {"obs": [0.5, 1.0]},  # 1-D
        {"obs": [[math.nan, 1.0]]},
        {"obs": [[math.inf, 1.0]]},
        {"obs": [[0.5, 3.0]]},  # category out of range
        {"obs": [[0.5, -1.0]]},
        {"obs": [[0.5, 1.5]]},  # not an index
        {"obs": [["a", "b"]]},
        {"dims": [Dim(NUMERICAL, 0.1, 1.0, 0.0, True, 0)], "obs": [[0.0]]},  # log of 0
        {"weights": (1.0, 1.0)},
        {"weights": 1.0},
        {"weights": (-1.0,)},
        {"weights": (math.nan,)},
        {"weights": (0.0,)},
        {"pw": -0.5},
        {"pw": math.nan},
        {"pw": math.inf},
        {"pw": "1"},
        {"clip": 2},
        {"clip": "yes"},
        {"ep": None},
    ],
)
def test_bad_estimator_arguments(kwargs):
    with pytest.raises(InvalidArgumentError):
        build(**kwargs)


def test_bad_sample_and_log_pdf_arguments():
    est = build()
    with pytest.raises(InvalidArgumentError):
        est.sample(np.random.default_rng(0), 4)
    with pytest.raises(InvalidArgumentError):
        est.sample(np.random.RandomState(0), -1)
    with pytest.raises(InvalidArgumentError):
        est.sample(np.random.RandomState(0), 2.0)
    for bad in ([[0.5]], [[0.5, 3.0]], [[math.nan, 0.0]], [[0.5, 0.5]], [0.5, 1.0]):
        with pytest.raises(InvalidArgumentError):
            est.log_pdf(np.asarray(bad))
    assert est.log_pdf(np.empty((0, 2))).shape == (0,)


def test_bad_sample_step_arguments():
    dims = [F, C]
    ok = dict(
        dims=dims,
        below=np.array([[0.5, 1.0]]),
        below_weights=np.ones(1),
        above=np.array([[0.2, 0.0], [0.9, 2.0]]),
        above_weights=np.ones(2),
        prior_weight=1.0,
        consider_magic_clip=True,
        consider_endpoints=False,
        n_candidates=24,
        rng=np.random.RandomState(0),
    )
    assert core.sample_step(**ok).shape == (2,)
    for change in (
        {"n_candidates": 0},
        {"n_candidates": 2.5},
        {"rng": np.random.default_rng(0)},
        {"above": np.array([[0.2, 0.0, 1.0]])},
        {"above_weights": np.ones(3)},
        {"below": np.array([[0.5, 7.0]])},
        {"prior_weight": -1.0},
    ):
        with pytest.raises(InvalidArgumentError):
            core.sample_step(**{**ok, **change})
    with pytest.raises(SearchSpaceError):
        core.sample_step(**{**ok, "dims": [Dim(NUMERICAL, 2.0, 1.0, 0.0, False, 0), C]})


@pytest.mark.parametrize(
    "w,n",
    [([1.0, -1.0], 2), ([0.0, 0.0], 2), ([1.0, math.inf], 2), ([math.nan], 1)],
)
def test_validate_weights_rejects_like_optuna(w, n):
    with pytest.raises(InvalidArgumentError):
        core.validate_weights(w, n)
    with pytest.raises(ValueError):
        _ParzenEstimator._call_weights_func(lambda _: w, n)


def test_validate_weights_other_cases():
    np.testing.assert_array_equal(core.validate_weights([3, 2, 1, 0], 2), [3.0, 2.0])
    assert core.validate_weights([], 0).shape == (0,)
    assert core.validate_weights([5.0], 0).shape == (0,)
    assert core.validate_weights([0.0, 0.0], 0).shape == (0,)  # nothing left to check
    for w, n in (([1.0], 2), ([[1.0, 2.0]], 2), (1.0, 1), (["x"], 1), ([1.0], -1), ([1.0], 1.0)):
        with pytest.raises(InvalidArgumentError):
            core.validate_weights(w, n)
    # negative weights beyond n are ignored, as in Optuna
    np.testing.assert_array_equal(core.validate_weights([1.0, -5.0], 1), [1.0])


def test_exceptions_are_value_errors():
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(SearchSpaceError, ValueError)


def test_no_runtime_warnings_leak():
    space = SPACES["mixed"]
    obs = make_obs(space, 6, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = core.ParzenEstimator(encode_space(space), obs, np.ones(6), 0.0, False, True)
        s = est.sample(np.random.RandomState(0), 50)
        est.log_pdf(s)
