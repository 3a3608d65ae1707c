"""Bad input gets a clear, typed error (a ValueError subclass), never a panic or a hang."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution, FloatDistribution

import ferrotune


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(n_ei_candidates=0), "n_ei_candidates"),
        (dict(n_ei_candidates=2.5), "n_ei_candidates"),
        (dict(n_startup_trials=-1), "n_startup_trials"),
        (dict(prior_weight=-1.0), "prior_weight"),
        (dict(prior_weight=math.nan), "prior_weight"),
        (dict(group=True, multivariate=False), "group"),
        (dict(seed="zero"), "seed"),
        (dict(weights=3), "weights"),
        (dict(gamma="fast"), "gamma"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, fragment: str) -> None:
    with pytest.warns(FutureWarning) if {"prior_weight", "weights", "gamma"} & kwargs.keys() else _nothing():
        with pytest.raises(ferrotune.InvalidArgumentError, match=fragment) as info:
            ferrotune.TPESampler(**kwargs)
    assert isinstance(info.value, ValueError)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_deprecated_arguments_warn_like_optuna() -> None:
    for name, value in [
        ("consider_prior", True),
        ("prior_weight", 1.0),
        ("consider_magic_clip", True),
        ("consider_endpoints", False),
        ("warn_independent_sampling", False),
    ]:
        with pytest.warns(FutureWarning, match=name):
            ferrotune.TPESampler(**{name: value})


def test_positional_arguments_warn_like_optuna() -> None:
    with pytest.warns(FutureWarning):
        ferrotune.TPESampler(None, None, None, None, 10)  # type: ignore[misc]


@pytest.mark.parametrize("bad", [lambda n: -np.ones(n), lambda n: np.zeros(n), lambda n: np.full(n, np.inf)])
def test_bad_weights_function(bad) -> None:
    with pytest.warns(FutureWarning):
        sampler = ferrotune.TPESampler(weights=bad, n_startup_trials=2, seed=0)
    study = optuna.create_study(sampler=sampler)
    with pytest.raises(ferrotune.InvalidArgumentError, match="weights"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=6)


class _ExoticDistribution(BaseDistribution):
    def to_external_repr(self, v):
        return v

    def to_internal_repr(self, v):
        return v

    def single(self):
        return False

    def _contains(self, v):
        return True


def test_unsupported_distribution_names_the_parameter() -> None:
    sampler = ferrotune.TPESampler(n_startup_trials=0, seed=0)
    study = optuna.create_study(sampler=sampler)
    trial = study.ask()
    with pytest.raises(ferrotune.SearchSpaceError, match="weird"):
        sampler.sample_independent(study, study._storage.get_trial(trial._trial_id), "weird", _ExoticDistribution())


def test_nan_parameter_is_rejected_by_name() -> None:
    study = optuna.create_study(sampler=ferrotune.TPESampler(seed=0))
    with pytest.raises(ValueError):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": math.nan},
                distributions={"x": FloatDistribution(0, 1)},
                value=1.0,
            )
        )
    # The study is unharmed and keeps working.
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=12)
    assert len(study.trials) == 12
