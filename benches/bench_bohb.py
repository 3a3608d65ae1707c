"""Quality of ferrotune's BOHB against Optuna's BOHB-like setups and random search.

    python benches/bench_bohb.py [--seeds 10] [--budget 200] [--problems hartmann6,sgd,mlp]

The default run (3 problems x 5 methods x 10 seeds) takes about 25 minutes on a 2-core
machine; ``--seeds 3 --problems hartmann6 --methods bohb,tpe_hb,random`` takes about a minute.

Methods (all minimise; budgets in units of the fidelity, e.g. epochs):

- ``bohb``: ``ferrotune.BOHB(space, 1, R, eta=3, seed=s)`` (synchronous Hyperband brackets,
  the default TPE model; ``--bohb-options model=kde`` for HpBandSter's KDEs and defaults). A
  job at budget ``b`` costs ``b`` (training restarts from scratch on promotion, as in
  HpBandSter). The same runs, continued until this costing has spent the
  total budget too, are also costed as ``bohb_ckpt``: a promoted configuration resumes from its
  checkpoint and costs only ``b - b_previous``, which is how the Optuna methods are costed (a
  trial that is not pruned continues, and costs the last step it ran).
- ``bohb_sampler``: ``ferrotune.BOHBSampler(seed=s)`` + ``ferrotune.HyperbandPruner(1, R, 3)``.
- ``tpe_hb``: ``optuna.samplers.TPESampler(seed=s)`` + ``optuna.pruners.HyperbandPruner(1, R, 3)``
  (Optuna's de-facto BOHB).
- ``random_hb``: ``optuna.samplers.RandomSampler(seed=s)`` + Optuna's ``HyperbandPruner(1, R, 3)``.
- ``random``: random search, every configuration at the full budget ``R``.
- Not run by default (``--methods kde,tpe``), to tell the model from the schedule: ``kde``,
  ``ferrotune.BOHBSampler(model="kde")`` with no pruner (HpBandSter's model, every
  configuration at ``R``), and
  ``tpe``, Optuna's ``TPESampler`` with no pruner.

An Optuna trial reports at the rung steps ``1, 3, 9, ..., R`` and costs the last step it ran
(pruned at step 9: cost 9; complete: cost R).

Problems:

- ``hartmann6``: multi-fidelity Hartmann-6 as mf-prior-bench's ``mfh6`` defines it (after
  Kandasamy et al. 2017): fidelity ``z = 100 b / R`` in (0, 100], ``t = 1 - log(z) / log(100)``,
  coefficients ``alpha_i - bias * t`` (bias 0.5) and additive noise ``noise * t * |N(0, 1)|``
  (noise 0.1), so the top fidelity is the exact Hartmann-6 and lower ones are biased, noisy
  versions of it. Regret: exact Hartmann-6 of the incumbent minus the optimum -3.32237.
- ``sgd``: ``sklearn.linear_model.SGDClassifier`` on the breast-cancer data set shipped with
  scikit-learn (train/validation split 2/3 : 1/3, standardised), budget = epochs of
  ``partial_fit`` (up to ``R``), loss = validation error; 6 hyperparameters (alpha, eta0, l1_ratio
  log/float, learning_rate, loss, penalty categorical, average bool). Learning curves are
  memoised per configuration (training is deterministic), the cost is still charged in full.
  Regret: validation error minus the lowest validation error any method reached at full budget.
- ``mlp``: a one-hidden-layer MLP (numpy; minibatch SGD with momentum and weight decay) on the
  digits data set shipped with scikit-learn (train/validation 2/3 : 1/3, standardised), budget
  = epochs, loss = validation cross-entropy; 6 hyperparameters (learning rate, momentum, weight
  decay, hidden units, batch size, activation). Memoised like ``sgd``. Regret: validation loss
  minus the lowest any method reached at full budget.

All problems are in ``ferrotune.bench.multifidelity`` (``PROBLEMS``). BLAS runs single-threaded
(set below, before numpy is imported): the problems multiply small matrices.

The incumbent of a run is its best configuration *evaluated at the full budget R*; its
best-so-far regret is recorded against the total budget spent. The table gives, per method,
over seeds: the budget (in full evaluations, ``total / R``) by which half of the seeds (the lower
median) have reached random search's final median regret (``-`` if fewer than half ever do), that
budget as a fraction of random search's own (same definition), the median regret at a few budgets
and at the end, and the wall time per run. When ``tpe_hb`` and ``random`` ran, it then says
for each BOHB row whether it meets issue 4's targets: at most 1/10 of random search's budget,
and a final median regret no worse than Optuna's TPE + HyperbandPruner. Prints; asserts nothing.
"""

