"""`python -m ferrotune.bench`: a tiny run writes the results, report and plots; re-running skips
finished runs (and redoes an interrupted one); bad arguments are refused; the Hyperband methods
prune on the multi-fidelity problems and are charged the budget they ran; the scikit-learn and
bbob problems build and evaluate."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import optuna
import pytest

from ferrotune.bench.__main__ import main
from ferrotune.bench.problems import PROBLEMS, Problem
from ferrotune.bench.report import summarise
from ferrotune.bench.runner import run_matrix, run_one
from ferrotune.bench.samplers import SAMPLERS

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


# --- the pruned methods, the multi-fidelity wrapper and the scikit-learn tasks -----------------



def _toy_mf(calls):
    """A 1-D multi-fidelity problem whose loss at budget b is x + 1/b (so lower budgets look
    worse and the ranking of configurations is the same at every budget); logs every call."""

    def loss_for_seed(seed):
        def loss(params, budget):
            calls.append((params["x"], budget))
            return params["x"] + 1.0 / budget

        return loss

    return Problem(
        "toy_mf", lambda t: {"x": t.suggest_float("x", 0.0, 1.0)}, lambda p: p["x"] + 1.0 / 9,
        0.0, 0.05, None, "toy", max_budget=9, rungs=(1, 3, 9), fidelity=loss_for_seed,
    )


def test_new_methods_are_registered_and_apply_where_they_should():
    assert {"ferrotune.BOHB", "optuna.TPE+Hyperband"} <= set(SAMPLERS)
    mf = _toy_mf([])
    branin = PROBLEMS["branin"]()
    bohb = SAMPLERS["ferrotune.BOHB"](0, mf)
    assert type(bohb["sampler"]).__name__ == "BOHBSampler"
    assert type(bohb["pruner"]).__name__ == "HyperbandPruner"
    tpe_hb = SAMPLERS["optuna.TPE+Hyperband"](0, mf)
    assert isinstance(tpe_hb["pruner"], optuna.pruners.HyperbandPruner)
    assert isinstance(tpe_hb["sampler"], optuna.samplers.TPESampler)
    assert SAMPLERS["optuna.TPE+Hyperband"](0, branin) is None  # nothing to prune there
    assert SAMPLERS["ferrotune.BOHB"](0, branin) is not None


@pytest.mark.parametrize("method", ["ferrotune.BOHB", "optuna.TPE+Hyperband"])
def test_pruned_methods_prune_and_are_charged_the_budget_they_ran(method):
    calls = []
    problem = _toy_mf(calls)
    out = run_one(problem, SAMPLERS[method](0, problem), 12, seed=0)
    costs, values = out["costs"], out["values"]
    assert len(costs) == len(values) == len(out["elapsed"]) == len(out["overhead"])
    # the run stops once 12 full evaluations' worth (12 * 9) is spent, not after 12 trials
    assert sum(costs[:-1]) < 12 * 9 <= sum(costs)
    assert len(costs) > 12
    assert set(costs) <= {1.0, 3.0, 9.0}
    pruned = [i for i, v in enumerate(values) if math.isnan(v)]
    assert pruned, "Hyperband should have stopped some trials early"
    assert all(costs[i] < 9 for i in pruned)
    assert all(costs[i] == 9 for i in range(len(values)) if i not in pruned)
    # every budget charged was actually evaluated: one call per rung up to the trial's cost
    assert len(calls) == sum({1.0: 1, 3.0: 2, 9.0: 3}[c] for c in costs)
    # a completed trial's value is its loss at the full budget
    done = [v for v in values if not math.isnan(v)]
    assert all(1.0 / 9 <= v <= 1.0 + 1.0 / 9 for v in done)


def test_without_pruner_every_trial_runs_at_full_budget():
    calls = []
    problem = _toy_mf(calls)
    out = run_one(problem, SAMPLERS["optuna.Random"](0, problem), 5, seed=0)
    assert out["costs"] == [9.0] * 5
    assert not any(math.isnan(v) for v in out["values"])
    assert [b for _, b in calls] == [1, 3, 9] * 5


def test_multi_fidelity_report_is_indexed_by_budget():
    # two hand-made runs: budget 2 x 9 = 18 units; "A" prunes (cost 1) then completes (9) ...
    recs = [
        {"problem": "p", "sampler": "A", "seed": 0, "n_trials": 2, "optimum": 0.0,
         "target": 0.5, "values": [math.nan, 0.4, 0.2], "elapsed": [0.1, 0.2, 0.3],
         "overhead": [0.0] * 3, "costs": [1.0, 9.0, 9.0], "max_budget": 9},
        {"problem": "p", "sampler": "B", "seed": 0, "n_trials": 2, "optimum": 0.0,
         "target": 0.5, "values": [0.9, 0.3], "elapsed": [0.1, 0.2],
         "overhead": [0.0] * 2, "costs": [9.0, 9.0], "max_budget": 9},
    ]
    info = summarise(recs)["p"]
    a, b = info["samplers"]["A"], info["samplers"]["B"]
    assert a["regret"].shape == b["regret"].shape == (1, 18)
    assert a["reach"] == [10] and b["reach"] == [18]  # budget units, not trials
    assert a["regret"][0, 9] == 0.4 and math.isinf(a["regret"][0, 8])
    assert a["regret"][0, -1] == 0.4  # the third trial ends at 19 > 18: beyond the budget
    assert b["regret"][0, -1] == 0.3 and a["trials"] == [3]


@pytest.mark.parametrize("name", ["mf_hartmann6", "mf_sgd"])
def test_multi_fidelity_problems_build_and_run(name, tmp_path):
    problem = PROBLEMS[name]()
    assert problem.multi_fidelity and problem.rungs == (1, 3, 9, 27) and problem.max_budget == 27
    results = str(tmp_path / "r.jsonl")
    ran, _, _ = run_matrix([name], ["ferrotune.BOHB", "optuna.Random"], [0], 1, results,
                           quiet=True)
    assert ran == 2
    for r in lines(results):
        assert sum(r["costs"]) >= 27 and r["max_budget"] == 27
    if name == "mf_hartmann6":
        # the full-budget value is the exact Hartmann-6: the optimum scores the known optimum
        opt = {f"x{i}": v for i, v in enumerate(
            [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])}
        assert abs(problem.evaluate(opt) - problem.optimum) < 1e-4


@pytest.mark.parametrize("name", ["hgb_breast_cancer", "mlp_breast_cancer"])
def test_sklearn_tasks_build_and_evaluate(name):
    pytest.importorskip("sklearn")
    problem = PROBLEMS[name]()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    err = problem.evaluate(problem.space(trial))
    assert 0.0 <= err < 0.5  # better than chance on breast_cancer
    # every grid point is inside the search space
    for key, levels in problem.grid.items():
        dist = trial.distributions[key]
        for v in levels:
            assert dist._contains(dist.to_internal_repr(v)), (key, v)


def test_bbob_regret_is_measured_against_f_opt():
    pytest.importorskip("cocoex")
    for name in ("bbob_f1_d5", "bbob_f8_d5", "bbob_f15_d5"):
        problem = PROBLEMS[name]()
        assert problem.optimum is not None
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        values = [problem.evaluate(problem.space(study.ask())) for _ in range(20)]
        assert min(values) > problem.optimum
