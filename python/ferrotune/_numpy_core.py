"""Pure-Python (numpy) implementation of ferrotune's TPE core.

This module is the fallback used when the native extension is missing or when
``FERROTUNE_BACKEND=python`` is set. It must give *bit-for-bit* the same numbers as
Optuna 5.0's ``TPESampler`` for the same seed, so every numerical routine below follows
the same sequence of floating-point operations (and the same random-number draws) as
Optuna's Parzen estimator and truncated-normal code. Where the order of operations looks
arbitrary, it is deliberate: changing it changes the last bits of the results.

Layout
------
* Scalar normal-CDF helpers (``_ndtr_scalar``, ``_log_ndtr_scalar``) evaluated element
  by element in Python, as Optuna does.
* ``erf``: ``math.erf`` per element for small batches, a vectorised evaluation of the
  FreeBSD ``s_erf.c`` rational approximations for batches of 2000 elements or more.
* Truncated standard normal: ``log_gauss_mass``, ``ndtri_exp``, ``ppf``, ``logpdf``.
* ``ParzenEstimator``: the mixture of product kernels used for the "below" and
  "above" densities, with ``sample`` and ``log_pdf``.
* ``sample_step``: one TPE proposal (draw candidates from "below", keep the one that
  maximises log l(x) - log g(x)).

Internal representation: numerical dimensions hold the parameter value itself (log
dimensions are *not* log-transformed by the caller), categorical dimensions hold the
choice index as a float.

This module deliberately does not import anything from Optuna.
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
from typing import Any, NamedTuple, Sequence

import numpy as np

from ferrotune._space import CATEGORICAL, NUMERICAL, Dim
from ferrotune.exceptions import InvalidArgumentError, SearchSpaceError

__all__ = [
    "ParzenEstimator",
    "sample_step",
    "validate_weights",
    "erf",
    "ndtr",
    "log_ndtr",
    "log_gauss_mass",
    "ndtri_exp",
    "ppf",
    "logpdf",
    "MIN_SIGMA_WITHOUT_MAGIC_CLIP",
    "ERF_VECTORISE_THRESHOLD",
]

# Lower bound on kernel bandwidths when the "magic clip" is disabled.
MIN_SIGMA_WITHOUT_MAGIC_CLIP = 1e-12

# Batches of at least this many elements use the vectorised erf approximation.
ERF_VECTORISE_THRESHOLD = 2000

# Constants. Each one is spelled the way the reference computes it, because e.g.
# log(sqrt(2*pi)) and 0.5*log(2*pi) need not round to the same double.
_ROOT_TWO = 2**0.5
_INV_ROOT_TWO = 1 / 2**0.5
_LOG_ROOT_TWO_PI = math.log(math.sqrt(2 * math.pi))  # log of the N(0,1) density normaliser
_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)  # same quantity, as the tail series spells it
_LOGISTIC_SCALE = math.sqrt(3) / math.pi  # logistic approximation of the normal CDF
_DBL_EPS = sys.float_info.epsilon


# ---------------------------------------------------------------------------------------
# erf
# ---------------------------------------------------------------------------------------
# Rational-approximation coefficients of FreeBSD's lib/msun/src/s_erf.c (Sun Microsystems,
# freely redistributable), stored in increasing powers of the argument. These are the
# published constants of that algorithm; the approximation is evaluated with Horner's rule.

_ERX = 8.45062911510467529297e-01  # erf(1) rounded to single precision, as in s_erf.c
_EFX = 1.28379167095512586316e-01  # 2/sqrt(pi) - 1

# erf(x) = x + x*P(x^2)/Q(x^2) on [2**-28, 0.84375)
_SMALL_NUM = (
    1.28379167095512558561e-01,
    -3.25042107247001499370e-01,
    -2.84817495755985104766e-02,
    -5.77027029648944159157e-03,
    -2.37630166566501626084e-05,
)
_SMALL_DEN = (
    1.0,
    3.97917223959155352819e-01,
    6.50222499887672944485e-02,
    5.08130628187576562776e-03,
    1.32494738004321644526e-04,
    -3.96022827877536812320e-06,
)
# erf(x) = erx + P(x-1)/Q(x-1) on [0.84375, 1.25)
_MID_NUM = (
    -2.36211856075265944077e-03,
    4.14856118683748331666e-01,
    -3.72207876035701323847e-01,
    3.18346619901161753674e-01,
    -1.10894694282396677476e-01,
    3.54783043256182359371e-02,
    -2.16637559486879084300e-03,
)
_MID_DEN = (
    1.0,
    1.06420880400844228286e-01,
    5.40397917702171048937e-01,
    7.18286544141962662868e-02,
    1.26171219808761642112e-01,
    1.36370839120290507362e-02,
    1.19844998467991074170e-02,
)
# erfc(x) = exp(-x^2 - 0.5625 + R(1/x^2)/S(1/x^2)) / x on [1.25, 1/0.35)
_TAIL1_NUM = (
    -9.86494403484714822705e-03,
    -6.93858572707181764372e-01,
    -1.05586262253232909814e01,
    -6.23753324503260060396e01,
    -1.62396669462573470355e02,
    -1.84605092906711035994e02,
    -8.12874355063065934246e01,
    -9.81432934416914548592e00,
)
_TAIL1_DEN = (
    1.0,
    1.96512716674392571292e01,
    1.37657754143519042600e02,
    4.34565877475229228821e02,
    6.45387271733267880336e02,
    4.29008140027567833386e02,
    1.08635005541779435134e02,
    6.57024977031928170135e00,
    -6.04244152148580987438e-02,
)
# same form on [1/0.35, 6)
_TAIL2_NUM = (
    -9.86494292470009928597e-03,
    -7.99283237680523006574e-01,
    -1.77579549177547519889e01,
    -1.60636384855821916062e02,
    -6.37566443368389627722e02,
    -1.02509513161107724954e03,
    -4.83519191608651397019e02,
)
_TAIL2_DEN = (
    1.0,
    3.03380607434824582924e01,
    3.25792512996573918826e02,
    1.53672958608443695994e03,
    3.19985821950859553908e03,
    2.55305040643316442583e03,
    4.74528541206955367215e02,
    -2.24409524465858183362e01,
)
# Interval edges (|x| >= edge means "at least this bin"); |x| >= 6 gives erf = 1.
_ERF_BIN_EDGES = np.array([[2**-28], [0.84375], [1.25], [1 / 0.35]])


def _horner(coeffs: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    """Evaluate sum(coeffs[k] * t**k) as ((c_n*t + c_{n-1})*t + ...) + c_0."""
    acc = coeffs[-1] + t * 0  # a fresh array of the leading coefficient
    for c in coeffs[-2::-1]:
        acc = c + acc * t
    return acc


def _erf_tiny(t: np.ndarray) -> np.ndarray:
    return (1 + _EFX) * t


def _erf_small(t: np.ndarray) -> np.ndarray:
    t2 = t * t
    return t * (1 + _horner(_SMALL_NUM, t2) / _horner(_SMALL_DEN, t2))


def _erf_mid(t: np.ndarray) -> np.ndarray:
    shifted = t - 1
    return _ERX + _horner(_MID_NUM, shifted) / _horner(_MID_DEN, shifted)


def _erf_tail(num: tuple[float, ...], den: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    # s_erf.c splits x*x into a high and a low part (SET_LOW_WORD); that refinement is
    # skipped here on purpose, exactly as in the reference we must match.
    t2 = t * t
    inv = 1 / t2
    return 1 - np.exp(-t2 - 0.5625 + _horner(num, inv) / _horner(den, inv)) / t


_ERF_PIECES = (
    _erf_tiny,
    _erf_small,
    _erf_mid,
    functools.partial(_erf_tail, _TAIL1_NUM, _TAIL1_DEN),
    functools.partial(_erf_tail, _TAIL2_NUM, _TAIL2_DEN),
)


def _erf_vectorised(x: np.ndarray) -> np.ndarray:
    magnitude = np.abs(x).ravel()
    finite_or_inf = ~np.isnan(magnitude)
    result = np.where(finite_or_inf, 1.0, np.nan)
    todo = np.nonzero(finite_or_inf & (magnitude < 6))[0]
    t = magnitude[todo]
    piece_of = np.count_nonzero(t >= _ERF_BIN_EDGES, axis=0)
    partial = np.empty_like(t)
    for k, piece in enumerate(_ERF_PIECES):
        members = np.nonzero(piece_of == k)[0]
        if members.size:
            partial[members] = piece(t[members])
    result[todo] = partial
    return np.sign(x) * result.reshape(x.shape)


def erf(x: Any) -> np.ndarray:
    """Error function of an array.

    Fewer than ``ERF_VECTORISE_THRESHOLD`` elements: ``math.erf`` (the C library) per
    element. More: the vectorised FreeBSD approximation. The two may differ in the last ulp,
    and which one is used is part of the reference behaviour, so the switch is kept.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size < ERF_VECTORISE_THRESHOLD:
        return np.asarray([math.erf(v) for v in x.ravel()]).reshape(x.shape)
    return _erf_vectorised(x)