from __future__ import annotations

import os

# One BLAS thread: the problems multiply small matrices, where threads cost far more than they
# save (7x slower for the MLP task on a loaded 2-core machine). Set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import math
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

import optuna

import ferrotune
from ferrotune.bench.multifidelity import PROBLEMS

optuna.logging.set_verbosity(optuna.logging.WARNING)

ETA = 3

DEFAULT_BUDGET = {"hartmann6": 200.0, "sgd": 100.0, "mlp": 100.0}

# --- methods ----------------------------------------------------------------------------------

Trace = List[Tuple[float, float]]  # (total budget spent, value of the incumbent)


def run_bohb(problem, seed: int, total: float) -> Dict[str, Trace]:
    """One BOHB run, costed twice: from scratch (``bohb``) and with checkpoints (``bohb_ckpt``:
    a promoted configuration resumes and costs only the budget increment). The run goes on
    until the checkpoint costing has spent ``total`` too, so both traces cover the whole budget
    (the from-scratch trace stops at ``total``)."""
    opt = ferrotune.BOHB(problem.space, 1, problem.R, eta=ETA, seed=seed, **BOHB_OPTIONS)
    spent, resumed, best = 0.0, 0.0, math.inf
    trace: Trace = []
    ckpt: Trace = []
    done: Dict[int, float] = {}
    while resumed < total:
        job = opt.ask()
        loss = problem(job.params, job.budget)
        opt.tell(job, loss)
        scratch_open = spent < total
        spent += job.budget
        resumed += job.budget - done.get(job.config_id, 0.0)
        done[job.config_id] = job.budget
        if job.budget >= problem.R:
            best = min(best, problem.regret(job.params))
        if scratch_open:
            trace.append((spent, best))
        ckpt.append((resumed, best))
    return {"bohb": trace, "bohb_ckpt": ckpt}


def _optuna_run(problem, sampler, pruner, total: float) -> Trace:
    study = optuna.create_study(sampler=sampler, pruner=pruner, study_name="bench")
    rungs = [ETA**k for k in range(int(round(math.log(problem.R, ETA))) + 1)]
    spent, best, trace = 0.0, math.inf, []
    while spent < total:
        trial = study.ask(problem.space)
        params = trial.params
        last, pruned, value = 0, False, math.nan
        for step in rungs:
            value = problem(params, step)
            last = step
            trial.report(value, step)
            if step < problem.R and trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
            best = min(best, problem.regret(params))
        spent += last
        trace.append((spent, best))
    return trace


def run_bohb_sampler(problem, seed: int, total: float) -> Trace:
    return _optuna_run(
        problem,
        ferrotune.BOHBSampler(seed=seed, **BOHB_OPTIONS),
        ferrotune.HyperbandPruner(1, problem.R, ETA),
        total,
    )


def run_tpe_hb(problem, seed: int, total: float) -> Trace:
    return _optuna_run(
        problem,
        optuna.samplers.TPESampler(seed=seed),
        optuna.pruners.HyperbandPruner(1, problem.R, ETA),
        total,
    )


def run_random_hb(problem, seed: int, total: float) -> Trace:
    return _optuna_run(
        problem,
        optuna.samplers.RandomSampler(seed=seed),
        optuna.pruners.HyperbandPruner(1, problem.R, ETA),
        total,
    )


