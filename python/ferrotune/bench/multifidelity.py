"""Multi-fidelity benchmark problems (the BOHB work): ``problem(params, budget) -> loss`` with
budgets in ``(0, R]``, ``problem.space`` (name -> Optuna distribution) and ``problem.regret(params)``
of a configuration at the full budget. Used by ``benches/bench_bohb.py`` and ``ferrotune.bench``.

- ``Hartmann6``: multi-fidelity Hartmann-6 as mf-prior-bench's ``mfh6`` defines it (after
  Kandasamy et al. 2017): fidelity ``z = 100 b / R`` in (0, 100], ``t = 1 - log(z) / log(100)``,
  coefficients ``alpha_i - bias * t`` (bias 0.5) and additive noise ``noise * t * |N(0, 1)|``
  (noise 0.1), so the top fidelity is the exact Hartmann-6 and lower ones are biased, noisy
  versions of it. Regret: exact Hartmann-6 minus the optimum -3.32237.
- ``SgdBreastCancer``: ``sklearn.linear_model.SGDClassifier`` on scikit-learn's breast-cancer data
  (train/validation 2/3 : 1/3, standardised), budget = epochs of ``partial_fit``, loss =
  validation error. Learning curves are memoised per configuration (training is deterministic).
  Regret: the validation error itself (callers normalise against the best value found).
"""

from __future__ import annotations

import math
import warnings
from typing import Dict, List, Tuple

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution

from .problems import _H_A as H6_A
from .problems import _H_ALPHA as H6_ALPHA
from .problems import _H_P as H6_P

H6_OPT = -3.322368011391339


class Hartmann6:
    name = "hartmann6"

    def __init__(self, max_budget: int, seed: int, bias: float = 0.5, noise: float = 0.1):
        self.R = max_budget
        self.bias, self.noise = bias, noise
        self.rng = np.random.RandomState(10_000 + seed)
        self.space = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(6)}

    @staticmethod
    def exact(x: np.ndarray) -> float:
        return float(-np.sum(H6_ALPHA * np.exp(-np.sum(H6_A * (x - H6_P) ** 2, axis=1))))

    def __call__(self, params: Dict, budget: float) -> float:
        x = np.array([params[f"x{i}"] for i in range(6)])
        z = 100.0 * budget / self.R
        t = 1.0 - math.log(z) / math.log(100.0)
        alpha = H6_ALPHA - self.bias * t
        f = float(-np.sum(alpha * np.exp(-np.sum(H6_A * (x - H6_P) ** 2, axis=1))))
        return f + self.noise * t * abs(float(self.rng.randn()))

    def regret(self, params: Dict) -> float:
        return self.exact(np.array([params[f"x{i}"] for i in range(6)])) - H6_OPT


class SgdBreastCancer:
    name = "sgd"

    def __init__(self, max_budget: int, seed: int):
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        # Digits (10 classes, one-vs-rest) costs ~13 ms per epoch here, 5x breast cancer.
        X, y = load_breast_cancer(return_X_y=True)
        Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=1 / 3, random_state=0, stratify=y)
        sc = StandardScaler().fit(Xtr)
        self.Xtr, self.Xva, self.ytr, self.yva = sc.transform(Xtr), sc.transform(Xva), ytr, yva
        self.classes = np.unique(y)
        self.R = max_budget
        self.space = {
            "alpha": FloatDistribution(1e-7, 1e-1, log=True),
            "eta0": FloatDistribution(1e-5, 1.0, log=True),
            "l1_ratio": FloatDistribution(0.0, 1.0),
            "learning_rate": CategoricalDistribution(["constant", "invscaling", "adaptive", "optimal"]),
            "loss": CategoricalDistribution(["hinge", "log_loss", "modified_huber", "perceptron"]),
            "average": CategoricalDistribution([False, True]),
        }
        self.memo: Dict[Tuple, Tuple] = {}

    def _curve(self, params: Dict, epochs: int) -> List[float]:
        from sklearn.linear_model import SGDClassifier

        key = tuple(sorted(params.items()))
        clf, curve = self.memo.get(key, (None, []))
        if clf is None:
            clf = SGDClassifier(
                alpha=params["alpha"],
                eta0=params["eta0"],
                l1_ratio=params["l1_ratio"],
                penalty="elasticnet",
                learning_rate=params["learning_rate"],
                loss=params["loss"],
                average=params["average"],
                random_state=0,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while len(curve) < epochs:
                clf.partial_fit(self.Xtr, self.ytr, classes=self.classes)
                err = 1.0 - float(np.mean(clf.predict(self.Xva) == self.yva))
                curve.append(err if math.isfinite(err) else 1.0)
        self.memo[key] = (clf, curve)
        return curve

    def __call__(self, params: Dict, budget: float) -> float:
        return self._curve(params, int(round(budget)))[int(round(budget)) - 1]

    def regret(self, params: Dict) -> float:
        return self(params, self.R)  # normalised against the best value later


PROBLEMS = {"hartmann6": Hartmann6, "sgd": SgdBreastCancer}
