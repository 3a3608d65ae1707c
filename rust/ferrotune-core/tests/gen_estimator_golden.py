"""Generate the golden values embedded in tests/estimator_golden.rs and tests/estimator_step.rs.

Run with the Python that has optuna 5.0.0 / numpy 2.4.x installed:

    /tmp/venv/bin/python rust/ferrotune-core/tests/gen_estimator_golden.py

Every value comes from Optuna's own `_ParzenEstimator` (and, for the step cases, from a real
`TPESampler` run). The script rewrites the region between the `BEGIN GENERATED` and
`END GENERATED` markers of the two test files and leaves the hand-written harness alone.

Observations of numerical dimensions are chosen without ties (distinct values), because the
bandwidths of tied centres depend on numpy's unstable argsort.
"""

from __future__ import annotations

import contextlib
import math
import pathlib
import re

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimatorParameters
from optuna.samplers._tpe.probability_distributions import _BatchedCategoricalDistributions
from optuna.samplers._tpe.sampler import default_weights

assert optuna.__version__ == "5.0.0", optuna.__version__

HERE = pathlib.Path(__file__).resolve().parent
N_SAMPLES = 24


# --------------------------------------------------------------------------- formatting


def f(v: float) -> str:
    v = float(v)
    if math.isnan(v):
        return "f64::NAN"
    if math.isinf(v):
        return "f64::INFINITY" if v > 0 else "f64::NEG_INFINITY"
    r = repr(v)
    if "e" not in r and "." not in r:
        r += ".0"
    return r


def fs(values) -> str:
    return "&[" + ", ".join(f(v) for v in np.asarray(values, dtype=float).ravel()) + "]"


def us(values) -> str:
    return "&[" + ", ".join(str(int(v)) for v in np.asarray(values).ravel()) + "]"


def dim_rs(dist) -> str:
    if isinstance(dist, CategoricalDistribution):
        return f"Dim::Categorical {{ n_choices: {len(dist.choices)} }}"
    step = "None" if dist.step is None else f"Some({f(dist.step)})"
    return (
        f"Dim::Numerical {{ low: {f(dist.low)}, high: {f(dist.high)}, step: {step}, "
        f"log: {'true' if dist.log else 'false'} }}"
    )


def dims_rs(space) -> str:
    return "&[" + ", ".join(dim_rs(d) for d in space.values()) + "]"


def rows(obs: dict, space) -> np.ndarray:
    n = len(next(iter(obs.values()))) if obs else 0
    if n == 0:
        return np.zeros((0, len(space)))
    return np.array([obs[k] for k in space]).T


# --------------------------------------------------------------------------- observations


def distinct_values(rng: np.random.RandomState, dist, n: int) -> np.ndarray:
    """n observations of a distribution, in its internal representation, without ties."""
    if isinstance(dist, CategoricalDistribution):
        return rng.randint(0, len(dist.choices), size=n).astype(float)
    if dist.step is not None:
        grid = np.arange(dist.low, dist.high + dist.step / 2, dist.step)
        grid = grid[grid <= dist.high + 1e-9]
        assert n <= len(grid), (dist, n)
        return rng.choice(grid, size=n, replace=False).astype(float)
    if dist.log:
        return np.exp(rng.uniform(math.log(dist.low), math.log(dist.high), size=n))
    return rng.uniform(dist.low, dist.high, size=n)


def make_obs(space, n: int, seed: int) -> dict:
    rng = np.random.RandomState(seed)
    return {k: distinct_values(rng, d, n) for k, d in space.items()}


# --------------------------------------------------------------------------- parzen cases


@contextlib.contextmanager
def stable_argsort():
    """Make numpy's default argsort stable while Optuna builds an estimator."""
    original = np.argsort

    def stable(a, axis=-1, kind=None, order=None, **kwargs):
        return original(a, axis=axis, kind="stable", order=order, **kwargs)

    np.argsort = stable
    try:
        yield
    finally:
        np.argsort = original