# ---------------------------------------------------------------------------------------
# Normal CDF and its logarithm
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _ndtr_scalar(v: float) -> float:
    """Phi(v) with erfc in the tails to keep relative accuracy."""
    t = v / _ROOT_TWO
    if t < -_INV_ROOT_TWO:
        return 0.5 * math.erfc(-t)
    if t < _INV_ROOT_TWO:
        return 0.5 + 0.5 * math.erf(t)
    return 1.0 - 0.5 * math.erfc(t)


@functools.lru_cache(maxsize=1024)
def _log_ndtr_scalar(v: float) -> float:
    """log Phi(v)."""
    if v > 6:
        # Phi(v) = 1 - Phi(-v) and log(1 - e) ~ -e for the tiny e involved.
        return -_ndtr_scalar(-v)
    if v > -20:
        return math.log(_ndtr_scalar(v))
    # Far left tail: Phi(v) ~ phi(v)/(-v) * (1 - 1/v^2 + 3/v^4 - 15/v^6 + ...). Sum the
    # asymptotic series until it stops changing.
    try:
        v_squared = v**2
    except OverflowError:
        # |v| > ~1.3e154: Python's float power raises where IEEE arithmetic would give
        # inf; the IEEE result of the formula below is -inf, so return that.
        return -math.inf
    log_lead = -0.5 * v_squared - math.log(-v) - _HALF_LOG_TWO_PI
    inv_v2 = 1 / v_squared
    series = 1.0
    previous = 0.0
    double_factorial = 1.0
    power = 1.0
    sign = 1
    k = 0
    while abs(previous - series) > _DBL_EPS:
        k += 1
        previous = series
        sign = -sign
        power *= inv_v2
        double_factorial *= 2 * k - 1
        series += sign * double_factorial * power
    return log_lead + math.log(series)


