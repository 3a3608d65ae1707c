"""Benchmark problems. Each defines its search space (``space(trial) -> params``, the
``suggest_*`` calls), the function to minimise (``evaluate(params) -> float``, timed on its own so
that sampling time is not mistaken for objective time), its optimum (``None`` = unknown: regret is
then measured against the best value any run found), a regret target and a grid for grid search
(cell-centred levels, so the grid does not favour the optimum; Optuna's GridSampler visits it in a
seeded random order), and its default run size (``trials`` and ``seeds``).

Multi-fidelity problems (``max_budget`` set; built from ``ferrotune.bench.multifidelity``) also
have ``fidelity(seed) -> loss(params, budget)``: a trial evaluates its configuration at the rung
budgets ``1, 3, 9, ..., R`` in turn, reports each loss (``trial.report``) and stops early when the
study's pruner says so. A trial costs the last budget it ran (a promoted configuration resumes,
as in training that continues from its last epoch), and a run stops once it has spent
``trials * R`` budget units: the same budget for every method, so a method that prunes evaluates
more configurations. Its value is the loss at the full budget ``R`` (a pruned trial has none).

``PROBLEMS`` maps a name to a factory returning a ``Problem`` (or raising ``ProblemUnavailable``
with the reason, e.g. an optional package that is not installed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np


class ProblemUnavailable(RuntimeError):
    """The problem cannot run here (a missing optional dependency); the message says why."""


@dataclass
class Problem:
    name: str
    space: Callable[[Any], dict[str, Any]]
    evaluate: Callable[[dict[str, Any]], float]
    optimum: Optional[float]
    target: float  # regret at which a run counts as having "reached the target"
    grid: Optional[dict[str, list[Any]]] = None
    description: str = ""
    trials: int = 100  # default trials per run (multi-fidelity: budget, in full evaluations)
    seeds: int = 5  # default number of seeds
    max_budget: Optional[int] = None  # multi-fidelity only: R, the full budget
    rungs: tuple[int, ...] = ()  # multi-fidelity only: the budgets a trial reports at
    fidelity: Optional[Callable[[int], Callable[[dict[str, Any], float], float]]] = None

    @property
    def multi_fidelity(self) -> bool:
        return self.max_budget is not None

    def objective(self, trial: Any) -> float:
        return self.evaluate(self.space(trial))


def _levels(low: float, high: float, m: int) -> list[float]:
    """``m`` cell-centred levels of ``[low, high]``."""
    return [float(low + (i + 0.5) * (high - low) / m) for i in range(m)]


def _box(names: list[str], low: float, high: float) -> Callable[[Any], dict[str, Any]]:
    return lambda trial: {n: trial.suggest_float(n, low, high) for n in names}


def _branin() -> Problem:
    def f(p: dict[str, Any]) -> float:
        x1, x2 = p["x1"], p["x2"]
        b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
        return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10

    def space(trial: Any) -> dict[str, Any]:
        return {"x1": trial.suggest_float("x1", -5.0, 10.0), "x2": trial.suggest_float("x2", 0.0, 15.0)}

    grid = {"x1": _levels(-5, 10, 10), "x2": _levels(0, 15, 10)}
    return Problem("branin", space, f, 0.397887357729738, 0.05, grid, "Branin, 2-D")


_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6() -> Problem:
    names = [f"x{i}" for i in range(6)]

    def f(p: dict[str, Any]) -> float:
        x = np.array([p[n] for n in names])
        inner = np.sum(_H_A * (x - _H_P) ** 2, axis=1)
        return float(-np.sum(_H_ALPHA * np.exp(-inner)))

    grid = {n: _levels(0, 1, 3) for n in names}
    return Problem("hartmann6", _box(names, 0.0, 1.0), f, -3.322368011391339, 0.1, grid, "Hartmann, 6-D")


def _styblinski_tang10() -> Problem:
    names = [f"x{i}" for i in range(10)]

    def f(p: dict[str, Any]) -> float:
        x = np.array([p[n] for n in names])
        return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))

    grid = {n: _levels(-5, 5, 2) for n in names}
    return Problem(
        "styblinski_tang10",
        _box(names, -5.0, 5.0),
        f,
        -39.16616570377142 * 10,
        20.0,
        grid,
        "Styblinski-Tang, 10-D",
    )


def _mixed() -> Problem:
    """Categorical, log-scaled, integer and continuous parameters; optimum 0."""

    offsets = {"relu": 0.0, "tanh": 0.3, "sigmoid": 0.6}

    def space(trial: Any) -> dict[str, Any]:
        return {
            "activation": trial.suggest_categorical("activation", ["relu", "tanh", "sigmoid"]),
            "optimizer": trial.suggest_categorical("optimizer", ["sgd", "adam"]),
            "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
            "layers": trial.suggest_int("layers", 1, 8),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        }

    def f(p: dict[str, Any]) -> float:
        best_lr = 1e-3 if p["optimizer"] == "adam" else 1e-2
        return (
            (math.log10(p["lr"]) - math.log10(best_lr)) ** 2
            + 0.1 * (p["layers"] - 4) ** 2
            + 4 * (p["dropout"] - 0.2) ** 2
            + offsets[p["activation"]]
            + (0.0 if p["optimizer"] == "adam" else 0.2)
        )

    grid = {
        "activation": ["relu", "tanh", "sigmoid"],
        "optimizer": ["sgd", "adam"],
        "lr": [float(10**e) for e in _levels(-5, -1, 4)],
        "layers": [2, 5, 7],
        "dropout": _levels(0.0, 0.5, 3),
    }
    return Problem("mixed", space, f, 0.0, 0.05, grid, "mixed categorical/log/int/continuous, 5-D")


def _svc_breast_cancer() -> Problem:
    try:
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC
    except ImportError as exc:
        raise ProblemUnavailable(f"scikit-learn is not installed ({exc})") from exc
    X, y = load_breast_cancer(return_X_y=True)

    def space(trial: Any) -> dict[str, Any]:
        return {
            "C": trial.suggest_float("C", 1e-3, 1e3, log=True),
            "gamma": trial.suggest_float("gamma", 1e-5, 1e1, log=True),
            "kernel": trial.suggest_categorical("kernel", ["rbf", "sigmoid"]),
        }

    def f(p: dict[str, Any]) -> float:
        model = make_pipeline(StandardScaler(), SVC(C=p["C"], gamma=p["gamma"], kernel=p["kernel"]))
        return 1.0 - float(cross_val_score(model, X, y, cv=3).mean())

    grid = {
        "C": [float(10**e) for e in _levels(-3, 3, 7)],
        "gamma": [float(10**e) for e in _levels(-5, 1, 7)],
        "kernel": ["rbf", "sigmoid"],
    }
    return Problem(
        "svc_breast_cancer", space, f, None, 0.005, grid, "SVC on breast_cancer, 3-fold CV error",
        trials=50,
    )


def _sklearn_cv(name: str, make_model: Callable[[dict[str, Any]], Any], data: str) -> Callable[
    [dict[str, Any]], float
]:
    """``params -> 1 - mean 3-fold CV accuracy`` of ``make_model(params)`` on a scikit-learn data
    set, single-threaded (2-core machines shared by several runs; threads would only contend)."""
    try:
        from sklearn import datasets
        from sklearn.model_selection import cross_val_score
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise ProblemUnavailable(f"{name} needs scikit-learn ({exc})") from exc
    X, y = getattr(datasets, f"load_{data}")(return_X_y=True)

    def f(p: dict[str, Any]) -> float:
        import warnings

        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning of short MLP trainings
            return 1.0 - float(cross_val_score(make_model(p), X, y, cv=3).mean())

    return f


def _hgb_breast_cancer() -> Problem:
    """HistGradientBoostingClassifier, 5 hyperparameters; about 0.2-0.5 s per evaluation."""

    def space(trial: Any) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 1e-2, 1.0, log=True),
            "max_iter": trial.suggest_int("max_iter", 10, 50),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 32, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 64, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        }

    def model(p: dict[str, Any]) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(early_stopping=False, random_state=0, **p)

    f = _sklearn_cv("hgb_breast_cancer", model, "breast_cancer")
    grid = {
        "learning_rate": [float(10**e) for e in _levels(-2, 0, 3)],
        "max_iter": [20, 40],
        "max_leaf_nodes": [6, 20],
        "min_samples_leaf": [4, 32],
        "l2_regularization": [float(10**e) for e in _levels(-6, 1, 2)],
    }
    return Problem(
        "hgb_breast_cancer", space, f, None, 0.005, grid,
        "HistGradientBoosting on breast_cancer, 3-fold CV error", trials=40, seeds=5,
    )


def _mlp_breast_cancer() -> Problem:
    """A one- or two-layer MLPClassifier (50 epochs of Adam); about 0.2-0.4 s per evaluation."""

    def space(trial: Any) -> dict[str, Any]:
        return {
            "width": trial.suggest_int("width", 4, 64, log=True),
            "layers": trial.suggest_int("layers", 1, 2),
            "activation": trial.suggest_categorical("activation", ["relu", "tanh"]),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-1, log=True),
            "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True),
        }

    def model(p: dict[str, Any]) -> Any:
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(p["width"],) * p["layers"],
                activation=p["activation"],
                alpha=p["alpha"],
                learning_rate_init=p["learning_rate_init"],
                max_iter=50,
                random_state=0,
            ),
        )

    f = _sklearn_cv("mlp_breast_cancer", model, "breast_cancer")
    grid = {
        "width": [8, 32],
        "layers": [1, 2],
        "activation": ["relu", "tanh"],
        "alpha": [float(10**e) for e in _levels(-6, -1, 2)],
        "learning_rate_init": [float(10**e) for e in _levels(-4, -1, 3)],
    }
    return Problem(
        "mlp_breast_cancer", space, f, None, 0.005, grid,
        "MLPClassifier on breast_cancer, 3-fold CV error", trials=40, seeds=5,
    )


def _bbob_fopt(problem: Any) -> Optional[float]:
    """The optimal value of a bbob problem, or ``None`` if it cannot be established.

    cocoex (2.8) does not expose ``f_opt`` directly; ``Problem._best_parameter("print")`` writes
    ``x_opt`` to ``._bbob_problem_best_parameter.txt`` in the working directory (done here in a
    temporary one). ``f(x_opt)`` is ``f_opt``, which cocoex confirms with ``final_target_hit``
    (``f <= f_opt + 1e-8``)."""
    import os
    import tempfile

    try:
        here = os.getcwd()
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            try:
                problem._best_parameter("print")
                x = np.loadtxt("._bbob_problem_best_parameter.txt", ndmin=1)
            finally:
                os.chdir(here)
        if x.shape != (problem.dimension,):
            return None
        value = float(problem(x))
        return value if bool(problem.final_target_hit) else None
    except Exception:  # a cocoex without the private helper: fall back to the best found
        return None


def _bbob(function: int, dim: int, target: float) -> Callable[[], Problem]:
    """bbob function ``function``, instance 1, in ``dim`` dimensions; regret against its
    ``f_opt`` (when cocoex gives it away, see ``_bbob_fopt``). The target regret is a power of
    ten (or 30) that some but not all methods reach in 100 evaluations."""

    def build() -> Problem:
        try:
            import cocoex  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ProblemUnavailable(
                f"bbob needs the `coco-experiment` package (import cocoex failed: {exc})"
            ) from exc
        suite = cocoex.Suite(
            "bbob", "", f"dimensions:{dim} function_indices:{function} instance_indices:1"
        )
        problem = next(iter(suite))
        lower, upper = problem.lower_bounds, problem.upper_bounds
        names = [f"x{i}" for i in range(dim)]
        fopt = _bbob_fopt(problem)

        def space(trial: Any) -> dict[str, Any]:
            return {n: trial.suggest_float(n, float(lower[i]), float(upper[i])) for i, n in enumerate(names)}

        def f(p: dict[str, Any], _suite: Any = suite) -> float:  # keeps the suite (owner) alive
            return float(problem(np.asarray([p[n] for n in names])))

        return Problem(
            f"bbob_f{function}_d{dim}", space, f, fopt, target, None,
            f"bbob f{function} (instance 1), {dim}-D",
        )

    return build


def _suggest_all(space: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """``suggest_*`` calls for a space given as name -> Optuna distribution."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    def suggest(trial: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for n, d in space.items():
            if isinstance(d, FloatDistribution):
                out[n] = trial.suggest_float(n, d.low, d.high, log=d.log, step=d.step)
            elif isinstance(d, IntDistribution):
                out[n] = trial.suggest_int(n, d.low, d.high, log=d.log, step=d.step)
            elif isinstance(d, CategoricalDistribution):
                out[n] = trial.suggest_categorical(n, list(d.choices))
            else:
                raise TypeError(f"unsupported distribution {d!r} for {n!r}")
        return out

    return suggest


