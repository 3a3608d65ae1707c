"""Backend selection: the native Rust module (``ferrotune._core``) or the pure-Python fallback.

``FERROTUNE_BACKEND`` picks the backend: ``rust`` (fail loudly if the native module is missing),
``python`` (always the numpy fallback) or ``auto`` (the default: Rust when it can be imported,
otherwise the fallback with a warning that says why).
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any, Protocol, Sequence

import numpy as np

from ferrotune._space import Dim
from ferrotune._version import __version__
from ferrotune.exceptions import (
    BackendUnavailableError,
    InvalidArgumentError,
    NativeBuildMismatchError,
)

ENV_VAR = "FERROTUNE_BACKEND"
_CHOICES = ("auto", "rust", "python")


class FallbackWarning(RuntimeWarning):
    """The native module could not be loaded; the slow pure-Python path is in use."""


class Backend(Protocol):
    name: str

    def split_and_gather(
        self, hist: Any, rows: np.ndarray, n_below: int, cols: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def sample_step(
        self,
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
    ) -> np.ndarray: ...


class RustBackend:
    name = "rust"

    def __init__(self, core: Any) -> None:
        self.core = core
        self.in_place = _in_place_rng_works(core)

    def split_and_gather(
        self, hist: Any, rows: np.ndarray, n_below: int, cols: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _split_and_gather_native(self.core, hist, rows, n_below, cols)

    def sample_step(
        self,
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
        # The random stream is explicit state: numpy's MT19937 state is advanced by Rust in
        # place (or copied in and out), so both backends consume exactly the same numbers.
        args = (
            list(dims),
            np.ascontiguousarray(below, dtype=np.float64),
            np.ascontiguousarray(below_weights, dtype=np.float64),
            np.ascontiguousarray(above, dtype=np.float64),
            np.ascontiguousarray(above_weights, dtype=np.float64),
            float(prior_weight),
            bool(consider_magic_clip),
            bool(consider_endpoints),
            int(n_candidates),
        )
        if self.in_place:
            return self.core.tpe_sample_step_rng(*args, rng)
        state = rng.get_state(legacy=True)
        best, key, pos = self.core.tpe_sample_step(*args, state[1], int(state[2]))
        rng.set_state((state[0], key, pos, state[3], state[4]))
        return best


def _split_and_gather_native(
    core: Any, hist: Any, rows: np.ndarray, n_below: int, cols: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(hist)
    return core.split_and_gather(
        hist.kind.data[:n],
        hist.value.data[:n],
        hist.prune0.data[:n],
        hist.prune1.data[:n],
        hist.infeasible.data[:n],
        hist.number.data[:n],
        np.asarray(rows, dtype=np.int64),
        int(n_below),
        bool(hist.maximize),
        hist.matrix,
        cols,
    )


def _in_place_rng_works(core: Any) -> bool:
    """Check once that the native module reads numpy's MT19937 state in place correctly (the
    struct layout it relies on); otherwise the state is copied in and out (slower, same result)."""
    try:
        probe = np.random.RandomState(12345)
        probe.random_sample(700)  # cross a regeneration of the 624-word block
        twin = np.random.RandomState()
        twin.set_state(probe.get_state())
        ours = core.rng_random_sample(probe, 1000)
        theirs = twin.random_sample(1000)
        after_ours, after_theirs = probe.get_state(), twin.get_state()
    except Exception:
        return False
    return (
        bool(np.array_equal(ours, theirs))
        and bool(np.array_equal(after_ours[1], after_theirs[1]))
        and after_ours[2] == after_theirs[2]
    )


class PythonBackend:
    name = "python"

    def split_and_gather(
        self, hist: Any, rows: np.ndarray, n_below: int, cols: list[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from ferrotune import _history

        below_rows, above_rows = _history.split_rows(hist, rows, n_below)
        below, _ = hist.gather(below_rows, cols)
        above, above_rows = hist.gather(above_rows, cols)
        return below, above, above_rows

    def sample_step(self, *args: Any, **kwargs: Any) -> np.ndarray:
        from ferrotune import _numpy_core

        return _numpy_core.sample_step(*args, **kwargs)


_lock = threading.Lock()
_cache: dict[str, Backend] = {}


def _requested() -> str:
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise InvalidArgumentError(
            f"{ENV_VAR}={choice!r} is not valid; use one of {', '.join(_CHOICES)}."
        )
    return choice


def _load_rust(choice: str) -> Backend | None:
    try:
        from ferrotune import _core  # type: ignore[attr-defined]
    except ImportError as exc:
        if choice == "rust":
            raise BackendUnavailableError(
                f"{ENV_VAR}=rust but the native module ferrotune._core cannot be imported: {exc}. "
                "Build it with `pip install .` (needs a Rust toolchain) or install a wheel."
            ) from exc
        warnings.warn(
            f"ferrotune: the native module ferrotune._core cannot be imported ({exc}); "
            "using the pure-Python fallback, which gives the same results on the slow path. "
            f"Set {ENV_VAR}=python to silence this warning.",
            FallbackWarning,
            stacklevel=3,
        )
        return None
    _raise_if_stale(_core)
    return RustBackend(_core)


def _stale_message(core: Any) -> str | None:
    native_version = getattr(core, "__version__", None)
    if __version__ == "unknown" or native_version == __version__:
        return None
    return (
        f"ferrotune {__version__} found a native module built for version {native_version} "
        f"({getattr(core, '__file__', '?')}): a stale build. Rebuild it with `pip install .` "
        "or `maturin develop`, or delete that file to use the pure-Python fallback."
    )


def _raise_if_stale(core: Any) -> None:
    message = _stale_message(core)
    if message is not None:
        raise NativeBuildMismatchError(message)


def check_native_at_import() -> None:
    """Run by ``import ferrotune``: compare the native module's version with the package's.

    A stale native module is an error right away (``NativeBuildMismatchError``, an
    ``ImportError``) unless ``FERROTUNE_BACKEND=python`` says it will not be used, in which case
    it is only a warning. A missing native module is not checked here: the fallback warning is
    given when a backend is first needed.
    """
    try:
        from ferrotune import _core  # type: ignore[attr-defined]
    except ImportError:
        return
    message = _stale_message(_core)
    if message is None:
        return
    choice = os.environ.get(ENV_VAR, "auto").strip().lower()
    if choice == "python":
        warnings.warn(message + " (ignored: FERROTUNE_BACKEND=python)", FallbackWarning, stacklevel=3)
        return
    raise NativeBuildMismatchError(message)


def get_backend_impl() -> Backend:
    """The active backend object (resolved once per value of ``FERROTUNE_BACKEND``)."""
    choice = _requested()
    backend = _cache.get(choice)
    if backend is not None:
        return backend
    with _lock:
        backend = _cache.get(choice)
        if backend is None:
            loaded = None if choice == "python" else _load_rust(choice)
            backend = loaded if loaded is not None else PythonBackend()
            _cache[choice] = backend
    return backend


def get_backend() -> str:
    """Name of the active backend: ``"rust"`` or ``"python"``."""
    return get_backend_impl().name


def native_available() -> bool:
    try:
        from ferrotune import _core  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        return False
    return True