_log_ndtr_ufunc = np.frompyfunc(_log_ndtr_scalar, 1, 1)


def log_ndtr(a: Any) -> np.ndarray:
    """log Phi(a), element by element."""
    return _log_ndtr_ufunc(np.asarray(a, dtype=np.float64)).astype(np.float64)


def ndtr(a: Any) -> np.ndarray:
    """Phi(a) through ``erf`` (used only where Phi is moderate, i.e. central masses)."""
    a = np.asarray(a, dtype=np.float64)
    return 0.5 + 0.5 * erf(a / _ROOT_TWO)


def _log_sub(log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """log(exp(log_p) - exp(log_q)) for log_p >= log_q."""
    return log_p + np.log1p(-np.exp(log_q - log_p))


def _log_mass_left_tail(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return _log_sub(log_ndtr(hi), log_ndtr(lo))


def log_gauss_mass(a: Any, b: Any) -> np.ndarray:
    """log(Phi(b) - Phi(a)), the log N(0,1) probability of [a, b].

    Intervals entirely right of zero are mirrored to the left, where log Phi is accurate;
    intervals containing zero use log1p of the two tail masses.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    on_left = b <= 0
    on_right = a > 0
    straddling = ~(on_left | on_right)
    result = np.full(a.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if on_left.any():
            result[on_left] = _log_mass_left_tail(a[on_left], b[on_left])
        if on_right.any():
            result[on_right] = _log_mass_left_tail(-b[on_right], -a[on_right])
        if straddling.any():
            result[straddling] = np.log1p(-ndtr(a[straddling]) - ndtr(-b[straddling]))
    return result


def ndtri_exp(y: Any) -> np.ndarray:
    """Inverse of log Phi: the x with log Phi(x) == y, by Newton's method.

    Values of y near 0 are handled through the mirrored problem log Phi(-x) =
    log(1 - exp(y)). The starting point is the Gaussian tail asymptote for very negative
    targets and a logistic approximation of Phi otherwise. All elements iterate together
    and stop together, once every step is below 1e-8 relative (at most 100 steps).
    """
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mirrored = y > -1e-2
        target = y.copy()
        target[mirrored] = np.log(-np.expm1(y[mirrored]))
        x = np.empty_like(y)
        deep = np.nonzero(target < -5)
        if deep[0].size:
            x[deep] = -np.sqrt(-2.0 * (target[deep] + _LOG_ROOT_TWO_PI))
        shallow = np.nonzero(target >= -5)
        if shallow[0].size:
            x[shallow] = -_LOGISTIC_SCALE * np.log(np.expm1(-target[shallow]))
        for _ in range(100):
            log_cdf = log_ndtr(x)
            log_density = -0.5 * x**2 - _LOG_ROOT_TWO_PI
            # Newton step on f(x) = log Phi(x) - target, f'(x) = phi(x) / Phi(x).
            step = (log_cdf - target) * np.exp(log_cdf - log_density)
            x -= step
            if np.all(np.abs(step) < 1e-8 * np.abs(x)):
                break
        x[mirrored] *= -1
    return x


def ppf(q: Any, a: Any, b: Any) -> np.ndarray:
    """Quantile function of N(0,1) truncated to [a, b].

    Solves Phi(x) = Phi(a) + q * (Phi(b) - Phi(a)) in log space; when a >= 0 the problem
    is mirrored (x -> -x) so the work happens in the accurate left tail.
    """
    q, a, b = np.atleast_1d(
        np.asarray(q, dtype=np.float64), np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    )
    q, a, b = np.broadcast_arrays(q, a, b)
    use_left = a < 0
    use_right = ~use_left
    log_mass = log_gauss_mass(a, b)
    result = np.empty(q.shape, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if use_left.any():
            log_cdf = np.logaddexp(
                log_ndtr(a[use_left]), np.log(q[use_left]) + log_mass[use_left]
            )
            result[use_left] = ndtri_exp(log_cdf)
        if use_right.any():
            log_sf = np.logaddexp(
                log_ndtr(-b[use_right]), np.log1p(-q[use_right]) + log_mass[use_right]
            )
            result[use_right] = -ndtri_exp(log_sf)
    at_zero = q == 0
    result[at_zero] = a[at_zero]
    at_one = q == 1
    result[at_one] = b[at_one]
    result[a == b] = np.nan
    return result


def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> np.ndarray:
    """Log density of N(loc, scale^2) truncated to [loc + a*scale, loc + b*scale].

    ``a`` and ``b`` are standardised bounds. Outside them the result is -inf; a
    degenerate interval (a == b) gives NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (np.asarray(x, dtype=np.float64) - loc) / scale
        z, a, b = np.atleast_1d(z, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        density = -(z**2) / 2.0 - _LOG_ROOT_TWO_PI
        value = density - log_gauss_mass(a, b) - np.log(scale)
        z, a, b = np.broadcast_arrays(z, a, b)
        outside = (z < a) | (z > b)
        return np.where(a == b, np.nan, np.where(outside, -np.inf, value))


# ---------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_flag(v: Any) -> bool:
    """A bool, numpy bool, or the integers 0/1."""
    return isinstance(v, (bool, np.bool_)) or (_is_int(v) and v in (0, 1))


def _as_real(name: str, v: Any) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise InvalidArgumentError(f"{name} must be a real number, got {v!r}.")
    return float(v)


def _checked_dims(dims: Any) -> tuple[Dim, ...]:
    try:
        items = list(dims)
    except TypeError:
        raise SearchSpaceError(f"dims must be a sequence of Dim records, got {dims!r}.") from None
    if not items:
        raise SearchSpaceError("The search space is empty (no dimensions).")
    out = []
    for j, raw in enumerate(items):
        try:
            dim = raw if isinstance(raw, Dim) else Dim(*raw)
        except TypeError:
            raise SearchSpaceError(f"Dimension {j}: not a Dim record: {raw!r}.") from None
        if dim.kind == CATEGORICAL:
            if not _is_int(dim.n_choices) or dim.n_choices < 1:
                raise SearchSpaceError(
                    f"Dimension {j}: a categorical dimension needs n_choices >= 1, got {dim.n_choices!r}."
                )
        elif dim.kind == NUMERICAL:
            try:
                low, high, step = float(dim.low), float(dim.high), float(dim.step)
            except (TypeError, ValueError):
                raise SearchSpaceError(f"Dimension {j}: low/high/step must be numbers: {dim!r}.") from None
            if not (math.isfinite(low) and math.isfinite(high)):
                raise SearchSpaceError(f"Dimension {j}: bounds must be finite, got [{low}, {high}].")
            if not math.isfinite(step) or step < 0:
                raise SearchSpaceError(f"Dimension {j}: step must be finite and >= 0, got {step}.")
            if step == 0.0 and not low < high:
                raise SearchSpaceError(
                    f"Dimension {j}: a continuous dimension needs low < high, got [{low}, {high}]."
                )
            if step > 0.0 and not low <= high:
                raise SearchSpaceError(f"Dimension {j}: needs low <= high, got [{low}, {high}].")
            if not _is_flag(dim.log):
                raise SearchSpaceError(f"Dimension {j}: log must be a bool, got {dim.log!r}.")
            if dim.log and not low - step / 2 > 0:
                raise SearchSpaceError(
                    f"Dimension {j}: a log dimension needs low - step/2 > 0, got low={low}, step={step}."
                )
            dim = Dim(NUMERICAL, low, high, step, bool(dim.log), dim.n_choices)
        else:
            raise SearchSpaceError(f"Dimension {j}: unknown kind {dim.kind!r}.")
        out.append(dim)
    return tuple(out)


def _as_matrix(name: str, values: Any, n_dims: int) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a numeric array.") from None
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, n_dims)
    if arr.ndim != 2 or arr.shape[1] != n_dims:
        raise InvalidArgumentError(
            f"{name} must have shape (n, {n_dims}), got {arr.shape}."
        )
    return arr


def _check_points(name: str, arr: np.ndarray, dims: Sequence[Dim]) -> None:
    """Observations or query points: finite, valid choice indices, positive log values."""
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"{name} contains NaN or infinite values.")
    for j, dim in enumerate(dims):
        col = arr[:, j]
        if dim.kind == CATEGORICAL:
            bad = (col != np.floor(col)) | (col < 0) | (col >= dim.n_choices)
            if np.any(bad):
                raise InvalidArgumentError(
                    f"{name}[:, {j}] must hold choice indices in [0, {dim.n_choices}); "
                    f"got e.g. {col[bad][:5].tolist()}."
                )
        elif dim.log:
            bad = col - dim.step / 2 <= 0
            if np.any(bad):
                raise InvalidArgumentError(
                    f"{name}[:, {j}] belongs to a log dimension and must exceed step/2 = "
                    f"{dim.step / 2}; got e.g. {col[bad][:5].tolist()}."
                )


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, np.random.RandomState):
        raise InvalidArgumentError(
            f"rng must be a numpy.random.RandomState (legacy MT19937 stream), got {type(rng).__name__}."
        )


