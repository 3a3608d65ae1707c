"""Command line: ``python -m ferrotune.bench`` (also the ``ferrotune-bench`` script).

Runs problems x samplers x seeds, appending one JSON line per finished run to the results file
(re-running skips the runs already there, so an interrupted benchmark resumes), then writes
``report.md`` and the plots ``regret_vs_trials.png`` / ``regret_vs_time.png`` next to it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from typing import Optional, Sequence

from ferrotune.bench.problems import DEFAULT_PROBLEMS, PROBLEMS, run_size
from ferrotune.bench.report import summarise, write_markdown, write_plots
from ferrotune.bench.runner import load_results, run_matrix
from ferrotune.bench.samplers import SAMPLERS


def _list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ferrotune-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=_list, default=DEFAULT_PROBLEMS,
                        help=f"comma-separated; known: {', '.join(PROBLEMS)}")
    parser.add_argument("--samplers", type=_list, default=list(SAMPLERS),
                        help=f"comma-separated; known: {', '.join(SAMPLERS)}")
    parser.add_argument("--seeds", type=int, default=None,
                        help="number of seeds (0..n-1); default: each problem's own (5)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per run (multi-fidelity problems: budget in full "
                        "evaluations); default: each problem's own (100; 50 for SVC, 40 for the "
                        "slower scikit-learn tasks)")
    parser.add_argument("--out", default="bench-results", help="output directory")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if (args.trials is not None and args.trials < 1) or (args.seeds is not None and args.seeds < 1):
        parser.error("--trials and --seeds must be at least 1")
    for name in args.problems:
        if name not in PROBLEMS:
            parser.error(f"unknown problem {name!r}; known: {', '.join(PROBLEMS)}")
    for name in args.samplers:
        if name not in SAMPLERS:
            parser.error(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")
    os.makedirs(args.out, exist_ok=True)
    results = os.path.join(args.out, "results.jsonl")
    if not args.report_only:
        seeds = range(args.seeds) if args.seeds is not None else None
        ran, skipped, _ = run_matrix(
            args.problems, args.samplers, seeds, args.trials, results, args.quiet
        )
        print(f"ran {ran} runs, skipped {skipped} already in {results}", file=sys.stderr)
    sizes = {p: run_size(p) for p in args.problems}
    want = {
        p: (args.trials if args.trials is not None else t, args.seeds if args.seeds is not None else n)
        for p, (t, n) in sizes.items()
    }
    records = [
        r for r in load_results(results)
        if r["problem"] in want and r["sampler"] in args.samplers
        and r["n_trials"] == want[r["problem"]][0] and r["seed"] < want[r["problem"]][1]
    ]
    if not records:
        print("no results to report", file=sys.stderr)
        return 1
    import numpy as np

    summary = summarise(records)
    with np.errstate(invalid="ignore"):  # runs with no full-budget trial yet: inf regret
        plots = write_plots(summary, args.out)
    import ferrotune
    import optuna

    shown = list(argv if argv is not None else sys.argv[1:])
    if args.trials is None and args.seeds is None:
        size = "Trials and seeds: each problem's defaults (given in its section)"
    else:
        size = (
            f"{args.trials if args.trials is not None else 'default'} trials x "
            f"{args.seeds if args.seeds is not None else 'default'} seeds"
        )
    total = sum(r["elapsed"][-1] for r in records if r["elapsed"])
    meta = (
        f"{size}; the {len(records)} runs took {total / 60:.1f} min of wall time in all. "
        f"ferrotune {ferrotune.__version__} "
        f"({ferrotune.get_backend()} backend), optuna {optuna.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}. "
        f"Command: `python -m ferrotune.bench {' '.join(a for a in shown if a != '--report-only')}`."
    )
    with np.errstate(invalid="ignore"):
        write_markdown(summary, os.path.join(args.out, "report.md"), plots, meta)
    print(f"wrote {os.path.join(args.out, 'report.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
