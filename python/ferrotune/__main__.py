"""Command line: ``python -m ferrotune {demo,info}``."""

from __future__ import annotations

import argparse
import sys

import ferrotune
from ferrotune.demo import DATASETS, QUICK_OVERRIDES, DemoConfig, run_demo


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _folds(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"cross-validation needs at least 2 folds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    defaults = DemoConfig()
    parser = argparse.ArgumentParser(
        prog="python -m ferrotune",
        description="ferrotune: Rust-accelerated, Optuna-compatible hyperparameter optimisation.",
    )
    parser.add_argument("--version", action="version", version=f"ferrotune {ferrotune.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="tune a scikit-learn model with ferrotune's and Optuna's TPE side by side",
        description=(
            "Tune HistGradientBoostingClassifier (cross-validated accuracy) twice, with "
            "ferrotune.TPESampler and optuna.samplers.TPESampler (same seed, same budget), and "
            "compare best score, best parameters, wall time and time spent inside the sampler. "
            "A second phase on a cheap synthetic objective shows where the sampler's own cost "
            "dominates. Needs scikit-learn (pip install 'ferrotune[demo]')."
        ),
    )
    demo.add_argument(
        "--trials",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"trials per sampler for the model (default {defaults.trials}; "
        f"{QUICK_OVERRIDES['trials']} with --quick)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="seed for both samplers and the CV splits (default %(default)s)",
    )
    demo.add_argument(
        "--dataset",
        choices=DATASETS,
        default=defaults.dataset,
        help="scikit-learn bundled dataset (default %(default)s; digits is ~10x slower)",
    )
    demo.add_argument(
        "--folds",
        type=_folds,
        default=None,
        help=f"cross-validation folds (default {defaults.folds}; "
        f"{QUICK_OVERRIDES['folds']} with --quick)",
    )
    demo.add_argument(
        "--synthetic-trials",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="trials per sampler on the synthetic quadratic, 0 to skip that phase "
        f"(default {defaults.synthetic_trials}; "
        f"{QUICK_OVERRIDES['synthetic_trials']} with --quick)",
    )
    demo.add_argument(
        "--multivariate",
        action="store_true",
        help="use TPESampler(multivariate=True) for both samplers",
    )
    demo.add_argument(
        "--progress-every",
        type=_non_negative_int,
        default=0,
        metavar="K",
        help="print a progress line every K trials (default: about a dozen lines per study)",
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help="a few-second smoke run: tiny budget, 2-fold CV, few boosting iterations",
    )

    commands.add_parser("info", help="print the ferrotune version and active backend")
    return parser


def _demo_config(args: argparse.Namespace) -> DemoConfig:
    config = DemoConfig(
        seed=args.seed,
        dataset=args.dataset,
        multivariate=args.multivariate,
        progress_every=args.progress_every,
    )
    if args.quick:
        for name, value in QUICK_OVERRIDES.items():
            setattr(config, name, value)
    # Explicit options win over --quick.
    for name in ("trials", "folds", "synthetic_trials"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)
    return config


def _info() -> int:
    import optuna

    print(f"ferrotune {ferrotune.__version__}")
    print(f"backend   {ferrotune.get_backend()}")
    print(f"optuna    {optuna.__version__}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            return run_demo(_demo_config(args))
        if args.command == "info":
            return _info()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2  # not reached: parser.error exits


if __name__ == "__main__":
    sys.exit(main())
