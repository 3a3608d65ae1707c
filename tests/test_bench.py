"""`python -m ferrotune.bench`: a tiny run writes the results, report and plots; re-running skips
finished runs (and redoes an interrupted one); bad arguments are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ferrotune.bench.__main__ import main
from ferrotune.bench.runner import run_matrix

ARGS = ["--problems", "branin,mixed", "--samplers", "ferrotune.GA,optuna.Random", "--seeds", "1",
        "--trials", "6", "--quiet"]


def lines(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(x) for x in fh if x.strip()]


def test_tiny_run_report_plots_and_resume(tmp_path, capsys):
    out = str(tmp_path / "res")
    assert main([*ARGS, "--out", out]) == 0
    results = os.path.join(out, "results.jsonl")
    recs = lines(results)
    assert sorted((r["problem"], r["sampler"]) for r in recs) == [
        ("branin", "ferrotune.GA"), ("branin", "optuna.Random"),
        ("mixed", "ferrotune.GA"), ("mixed", "optuna.Random"),
    ]
    for r in recs:
        assert len(r["values"]) == len(r["elapsed"]) == len(r["overhead"]) == 6
        assert r["elapsed"] == sorted(r["elapsed"])
    report = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    assert "## branin" in report and "## mixed" in report
    assert report.count("| ferrotune.GA |") == 2 and report.count("| optuna.Random |") == 2
    for name in ("regret_vs_trials.png", "regret_vs_time.png"):
        with open(os.path.join(out, name), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in report
    capsys.readouterr()

    # Resume: nothing to redo; an interrupted (truncated) line and a missing run are redone.
    assert main([*ARGS, "--out", out]) == 0
    assert "ran 0 runs, skipped 4" in capsys.readouterr().err
    assert len(lines(results)) == 4
    kept = open(results, encoding="utf-8").read().splitlines()
    with open(results, "w", encoding="utf-8") as fh:
        fh.write("\n".join(kept[:3]) + "\n" + kept[3][: len(kept[3]) // 2])
    ran, skipped, _ = run_matrix(["branin", "mixed"], ["ferrotune.GA", "optuna.Random"], [0], 6,
                                 results, quiet=True)
    assert (ran, skipped) == (1, 3)


def test_grid_and_unavailable_problems(tmp_path):
    results = str(tmp_path / "r.jsonl")
    ran, skipped, messages = run_matrix(["branin"], ["optuna.Grid"], [0], 4, results, quiet=True)
    assert (ran, skipped) == (1, 0)
    ran, _, messages = run_matrix(["bbob_f1_d5"], ["optuna.Random"], [0], 3, results, quiet=True)
    try:
        import cocoex  # noqa: F401
    except ImportError:
        assert ran == 0 and any("coco-experiment" in m for m in messages)
    else:
        assert ran == 1 and len(lines(results)[-1]["values"]) == 3


def test_bad_arguments_are_refused(tmp_path):
    for bad in (["--problems", "nope"], ["--samplers", "nope"], ["--trials", "0"]):
        with pytest.raises(SystemExit) as info:
            main([*bad, "--out", str(tmp_path)])
        assert info.value.code == 2


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "ferrotune.bench", "--help"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0 and "--trials" in out.stdout