def parzen_case(name, space, obs, *, weights=None, prior_weight=1.0, magic=True,
                endpoints=False, seed=0, extra=None):
    n = len(next(iter(obs.values())))
    raw_w = default_weights(n) if weights is None else np.asarray(weights, dtype=float)
    params = _ParzenEstimatorParameters(
        prior_weight, magic, endpoints, (lambda k, w=raw_w: w[:k]), True
    )
    pe = _ParzenEstimator({k: np.asarray(v, dtype=float) for k, v in obs.items()}, space, params)
    mix = pe._mixture_distribution

    rs = np.random.RandomState(seed)
    samples = pe.sample(rs, N_SAMPLES)
    nxt = rs.random_sample()
    s_rows = rows(samples, space)

    eval_rows = [s_rows]
    if extra is not None:
        eval_rows.append(np.asarray(extra, dtype=float).reshape(-1, len(space)))
    x = np.vstack(eval_rows)
    lp = pe.log_pdf({k: x[:, i] for i, k in enumerate(space)})

    mus, sigmas, cats = [], [], []
    for dist in mix.distributions:
        if isinstance(dist, _BatchedCategoricalDistributions):
            mus.append("&[]")
            sigmas.append("&[]")
            cats.append(fs(dist.weights))
        else:
            mus.append(fs(dist.mu))
            sigmas.append(fs(dist.sigma))
            cats.append("&[]")
    return f"""    ParzenCase {{
        name: {name!r},
        dims: {dims_rs(space)},
        n_obs: {n},
        obs: {fs(rows(obs, space))},
        weights: {fs(raw_w[:n])},
        prior_weight: {f(prior_weight)},
        magic: {'true' if magic else 'false'},
        endpoints: {'true' if endpoints else 'false'},
        seed: {seed},
        exp_weights: {fs(mix.weights)},
        exp_mus: &[{', '.join(mus)}],
        exp_sigmas: &[{', '.join(sigmas)}],
        exp_cat: &[{', '.join(cats)}],
        exp_samples: {fs(s_rows)},
        exp_next: {f(nxt)},
        n_eval: {len(x)},
        eval_x: {fs(x)},
        exp_log_pdf: {fs(lp)},
    }},
""".replace("'", '"')


def extra_points(space, seed, n=6):
    """Points spread over the space, including both bounds of every numerical dimension."""
    rng = np.random.RandomState(seed + 1000)
    pts = []
    for j in range(n):
        row = []
        for d in space.values():
            if isinstance(d, CategoricalDistribution):
                row.append(float(j % len(d.choices)))
            elif j == 0:
                row.append(float(d.low))
            elif j == 1:
                row.append(float(d.high))
            else:
                row.append(float(distinct_values(rng, d, 1)[0]))
        pts.append(row)
    return pts