MF_MAX_BUDGET = 27
"""``R`` of the multi-fidelity problems (rungs 1, 3, 9, 27 with eta = 3)."""


def _multi_fidelity(key: str, target: float, grid: dict[str, list[Any]], text: str) -> Callable[
    [], Problem
]:
    def build() -> Problem:
        from ferrotune.bench.multifidelity import H6_OPT
        from ferrotune.bench.multifidelity import PROBLEMS as MF

        try:
            cls = MF[key]
            probe = cls(MF_MAX_BUDGET, 0)
        except ImportError as exc:
            raise ProblemUnavailable(f"mf_{key} needs scikit-learn ({exc})") from exc
        R = int(probe.R)
        rungs = []
        r = 1
        while r < R:
            rungs.append(r)
            r *= 3
        rungs.append(R)
        return Problem(
            f"mf_{key}", _suggest_all(probe.space), lambda p: float(probe(p, R)),
            H6_OPT if key == "hartmann6" else None, target, grid, text,
            max_budget=R, rungs=tuple(rungs), fidelity=lambda seed: cls(R, seed),
        )

    return build


_MF_SGD_GRID = {
    "alpha": [float(10**e) for e in _levels(-7, -1, 2)],
    "eta0": [float(10**e) for e in _levels(-5, 0, 2)],
    "l1_ratio": [0.25, 0.75],
    "learning_rate": ["constant", "invscaling", "adaptive", "optimal"],
    "loss": ["hinge", "log_loss", "modified_huber", "perceptron"],
    "average": [False, True],
}


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": _branin,
    "hartmann6": _hartmann6,
    "styblinski_tang10": _styblinski_tang10,
    "mixed": _mixed,
    "svc_breast_cancer": _svc_breast_cancer,
    "hgb_breast_cancer": _hgb_breast_cancer,
    "mlp_breast_cancer": _mlp_breast_cancer,
    "bbob_f1_d5": _bbob(1, 5, 1.0),
    "bbob_f8_d5": _bbob(8, 5, 100.0),
    "bbob_f15_d5": _bbob(15, 5, 30.0),
    "mf_hartmann6": _multi_fidelity(
        "hartmann6", 0.1, {f"x{i}": _levels(0, 1, 3) for i in range(6)},
        "multi-fidelity Hartmann-6 (biased, noisy below the full budget)",
    ),
    "mf_sgd": _multi_fidelity(
        "sgd", 0.006, _MF_SGD_GRID,
        "SGDClassifier on breast_cancer, budget = epochs, validation error (target: within one of"
        " the 190 validation samples of the best error found)",
    ),
}
"""Every known problem. Add one by adding an entry (a factory returning a ``Problem``)."""

DEFAULT_PROBLEMS = [
    "branin",
    "hartmann6",
    "styblinski_tang10",
    "mixed",
    "svc_breast_cancer",
    "hgb_breast_cancer",
    "mlp_breast_cancer",
    "bbob_f1_d5",
    "bbob_f8_d5",
    "bbob_f15_d5",
    "mf_hartmann6",
    "mf_sgd",
]
"""Run by default; the bbob problems are skipped with a message when cocoex is missing."""


def run_size(name: str) -> tuple[int, int]:
    """``(trials, seeds)`` a problem runs by default (``(100, 5)`` if it is unavailable here)."""
    try:
        problem = PROBLEMS[name]()
    except ProblemUnavailable:
        return 100, 5
    return problem.trials, problem.seeds
