"""The native module as the tests see it: ``core`` is ``ferrotune._core``, or None when it cannot
be imported (an error when FERROTUNE_REQUIRE_NATIVE is set, as in CI), and
``needs_native(attr, what)`` is the skip marker of tests that call it directly."""

from __future__ import annotations

import os
from typing import Any, Optional

import pytest

core: Any
try:
    from ferrotune import _core as core
except ImportError:  # pragma: no cover - the CI always builds it
    core = None

if core is None and os.environ.get("FERROTUNE_REQUIRE_NATIVE"):
    raise RuntimeError("FERROTUNE_REQUIRE_NATIVE is set but ferrotune._core cannot be imported")


def needs_native(attr: Optional[str] = None, what: str = "") -> pytest.MarkDecorator:
    """Skip unless the native module is built (and has ``attr``, when given)."""
    missing = core is None or (attr is not None and not hasattr(core, attr))
    return pytest.mark.skipif(missing, reason=f"native module ferrotune._core{what} not built")