def parzen_cases() -> str:
    F = FloatDistribution
    I = IntDistribution
    C = CategoricalDistribution
    out = []

    def add(name, space, n, seed, **kw):
        obs = make_obs(space, n, seed)
        out.append(parzen_case(name, space, obs, seed=seed, extra=extra_points(space, seed), **kw))

    fl = {"x": F(-3.0, 5.0)}
    add("float_0obs", fl, 0, 1)
    add("float_1obs", fl, 1, 2)
    add("float_2obs", fl, 2, 3)
    add("float_2obs_endpoints", fl, 2, 4, endpoints=True)
    add("float_30obs", fl, 30, 5)
    add("float_30obs_endpoints", fl, 30, 6, endpoints=True)
    add("float_30obs_noclip", fl, 30, 7, magic=False)
    add("float_30obs_noclip_endpoints", fl, 30, 8, magic=False, endpoints=True)
    add("float_150obs", fl, 150, 9)
    add("logfloat_0obs", {"x": F(1e-3, 10.0, log=True)}, 0, 10)
    add("logfloat_1obs", {"x": F(1e-3, 10.0, log=True)}, 1, 11)
    add("logfloat_15obs", {"x": F(1e-3, 10.0, log=True)}, 15, 12)
    add("stepfloat_10obs", {"x": F(0.0, 2.0, step=0.1)}, 10, 13)
    add("stepfloat_0obs", {"x": F(0.0, 2.0, step=0.1)}, 0, 14)
    add("int_20obs", {"x": I(0, 100)}, 20, 15)
    add("int_1obs", {"x": I(-5, 5)}, 1, 16)
    add("int_2obs", {"x": I(-5, 5)}, 2, 17)
    add("stepint_12obs", {"x": I(0, 100, step=5)}, 12, 18)
    add("logint_20obs", {"x": I(1, 1000, log=True)}, 20, 19)
    add("logint_0obs", {"x": I(1, 1000, log=True)}, 0, 20)
    add("cat_0obs", {"c": C(list(range(5)))}, 0, 21)
    add("cat_7obs", {"c": C(list(range(5)))}, 7, 22)
    add("cat_1obs_3choices", {"c": C([0, 1, 2])}, 1, 23)
    add("cat_single_choice", {"c": C([0])}, 4, 24)
    add("cat_7obs_pw0", {"c": C(list(range(5)))}, 7, 25, prior_weight=0.0)
    add("cat_12obs_pw2.5", {"c": C(list(range(9)))}, 12, 26, prior_weight=2.5)
    mixed = {
        "a": F(-1.0, 1.0),
        "b": F(1e-4, 1.0, log=True),
        "c": C(["p", "q", "r"]),
        "d": I(1, 64),
        "e": F(0.0, 1.0, step=0.05),
        "f": I(1, 512, log=True),
        "g": C(list(range(9))),
        "h": I(0, 60, step=3),
    }
    add("mixed_0obs", mixed, 0, 27)
    add("mixed_1obs", mixed, 1, 28)
    add("mixed_2obs", mixed, 2, 29)
    add("mixed_20obs", mixed, 20, 30)
    add("mixed_20obs_endpoints_noclip", mixed, 20, 31, magic=False, endpoints=True)
    add("mixed_20obs_pw0.3", mixed, 20, 32, prior_weight=0.3)
    add("mixed_20obs_pw0", mixed, 20, 33, prior_weight=0.0)
    w = np.linspace(0.1, 3.0, 20)
    w[3] = 0.0
    add("mixed_20obs_custom_weights", mixed, 20, 34, weights=w)
    add("mixed_20obs_custom_weights_pw4", mixed, 20, 35, weights=w, prior_weight=4.0)
    mixed_big = dict(mixed, d=I(1, 400), e=F(0.0, 1.0, step=0.001), h=I(0, 900, step=3))
    add("mixed_60obs_ramp", mixed_big, 60, 36)
    cont = {f"x{i}": F(-5.0, 10.0) if i % 3 else F(1e-2, 1e2, log=True) for i in range(10)}
    add("cont10_40obs", cont, 40, 37)
    add("cont10_300obs", cont, 300, 38)
    # Tied centres (repeated int values). The bandwidths of tied centres depend on the order
    # numpy's argsort gives them; here Optuna runs with a *stable* argsort patched in, which is
    # what ferrotune's StableArgSort reproduces (the bindings inject numpy's own argsort).
    with stable_argsort():
        tie_space = {"i": I(0, 10), "s": I(0, 40, step=4), "l": I(1, 64, log=True)}
        rng = np.random.RandomState(60)
        tie_obs = {
            "i": rng.randint(0, 11, size=25).astype(float),
            "s": (4 * rng.randint(0, 11, size=25)).astype(float),
            "l": rng.choice([1.0, 2.0, 8.0, 9.0, 64.0], size=25),
        }
        out.append(parzen_case("ties_stable_argsort", tie_space, tie_obs, seed=60,
                               extra=extra_points(tie_space, 60)))
        out.append(parzen_case("ties_stable_argsort_endpoints_noclip", tie_space, tie_obs,
                               seed=61, endpoints=True, magic=False,
                               extra=extra_points(tie_space, 61)))
        ftie = {"x": F(0.0, 1.0)}
        out.append(parzen_case("float_ties_stable_argsort", ftie,
                               {"x": np.array([0.5, 0.25, 0.5, 0.75, 0.25, 0.5, 1.0, 0.0])},
                               seed=62, extra=extra_points(ftie, 62)))

    # Observations outside the bounds (possible when a parameter's range changed).
    obs = make_obs(fl, 5, 39)
    obs["x"][0] = 7.5
    obs["x"][1] = -4.0
    out.append(parzen_case("float_out_of_range_obs", fl, obs, seed=39, extra=extra_points(fl, 39)))
    return "".join(out)