def validate_weights(w: Any, n: int) -> np.ndarray:
    """Check a user weight function's output for ``n`` observations, as Optuna does.

    The result is truncated to ``n`` entries and returned as float64. Negative, all-zero
    (when ``n > 0``) or non-finite weights raise ``InvalidArgumentError``; so do too few
    entries or a non-1-D result.
    """
    if not _is_int(n) or n < 0:
        raise InvalidArgumentError(f"n must be a non-negative integer, got {n!r}.")
    try:
        arr = np.array(w, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"The weights function must return numbers, got {w!r}.") from None
    if arr.ndim != 1:
        raise InvalidArgumentError(f"The weights function must return a 1-D sequence, got shape {arr.shape}.")
    arr = arr[:n]
    if arr.shape[0] < n:
        raise InvalidArgumentError(
            f"The weights function returned {arr.shape[0]} values for {n} observations."
        )
    if np.any(arr < 0):
        raise InvalidArgumentError(f"The weights function returned negative values {arr} (n={n}).")
    if len(arr) > 0 and np.sum(arr) <= 0:
        raise InvalidArgumentError(f"The weights function returned all-zero values {arr} (n={n}).")
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(f"The weights function returned infinite or NaN values {arr} (n={n}).")
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------------------------------
# Parzen estimator
# ---------------------------------------------------------------------------------------


