"""Shared pieces of ``ferrotune.BOHBSampler`` and ``ferrotune.BOHB``: the encoding of
configurations into BOHB's model space, the checked options, and the backend selection.

**Encoding** (as HpBandSter's ConfigSpace vectors): every non-categorical parameter maps to
[0, 1] and is modelled as continuous; a categorical parameter is its choice index.

- float: ``(x - low) / (high - low)``; with ``log=True`` the same in ``log x``;
- int and stepped float (step ``s``): the interval ``[low - s/2, high + s/2]`` (in ``log`` space
  for ``log=True`` ints) mapped to [0, 1], so every grid value owns an equal share of [0, 1]
  (ConfigSpace's integers use ``low - 0.49999 .. high + 0.49999``). An observed value encodes to
  the centre of its share; decoding rounds to the nearest grid value;
- a distribution with a single value encodes to 0.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from ferrotune import _bohb_py, _bohb_tpe
from ferrotune._backend import get_backend_impl
from ferrotune._unit_space import UnitMap
from ferrotune.exceptions import InvalidArgumentError, NativeBuildMismatchError, SearchSpaceError

DEFAULTS = dict(
    min_points_in_model=None,
    top_n_percent=15,
    num_samples=64,
    random_fraction=None,
    bandwidth_factor=3.0,
    min_bandwidth=1e-3,
)

MODELS = ("tpe", "kde")
"""``model`` values: the TPE model (``_bohb_tpe``, the default) or HpBandSter's KDEs."""

DEFAULT_MODEL = "tpe"
"""The default ``model``: it meets the quality targets that HpBandSter's KDEs miss (the
README's BOHB section, "Why the default is not HpBandSter's model")."""

RANDOM_FRACTION = {"kde": 1.0 / 3.0, "tpe": 0.0}
"""``random_fraction=None`` per model: HpBandSter's 1/3 for its KDEs; none for the TPE model,
whose Parzen estimators mix in a prior over the whole space (as Optuna's TPESampler, which has
no random fraction either)."""

_KDE_ONLY = ("top_n_percent", "num_samples", "bandwidth_factor", "min_bandwidth")


def bohb_core() -> Any:
    """``ferrotune._core`` (Rust backend) or ``ferrotune._bohb_py`` (Python backend)."""
    backend = get_backend_impl()
    if backend.name != "rust":
        return _bohb_py
    core = getattr(backend, "core", None)
    if core is None or not hasattr(core, "bohb_propose"):
        raise NativeBuildMismatchError(
            "the native module ferrotune._core has no BOHB functions (a stale build); "
            "rebuild it with `pip install .` or `maturin develop`."
        )
    return core


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InvalidArgumentError(f"`{name}` must be an integer, got {value!r}.")
    try:
        v = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(f"`{name}` must be an integer, got {value!r}.") from None
    if not low <= v <= high:
        raise InvalidArgumentError(f"`{name}` must be in [{low}, {high}], got {v}.")
    return v


def _float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"`{name}` must be a real number, got {value!r}.")
    v = float(value)
    if not math.isfinite(v):
        raise InvalidArgumentError(f"`{name}` must be finite, got {value!r}.")
    return v


def check_options(
    model: Any,
    min_points_in_model: Optional[int],
    top_n_percent: int,
    num_samples: int,
    random_fraction: Optional[float],
    bandwidth_factor: float,
    min_bandwidth: float,
) -> Tuple[str, Tuple[int, int, int, float, float, float]]:
    """``(model, options as the core's tuple)`` (``min_points_in_model`` 0 = default), or
    ``InvalidArgumentError``. The TPE model has no use for the KDE-only options, so setting one
    of them to a non-default value with ``model="tpe"`` is an error rather than silently
    ignored."""
    if not isinstance(model, str) or model not in MODELS:
        raise InvalidArgumentError(f"`model` must be one of {MODELS}, got {model!r}.")
    n_min = 0 if min_points_in_model is None else _int(
        "min_points_in_model", min_points_in_model, 1, 2**32
    )
    top = _int("top_n_percent", top_n_percent, 1, 99)
    samples = _int("num_samples", num_samples, 1, 2**24)
    if random_fraction is None:
        frac = RANDOM_FRACTION[model]
    else:
        frac = _float("random_fraction", random_fraction)
    if not 0.0 <= frac <= 1.0:
        raise InvalidArgumentError(f"`random_fraction` must be in [0, 1], got {frac}.")
    factor = _float("bandwidth_factor", bandwidth_factor)
    if factor <= 0.0:
        raise InvalidArgumentError(f"`bandwidth_factor` must be > 0, got {factor}.")
    floor = _float("min_bandwidth", min_bandwidth)
    if floor <= 0.0:
        raise InvalidArgumentError(f"`min_bandwidth` must be > 0, got {floor}.")
    if model == "tpe":
        given = dict(top_n_percent=top, num_samples=samples, bandwidth_factor=factor,
                     min_bandwidth=floor)
        changed = [k for k in _KDE_ONLY if given[k] != DEFAULTS[k]]
        if changed:
            raise InvalidArgumentError(
                f"{', '.join('`%s`' % k for k in changed)} only apply to model='kde' "
                "(HpBandSter's KDEs); pass model='kde' to use them. model='tpe' (the "
                "default) uses Optuna's TPE defaults instead."
            )
    return model, (n_min, top, samples, frac, factor, floor)


