"""``python -m ferrotune demo``: tune a real model with ferrotune's and Optuna's TPE, side by side.

Both studies use the same seed, the same budget and the same objective, so the only difference
is the sampler. Phase 1 tunes scikit-learn's ``HistGradientBoostingClassifier`` (cross-validated
accuracy on a dataset that ships inside scikit-learn, no download). Phase 2 (optional) runs a
cheap synthetic objective where the sampler's own overhead dominates the cost of a trial.

The time spent *inside the sampler* is measured by :class:`TimedSampler`, a delegating wrapper
that times every call Optuna makes to the sampler (``before_trial``,
``infer_relative_search_space``, ``sample_relative``, ``sample_independent``, ``after_trial``)
and otherwise behaves exactly like the wrapped sampler.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import BaseTrial, FrozenTrial, TrialState

import ferrotune

DATASETS = ("breast_cancer", "digits", "wine")

Objective = Callable[[BaseTrial], float]
SamplerFactory = Callable[[], BaseSampler]


class MissingDependencyError(RuntimeError):
    """An optional dependency of the demo (scikit-learn) is not installed."""


# --------------------------------------------------------------------------------------------
# Timing wrapper
# --------------------------------------------------------------------------------------------


class TimedSampler(BaseSampler):
    """Delegate every sampler call to ``inner`` and accumulate the wall time spent in it.

    ``trial_seconds()`` returns (and resets) the time accumulated since its previous call, which
    a study callback uses to attribute sampler time to individual trials. Only the outermost
    call is timed, so a sampler that re-enters its own public methods is not double counted.
    """

    def __init__(self, inner: BaseSampler) -> None:
        self._inner = inner
        self.total_seconds = 0.0
        self.calls = 0
        self._pending_seconds = 0.0
        self._depth = 0

    @property
    def inner(self) -> BaseSampler:
        return self._inner

    @contextmanager
    def _timed(self) -> Iterator[None]:
        self._depth += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self._depth -= 1
            if self._depth == 0:
                self.total_seconds += elapsed
                self._pending_seconds += elapsed
                self.calls += 1

    def trial_seconds(self) -> float:
        seconds, self._pending_seconds = self._pending_seconds, 0.0
        return seconds

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        with self._timed():
            return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        with self._timed():
            return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        with self._timed():
            return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        with self._timed():
            self._inner.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._timed():
            self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes not found normally: forward them to the wrapped sampler.
        if name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __str__(self) -> str:
        return f"Timed({self._inner})"


# --------------------------------------------------------------------------------------------
# Configuration and results
# --------------------------------------------------------------------------------------------


@dataclass
class DemoConfig:
    trials: int = 60
    seed: int = 42
    dataset: str = "breast_cancer"
    folds: int = 3
    max_iter: int = 100
    synthetic_trials: int = 500
    synthetic_dims: int = 10
    multivariate: bool = False
    progress_every: int = 0  # 0 = automatic (about a dozen lines per study)


QUICK_OVERRIDES: dict[str, int] = {
    "trials": 14,
    "folds": 2,
    "max_iter": 30,
    "synthetic_trials": 60,
}


@dataclass
class StudyRun:
    label: str
    n_trials: int
    best_value: float
    best_params: dict[str, Any]
    best_trial: int
    wall_seconds: float
    sampler_seconds: float
    sampler_seconds_per_trial: list[float] = field(default_factory=list)
    params_history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mean_sampler_ms(self) -> float:
        return 1e3 * self.sampler_seconds / max(self.n_trials, 1)

    def window_median_ms(self, end: int, width: int) -> float:
        """Median per-trial sampler time (ms) over trials ``[end - width, end)``."""
        window = self.sampler_seconds_per_trial[max(0, end - width) : end]
        return 1e3 * statistics.median(window) if window else math.nan


# --------------------------------------------------------------------------------------------
# Running a study
# --------------------------------------------------------------------------------------------


def _sampler_factories(seed: int, multivariate: bool) -> list[tuple[str, SamplerFactory]]:
    kwargs: dict[str, Any] = {"seed": seed, "multivariate": multivariate}
    return [
        ("ferrotune TPE", lambda: ferrotune.TPESampler(**kwargs)),
        ("optuna TPE", lambda: optuna.samplers.TPESampler(**kwargs)),
    ]


def run_study(
    label: str,
    sampler: BaseSampler,
    objective: Objective,
    n_trials: int,
    *,
    direction: Literal["minimize", "maximize"],
    progress_every: int,
    value_name: str,
    value_format: str,
) -> StudyRun:
    """Optimise ``objective`` with a timed ``sampler``, printing a progress line now and then."""
    timed = TimedSampler(sampler)
    study = optuna.create_study(direction=direction, sampler=timed)
    per_trial: list[float] = []
    history: list[dict[str, Any]] = []
    width = len(str(n_trials))

    def on_trial_end(study: Study, trial: FrozenTrial) -> None:
        per_trial.append(timed.trial_seconds())
        history.append(dict(trial.params))
        done = trial.number + 1
        if done % progress_every == 0 or done == n_trials:
            value = "failed" if trial.value is None else format(trial.value, value_format)
            best = study.best_trial  # the demo's objectives always return a finite value
            print(
                f"  {label:<14} trial {done:>{width}}/{n_trials}"
                f"  {value_name} {value}"
                f"  best {format(best.value, value_format)} (#{best.number})"
                f"  sampler {1e3 * per_trial[-1]:7.2f} ms",
                flush=True,
            )

    start = time.perf_counter()
    study.optimize(objective, n_trials=n_trials, callbacks=[on_trial_end])
    wall = time.perf_counter() - start
    best = study.best_trial
    assert best.value is not None
    return StudyRun(
        label=label,
        n_trials=len(study.trials),
        best_value=best.value,
        best_params=dict(best.params),
        best_trial=best.number,
        wall_seconds=wall,
        sampler_seconds=timed.total_seconds,
        sampler_seconds_per_trial=per_trial,
        params_history=history,
    )


# --------------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------------


def _require_sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "The demo needs scikit-learn, which is not installed.\n"
            "Install it with:  pip install 'ferrotune[demo]'   (or: pip install scikit-learn)"
        ) from exc


def make_hgb_objective(dataset: str, folds: int, max_iter: int, seed: int) -> Objective:
    """Cross-validated accuracy of a ``HistGradientBoostingClassifier`` (to maximise)."""
    from sklearn import datasets
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
    }
    X, y = loaders[dataset](return_X_y=True)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)

    def objective(trial: BaseTrial) -> float:
        model = HistGradientBoostingClassifier(
            learning_rate=trial.suggest_float("learning_rate", 0.01, 0.5, log=True),
            max_leaf_nodes=trial.suggest_int("max_leaf_nodes", 4, 64, log=True),
            min_samples_leaf=trial.suggest_int("min_samples_leaf", 2, 60),
            l2_regularization=trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
            max_bins=trial.suggest_int("max_bins", 16, 255),
            max_depth=trial.suggest_categorical("max_depth", [None, 3, 5, 8]),
            max_iter=max_iter,
            early_stopping=False,
            random_state=seed,
        )
        return float(cross_val_score(model, X, y, cv=cv, scoring="accuracy").mean())

    return objective


def _default_hgb_params() -> dict[str, Any]:
    """Roughly scikit-learn's defaults, within the search space (for the untimed warm-up fit)."""
    return {
        "learning_rate": 0.1,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 1e-6,
        "max_bins": 255,
        "max_depth": None,
    }