def _full_budget_run(problem, sampler, total: float) -> Trace:
    study = optuna.create_study(sampler=sampler)
    spent, best, trace = 0.0, math.inf, []
    while spent < total:
        trial = study.ask(problem.space)
        value = problem(trial.params, problem.R)
        study.tell(trial, value)
        spent += problem.R
        best = min(best, problem.regret(trial.params))
        trace.append((spent, best))
    return trace


def run_random(problem, seed: int, total: float) -> Trace:
    return _full_budget_run(problem, optuna.samplers.RandomSampler(seed=seed), total)


def run_kde(problem, seed: int, total: float) -> Trace:
    """HpBandSter's model without Hyperband: ``ferrotune.BOHBSampler(model="kde")`` (HpBandSter's
    defaults), every configuration at the full budget. Not in the default set; isolates the
    model."""
    return _full_budget_run(problem, ferrotune.BOHBSampler(seed=seed, model="kde"), total)


def run_tpe(problem, seed: int, total: float) -> Trace:
    """Optuna's TPESampler (defaults), every configuration at the full budget. Not in the
    default set; isolates the model."""
    return _full_budget_run(problem, optuna.samplers.TPESampler(seed=seed), total)


BOHB_OPTIONS: Dict[str, Any] = {}
"""Non-default BOHB options for the ``bohb`` and ``bohb_sampler`` methods (``--bohb-options``)."""

METHODS: Dict[str, Callable] = {
    "bohb": run_bohb,  # also yields "bohb_ckpt"
    "bohb_sampler": run_bohb_sampler,
    "tpe_hb": run_tpe_hb,
    "random_hb": run_random_hb,
    "random": run_random,
    "kde": run_kde,
    "tpe": run_tpe,
}

DEFAULT_METHODS = "bohb,bohb_sampler,tpe_hb,random_hb,random"

LABELS = {
    "bohb": "ferrotune.BOHB (scheduler, restarts from scratch)",
    "bohb_ckpt": "ferrotune.BOHB (same runs, promotions resume from a checkpoint)",
    "bohb_sampler": "ferrotune.BOHBSampler + ferrotune.HyperbandPruner",
    "tpe_hb": "Optuna TPESampler + HyperbandPruner",
    "random_hb": "Optuna RandomSampler + HyperbandPruner",
    "random": "random search (full budget)",
    "kde": "ferrotune.BOHBSampler, no pruner (BOHB's model at full budget only)",
    "tpe": "Optuna TPESampler, no pruner (full budget only)",
}

# --- scoring ----------------------------------------------------------------------------------


def first_reach(trace: Trace, target: float) -> float:
    for spent, value in trace:
        if value <= target:
            return spent
    return math.inf


def value_at(trace: Trace, budget: float) -> float:
    best = math.inf
    for spent, value in trace:
        if spent > budget:
            break
        best = value
    return best


def median(xs: List[float]) -> float:
    return statistics.median(xs)


def fmt(x: float, digits: int = 3) -> str:
    if math.isinf(x):
        return "-"
    return f"{x:.{digits}g}"