class _NumericKernels(NamedTuple):
    """Truncated (log-)normal kernels of one numerical dimension, one per component."""

    mus: np.ndarray  # (K,) centres in the working (possibly log) scale; the prior is last
    sigmas: np.ndarray  # (K,)
    trunc_low: float  # truncation bounds in the working scale (step-widened)
    trunc_high: float
    low: float  # original bounds and step, for snapping samples
    high: float
    step: float  # 0.0 for continuous
    log: bool


class _CategoricalKernels(NamedTuple):
    """Choice probabilities of one categorical dimension: row k is component k."""

    probs: np.ndarray  # (K, n_choices)


def _unique_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (first, second) pairs of two 1-D arrays and the map back to the input.

    Pairs are compared with ``!=``, so NaNs never merge while -0.0 and 0.0 do. Only the
    set of pairs matters to callers (element-wise maths plus a size-dependent erf switch).
    """
    n = first.shape[0]
    order = np.lexsort((second, first))
    f_sorted = first[order]
    s_sorted = second[order]
    starts = np.empty(n, dtype=bool)
    starts[:1] = True
    starts[1:] = (f_sorted[1:] != f_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    back = np.empty(n, dtype=np.intp)
    back[order] = np.cumsum(starts) - 1
    return f_sorted[starts], s_sorted[starts], back


def _log_gauss_mass_dedup(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log_gauss_mass`` evaluated once per distinct (a, b) pair."""
    ua, ub, back = _unique_pairs(a.ravel(), b.ravel())
    return log_gauss_mass(ua, ub)[back].reshape(a.shape)