def make_quadratic_objective(dims: int) -> Objective:
    """A shifted ``dims``-dimensional quadratic bowl (to minimise): sampler overhead dominates."""
    centre = [((3 * i) % 7 - 3) / 2 for i in range(dims)]

    def objective(trial: BaseTrial) -> float:
        return sum((trial.suggest_float(f"x{i}", -5.0, 5.0) - c) ** 2 for i, c in enumerate(centre))

    return objective


@contextmanager
def _single_threaded_openmp() -> Iterator[None]:
    """Pin scikit-learn's OpenMP pool to one thread.

    On small datasets this is faster than the default, and it stops idle OpenMP workers from
    spinning while the sampler runs, which would otherwise skew the sampler timings.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl is a scikit-learn dependency, but stay robust
        yield
        return
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def _fmt_param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def render(row: Sequence[str]) -> str:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(cell).rjust(width) for cell, width in zip(row[1:], widths[1:])]
        return "  " + "  ".join(cells).rstrip()

    print(render(header))
    print("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        print(render(row))


def _speedup_sentence(what: str, ours: float, theirs: float) -> str:
    if ours <= 0.0 or theirs <= 0.0:
        return f"{what}: ratio not available (a measured time is zero)."
    share = f"{ours / theirs:.3f} of its time"
    if ours <= theirs:
        return f"{what}: ferrotune is {theirs / ours:.1f}x faster than Optuna ({share})."
    return f"{what}: ferrotune is {ours / theirs:.1f}x slower than Optuna ({share})."


def _params_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, va in a.items():
        vb = b[key]
        if isinstance(va, float) and isinstance(vb, float):
            if not math.isclose(va, vb, rel_tol=1e-9, abs_tol=0.0):
                return False
        elif va != vb:
            return False
    return True


def _agreement_sentence(ours: StudyRun, theirs: StudyRun) -> str:
    n = min(len(ours.params_history), len(theirs.params_history))
    first_diff = next(
        (
            i
            for i in range(n)
            if not _params_equal(ours.params_history[i], theirs.params_history[i])
        ),
        None,
    )
    if first_diff is None:
        return f"Same seed, same suggestions: all {n} trials proposed identical parameters."
    return (
        f"Suggestions identical for the first {first_diff} of {n} trials, "
        f"then diverge from trial #{first_diff}."
    )


def report_model_phase(runs: Sequence[StudyRun], value_name: str) -> None:
    ours, theirs = runs
    header = ["", ours.label, theirs.label]
    rows: list[list[str]] = [
        [f"best {value_name}", f"{ours.best_value:.4f}", f"{theirs.best_value:.4f}"],
        ["best trial", f"#{ours.best_trial}", f"#{theirs.best_trial}"],
        ["total wall time", _fmt_seconds(ours.wall_seconds), _fmt_seconds(theirs.wall_seconds)],
        [
            "time inside sampler",
            _fmt_seconds(ours.sampler_seconds),
            _fmt_seconds(theirs.sampler_seconds),
        ],
        [
            "sampler share of wall",
            f"{100 * ours.sampler_seconds / ours.wall_seconds:.1f} %",
            f"{100 * theirs.sampler_seconds / theirs.wall_seconds:.1f} %",
        ],
        ["sampler ms / trial", f"{ours.mean_sampler_ms:.2f}", f"{theirs.mean_sampler_ms:.2f}"],
        ["best params:", "", ""],
    ]
    names = list(dict.fromkeys([*ours.best_params, *theirs.best_params]))
    for name in names:
        rows.append(
            [
                f"  {name}",
                _fmt_param(ours.best_params.get(name, "-")),
                _fmt_param(theirs.best_params.get(name, "-")),
            ]
        )
    _print_table(header, rows)
    print()
    print(
        "  "
        + _speedup_sentence("Time inside the sampler", ours.sampler_seconds, theirs.sampler_seconds)
    )
    print("  " + _agreement_sentence(ours, theirs))


def report_synthetic_phase(runs: Sequence[StudyRun], window: int) -> None:
    ours, theirs = runs
    n = min(ours.n_trials, theirs.n_trials)
    step = max(n // 5, 1)
    marks = sorted(set(list(range(step, n + 1, step)) + [n]))
    header = ["median sampler ms / trial", ours.label, theirs.label, "ours / optuna"]
    rows: list[list[str]] = []
    for end in marks:
        a, b = ours.window_median_ms(end, window), theirs.window_median_ms(end, window)
        ratio = f"{a / b:.3f}" if b > 0 else "n/a"
        rows.append([f"trials {max(0, end - window) + 1}-{end}", f"{a:.2f}", f"{b:.2f}", ratio])
    rows.append(
        [
            "mean over all trials",
            f"{ours.mean_sampler_ms:.2f}",
            f"{theirs.mean_sampler_ms:.2f}",
            f"{ours.mean_sampler_ms / theirs.mean_sampler_ms:.3f}"
            if theirs.mean_sampler_ms > 0
            else "n/a",
        ]
    )
    rows.append(["best value", f"{ours.best_value:.4g}", f"{theirs.best_value:.4g}", ""])
    rows.append(
        ["total wall time", _fmt_seconds(ours.wall_seconds), _fmt_seconds(theirs.wall_seconds), ""]
    )
    _print_table(header, rows)
    print()
    print(
        "  "
        + _speedup_sentence("Time inside the sampler", ours.sampler_seconds, theirs.sampler_seconds)
    )
    print("  " + _agreement_sentence(ours, theirs))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _auto_progress_every(n_trials: int, lines: int = 12) -> int:
    return max(1, math.ceil(n_trials / lines))


def _banner(config: DemoConfig) -> None:
    import sklearn

    print(
        f"ferrotune {ferrotune.__version__} (backend: {ferrotune.get_backend()})"
        f"  vs  optuna {optuna.__version__}"
        f"  |  scikit-learn {sklearn.__version__}, Python {platform.python_version()},"
        f" {os.cpu_count()} CPUs"
    )
    mode = "multivariate" if config.multivariate else "univariate"
    print(f"TPESampler(seed={config.seed}, multivariate={config.multivariate}) for both ({mode}).")


def run_demo(config: DemoConfig) -> int:
    """Run the demo; returns a process exit code."""
    try:
        _require_sklearn()
    except MissingDependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    _banner(config)

    # Phase 1: a real model.
    print()
    print(
        f"Phase 1: HistGradientBoostingClassifier on load_{config.dataset}, "
        f"{config.folds}-fold CV accuracy, {config.trials} trials per sampler, "
        f"max_iter={config.max_iter}."
    )
    objective = make_hgb_objective(config.dataset, config.folds, config.max_iter, config.seed)
    every = config.progress_every or _auto_progress_every(config.trials)
    model_runs: list[StudyRun] = []
    with _single_threaded_openmp():
        # One untimed evaluation so that neither study pays scikit-learn's first-call costs.
        objective(optuna.trial.FixedTrial(_default_hgb_params()))
        for label, factory in _sampler_factories(config.seed, config.multivariate):
            model_runs.append(
                run_study(
                    label,
                    factory(),
                    objective,
                    config.trials,
                    direction="maximize",
                    progress_every=every,
                    value_name="acc",
                    value_format=".4f",
                )
            )
    print()
    report_model_phase(model_runs, value_name="CV accuracy")

    # Phase 2: a cheap objective, where the sampler's own cost is what you wait for.
    if config.synthetic_trials > 0:
        print()
        print(
            f"Phase 2: {config.synthetic_dims}-D quadratic (objective costs ~nothing), "
            f"{config.synthetic_trials} trials per sampler."
        )
        quadratic = make_quadratic_objective(config.synthetic_dims)
        every = config.progress_every or _auto_progress_every(config.synthetic_trials, lines=5)
        synthetic_runs = [
            run_study(
                label,
                factory(),
                quadratic,
                config.synthetic_trials,
                direction="minimize",
                progress_every=every,
                value_name="f",
                value_format="7.3f",
            )
            for label, factory in _sampler_factories(config.seed, config.multivariate)
        ]
        print()
        window = max(1, min(50, config.synthetic_trials // 5))
        report_synthetic_phase(synthetic_runs, window=window)

    print()
    print("Done.")
    return 0


__all__ = [
    "DATASETS",
    "QUICK_OVERRIDES",
    "DemoConfig",
    "MissingDependencyError",
    "StudyRun",
    "TimedSampler",
    "make_hgb_objective",
    "make_quadratic_objective",
    "run_demo",
    "run_study",
]
