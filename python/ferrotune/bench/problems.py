"""Benchmark problems. Each defines its search space (``space(trial) -> params``, the
``suggest_*`` calls), the function to minimise (``evaluate(params) -> float``, timed on its own so
that sampling time is not mistaken for objective time), its optimum (``None`` = unknown: regret is
then measured against the best value any run found), a regret target and a grid for grid search
(cell-centred levels, so the grid does not favour the optimum; Optuna's GridSampler visits it in a
seeded random order).

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
        "svc_breast_cancer", space, f, None, 0.005, grid, "SVC on breast_cancer, 3-fold CV error"
    )


def _bbob(function: int, dim: int) -> Callable[[], Problem]:
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

        def space(trial: Any) -> dict[str, Any]:
            return {n: trial.suggest_float(n, float(lower[i]), float(upper[i])) for i, n in enumerate(names)}

        def f(p: dict[str, Any], _suite: Any = suite) -> float:  # keeps the suite (owner) alive
            return float(problem(np.asarray([p[n] for n in names])))

        return Problem(
            f"bbob_f{function}_d{dim}", space, f, None, 1e-2, None, f"bbob f{function}, {dim}-D"
        )

    return build


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": _branin,
    "hartmann6": _hartmann6,
    "styblinski_tang10": _styblinski_tang10,
    "mixed": _mixed,
    "svc_breast_cancer": _svc_breast_cancer,
    "bbob_f1_d5": _bbob(1, 5),
    "bbob_f8_d5": _bbob(8, 5),
    "bbob_f15_d5": _bbob(15, 5),
}
"""Every known problem. Add one by adding an entry (a factory returning a ``Problem``)."""

DEFAULT_PROBLEMS = [
    "branin",
    "hartmann6",
    "styblinski_tang10",
    "mixed",
    "svc_breast_cancer",
    "bbob_f1_d5",
    "bbob_f8_d5",
    "bbob_f15_d5",
]
"""Run by default; the bbob problems are skipped with a message when cocoex is missing."""