def _numeric_kernels(
    dim: Dim, column: np.ndarray, consider_magic_clip: bool, consider_endpoints: bool
) -> _NumericKernels:
    n_obs = column.shape[0]
    lo, hi = dim.low, dim.high
    stepped = dim.step != 0.0
    if stepped:
        lo -= dim.step / 2
        hi += dim.step / 2
    centres = column
    if dim.log:
        centres = np.log(column)
        lo = np.log(lo)
        hi = np.log(hi)

    # Bandwidth of each observation: the larger gap to its neighbours in sorted order,
    # the widened bounds acting as neighbours. Sorting uses numpy's default (unstable)
    # argsort, so tied observations are paired with gaps exactly as the reference does.
    rank_order = np.argsort(centres)
    padded = np.empty(n_obs + 2, dtype=float)
    padded[0] = lo
    padded[1:-1] = centres[rank_order]
    padded[-1] = hi
    gap_left = padded[1:-1] - padded[0:-2]
    gap_right = padded[2:] - padded[1:-1]
    bw_sorted = np.maximum(gap_left, gap_right)
    if not consider_endpoints and padded.shape[0] >= 4:
        # The outermost observations look inwards only.
        bw_sorted[0] = padded[2] - padded[1]
        bw_sorted[-1] = padded[-2] - padded[-3]
    bandwidths = bw_sorted[np.argsort(rank_order)]

    widest = hi - lo
    if consider_magic_clip:
        n_components = n_obs + 1
        narrowest = (hi - lo) / min(100.0, (1.0 + n_components))
    else:
        narrowest = MIN_SIGMA_WITHOUT_MAGIC_CLIP
    bandwidths = np.asarray(np.clip(bandwidths, narrowest, widest))

    # The prior component: centred, as wide as the (widened, transformed) range.
    mus = np.append(centres, [0.5 * (lo + hi)])
    sigmas = np.append(bandwidths, [hi - lo])

    if stepped:
        t_lo, t_hi = dim.low - dim.step / 2, dim.high + dim.step / 2
    else:
        t_lo, t_hi = dim.low, dim.high
    if dim.log:
        t_lo, t_hi = math.log(t_lo), math.log(t_hi)
    return _NumericKernels(mus, sigmas, t_lo, t_hi, dim.low, dim.high, dim.step, dim.log)