# --------------------------------------------------------------------------- step cases


def step_case(name, space, below, above, *, prior_weight=1.0, magic=True, endpoints=False,
              n_candidates=24, seed=None, state=None, expect=None):
    nb = len(next(iter(below.values())))
    na = len(next(iter(above.values())))
    wb = default_weights(nb)
    wa = default_weights(na)
    params = _ParzenEstimatorParameters(prior_weight, magic, endpoints, default_weights, True)
    conv = lambda o: {k: np.asarray(v, dtype=float) for k, v in o.items()}  # noqa: E731
    mpe_below = _ParzenEstimator(conv(below), space, params)
    mpe_above = _ParzenEstimator(conv(above), space, params)
    rs = np.random.RandomState(seed if seed is not None else 0)
    if state is not None:
        rs.set_state(state)
    key, pos = rs.get_state()[1], rs.get_state()[2]
    samples = mpe_below.sample(rs, n_candidates)
    acq = mpe_below.log_pdf(samples) - mpe_above.log_pdf(samples)
    best = int(np.argmax(acq))
    nxt = rs.random_sample()
    if expect is not None:
        # The pieces reproduce what the sampler itself returned.
        assert all(samples[k][best] == v for k, v in expect.items()), (name, expect)
    return f"""    StepCase {{
        name: {name!r},
        dims: {dims_rs(space)},
        n_below: {nb},
        below: {fs(rows(below, space))},
        below_weights: {fs(wb)},
        n_above: {na},
        above: {fs(rows(above, space))},
        above_weights: {fs(wa)},
        prior_weight: {f(prior_weight)},
        magic: {'true' if magic else 'false'},
        endpoints: {'true' if endpoints else 'false'},
        n_candidates: {n_candidates},
        rng_key: {us(key)},
        rng_pos: {int(pos)},
        exp_candidates: {fs(rows(samples, space))},
        exp_acquisition: {fs(acq)},
        exp_best: {best},
        exp_next: {f(nxt)},
    }},
""".replace("'", '"')


class _Recorder(_ParzenEstimator):
    log: list = []

    def __init__(self, observations, search_space, parameters, predetermined_weights=None):
        _Recorder.log.append({k: np.array(v) for k, v in observations.items()})
        super().__init__(observations, search_space, parameters, predetermined_weights)


def study_steps(objective, n_trials, capture, seed, min_dims=2):
    """Runs a real multivariate TPE study and captures (below, above, rng state, result) at the
    trials listed in `capture`."""
    sampler = TPESampler(seed=seed, multivariate=True, n_startup_trials=10)
    sampler._parzen_estimator_cls = _Recorder
    captured = []
    orig = sampler._sample

    def wrapped(study, trial, search_space):
        state = sampler._rng.rng.get_state()
        _Recorder.log.clear()
        ret = orig(study, trial, search_space)
        if trial.number in capture and len(search_space) >= min_dims:
            below, above = _Recorder.log[0], _Recorder.log[1]
            captured.append((trial.number, dict(search_space), below, above, state, ret))
        return ret

    sampler._sample = wrapped
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return captured


