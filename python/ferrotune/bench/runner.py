"""Running the problem x sampler x seed matrix, resumably, into a JSON-lines results file."""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from typing import Any, Iterable, Optional

import optuna

from ferrotune.bench.problems import PROBLEMS, Problem, ProblemUnavailable
from ferrotune.bench.samplers import SAMPLERS


def run_key(problem: str, sampler: str, seed: int, n_trials: int) -> str:
    return f"{problem}|{sampler}|{seed}|{n_trials}"


def load_results(path: str) -> list[dict[str, Any]]:
    """Records of the finished runs in ``path`` (a truncated last line is ignored)."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a run interrupted mid-write: it will be redone
    return records


def run_one(
    problem: Problem, study_kwargs: dict[str, Any], n_trials: int, seed: int = 0
) -> dict[str, Any]:
    """One study; per trial: its value, the wall time elapsed since the study started, and the
    time outside the function evaluation (sampling, including the ``suggest_*`` calls, and
    Optuna's bookkeeping, including the pruner).

    On a multi-fidelity problem (see ``ferrotune.bench.problems``) also the budget each trial
    spent (``costs``); the value of a pruned trial is NaN, and the run stops once it has spent
    ``n_trials * R``. Without a ``pruner`` in ``study_kwargs`` nothing is pruned."""
    values: list[float] = []
    elapsed: list[float] = []
    overhead: list[float] = []
    costs: list[float] = []
    state = {"objective": 0.0, "last": 0.0, "cost": 0.0, "spent": 0.0}
    mf = problem.multi_fidelity
    loss = problem.fidelity(seed) if mf and problem.fidelity is not None else None
    top = float(problem.max_budget or 0)
    total = n_trials * top

    def objective(trial: Any) -> float:
        params = problem.space(trial)  # suggest_* calls: sampling, counted as overhead
        if loss is None:
            t0 = time.perf_counter()
            try:
                return problem.evaluate(params)
            finally:
                state["objective"] = time.perf_counter() - t0
        value = math.nan
        for step in problem.rungs:
            t0 = time.perf_counter()
            value = loss(params, step)
            state["objective"] += time.perf_counter() - t0
            state["cost"] = float(step)
            trial.report(value, step)
            if step < top and trial.should_prune():
                raise optuna.TrialPruned()
        return value

    def record(study: Any, trial: Any) -> None:
        now = time.perf_counter() - start
        complete = trial.state == optuna.trial.TrialState.COMPLETE
        value = trial.value if complete and trial.value is not None else math.nan
        values.append(float(value))
        elapsed.append(now)
        overhead.append(max(now - state["last"] - state["objective"], 0.0))
        state["last"] = now
        state["objective"] = 0.0
        if mf:
            costs.append(state["cost"])
            state["spent"] += state["cost"]
            state["cost"] = 0.0
            if state["spent"] >= total:
                study.stop()

    kwargs = dict(study_kwargs)
    kwargs.setdefault("pruner", optuna.pruners.NopPruner())
    # Hyperband assigns trials to brackets by a hash of the study name: name it reproducibly.
    kwargs.setdefault("study_name", f"bench-{problem.name}-{seed}")
    study = optuna.create_study(**kwargs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # multi-fidelity: at most one trial per budget unit; the callback stops the study earlier
        cap = int(total) if mf else n_trials
        study.optimize(objective, n_trials=cap, callbacks=[record])
    out: dict[str, Any] = {"values": values, "elapsed": elapsed, "overhead": overhead}
    if mf:
        out["costs"] = costs
        out["max_budget"] = problem.max_budget
    return out


def _progress(done: int, total: int, label: str, t0: float) -> None:
    rate = (time.time() - t0) / max(done, 1)
    eta = rate * (total - done)
    width = 30
    filled = int(width * done / max(total, 1))
    bar = "#" * filled + "-" * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} eta {eta:5.0f}s {label[:50]:<50}")
    sys.stderr.flush()


def run_matrix(
    problems: Iterable[str],
    samplers: Iterable[str],
    seeds: Optional[Iterable[int]],
    n_trials: Optional[int],
    results_path: str,
    quiet: bool = False,
) -> tuple[int, int, list[str]]:
    """Run every missing (problem, sampler, seed); returns (ran, skipped, messages).

    ``seeds`` / ``n_trials`` ``None``: each problem's own ``seeds`` (``0 .. seeds-1``) and
    ``trials``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done = {
        run_key(r["problem"], r["sampler"], r["seed"], r["n_trials"])
        for r in load_results(results_path)
    }
    messages: list[str] = []
    jobs: list[tuple[Problem, str, int, int, dict[str, Any]]] = []
    skipped = 0
    for pname in problems:
        if pname not in PROBLEMS:
            raise KeyError(f"unknown problem {pname!r}; known: {', '.join(PROBLEMS)}")
        try:
            problem = PROBLEMS[pname]()
        except ProblemUnavailable as exc:
            messages.append(f"skipping problem {pname}: {exc}")
            continue
        trials = n_trials if n_trials is not None else problem.trials
        my_seeds = list(seeds) if seeds is not None else list(range(problem.seeds))
        for sname in samplers:
            if sname not in SAMPLERS:
                raise KeyError(f"unknown sampler {sname!r}; known: {', '.join(SAMPLERS)}")
            for seed in my_seeds:
                if run_key(pname, sname, seed, trials) in done:
                    skipped += 1
                    continue
                kwargs = SAMPLERS[sname](seed, problem)
                if kwargs is None:
                    note = f"{sname} does not apply to {pname}"
                    if note not in messages:
                        messages.append(note)
                    continue
                jobs.append((problem, sname, seed, trials, kwargs))
    for m in messages:
        print(m, file=sys.stderr)
    bar: Optional[Any] = None
    if not quiet:
        try:
            from tqdm import tqdm  # type: ignore[import-untyped]

            bar = tqdm(total=len(jobs), file=sys.stderr)
        except ImportError:
            bar = None
    t0 = time.time()
    for i, (problem, sname, seed, trials, kwargs) in enumerate(jobs):
        label = f"{problem.name} / {sname} / seed {seed}"
        if not quiet and bar is None:
            _progress(i, len(jobs), label, t0)
        result = run_one(problem, kwargs, trials, seed)
        record = {
            "problem": problem.name,
            "sampler": sname,
            "seed": seed,
            "n_trials": trials,
            "optimum": problem.optimum,
            "target": problem.target,
            "description": problem.description,
            **result,
        }
        with open(results_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if bar is not None:
            bar.set_description(label[:40])
            bar.update(1)
    if bar is not None:
        bar.close()
    elif not quiet and jobs:
        _progress(len(jobs), len(jobs), "done", t0)
        sys.stderr.write("\n")
    return len(jobs), skipped, messages