def _snap_to_grid(values: np.ndarray, low: np.ndarray, high: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Nearest grid point low + k*step (exact halves round to even k), clipped to [low, high]."""
    return np.clip(low + np.round((values - low) / step) * step, low, high)


def _categorical_kernels(dim: Dim, column: np.ndarray, prior_weight: float) -> _CategoricalKernels:
    k = dim.n_choices
    n_obs = column.shape[0]
    if n_obs == 0:
        return _CategoricalKernels(np.full((1, k), fill_value=1.0 / k))
    n_components = n_obs + 1
    # Every row starts from the same smoothing mass; observation rows add 1 at their choice.
    probs = np.full((n_components, k), fill_value=prior_weight / n_components)
    probs[np.arange(n_obs), column.astype(int)] += 1
    totals = probs.sum(axis=1, keepdims=True)
    probs /= np.where(totals == 0, 1, totals)
    return _CategoricalKernels(probs)


class ParzenEstimator:
    """Mixture of product kernels over a mixed search space (TPE's l(x) or g(x)).

    Component i (i < n_obs) is centred on observation i; the last component is the prior.
    All dimensions share the component index, so a sample draws one component and then one
    value per dimension from that component's kernels.

    Parameters
    ----------
    dims : the search space, one ``Dim`` per column.
    obs : ``(n_obs, d)`` observations in the internal representation.
    weights : ``(n_obs,)`` raw observation weights (see ``validate_weights``), prior excluded.
    prior_weight : weight of the prior component (finite, >= 0).
    consider_magic_clip : clip bandwidths to [range / min(100, n_obs + 2), range].
    consider_endpoints : let the bounds act as neighbours of the outermost observations.
    """

    def __init__(
        self,
        dims: Sequence[Dim],
        obs: np.ndarray,
        weights: np.ndarray,
        prior_weight: float,
        consider_magic_clip: bool,
        consider_endpoints: bool,
    ) -> None:
        self.dims = _checked_dims(dims)
        n_dims = len(self.dims)
        obs = _as_matrix("obs", obs, n_dims)
        _check_points("obs", obs, self.dims)
        n_obs = obs.shape[0]
        try:
            raw = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgumentError("weights must be a numeric array.") from None
        if raw.ndim == 0 or raw.shape != (n_obs,):
            raise InvalidArgumentError(f"weights must have shape ({n_obs},), got {raw.shape}.")
        if not np.all(np.isfinite(raw)) or np.any(raw < 0):
            raise InvalidArgumentError("weights must be finite and non-negative.")
        if n_obs > 0 and np.sum(raw) <= 0:
            raise InvalidArgumentError("weights must not be all zero.")
        prior_weight = _as_real("prior_weight", prior_weight)
        if not math.isfinite(prior_weight) or prior_weight < 0:
            raise InvalidArgumentError(f"prior_weight must be finite and >= 0, got {prior_weight}.")
        if not _is_flag(consider_magic_clip) or not _is_flag(consider_endpoints):
            raise InvalidArgumentError("consider_magic_clip and consider_endpoints must be bools.")

        if n_obs == 0:
            mixture = np.array([1.0])
        else:
            mixture = np.append(raw, [prior_weight])
        total = mixture.sum()
        if not math.isfinite(total):
            raise InvalidArgumentError("The sum of the weights overflows.")
        mixture /= total
        self.weights = mixture
        self.prior_weight = prior_weight
        self.n_obs = n_obs

        kernels: list[_NumericKernels | _CategoricalKernels] = []
        for j, dim in enumerate(self.dims):
            # A contiguous copy of the column, the memory layout the reference works on.
            column = np.ascontiguousarray(obs[:, j])
            if dim.kind == CATEGORICAL:
                kernels.append(_categorical_kernels(dim, column, prior_weight))
            else:
                kernels.append(
                    _numeric_kernels(dim, column, bool(consider_magic_clip), bool(consider_endpoints))
                )
        self.kernels = kernels

    @property
    def n_components(self) -> int:
        return len(self.weights)

    # -- sampling ---------------------------------------------------------------------

    def sample(self, rng: np.random.RandomState, size: int) -> np.ndarray:
        """Draw ``size`` points, shape ``(size, d)``, in the internal representation.

        Random draws, in order: the component of every point; one uniform per point for
        each categorical dimension (in dimension order); one uniform per point and
        numerical dimension, as a single (n_numerical, size) block.
        """
        _check_rng(rng)
        if not _is_int(size) or size < 0:
            raise InvalidArgumentError(f"size must be a non-negative integer, got {size!r}.")
        return self._sample(rng, int(size))

    def _sample(self, rng: np.random.RandomState, size: int) -> np.ndarray:
        picked = rng.choice(len(self.weights), p=self.weights, size=size)
        out = np.empty((size, len(self.kernels)), dtype=float)

        num_cols: list[int] = []
        num_kernels: list[_NumericKernels] = []
        for j, kern in enumerate(self.kernels):
            if isinstance(kern, _CategoricalKernels):
                u = rng.rand(size)
                cdf = np.cumsum(kern.probs[picked, :], axis=-1)
                cdf[:, -1] = 1  # guard against rounding in the last partial sum
                out[:, j] = np.sum(cdf < u[:, np.newaxis], axis=-1)
            else:
                num_cols.append(j)
                num_kernels.append(kern)
        if not num_cols:
            return out

        centre = np.asarray([k.mus[picked] for k in num_kernels])  # (n_num, size)
        width = np.asarray([k.sigmas[picked] for k in num_kernels])
        t_lows = np.asarray([k.trunc_low for k in num_kernels])
        t_highs = np.asarray([k.trunc_high for k in num_kernels])
        a = (t_lows[:, np.newaxis] - centre) / width
        b = (t_highs[:, np.newaxis] - centre) / width
        u = rng.uniform(low=0, high=1, size=np.broadcast(a, b, centre, width).shape)
        out[:, num_cols] = (ppf(u, a, b) * width + centre).T

        log_cols = [j for j, k in zip(num_cols, num_kernels) if k.log]
        if log_cols:
            out[:, log_cols] = np.exp(out[:, log_cols])
        grid = [(j, k) for j, k in zip(num_cols, num_kernels) if k.step != 0.0]
        if grid:
            g_cols = [j for j, _ in grid]
            g_step = np.asarray([k.step for _, k in grid])
            g_low = np.asarray([k.low for _, k in grid])
            g_high = np.asarray([k.high for _, k in grid])
            out[:, g_cols] = _snap_to_grid(out[:, g_cols], g_low, g_high, g_step)
        return out

    # -- density ----------------------------------------------------------------------

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of the mixture at each row of ``x`` (shape ``(n, d)``) -> ``(n,)``.

        Log dimensions are scored on the log scale without a Jacobian term (it cancels in
        the TPE ratio), stepped dimensions by the kernel mass of the grid cell.
        """
        x = _as_matrix("x", x, len(self.dims))
        _check_points("x", x, self.dims)
        return self._log_pdf(x)

    def _log_pdf(self, x: np.ndarray) -> np.ndarray:
        n_points = x.shape[0]
        per_comp = np.zeros((n_points, len(self.weights)), dtype=np.float64)
        cont_kernels: list[_NumericKernels] = []
        cont_values: list[np.ndarray] = []
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for j, kern in enumerate(self.kernels):
                column = np.ascontiguousarray(x[:, j])
                if isinstance(kern, _CategoricalKernels):
                    per_comp += np.log(kern.probs.T[column.astype(np.int64)])
                elif kern.step == 0.0:
                    cont_kernels.append(kern)
                    cont_values.append(np.log(column) if kern.log else column)
                else:
                    cell, normaliser = self._grid_log_mass(kern, column)
                    per_comp += cell
                    per_comp -= normaliser

            if cont_kernels:
                mus = np.asarray([k.mus for k in cont_kernels]).T  # (K, n_cont)
                sigmas = np.asarray([k.sigmas for k in cont_kernels]).T
                t_lows = np.asarray([k.trunc_low for k in cont_kernels])
                t_highs = np.asarray([k.trunc_high for k in cont_kernels])
                per_comp += logpdf(
                    np.asarray(cont_values).T[:, np.newaxis, :],
                    a=(t_lows - mus) / sigmas,
                    b=(t_highs - mus) / sigmas,
                    loc=mus,
                    scale=sigmas,
                ).sum(axis=-1)

            per_comp += np.log(self.weights[np.newaxis])
            # log-sum-exp over components; an all -inf row keeps shift 0 to avoid inf - inf.
            shift = per_comp.max(axis=1)
            shift[np.isneginf(shift)] = 0
            return np.log(np.exp(per_comp - shift[:, None]).sum(axis=1)) + shift

    @staticmethod
    def _grid_log_mass(
        kern: _NumericKernels, column: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Log kernel masses for a stepped dimension, returned as ``(cell, normaliser)``.

        ``cell`` (n, K): log mass, under each kernel, of each point's grid cell
        [x - step/2, x + step/2] (log-transformed for log dimensions). ``normaliser`` (K,):
        log mass of each kernel over the step-widened range. Distinct points, distinct
        (mu, sigma) kernels and distinct standardised cells are evaluated once each.
        """
        points, point_back = np.unique(column, return_inverse=True)
        mu_u, sd_u, kern_back = _unique_pairs(kern.mus, kern.sigmas)
        half = kern.step / 2
        if kern.log:
            left, right = np.log(points - half), np.log(points + half)
        else:
            left, right = points - half, points + half
        if points.size:
            cell = _log_gauss_mass_dedup(
                (left[:, np.newaxis] - mu_u) / sd_u, (right[:, np.newaxis] - mu_u) / sd_u
            )[np.ix_(point_back, kern_back)]
        else:
            cell = np.zeros((0, len(kern.mus)))
        # Subtracted as a separate step (not folded into one expression): the rounding
        # of the running sum must match the reference.
        normaliser = log_gauss_mass(
            (kern.trunc_low - mu_u) / sd_u, (kern.trunc_high - mu_u) / sd_u
        )[kern_back]
        return cell, normaliser


# ---------------------------------------------------------------------------------------
# One TPE step
# ---------------------------------------------------------------------------------------


def sample_step(
    dims: Sequence[Dim],
    below: np.ndarray,
    below_weights: np.ndarray,
    above: np.ndarray,
    above_weights: np.ndarray,
    prior_weight: float,
    consider_magic_clip: bool,
    consider_endpoints: bool,
    n_candidates: int,
    rng: np.random.RandomState,
) -> np.ndarray:
    """One TPE proposal, shape ``(d,)`` in the internal representation.

    Builds l(x) from the "below" observations and g(x) from the "above" ones, draws
    ``n_candidates`` points from l and returns the first one maximising
    log l(x) - log g(x).
    """
    if not _is_int(n_candidates) or n_candidates < 1:
        raise InvalidArgumentError(f"n_candidates must be an integer >= 1, got {n_candidates!r}.")
    _check_rng(rng)
    good = ParzenEstimator(dims, below, below_weights, prior_weight, consider_magic_clip, consider_endpoints)
    bad = ParzenEstimator(dims, above, above_weights, prior_weight, consider_magic_clip, consider_endpoints)
    candidates = good._sample(rng, int(n_candidates))
    score = good._log_pdf(candidates) - bad._log_pdf(candidates)
    return candidates[int(np.argmax(score))].copy()
