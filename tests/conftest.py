from __future__ import annotations

import sys
import warnings
from pathlib import Path

import optuna
import pytest

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Helper modules next to the tests (``_native``) are importable whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _quiet_optuna_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
