"""Cost of one ``trial.should_prune()`` under ``ferrotune.HyperbandPruner`` and Optuna's
``HyperbandPruner``, side by side, in studies of 100, 1,000 and 5,000 trials.

    python benches/bench_pruners.py [--trials 100,1000,5000] [--repeats 60] [--pruner hyperband]

For each size N, two in-memory studies with the same name are filled with the same N finished
trials (``study.add_trials``; each trial carries the ``completed_rung_{k}`` attributes of its
bracket, as a real run would leave them, and is PRUNED or COMPLETE accordingly). Then, ``--repeats``
times, alternating between the two studies: ask a new trial, report a value at the step of its
bracket's first rung (so the call makes a real rung decision, the expensive case) and time
``trial.should_prune()`` with ``time.perf_counter`` (garbage collector paused, as in ``timeit``); tell the trial as pruned or complete. The
table gives the median per call. ferrotune's first call on a study builds its rung mirror with one
full read of the study; that cold call is excluded from the median and shown separately.

Prints; asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from typing import List, Tuple

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

import ferrotune
from ferrotune import pruners as ft_pruners

STUDY_NAME = "bench"
MIN_RESOURCE, MAX_RESOURCE, ETA = 1, 81, 3


def _make(kind: str, module) -> optuna.pruners.BasePruner:
    if kind == "hyperband":
        return module.HyperbandPruner(MIN_RESOURCE, MAX_RESOURCE, ETA)
    return module.SuccessiveHalvingPruner(MIN_RESOURCE, ETA)


def _rate_and_rungs(kind: str, number: int) -> Tuple[int, int]:
    """(min_early_stopping_rate, number of rungs) of trial ``number``."""
    if kind == "hyperband":
        core = ft_pruners._hb_core()
        n = core.hb_n_brackets(MIN_RESOURCE, MAX_RESOURCE, ETA)
        budgets = core.hb_allocation_budgets(n, ETA)
        bracket = core.hb_bracket_of_trial(STUDY_NAME, number, budgets)
        return bracket, n - bracket
    return 0, 5


def _history(kind: str, n: int, seed: int) -> List[optuna.trial.FrozenTrial]:
    rng = random.Random(seed)
    dist = {"x": FloatDistribution(-3.0, 3.0)}
    trials = []
    for number in range(n):
        rate, n_rungs = _rate_and_rungs(kind, number)
        completed = rng.randint(1, n_rungs)
        inter, attrs = {}, {}
        value = rng.random()
        for k in range(completed):
            step = MIN_RESOURCE * ETA ** (rate + k)
            value = value * 0.9 + 0.1 * rng.random()
            inter[step] = value
            attrs[f"completed_rung_{k}"] = value
        finished = completed == n_rungs
        trials.append(
            create_trial(
                state=TrialState.COMPLETE if finished else TrialState.PRUNED,
                value=value if finished else None,
                params={"x": rng.uniform(-3, 3)},
                distributions=dist,
                intermediate_values=inter,
                system_attrs=attrs,
            )
        )
    return trials


def _study(pruner, history) -> optuna.Study:
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=optuna.storages.InMemoryStorage(),
        pruner=pruner,
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    study.add_trials(history)
    return study


def _one_call(study: optuna.Study, kind: str, rng: random.Random) -> float:
    trial = study.ask()
    trial.suggest_float("x", -3.0, 3.0)
    rate, _ = _rate_and_rungs(kind, trial.number)
    trial.report(rng.random(), MIN_RESOURCE * ETA**rate)
    # As timeit does, keep the cyclic garbage collector out of the timed call: otherwise a
    # collection triggered by the allocations of the other side's calls lands in this one.
    gc.disable()
    try:
        start = time.perf_counter()
        pruned = trial.should_prune()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    if pruned:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, 0.5)
    return elapsed


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", default="100,1000,5000")
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--pruner", choices=("hyperband", "successive_halving"), default="hyperband")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes = [int(s) for s in args.trials.split(",") if s]

    name = "HyperbandPruner" if args.pruner == "hyperband" else "SuccessiveHalvingPruner"
    print(
        f"# {name}({MIN_RESOURCE}, {MAX_RESOURCE}, {ETA}): one should_prune at a rung step\n"
        f"ferrotune {ferrotune.__version__} (backend {ferrotune.get_backend()}), "
        f"optuna {optuna.__version__}, python {sys.version.split()[0]}, "
        f"{args.repeats} calls per cell\n"
    )
    rows = []
    for n in sizes:
        history = _history(args.pruner, n, args.seed)
        ours = _study(_make(args.pruner, ft_pruners), history)
        theirs = _study(_make(args.pruner, optuna.pruners), history)
        rng_ours, rng_theirs = random.Random(args.seed), random.Random(args.seed)
        cold = _one_call(ours, args.pruner, rng_ours)
        _one_call(theirs, args.pruner, rng_theirs)  # same trial sequence on both sides
        ours_t, theirs_t = [], []
        for _ in range(args.repeats):
            ours_t.append(_one_call(ours, args.pruner, rng_ours))
            theirs_t.append(_one_call(theirs, args.pruner, rng_theirs))
        rows.append((n, statistics.median(ours_t), statistics.median(theirs_t), cold))

    print("| trials | ferrotune (µs) | Optuna (µs) | Optuna / ferrotune | ferrotune first call (µs) |")
    print("|---:|---:|---:|---:|---:|")
    for n, mine, other, cold in rows:
        print(
            f"| {n:,} | {mine * 1e6:,.1f} | {other * 1e6:,.1f} | {other / mine:,.1f}x "
            f"| {cold * 1e6:,.0f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
