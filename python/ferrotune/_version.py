"""The package version. It lives in one place, the Cargo workspace (`Cargo.toml`); maturin copies
it into the package metadata, and the native module carries it from the same source."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("ferrotune")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "unknown"
