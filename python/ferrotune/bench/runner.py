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


def run_one(problem: Problem, study_kwargs: dict[str, Any], n_trials: int) -> dict[str, Any]:
    """One study; per trial: its value, the wall time elapsed since the study started, and the
    time outside the function evaluation (sampling, including the ``suggest_*`` calls, and
    Optuna's bookkeeping)."""
    values: list[float] = []
    elapsed: list[float] = []
    overhead: list[float] = []
    state = {"objective": 0.0, "last": 0.0}

    def objective(trial: Any) -> float:
        params = problem.space(trial)  # suggest_* calls: sampling, counted as overhead
        t0 = time.perf_counter()
        try:
            return problem.evaluate(params)
        finally:
            state["objective"] = time.perf_counter() - t0

    def record(study: Any, trial: Any) -> None:
        now = time.perf_counter() - start
        value = trial.value if trial.value is not None else math.nan
        values.append(float(value))
        elapsed.append(now)
        overhead.append(max(now - state["last"] - state["objective"], 0.0))
        state["last"] = now
        state["objective"] = 0.0

    study = optuna.create_study(**study_kwargs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=n_trials, callbacks=[record])
    return {"values": values, "elapsed": elapsed, "overhead": overhead}


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
    seeds: Iterable[int],
    n_trials: int,
    results_path: str,
    quiet: bool = False,
) -> tuple[int, int, list[str]]:
    """Run every missing (problem, sampler, seed); returns (ran, skipped, messages)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    done = {
        run_key(r["problem"], r["sampler"], r["seed"], r["n_trials"])
        for r in load_results(results_path)
    }
    messages: list[str] = []
    jobs: list[tuple[Problem, str, int, dict[str, Any]]] = []
    skipped = 0
    for pname in problems:
        if pname not in PROBLEMS:
            raise KeyError(f"unknown problem {pname!r}; known: {', '.join(PROBLEMS)}")
        try:
            problem = PROBLEMS[pname]()
        except ProblemUnavailable as exc:
            messages.append(f"skipping problem {pname}: {exc}")
            continue
        for sname in samplers:
            if sname not in SAMPLERS:
                raise KeyError(f"unknown sampler {sname!r}; known: {', '.join(SAMPLERS)}")
            for seed in seeds:
                if run_key(pname, sname, seed, n_trials) in done:
                    skipped += 1
                    continue
                kwargs = SAMPLERS[sname](seed, problem)
                if kwargs is None:
                    note = f"{sname} does not apply to {pname}"
                    if note not in messages:
                        messages.append(note)
                    continue
                jobs.append((problem, sname, seed, kwargs))
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
    for i, (problem, sname, seed, kwargs) in enumerate(jobs):
        label = f"{problem.name} / {sname} / seed {seed}"
        if not quiet and bar is None:
            _progress(i, len(jobs), label, t0)
        result = run_one(problem, kwargs, n_trials)
        record = {
            "problem": problem.name,
            "sampler": sname,
            "seed": seed,
            "n_trials": n_trials,
            "optimum": problem.optimum,
            "target": problem.target,
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
