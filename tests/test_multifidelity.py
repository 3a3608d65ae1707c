"""The multi-fidelity benchmark problems of ``ferrotune.bench.multifidelity`` (bench_bohb.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ferrotune.bench.multifidelity import H6_OPT, MLP_CAP, PROBLEMS, Hartmann6, MlpDigits

H6_ARGMIN = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]


def test_hartmann_top_fidelity_is_exact_and_lower_ones_are_biased():
    p = Hartmann6(27, seed=0)
    x = {f"x{i}": v for i, v in enumerate(H6_ARGMIN)}
    assert p(x, 27) == pytest.approx(H6_OPT, abs=1e-4)
    assert p.regret(x) == pytest.approx(0.0, abs=1e-4)
    # Lower fidelity: coefficients shrink by bias * t, noise only adds, so the loss is higher.
    assert p(x, 1) > H6_OPT + 0.1


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_problem_has_the_shared_interface(name):
    cls = PROBLEMS[name]
    if name == "sgd":
        pytest.importorskip("sklearn")
    p = cls(9, 0)
    assert p.R == 9
    rng = np.random.RandomState(0)
    params = {}
    for k, d in p.space.items():
        if hasattr(d, "choices"):
            params[k] = d.choices[0]
        elif getattr(d, "log", False):
            params[k] = type(d.low)(math.exp(rng.uniform(math.log(d.low), math.log(d.high))))
        else:
            params[k] = type(d.low)(rng.uniform(d.low, d.high))
    for b in (1, 3, 9):
        assert math.isfinite(p(params, b))
    assert math.isfinite(p.regret(params))


MLP_OK = dict(
    lr=0.05, momentum=0.9, weight_decay=1e-4, hidden=16, batch_size=128, activation="tanh"
)


def test_mlp_curves_are_deterministic_and_resume_like_a_fresh_run():
    pytest.importorskip("sklearn")
    a, b = MlpDigits(9, seed=0), MlpDigits(9, seed=5)
    stepped = [a(MLP_OK, 1), a(MLP_OK, 3), a(MLP_OK, 9)]
    direct = b(MLP_OK, 9)
    assert stepped[2] == direct
    assert b(MLP_OK, 1) == stepped[0] and b(MLP_OK, 3) == stepped[1]
    assert stepped[2] < stepped[0] < math.log(10.0) + 0.5  # it learns
    assert a.regret(MLP_OK) == direct


def test_mlp_divergence_is_capped():
    pytest.importorskip("sklearn")
    p = MlpDigits(3, seed=0)
    wild = dict(MLP_OK, lr=1.0, momentum=0.99, batch_size=32, activation="relu", hidden=256)
    values = [p(wild, e) for e in (1, 2, 3)]
    assert all(math.isfinite(v) and v <= MLP_CAP for v in values)
    assert values[-1] == MLP_CAP  # this one diverges
