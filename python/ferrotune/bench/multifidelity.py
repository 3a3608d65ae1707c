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
- ``MlpDigits``: a one-hidden-layer MLP (numpy, minibatch SGD with momentum and L2 weight decay)
  on scikit-learn's digits (8x8 images, 10 classes; train/validation 2/3 : 1/3, standardised),
  budget = epochs, loss = validation cross-entropy (continuous, unlike the error on 599 samples;
  a diverged network scores ``MLP_CAP``). 6 hyperparameters: learning rate, momentum, weight
  decay, hidden units, batch size (log ints) and the activation (categorical). Weights and the
  minibatch order come from a fixed seed per configuration, so curves are deterministic and
  memoised like the SGD task's. Written in numpy rather than with scikit-learn's
  ``MLPClassifier.partial_fit`` because that costs 25-45 ms per epoch here (scikit-learn's
  per-batch overhead) against 3-5 ms, too slow for 10 seeds x 5 methods on 2 cores. Regret:
  normalised by callers (``normalise = True``).
"""

from __future__ import annotations

import math
import warnings
from typing import Dict, List, Tuple

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

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


def _split_standardised(X: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Stratified train/validation split (2/3 : 1/3, fixed seed), standardised on the train part:
    ``(X_train, X_val, y_train, y_val)``."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=1 / 3, random_state=0, stratify=y)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xva), ytr, yva


class _LearningCurve:
    """A task whose loss at budget ``b`` is epoch ``round(b)`` of a memoised learning curve;
    subclasses set ``R`` and ``memo`` and define ``_curve(params, epochs)``."""

    normalise = True  # regret() is the loss itself: subtract the best value found
    R: int

    def _curve(self, params: Dict, epochs: int) -> List[float]:
        raise NotImplementedError

    def __call__(self, params: Dict, budget: float) -> float:
        return self._curve(params, int(round(budget)))[int(round(budget)) - 1]

    def regret(self, params: Dict) -> float:
        return self(params, self.R)  # normalised against the best value later


class SgdBreastCancer(_LearningCurve):
    name = "sgd"

    def __init__(self, max_budget: int, seed: int):
        from sklearn.datasets import load_breast_cancer

        # Digits (10 classes, one-vs-rest) costs ~13 ms per epoch here, 5x breast cancer.
        X, y = load_breast_cancer(return_X_y=True)
        self.Xtr, self.Xva, self.ytr, self.yva = _split_standardised(X, y)
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


MLP_CAP = 10.0
"""Validation loss of a network whose loss or weights became non-finite or exceed this."""


class _MlpState:
    """Weights, momenta and the minibatch stream of one configuration being trained."""

    def __init__(self, n_in: int, hidden: int, n_out: int) -> None:
        rng = np.random.RandomState(0)
        b1 = math.sqrt(6.0 / (n_in + hidden))
        b2 = math.sqrt(6.0 / (hidden + n_out))
        self.w1 = rng.uniform(-b1, b1, (n_in, hidden))
        self.c1 = np.zeros(hidden)
        self.w2 = rng.uniform(-b2, b2, (hidden, n_out))
        self.c2 = np.zeros(n_out)
        self.vel = [np.zeros_like(a) for a in (self.w1, self.c1, self.w2, self.c2)]
        self.order = np.random.RandomState(1)
        self.dead = False


class MlpDigits(_LearningCurve):
    name = "mlp"

    def __init__(self, max_budget: int, seed: int):
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        self.Xtr, self.Xva, self.ytr, self.yva = _split_standardised(X, y)
        self.Ytr = np.eye(10)[self.ytr]
        self.R = max_budget
        self.space = {
            "lr": FloatDistribution(1e-3, 1.0, log=True),
            "momentum": FloatDistribution(0.0, 0.99),
            "weight_decay": FloatDistribution(1e-6, 1e-1, log=True),
            "hidden": IntDistribution(8, 256, log=True),
            "batch_size": IntDistribution(32, 512, log=True),
            "activation": CategoricalDistribution(["relu", "tanh"]),
        }
        self.memo: Dict[Tuple, Tuple] = {}

    def _forward(self, st: _MlpState, X: np.ndarray, relu: bool) -> Tuple[np.ndarray, np.ndarray]:
        a = X @ st.w1 + st.c1
        h = np.maximum(a, 0.0) if relu else np.tanh(a)
        z = h @ st.w2 + st.c2
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return h, p

    def _epoch(self, st: _MlpState, params: Dict) -> float:
        relu = params["activation"] == "relu"
        lr, mu, wd = params["lr"], params["momentum"], params["weight_decay"]
        bs = int(params["batch_size"])
        n = self.Xtr.shape[0]
        perm = st.order.permutation(n)
        with np.errstate(all="ignore"):
            for start in range(0, n, bs):
                idx = perm[start : start + bs]
                X, Y = self.Xtr[idx], self.Ytr[idx]
                h, p = self._forward(st, X, relu)
                dz = (p - Y) / len(idx)
                g2 = h.T @ dz + wd * st.w2
                dh = dz @ st.w2.T
                da = dh * (h > 0.0) if relu else dh * (1.0 - h * h)
                g1 = X.T @ da + wd * st.w1
                grads = (g1, da.sum(axis=0), g2, dz.sum(axis=0))
                for arr, v, g in zip((st.w1, st.c1, st.w2, st.c2), st.vel, grads):
                    v *= mu
                    v -= lr * g
                    arr += v
            if not (np.all(np.isfinite(st.w1)) and np.all(np.isfinite(st.w2))):
                st.dead = True
                return MLP_CAP
            _, p = self._forward(st, self.Xva, relu)
            hit = p[np.arange(len(self.yva)), self.yva]
            loss = float(-np.mean(np.log(np.maximum(hit, 1e-300))))
        return loss if math.isfinite(loss) and loss < MLP_CAP else MLP_CAP

    def _curve(self, params: Dict, epochs: int) -> List[float]:
        key = tuple(sorted(params.items()))
        st, curve = self.memo.get(key, (None, []))
        if st is None and len(curve) < epochs:
            st = _MlpState(self.Xtr.shape[1], int(params["hidden"]), 10)
        while len(curve) < epochs:
            curve.append(MLP_CAP if st.dead else self._epoch(st, params))
        # Keep the weights only while the curve may still be extended.
        self.memo[key] = (st if len(curve) < self.R else None, curve)
        return curve


PROBLEMS = {"hartmann6": Hartmann6, "sgd": SgdBreastCancer, "mlp": MlpDigits}