class Encoder:
    """Encodes parameter dicts of a search space to BOHB vectors and back."""

    def __init__(self, search_space: Mapping[str, BaseDistribution]) -> None:
        self.names: List[str] = list(search_space)
        self.dists: Dict[str, BaseDistribution] = dict(search_space)
        self.kinds: List[int] = []
        self._maps: List[Optional[UnitMap]] = []
        for name, dist in search_space.items():
            if isinstance(dist, CategoricalDistribution):
                self.kinds.append(len(dist.choices))
                self._maps.append(None)
            elif isinstance(dist, (FloatDistribution, IntDistribution)):
                if not (math.isfinite(float(dist.low)) and math.isfinite(float(dist.high))):
                    raise SearchSpaceError(f"Parameter {name!r}: bounds must be finite.")
                self.kinds.append(0)
                self._maps.append(UnitMap(dist))
            else:
                raise SearchSpaceError(
                    f"Parameter {name!r}: unsupported distribution {type(dist).__name__}; "
                    "use FloatDistribution, IntDistribution or CategoricalDistribution."
                )

    def encode(self, params: Mapping[str, Any]) -> List[float]:
        out = []
        for name, m in zip(self.names, self._maps):
            dist = self.dists[name]
            if m is None:
                out.append(float(dist.to_internal_repr(params[name])))
            else:
                out.append(m.encode(params[name]))
        return out

    def decode(self, vector: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for name, m, v in zip(self.names, self._maps, np.asarray(vector, dtype=float)):
            dist = self.dists[name]
            if m is None:
                assert isinstance(dist, CategoricalDistribution)
                out[name] = dist.choices[min(max(int(v), 0), len(dist.choices) - 1)]
            else:
                out[name] = m.decode(float(v))
        return out


class Observations:
    """Observations ``(budget, encoded vector, loss, configuration id)`` (of an ask/tell
    scheduler, or of
    ``BOHBSampler``'s finished trials), kept in numpy arrays that grow by doubling, so a proposal
    reads them without converting Python lists (which made every ``ask`` cost time linear in the
    number of results, with a large constant)."""

    def __init__(self, d: int) -> None:
        self.d = d
        self._n = 0
        self._budgets = np.empty(16)
        self._vectors = np.empty((16, d))
        self._losses = np.empty(16)
        self._ids = np.empty(16, dtype=np.int64)

    def __len__(self) -> int:
        return self._n

    def append(self, budget: float, vector: List[float], loss: float, ident: int) -> None:
        if self._n == self._budgets.shape[0]:
            cap = 2 * self._n
            self._budgets = np.resize(self._budgets, cap)
            self._losses = np.resize(self._losses, cap)
            self._ids = np.resize(self._ids, cap)
            grown = np.empty((cap, self.d))
            grown[: self._n] = self._vectors[: self._n]
            self._vectors = grown
        self._budgets[self._n] = budget
        self._vectors[self._n] = vector
        self._losses[self._n] = loss
        self._ids[self._n] = ident
        self._n += 1

    def arrays(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(budgets, vectors, losses, ids)``: read-only views of the first ``len(self)``
        rows."""
        n = self._n
        out = (self._budgets[:n], self._vectors[:n], self._losses[:n], self._ids[:n])
        for a in out:
            a.flags.writeable = False
        return out


def propose(
    core: Any,
    encoder: Encoder,
    budgets: Union[List[float], np.ndarray],
    vectors: Union[List[List[float]], np.ndarray],
    losses: Union[List[float], np.ndarray],
    ids: Union[List[int], np.ndarray],
    opts: Tuple[int, int, int, float, float, float],
    rng: np.random.RandomState,
    model: str,
    multivariate: bool = False,
) -> Tuple[Dict[str, Any], int, Optional[float]]:
    """One proposal, decoded: ``(params, source, model budget)``."""
    d = len(encoder.kinds)
    vec = np.ascontiguousarray(np.asarray(vectors, dtype=np.float64).reshape(len(vectors), d))
    b = np.asarray(budgets, dtype=np.float64)
    loss = np.asarray(losses, dtype=np.float64)
    if model == "tpe":
        ident = np.asarray(ids, dtype=np.int64)
        args = (encoder.kinds, b, vec, loss, ident, opts, rng, multivariate)
        vector, source, budget = _bohb_tpe.tpe_propose(*args)
    else:
        vector, source, budget = core.bohb_propose(encoder.kinds, b, vec, loss, opts, rng)
    return encoder.decode(vector), int(source), budget
