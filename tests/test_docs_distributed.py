"""The code of docs/distributed.md runs as written.

Each ```python block preceded by ``<!-- tested: NAME -->`` is written to a file and run in a
fresh interpreter: the PostgreSQL worker script (two processes on one study, needs the server of
tests/run.sh, see tests/test_distributed.py), the Ray Tune example (where ``ray[tune]`` is
installed) and the Dask example (where ``dask[distributed]`` is installed).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

DOC = Path(__file__).resolve().parent.parent / "docs" / "distributed.md"
BLOCK = re.compile(r"<!-- tested: (\w+) -->\n```python\n(.*?)```", re.DOTALL)


def _blocks() -> dict:
    return {name: code for name, code in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def test_doc_has_the_tested_blocks() -> None:
    assert set(_blocks()) == {"worker", "ray", "dask"}


def _postgres_url() -> str:
    url = os.environ.get("FERROTUNE_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("FERROTUNE_REQUIRE_POSTGRES") == "1":
        pytest.fail("FERROTUNE_REQUIRE_POSTGRES=1 but FERROTUNE_TEST_POSTGRES_URL is not set")
    pytest.skip("FERROTUNE_TEST_POSTGRES_URL is not set (tests/run.sh starts a PostgreSQL server)")


def _write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"doc_example_{name}.py"  # not ray.py: it would shadow the package
    path.write_text(_blocks()[name], encoding="utf-8")
    return path


def _run(paths, env: dict, cwd: Path, timeout: float = 600.0):
    full_env = dict(os.environ, **env)
    procs = [
        subprocess.Popen(
            [sys.executable, str(p)],
            env=full_env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p in paths
    ]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=timeout)
        results.append((p.returncode, out))
    return results


def _check_study(url: str, name: str, n: int) -> None:
    trials = optuna.load_study(study_name=name, storage=url).trials
    assert len(trials) == n
    assert sorted(t.number for t in trials) == list(range(n))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys)) == n


def test_worker_script_on_postgres(tmp_path) -> None:
    url = _postgres_url()
    script = _write(tmp_path, "worker")
    name = f"doc-{uuid.uuid4().hex[:10]}"
    env = {"STUDY_STORAGE": url, "STUDY_NAME": name, "N_TRIALS": "12"}
    for rc, out in _run([script, script], env, tmp_path):
        assert rc == 0, out
        assert "worker done" in out
    _check_study(url, name, 24)


def test_ray_tune_example(tmp_path) -> None:
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'ray[tune]' to run the Ray Tune example)")
    script = _write(tmp_path, "ray")
    env = {"RAY_ADDRESS": "local", "RAY_DEDUP_LOGS": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    ((rc, out),) = _run([script], env, tmp_path)
    assert rc == 0, out
    assert "best loss" in out, out


def test_dask_example(tmp_path) -> None:
    if importlib.util.find_spec("dask") is None or importlib.util.find_spec("distributed") is None:
        pytest.skip(
            "dask.distributed is not installed (pip install 'dask[distributed]' to run the "
            "Dask example)"
        )
    url = os.environ.get("FERROTUNE_TEST_POSTGRES_URL") or f"sqlite:///{tmp_path / 'dask.db'}"
    if url.startswith("postgresql"):  # the example's study name, fresh on the shared server
        names = {s.study_name for s in optuna.get_all_study_summaries(storage=url)}
        if "dask-demo" in names:
            optuna.delete_study(study_name="dask-demo", storage=url)
    script = _write(tmp_path, "dask")
    ((rc, out),) = _run([script], {"STUDY_STORAGE": url}, tmp_path)
    assert rc == 0, out
    _check_study(url, "dask-demo", 40)