def step_cases() -> str:
    F = FloatDistribution
    I = IntDistribution
    C = CategoricalDistribution
    out = []

    cont = {f"x{i}": F(-5.0, 10.0) for i in range(10)}
    out.append(step_case("cont10_25_975", cont, make_obs(cont, 25, 40), make_obs(cont, 975, 41),
                         seed=42))
    out.append(step_case("cont10_0_0", cont, make_obs(cont, 0, 43), make_obs(cont, 0, 44),
                         seed=45))
    out.append(step_case("cont10_3_7_noclip", cont, make_obs(cont, 3, 46), make_obs(cont, 7, 47),
                         magic=False, seed=48))
    mixed = {
        "a": F(-1.0, 1.0),
        "b": F(1e-4, 1.0, log=True),
        "c": C(["p", "q", "r"]),
        "d": I(1, 400),
        "e": F(0.0, 1.0, step=0.001),
        "f": I(1, 2000, log=True),
        "g": C(list(range(9))),
        "h": I(0, 900, step=3),
    }
    out.append(step_case("mixed_10_90", mixed, make_obs(mixed, 10, 49), make_obs(mixed, 90, 50),
                         seed=51))
    out.append(step_case("mixed_25_275_pw2_endpoints", mixed, make_obs(mixed, 25, 52),
                         make_obs(mixed, 275, 53), prior_weight=2.0, endpoints=True, seed=54))
    out.append(step_case("mixed_4_12_ncand7", mixed, make_obs(mixed, 4, 55),
                         make_obs(mixed, 12, 56), n_candidates=7, seed=57))
    uni = {"u": F(0.0, 1.0)}
    out.append(step_case("univariate_5_40", uni, make_obs(uni, 5, 58), make_obs(uni, 40, 59),
                         seed=60))

    # Captured from real studies (float + log float + categorical: no ties among centres).
    def objective(trial):
        x = trial.suggest_float("x", -4.0, 4.0)
        y = trial.suggest_float("y", 1e-3, 1e2, log=True)
        c = trial.suggest_categorical("c", ["a", "b", "c", "d"])
        z = trial.suggest_float("z", 0.0, 1.0)
        return (x - 1.0) ** 2 + math.log10(y) ** 2 + (0.5 if c == "b" else 0.0) + z

    for number, space, below, above, state, ret in study_steps(
        objective, 61, {12, 35, 60}, seed=7
    ):
        # The sampler's space is sorted by name; the recorded observations follow it.
        internal = {k: space[k].to_internal_repr(v) for k, v in ret.items()}
        out.append(step_case(f"study_trial{number}", space, below, above, state=state,
                             expect=internal))

    # The benchmark problem of benches/bench_tpe.py (10-D sphere on [-5, 5]) at trial 1000:
    # 25 below / 975 above observations. Also the timing case of estimator_step.rs.
    def sphere(trial):
        return sum(trial.suggest_float(f"x{i}", -5.0, 5.0) ** 2 for i in range(10))

    for number, space, below, above, state, ret in study_steps(
        sphere, 1001, {1000}, seed=11, min_dims=10
    ):
        internal = {k: space[k].to_internal_repr(v) for k, v in ret.items()}
        out.append(step_case(f"sphere10_trial{number}", space, below, above, state=state,
                             expect=internal))
    return "".join(out)


# --------------------------------------------------------------------------- splice


def splice(path: pathlib.Path, body: str) -> None:
    text = path.read_text()
    pattern = re.compile(
        r"(// BEGIN GENERATED[^\n]*\n).*?(\n?[ \t]*// END GENERATED)", re.DOTALL
    )
    new, n = pattern.subn(lambda m: m.group(1) + body + m.group(2), text)
    assert n == 1, f"markers not found in {path}"
    path.write_text(new)


if __name__ == "__main__":
    splice(HERE / "estimator_golden.rs", parzen_cases())
    splice(HERE / "estimator_step.rs", step_cases())
    print("wrote", HERE / "estimator_golden.rs", "and", HERE / "estimator_step.rs")
