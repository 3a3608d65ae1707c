#!/usr/bin/env python
"""Per-trial CPU cost of ``ferrotune.TPESampler`` vs Optuna's ``TPESampler`` and ``RandomSampler``.

Each sampler drives its own in-memory study through the same loop that ``study.optimize`` runs::

    trial = study.ask(); x = [trial.suggest_float(f"x{i}", -5, 5) for i in range(dims)]
    study.tell(trial, sum(v * v for v in x))

and ``time.process_time()`` is read around every iteration, so a trial's cost includes the
sampler *and* Optuna's own bookkeeping (storage, trial objects) -- what a user actually waits
for. ``RandomSampler`` is the floor: Optuna's per-trial overhead with a sampler that does no work.

The TPE cost grows with the number of finished trials, so the script reports the **median
per-trial CPU time over a window of trials ending at each checkpoint** (e.g. trials 951-1000
for the 1,000 checkpoint) and prints a Markdown table. It measures and prints; it asserts nothing.

    python benches/bench_tpe.py                                  # 1,000 trials, the samplers' defaults
    python benches/bench_tpe.py --trials 5000 --checkpoints 1000,2000,5000 --optuna-max-trials 2000
    python benches/bench_tpe.py --univariate --repeats 3 --json results.json
    python benches/bench_tpe.py --objectives 3 --dims 10                 # multi-objective study

With ``--objectives K`` (K > 1) the study minimises K conflicting objectives (the squared
distances of the point to K different centres), which exercises the multi-objective split:
non-domination ranks and hypervolume subset selection on every TPE step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any

SAMPLER_KEYS = ("ferrotune-tpe", "optuna-tpe", "random")
LABELS = {
    "ferrotune-tpe": "ferrotune TPE",
    "optuna-tpe": "Optuna TPE",
    "random": "Optuna Random",
}
RATIO_LABELS = {"optuna-tpe": "Optuna TPE", "random": "Random"}
DEFAULT_CHECKPOINTS = (100, 500, 1000)
WARMUP_TRIALS = 20


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"checkpoints must be positive integers, got {text!r}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Median per-trial CPU time (ask -> suggest floats -> tell) of ferrotune.TPESampler, "
            "optuna.samplers.TPESampler and optuna.samplers.RandomSampler, side by side."
        )
    )
    parser.add_argument(
        "--trials", type=_positive_int, default=1000, help="trials per study (default %(default)s)"
    )
    parser.add_argument(
        "--checkpoints",
        type=_int_list,
        default=None,
        metavar="N,N,...",
        help="trial counts at which to report the windowed median "
        "(default: 100,500,1000 up to --trials, plus --trials itself)",
    )
    parser.add_argument(
        "--window",
        type=_positive_int,
        default=50,
        help="the median covers the W trials ending at each checkpoint (default %(default)s)",
        metavar="W",
    )
    parser.add_argument(
        "--optuna-max-trials",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="stop Optuna's TPE after N trials (it gets slow); it is then reported only at the "
        "checkpoints it reached. 0 skips it. Default: --trials",
    )
    parser.add_argument(
        "--repeats", type=_positive_int, default=1, help="studies per sampler; repeat r uses seed+r"
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed (default %(default)s)")
    parser.add_argument(
        "--dims",
        type=_positive_int,
        default=10,
        help="float parameters per trial (default %(default)s)",
    )
    parser.add_argument(
        "--objectives",
        type=_positive_int,
        default=1,
        help="objectives per study (default %(default)s); K > 1 makes a multi-objective study",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--multivariate",
        dest="multivariate",
        action="store_const",
        const=True,
        help="TPESampler(multivariate=True)",
    )
    mode.add_argument(
        "--univariate",
        dest="multivariate",
        action="store_const",
        const=False,
        help="TPESampler(multivariate=False)",
    )
    # None = the samplers' own default (Optuna 5: multivariate for single-objective studies).
    parser.set_defaults(multivariate=None)
    parser.add_argument(
        "--backend",
        choices=("rust", "python"),
        default=None,
        help="set FERROTUNE_BACKEND before importing ferrotune (default: environment unchanged)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)

    if args.checkpoints is None:
        args.checkpoints = sorted(
            {c for c in DEFAULT_CHECKPOINTS if c <= args.trials} | {args.trials}
        )
    elif args.checkpoints[-1] > args.trials:
        parser.error(f"checkpoint {args.checkpoints[-1]} is beyond --trials {args.trials}")
    if args.optuna_max_trials is None or args.optuna_max_trials > args.trials:
        args.optuna_max_trials = args.trials
    return args


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """Per-trial timings of one study."""

    seed: int
    cpu_seconds: list[float] = field(default_factory=list)
    wall_seconds: list[float] = field(default_factory=list)
    best_value: float = float("nan")


@dataclass
class SamplerResult:
    key: str
    n_trials: int
    runs: list[Run] = field(default_factory=list)

    def window(self, checkpoint: int, width: int) -> range:
        return range(max(0, checkpoint - width), checkpoint)

    def reached(self, checkpoint: int) -> bool:
        return self.n_trials >= checkpoint

    def median_ms(self, checkpoint: int, width: int, *, wall: bool = False) -> float:
        """Median over the window, pooling the trials of every repeat."""
        window = self.window(checkpoint, width)
        samples = [
            (run.wall_seconds if wall else run.cpu_seconds)[i] for run in self.runs for i in window
        ]
        return 1e3 * statistics.median(samples)

    def per_repeat_median_ms(self, checkpoint: int, width: int) -> list[float]:
        window = self.window(checkpoint, width)
        return [1e3 * statistics.median(run.cpu_seconds[i] for i in window) for run in self.runs]


SamplerFactory = Callable[[int], Any]


def make_factories(multivariate: bool | None) -> dict[str, SamplerFactory]:
    import optuna

    import ferrotune

    return {
        "ferrotune-tpe": lambda seed: ferrotune.TPESampler(seed=seed, multivariate=multivariate),
        "optuna-tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=multivariate),
        "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    }


def run_study(
    sampler: Any,
    n_trials: int,
    dims: int,
    progress: Callable[[int, list[float]], None] | None = None,
    objectives: int = 1,
) -> Run:
    """The ``study.optimize`` loop spelled out as ask/tell, timing each iteration."""
    study = optuna_study(sampler, objectives)
    names = [f"x{i}" for i in range(dims)]
    run = Run(seed=-1)
    for number in range(n_trials):
        timed_trial(study, names, run, objectives)
        if progress is not None:
            progress(number + 1, run.cpu_seconds)
    run.best_value = best_value(study, objectives)
    return run


def best_value(study: Any, objectives: int) -> float:
    """The best value (single objective) or the size of the Pareto front (multi-objective)."""
    if objectives == 1:
        return float(study.best_value)
    return float(len(study.best_trials))


def optuna_study(sampler: Any, objectives: int = 1) -> Any:
    import optuna

    # in-memory storage
    return optuna.create_study(sampler=sampler, directions=["minimize"] * objectives)


def timed_trial(study: Any, names: list[str], run: Run, objectives: int = 1) -> None:
    """One ask -> suggest -> tell round, its CPU and wall time appended to ``run``."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    trial = study.ask()
    x = [trial.suggest_float(name, -5.0, 5.0) for name in names]
    if objectives == 1:
        study.tell(trial, sum(v * v for v in x))
    else:  # squared distances to K centres on the diagonal: conflicting objectives
        study.tell(trial, [sum((v - 2.0 * k) ** 2 for v in x) for k in range(objectives)])
    run.cpu_seconds.append(time.process_time() - cpu0)
    run.wall_seconds.append(time.perf_counter() - wall0)


