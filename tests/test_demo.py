"""Smoke tests of ``python -m ferrotune demo``, ``benches/bench_tpe.py`` and
``benches/bench_bohb_speed.py`` (run as subprocesses).

The subprocesses inherit the environment (so ``FERROTUNE_BACKEND`` applies to them too) and
import the same ferrotune package as this test process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ferrotune

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benches" / "bench_tpe.py"
TIMEOUT = 180  # generous hard stop; each run normally takes well under 30 s

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None


def _env() -> dict[str, str]:
    """The environment for a subprocess that imports the very ferrotune this process imported."""
    env = dict(os.environ)
    package_root = str(Path(ferrotune.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=str(REPO / "tests"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


@pytest.mark.skipif(
    not HAS_SKLEARN, reason="the demo needs scikit-learn (pip install 'ferrotune[demo]')"
)
def test_demo_quick_runs_and_compares_both_samplers() -> None:
    proc = _run(["-m", "ferrotune", "demo", "--quick"])
    assert proc.returncode == 0, _explain(proc)
    out = proc.stdout

    assert f"backend: {ferrotune.get_backend()}" in out, _explain(proc)
    # Both studies report progress ...
    for label in ("ferrotune TPE", "optuna TPE"):
        assert re.search(rf"{label}\s+trial\s+\d+/\d+ .* best ", out), _explain(proc)
    # ... and the side-by-side summary has each sampler's best score and sampler time.
    header = next(
        line for line in out.splitlines() if "ferrotune TPE" in line and "optuna TPE" in line
    )
    assert header.index("ferrotune TPE") < header.index("optuna TPE")
    for row in ("best CV accuracy", "time inside sampler", "total wall time", "best params:"):
        line = next((line for line in out.splitlines() if line.strip().startswith(row)), None)
        assert line is not None, f"missing row {row!r}\n{_explain(proc)}"
    best = next(line for line in out.splitlines() if line.strip().startswith("best CV accuracy"))
    scores = [float(tok) for tok in best.split()[3:]]
    assert len(scores) == 2 and all(0.5 < s <= 1.0 for s in scores), best
    sampler = next(
        line for line in out.splitlines() if line.strip().startswith("time inside sampler")
    )
    assert len(re.findall(r"\d (?:ms|s)\b", sampler)) == 2, sampler
    assert "Time inside the sampler: ferrotune is" in out
    # The synthetic phase ran too.
    assert "Phase 2" in out and "median sampler ms / trial" in out


def test_demo_without_sklearn_fails_with_a_clear_message() -> None:
    # Hide scikit-learn from the child (a None entry in sys.modules makes the import fail).
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "from ferrotune.__main__ import main\n"
        "sys.exit(main(['demo', '--quick']))\n"
    )
    proc = _run(["-c", code])
    assert proc.returncode != 0, _explain(proc)
    assert "scikit-learn" in proc.stderr and "pip install" in proc.stderr, _explain(proc)


def test_cli_without_command_prints_help() -> None:
    proc = _run(["-m", "ferrotune"])
    assert proc.returncode == 2, _explain(proc)
    assert "demo" in proc.stdout


def test_bench_tpe_prints_table_with_three_samplers(tmp_path: Path) -> None:
    json_path = tmp_path / "bench.json"
    proc = _run(
        [
            str(BENCH),
            "--trials",
            "30",
            "--checkpoints",
            "20,30",
            "--window",
            "10",
            "--json",
            str(json_path),
        ]
    )
    assert proc.returncode == 0, _explain(proc)
    lines = proc.stdout.splitlines()

    header = next((line for line in lines if line.startswith("| trials")), None)
    assert header is not None, _explain(proc)
    for label in (
        "ferrotune TPE",
        "Optuna TPE",
        "Optuna Random",
        "ours / Optuna TPE",
        "ours / Random",
    ):
        assert label in header, header
    rows = [line for line in lines if line.startswith("| 20 ") or line.startswith("| 30 ")]
    assert len(rows) == 2, _explain(proc)
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 7, row
        assert all(cell.endswith(" ms") for cell in cells[2:5]), row
        ratios = [float(cell) for cell in cells[5:]]
        assert all(ratio > 0 for ratio in ratios), row

    data = json.loads(json_path.read_text())
    assert set(data["samplers"]) == {"ferrotune-tpe", "optuna-tpe", "random"}
    assert data["samplers"]["ferrotune-tpe"]["checkpoints"]["30"]["window"] == [21, 30]


def test_bench_tpe_stops_optuna_early(tmp_path: Path) -> None:
    proc = _run(
        [
            str(BENCH),
            "--trials",
            "30",
            "--checkpoints",
            "10,30",
            "--optuna-max-trials",
            "15",
            "--quiet",
        ]
    )
    assert proc.returncode == 0, _explain(proc)
    row_10 = next(line for line in proc.stdout.splitlines() if line.startswith("| 10 "))
    row_30 = next(line for line in proc.stdout.splitlines() if line.startswith("| 30 "))
    assert "stopped at 15" not in row_10
    assert "stopped at 15" in row_30


def test_bench_bohb_speed_prints_both_tables() -> None:
    proc = _run(
        [
            str(REPO / "benches" / "bench_bohb_speed.py"),
            "--trials", "40", "--checkpoints", "20,40",
            "--jobs", "120", "--job-checkpoints", "60,120", "--window", "10",
        ]
    )
    assert proc.returncode == 0, _explain(proc)
    lines = proc.stdout.splitlines()
    rows = [line for line in lines if line.startswith("| 20 ") or line.startswith("| 40 ")]
    assert len(rows) == 2, _explain(proc)
    for row in rows:
        cells = [float(c) for c in row.strip("|").split("|")[1:]]
        assert len(cells) == 7 and all(c > 0 for c in cells), row
    sched = [line for line in lines if line.startswith("| ferrotune.")]
    assert [line.split("|")[1].strip() for line in sched] == [
        "ferrotune.BOHB (sync)", "ferrotune.BOHB (async)",
        "ferrotune.BOHB, model=kde (sync)", "ferrotune.BOHB, model=kde (async)",
        "ferrotune.Hyperband (sync)", "ferrotune.Hyperband (async)",
    ]
    for line in sched:
        for cell in line.strip("|").split("|")[1:]:
            median, mean = (float(v) for v in cell.split("/"))
            assert median >= 0 and mean >= 0, line  # printed to 1 us: may round to 0


def test_bench_bohb_prints_the_quality_table_with_bohb_options() -> None:
    proc = _run(
        [
            str(REPO / "benches" / "bench_bohb.py"),
            "--problems", "hartmann6", "--seeds", "2", "--budget", "12",
            "--methods", "bohb,bohb_sampler,tpe_hb,random", "--bohb-options", "model=kde",
        ]
    )
    assert proc.returncode == 0, _explain(proc)
    assert "ferrotune.BOHB options: {'model': 'kde'}" in proc.stdout
    lines = proc.stdout.splitlines()
    rows = [line for line in lines if line.startswith("| ") and "---" not in line]
    labels = [row.split("|")[1].strip() for row in rows[1:]]
    assert labels == [
        "ferrotune.BOHB (scheduler, restarts from scratch)",
        "ferrotune.BOHB (same runs, promotions resume from a checkpoint)",
        "ferrotune.BOHBSampler + ferrotune.HyperbandPruner",
        "Optuna TPESampler + HyperbandPruner",
        "random search (full budget)",
    ], _explain(proc)
    finals = {}
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        finals[cells[0]] = float(cells[-2])
        assert finals[cells[0]] >= 0.0, row  # regret against Hartmann-6's optimum
    # The target lines: one per BOHB row, each judged against TPE + HB's final regret.
    start = next(i for i, line in enumerate(lines) if line.startswith("Targets:"))
    verdicts = lines[start + 1 : start + 4]
    tpe_final = finals["Optuna TPESampler + HyperbandPruner"]
    for label, line in zip(labels[:3], verdicts):
        assert line.startswith(f"- {label}: fraction "), _explain(proc)
        expected = "(met)" if finals[label] <= tpe_final else "(not met)"
        assert line.endswith(expected), (line, finals)