def report(name: str, R: int, total: float, traces: Dict[str, List[Trace]], times: Dict[str, float]) -> None:
    offset = 0.0
    if getattr(PROBLEMS[name], "normalise", False):  # against the best full-budget value found
        offset = min(v for ts in traces.values() for t in ts for _, v in t)
    norm = {
        m: [[(s, v - offset) for s, v in t] for t in ts] for m, ts in traces.items()
    }
    n_seeds = len(next(iter(norm.values())))
    print(f"\n### {name}: max budget R = {R}, eta = {ETA}, total budget {total / R:g} x R, "
          f"{n_seeds} seeds\n")
    target = median([t[-1][1] for t in norm["random"]]) if "random" in norm else math.nan
    rs_reach = (
        statistics.median_low([first_reach(t, target) for t in norm["random"]])
        if "random" in norm
        else math.nan
    )
    checkpoints = [c for c in (5, 10, 20, 50, 100, 200, 500) if c * R <= total]
    head = "| method | budget to reach RS final (x R) | fraction of RS budget | " + " | ".join(
        f"regret @{c}R" for c in checkpoints
    ) + " | final regret | s / run |"
    print(f"random search's final median regret (target): {fmt(target, 4)}\n")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    fractions: Dict[str, float] = {}
    finals: Dict[str, float] = {}
    for m, ts in norm.items():
        reach = [first_reach(t, target) for t in ts]
        med = statistics.median_low(reach)
        frac = med / rs_reach if math.isfinite(med) and rs_reach > 0 else math.inf
        fractions[m], finals[m] = frac, median([t[-1][1] for t in ts])
        cells = [fmt(med / R), fmt(frac, 2)]
        cells += [fmt(median([value_at(t, c * R) for t in ts]), 3) for c in checkpoints]
        cells.append(fmt(finals[m], 3))
        cells.append(f"{times[m] / len(ts):.1f}")
        print(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    if "random" in norm and "tpe_hb" in norm:
        print("\nTargets: at most 1/10 of random search's budget to reach its final regret, and a "
              "final regret no worse than Optuna TPESampler + HyperbandPruner's "
              f"({fmt(finals['tpe_hb'], 3)}):")
        for m in ("bohb", "bohb_ckpt", "bohb_sampler"):
            if m in norm:
                frac_ok = "met" if fractions[m] <= 0.1 else "not met"
                final_ok = "met" if finals[m] <= finals["tpe_hb"] else "not met"
                print(f"- {LABELS[m]}: fraction {fmt(fractions[m], 2)} ({frac_ok}), "
                      f"final {fmt(finals[m], 3)} ({final_ok})")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument(
        "--budget",
        type=float,
        default=None,
        help="total budget in full evaluations (default: 200 for hartmann6, 100 for sgd, "
        "100 for mlp)",
    )
    ap.add_argument("--max-budget", type=int, default=27, help="R, a power of eta=3")
    ap.add_argument("--problems", default="hartmann6,sgd,mlp")
    ap.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help=f"comma-separated, from {','.join(METHODS)} (default: {DEFAULT_METHODS})",
    )
    ap.add_argument(
        "--bohb-options",
        default="",
        help="non-default options of ferrotune.BOHB (and of BOHBSampler in bohb_sampler), e.g. "
        "random_fraction=0.1,bandwidth_factor=1 or model=tpe",
    )
    args = ap.parse_args()
    for item in filter(None, args.bohb_options.split(",")):
        key, value = item.split("=")
        if key == "model":
            BOHB_OPTIONS[key] = value
        elif key in ("num_samples", "top_n_percent", "min_points_in_model"):
            BOHB_OPTIONS[key] = int(value)
        else:
            BOHB_OPTIONS[key] = float(value)
    if BOHB_OPTIONS:
        print(f"ferrotune.BOHB options: {BOHB_OPTIONS}")
    print(f"ferrotune {ferrotune.__version__}, backend {ferrotune.get_backend()}, "
          f"optuna {optuna.__version__}")
    for pname in args.problems.split(","):
        R = args.max_budget
        total = (args.budget or DEFAULT_BUDGET[pname]) * R
        traces: Dict[str, List[Trace]] = {}
        times: Dict[str, float] = {}
        for m in args.methods.split(","):
            for seed in range(args.seeds):
                problem = PROBLEMS[pname](R, seed)
                t0 = time.perf_counter()
                out = METHODS[m](problem, seed, total)
                elapsed = time.perf_counter() - t0
                for label, trace in (out if isinstance(out, dict) else {m: out}).items():
                    traces.setdefault(label, []).append(trace)
                    times[label] = times.get(label, 0.0) + elapsed
        report(pname, R, total, traces, times)


if __name__ == "__main__":
    main()