def benchmark(args: argparse.Namespace) -> dict[str, SamplerResult]:
    factories = make_factories(args.multivariate)
    budgets = {
        "ferrotune-tpe": args.trials,
        "optuna-tpe": args.optuna_max_trials,
        "random": args.trials,
    }
    results = {key: SamplerResult(key, budgets[key]) for key in SAMPLER_KEYS if budgets[key] > 0}

    # Untimed warm-up: lazy imports and first-call costs must not land in the first window.
    for key in results:
        run_study(
            factories[key](args.seed),
            min(WARMUP_TRIALS, args.trials),
            args.dims,
            objectives=args.objectives,
        )

    # Side by side: every sampler runs its own study, and the studies advance in lockstep, one
    # trial each in turn, so that load changes on the machine hit all samplers alike.
    for repeat in range(args.repeats):
        seed = args.seed + repeat
        keys = list(results)
        studies = {key: optuna_study(factories[key](seed), args.objectives) for key in keys}
        runs = {key: Run(seed=seed) for key in keys}
        progress = {
            key: (None if args.quiet else _progress_printer(key, repeat, args)) for key in keys
        }
        names = [f"x{i}" for i in range(args.dims)]
        start = time.perf_counter()
        for number in range(max(r.n_trials for r in results.values())):
            for key in keys:
                if number >= results[key].n_trials:
                    continue
                timed_trial(studies[key], names, runs[key], args.objectives)
                report = progress[key]
                if report is not None:
                    report(number + 1, runs[key].cpu_seconds)
        for key in keys:
            runs[key].best_value = best_value(studies[key], args.objectives)
            results[key].runs.append(runs[key])
        if not args.quiet:
            print(
                f"[repeat {repeat + 1}/{args.repeats}] done in {time.perf_counter() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return results


def _progress_printer(
    key: str, repeat: int, args: argparse.Namespace
) -> Callable[[int, list[float]], None]:
    every = max(args.trials // 10, 50)

    def progress(done: int, cpu_seconds: list[float]) -> None:
        if done % every == 0:
            recent = cpu_seconds[-args.window :]
            print(
                f"[{key} {repeat + 1}/{args.repeats}] {done}/{args.trials} trials, median of last "
                f"{len(recent)}: {1e3 * statistics.median(recent):.3g} ms CPU",
                file=sys.stderr,
                flush=True,
            )

    return progress


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    import numpy
    import optuna

    import ferrotune

    return {
        "ferrotune": ferrotune.__version__,
        "backend": ferrotune.get_backend(),
        "optuna": optuna.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt_ms(ms: float) -> str:
    decimals = 0 if ms >= 100 else 1 if ms >= 10 else 2 if ms >= 1 else 3
    return f"{ms:.{decimals}f} ms"


def _fmt_ratio(ratio: float) -> str:
    return f"{ratio:.3f}" if ratio < 10 else f"{ratio:.1f}"


def _ratio(
    results: dict[str, SamplerResult], other: str, checkpoint: int, width: int
) -> float | None:
    ours, theirs = results.get("ferrotune-tpe"), results.get(other)
    if (
        ours is None
        or theirs is None
        or not (ours.reached(checkpoint) and theirs.reached(checkpoint))
    ):
        return None
    denominator = theirs.median_ms(checkpoint, width)
    return ours.median_ms(checkpoint, width) / denominator if denominator > 0 else None


def markdown_table(
    results: dict[str, SamplerResult], args: argparse.Namespace, env: dict[str, Any]
) -> str:
    default = "univariate" if args.objectives > 1 else "multivariate"
    mode = {None: f"default: {default}", True: "multivariate", False: "univariate"}[
        args.multivariate
    ]
    what = f"{args.dims} float parameters"
    if args.objectives > 1:
        what += f", {args.objectives} objectives"
    lines = [
        f"### TPE per-trial CPU time ({mode}, {what})",
        "",
        f"ferrotune {env['ferrotune']} (backend `{env['backend']}`), Optuna {env['optuna']}, "
        f"numpy {env['numpy']}, Python {env['python']}, {env['platform']}, "
        f"{env['cpu_count']} CPUs ({env['cpu']}).",
        f"Median CPU time per trial (`time.process_time` around ask -> {args.dims} x suggest_float "
        f"-> tell, in-memory storage) over the {args.window} trials ending at each checkpoint; "
        f"{args.repeats} repeat(s), seed {args.seed}.",
        "",
    ]
    columns = [key for key in SAMPLER_KEYS if key in results]
    header = ["trials", "window"] + [LABELS[key] for key in columns]
    baselines = [key for key in ("optuna-tpe", "random") if key in results]
    header += [f"ours / {RATIO_LABELS[key]}" for key in baselines]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---:", "---"] + ["---:"] * (len(header) - 2)) + "|")
    for checkpoint in args.checkpoints:
        window = range(max(0, checkpoint - args.window), checkpoint)
        cells = [f"{checkpoint:,}", f"{window.start + 1}-{window.stop}"]
        for key in columns:
            result = results[key]
            if result.reached(checkpoint):
                cells.append(_fmt_ms(result.median_ms(checkpoint, args.window)))
            else:
                cells.append(f"- (stopped at {result.n_trials:,})")
        for other in baselines:
            ratio = _ratio(results, other, checkpoint, args.window)
            cells.append("-" if ratio is None else _fmt_ratio(ratio))
        lines.append("| " + " | ".join(cells) + " |")

    summary = _summary(results, args)
    if summary:
        lines += [""] + summary
    return "\n".join(lines)


def _summary(results: dict[str, SamplerResult], args: argparse.Namespace) -> list[str]:
    """One sentence per baseline, at the largest checkpoint both samplers reached."""
    lines = []
    for other, what in (("optuna-tpe", "Optuna's TPE"), ("random", "Optuna's RandomSampler")):
        ratios = [(c, _ratio(results, other, c, args.window)) for c in args.checkpoints]
        reached = [(c, r) for c, r in ratios if r is not None]
        if not reached:
            continue
        checkpoint, ratio = reached[-1]
        if ratio < 1:
            lines.append(
                f"At {checkpoint:,} trials a ferrotune TPE trial costs {1 / ratio:.1f}x less CPU "
                f"than one with {what}."
            )
        else:
            lines.append(
                f"At {checkpoint:,} trials a ferrotune TPE trial costs {ratio:.1f}x the CPU of one "
                f"with {what}."
            )
    return lines


def to_json(
    results: dict[str, SamplerResult], args: argparse.Namespace, env: dict[str, Any]
) -> dict[str, Any]:
    config = {
        "trials": args.trials,
        "checkpoints": args.checkpoints,
        "window": args.window,
        "optuna_max_trials": args.optuna_max_trials,
        "repeats": args.repeats,
        "seed": args.seed,
        "dims": args.dims,
        "objectives": args.objectives,
        "multivariate": args.multivariate,
        "timer": "time.process_time",
    }
    samplers: dict[str, Any] = {}
    for key, result in results.items():
        checkpoints = {}
        for checkpoint in args.checkpoints:
            if not result.reached(checkpoint):
                continue
            window = result.window(checkpoint, args.window)
            checkpoints[str(checkpoint)] = {
                "window": [window.start + 1, window.stop],
                "median_cpu_ms": result.median_ms(checkpoint, args.window),
                "median_wall_ms": result.median_ms(checkpoint, args.window, wall=True),
                "per_repeat_median_cpu_ms": result.per_repeat_median_ms(checkpoint, args.window),
            }
        samplers[key] = {
            "label": LABELS[key],
            "trials": result.n_trials,
            "checkpoints": checkpoints,
            "runs": [
                {
                    "seed": run.seed,
                    "best_value": run.best_value,
                    "total_cpu_s": sum(run.cpu_seconds),
                    "per_trial_cpu_ms": [round(1e3 * s, 4) for s in run.cpu_seconds],
                }
                for run in result.runs
            ],
        }
    ratios = {
        str(checkpoint): {
            "ours_over_optuna_tpe": _ratio(results, "optuna-tpe", checkpoint, args.window),
            "ours_over_random": _ratio(results, "random", checkpoint, args.window),
        }
        for checkpoint in args.checkpoints
    }
    return {"config": config, "environment": env, "samplers": samplers, "ratios": ratios}


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.backend is not None:
        os.environ["FERROTUNE_BACKEND"] = args.backend  # must happen before ferrotune is imported
    try:
        import optuna

        import ferrotune  # noqa: F401
    except ImportError as exc:
        print(
            f"error: {exc}\nInstall ferrotune first (pip install . or maturin develop --release).",
            file=sys.stderr,
        )
        return 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    env = environment()
    if not args.quiet:
        print(
            f"ferrotune {env['ferrotune']} backend={env['backend']}, optuna {env['optuna']}; "
            f"{args.trials} trials (Optuna TPE: {args.optuna_max_trials}), "
            f"{args.repeats} repeat(s)",
            file=sys.stderr,
            flush=True,
        )
    results = benchmark(args)
    print(markdown_table(results, args, env))
    if args.json is not None:
        args.json.write_text(json.dumps(to_json(results, args, env), indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
