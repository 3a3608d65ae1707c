"""Whole-run CPU time of native ask/tell loops, side by side in one process.

Contenders (10 float parameters in [-5, 5], 10-D sphere objective, TPE with default settings):

- ferrotune: ``ferrotune.create_study(seed=s).optimize(f, n_trials=N)`` (the native Study)
- rustuna:   ``rustuna.create_study(sampler=rustuna.samplers.TPESampler(seed=s)).optimize(...)``
- Optuna:    ``optuna.create_study(sampler=optuna.samplers.TPESampler(seed=s)).optimize(...)``

Each repeat runs the contenders one after the other (order rotated per repeat) and reads
``time.process_time()`` around the whole ``create_study`` + ``optimize``. Medians of the repeats
and the ratios are printed. Then a long ferrotune run (``--long`` trials, default 10,000) reports
the per-trial CPU time over the last ``--window`` trials and the memory per stored trial (RSS
growth over that run, which includes the Rust store; and Python objects alone, measured with
tracemalloc on a shorter run).

    python benches/bench_study.py                       # 1,000 trials, 5 repeats (Optuna 1 repeat)
    python benches/bench_study.py --trials 1000 --repeats 7 --optuna-repeats 3 --long 10000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
import tracemalloc
from typing import Any, Callable

D = 10


def objective(trial: Any) -> float:
    return sum(trial.suggest_float(f"x{i}", -5.0, 5.0) ** 2 for i in range(D))


def run_ferrotune(n: int, seed: int) -> float:
    import ferrotune

    study = ferrotune.create_study(seed=seed)
    study.optimize(objective, n_trials=n)
    return study.best_value


def run_rustuna(n: int, seed: int) -> float:
    import rustuna

    study = rustuna.create_study(sampler=rustuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n)
    return min(t.values[0] for t in study.trials if t.values)


def run_optuna(n: int, seed: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n)
    return study.best_value


def cpu(fn: Callable[[int, int], float], n: int, seed: int) -> tuple[float, float]:
    gc.collect()
    t0 = time.process_time()
    best = fn(n, seed)
    return time.process_time() - t0, best


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def long_run(n: int, window: int, seed: int) -> dict[str, float]:
    import ferrotune

    study = ferrotune.create_study(seed=seed)
    # warm up (imports, caches) so that RSS growth is the trials' own
    study.optimize(objective, n_trials=1)
    gc.collect()
    rss0 = rss_kib()
    t0 = time.process_time()
    study.optimize(objective, n_trials=n - window - 1)
    mid = time.process_time()
    study.optimize(objective, n_trials=window)
    end = time.process_time()
    gc.collect()
    rss1 = rss_kib()
    table = study._store.table_bytes
    # Python-side bytes per trial, on a shorter run with tracemalloc on (it slows Python down).
    short = max(200, n // 5)
    other = ferrotune.create_study(seed=seed)
    other.optimize(objective, n_trials=1)
    gc.collect()
    tracemalloc.start()
    py0 = tracemalloc.get_traced_memory()[0]
    other.optimize(objective, n_trials=short)
    gc.collect()
    py1 = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {
        "trials": n,
        "cpu_total_s": end - t0,
        "per_trial_last_window_ms": (end - mid) / window * 1e3,
        "rss_bytes_per_trial": (rss1 - rss0) * 1024 / (n - 1),
        "rust_table_bytes_per_trial": table / n,
        "python_bytes_per_trial": (py1 - py0) / short,
        "python_bytes_trials": short,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--optuna-repeats", type=int, default=1)
    ap.add_argument("--long", type=int, default=10000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the results to this file")
    args = ap.parse_args()

    import ferrotune

    print(f"ferrotune {ferrotune.__version__}, backend {ferrotune.get_backend()}, pid {os.getpid()}")
    contenders: dict[str, Callable[[int, int], float]] = {"ferrotune": run_ferrotune}
    try:
        import rustuna  # noqa: F401

        contenders["rustuna"] = run_rustuna
    except ImportError:
        print("rustuna not installed: `pip install rustuna`")
    contenders["optuna"] = run_optuna
    # import everything once before timing
    for fn in contenders.values():
        fn(2, args.seed)

    times: dict[str, list[float]] = {k: [] for k in contenders}
    for r in range(args.repeats):
        names = list(contenders)
        names = names[r % len(names) :] + names[: r % len(names)]
        for name in names:
            if name == "optuna" and r >= args.optuna_repeats:
                continue
            t, best = cpu(contenders[name], args.trials, args.seed + r)
            times[name].append(t)
            print(f"  repeat {r}: {name:9s} {t:8.3f} s CPU  (best {best:.4g})", flush=True)
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"\n{args.trials} trials, {D} float params, CPU time of the whole run (median):")
    for k, v in med.items():
        print(f"  {k:9s} {v:8.3f} s  ({v / args.trials * 1e3:.3f} ms/trial)")
    for other in ("rustuna", "optuna"):
        if other in med:
            print(f"  {other} / ferrotune = {med[other] / med['ferrotune']:.1f}x")

    out: dict[str, Any] = {"trials": args.trials, "median_cpu_s": med, "all_cpu_s": times}
    if args.long:
        lr = long_run(args.long, args.window, args.seed)
        out["long"] = lr
        print(
            f"\nferrotune {lr['trials']} trials: {lr['cpu_total_s']:.2f} s CPU; "
            f"{lr['per_trial_last_window_ms']:.3f} ms/trial over the last {args.window}; "
            f"memory per stored trial: {lr['rust_table_bytes_per_trial']:.0f} B Rust table "
            f"(allocated), {lr['rss_bytes_per_trial']:.0f} B RSS growth (all), "
            f"{lr['python_bytes_per_trial']:.0f} B Python objects (tracemalloc, "
            f"{lr['python_bytes_trials']} trials)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
