"""Per-trial cost of BOHB in a trial loop, and per-``ask`` cost of the ask/tell schedulers.

Optuna studies (one trial each in turn): ``ferrotune.BOHBSampler`` (the default TPE model, and
``model="kde"``) + ``ferrotune.HyperbandPruner``, Optuna's ``TPESampler`` + ``HyperbandPruner``,
``RandomSampler`` + Optuna's ``HyperbandPruner``, and ``RandomSampler`` + ferrotune's
``HyperbandPruner`` (the floor: Optuna's bookkeeping and our pruner, with a sampler that does no
work). Schedulers: ``ferrotune.BOHB`` (both models) and
``ferrotune.Hyperband``.

    python benches/bench_bohb_speed.py [--trials 2000] [--checkpoints 500,1000,2000]
        [--jobs 20000] [--job-checkpoints 1000,5000,10000,20000] [--window 100] [--seed 0]

Studies: the five run in lockstep, on a 6-D unit cube, with
``HyperbandPruner(1, 27, 3)``; a trial suggests its 6 floats, reports ``sum(x**2) + noise/step``
at steps 1, 3, 9 and 27 and asks ``should_prune`` after each (ask/tell, as ``study.optimize``
does). Its cost is the ``time.process_time()`` around the whole trial (sampler, pruner and
Optuna's bookkeeping; the objective is trivial). The table gives the median over the
``--window`` trials ending at each checkpoint, Optuna's TPE + HB over ours, and ours over
the floor.

Schedulers: ``ask`` then ``tell`` with the same toy loss, ``(1, 81, 3)``, ``mode="sync"`` and
``"async"``; the median and mean ``ask`` + ``tell`` time over the window of jobs ending at each
checkpoint. (BOHB refits its model on every new configuration, so its cost grows with the
number of results; Hyperband's does not, apart from promotions in async mode.)

Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Callable, Dict, List, Tuple

import optuna
from optuna.distributions import FloatDistribution

import ferrotune

optuna.logging.set_verbosity(optuna.logging.WARNING)

D = 6
STEPS = (1, 3, 9, 27)


def _trial(study: optuna.Study, rng: random.Random) -> None:
    trial = study.ask()
    x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(D)]
    base = sum(v * v for v in x)
    for step in STEPS:
        trial.report(base + rng.random() / step, step)
        if step < STEPS[-1] and trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
    study.tell(trial, base)


def bench_studies(n: int, checkpoints: List[int], window: int, seed: int) -> None:
    # label -> (sampler, pruner class); every study gets HyperbandPruner(1, 27, 3).
    makers: Dict[str, Tuple[optuna.samplers.BaseSampler, Callable]] = {
        "ferrotune BOHBSampler + HyperbandPruner": (
            ferrotune.BOHBSampler(seed=seed), ferrotune.HyperbandPruner
        ),
        "ferrotune BOHBSampler(model=kde) + HyperbandPruner": (
            ferrotune.BOHBSampler(seed=seed, model="kde"), ferrotune.HyperbandPruner
        ),
        "Optuna TPESampler + HyperbandPruner": (
            optuna.samplers.TPESampler(seed=seed), optuna.pruners.HyperbandPruner
        ),
        "Optuna RandomSampler + HyperbandPruner": (
            optuna.samplers.RandomSampler(seed=seed), optuna.pruners.HyperbandPruner
        ),
        "Optuna RandomSampler + ferrotune HyperbandPruner": (
            optuna.samplers.RandomSampler(seed=seed), ferrotune.HyperbandPruner
        ),
    }
    studies = {
        name: optuna.create_study(sampler=sampler, pruner=pruner(1, 27, 3), study_name="bench")
        for name, (sampler, pruner) in makers.items()
    }
    rngs = {name: random.Random(seed) for name in makers}
    times: Dict[str, List[float]] = {name: [] for name in makers}
    for k in range(n):
        for name, study in studies.items():
            t0 = time.process_time()
            _trial(study, rngs[name])
            times[name].append(time.process_time() - t0)
        if (k + 1) % 500 == 0:
            print(f"  studies: {k + 1} trials", flush=True)
    print(f"\n### Optuna studies: ms per trial (median of the {window} trials ending at each "
          "checkpoint)\n")
    head = ("| trials | " + " | ".join(makers)
            + " | Optuna TPE+HB / ferrotune | ferrotune / Random+ferrotune HB |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for c in checkpoints:
        med = {m: statistics.median(t[max(0, c - window):c]) * 1e3 for m, t in times.items()}
        ours, _, tpe, _, floor = (med[m] for m in makers)
        print(f"| {c} | " + " | ".join(f"{v:.2f}" for v in med.values())
              + f" | {tpe / ours:.2f} | {ours / floor:.2f} |")


def bench_schedulers(n: int, checkpoints: List[int], window: int, seed: int) -> None:
    space = {f"x{i}": FloatDistribution(0.0, 1.0) for i in range(D)}
    rows = []
    variants: List[Tuple[str, Callable[..., ferrotune.Hyperband], Dict[str, str]]] = [
        ("BOHB", ferrotune.BOHB, {}),
        ("BOHB, model=kde", ferrotune.BOHB, {"model": "kde"}),
        ("Hyperband", ferrotune.Hyperband, {}),
    ]
    for label, cls, extra in variants:
        for mode in ("sync", "async"):
            sched = cls(space, 1, 81, eta=3, seed=seed, mode=mode, **extra)
            rng = random.Random(seed)
            times = []
            for _ in range(n):
                t0 = time.process_time()
                job = sched.ask()
                loss = sum(v * v for v in job.params.values()) + rng.random() / job.budget
                sched.tell(job, loss)
                times.append(time.process_time() - t0)
            rows.append((f"ferrotune.{label} ({mode})", times))
            print(f"  schedulers: {label} {mode} done", flush=True)
    print(f"\n### Ask/tell schedulers: ms per ask + tell, median / mean of the {window} jobs "
          "ending at each checkpoint (a promotion costs little, a new configuration\n"
          "refits BOHB's model: the mean shows the mix)\n")
    head = "| scheduler | " + " | ".join(f"{c} jobs" for c in checkpoints) + " |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, times in rows:
        cells = []
        for c in checkpoints:
            w = times[max(0, c - window):c]
            cells.append(f"{statistics.median(w) * 1e3:.3f} / {statistics.fmean(w) * 1e3:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--checkpoints", default="500,1000,2000")
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--job-checkpoints", default="1000,5000,10000,20000")
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    checkpoints = [int(c) for c in args.checkpoints.split(",") if int(c) <= args.trials]
    job_checkpoints = [int(c) for c in args.job_checkpoints.split(",") if int(c) <= args.jobs]
    print(f"ferrotune {ferrotune.__version__}, backend {ferrotune.get_backend()}, "
          f"optuna {optuna.__version__}")
    if args.trials > 0:
        bench_studies(args.trials, checkpoints, args.window, args.seed)
    if args.jobs > 0:
        bench_schedulers(args.jobs, job_checkpoints, args.window, args.seed)


if __name__ == "__main__":
    main()
