"""Exceptions raised by ferrotune, whichever backend (Rust or pure Python) is active."""

from __future__ import annotations


class FerrotuneError(Exception):
    """Base class of every ferrotune-specific error."""


class SearchSpaceError(FerrotuneError, ValueError):
    """A search space or distribution that ferrotune cannot handle."""


class InvalidArgumentError(FerrotuneError, ValueError):
    """An argument with a bad value (wrong range, contradictory options, NaN, ...)."""


class BackendUnavailableError(FerrotuneError, ImportError):
    """The requested backend (``FERROTUNE_BACKEND=rust``) cannot be loaded."""


class NativeBuildMismatchError(FerrotuneError, ImportError):
    """The compiled native module does not match the Python package version (a stale build)."""


__all__ = [
    "FerrotuneError",
    "SearchSpaceError",
    "InvalidArgumentError",
    "BackendUnavailableError",
    "NativeBuildMismatchError",
]
