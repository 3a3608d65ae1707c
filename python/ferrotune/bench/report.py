"""The Markdown report and PNG plots of a results file."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from typing import Any, Optional

import numpy as np

from ferrotune.bench.samplers import SAMPLERS


def _best_so_far(values: list[float]) -> np.ndarray:
    v = np.array([x if math.isfinite(x) else np.inf for x in values], dtype=float)
    return np.minimum.accumulate(v) if len(v) else v


def _pad(a: np.ndarray, n: int) -> np.ndarray:
    """Extend a run that stopped early (an exhausted grid) by repeating its last entry."""
    if len(a) >= n or len(a) == 0:
        return a[:n]
    return np.concatenate([a, np.full(n - len(a), a[-1])])


def _on_budget_grid(
    best: np.ndarray, elapsed: np.ndarray, costs: list[float], total: int
) -> tuple[np.ndarray, np.ndarray]:
    """A multi-fidelity run's best-so-far values and elapsed times per trial, re-indexed by the
    budget spent: entry ``b - 1`` holds what the run had after spending ``b`` budget units
    (``inf`` / 0 before its first trial finished). Trials finishing beyond ``total`` are cut."""
    spent = np.cumsum(np.asarray(costs, dtype=float))
    grid = np.arange(1, total + 1, dtype=float)
    idx = np.searchsorted(spent, grid, side="right") - 1  # last trial finished by budget b
    ok = idx >= 0
    out_best = np.full(total, np.inf)
    out_time = np.zeros(total)
    out_best[ok] = best[idx[ok]]
    out_time[ok] = elapsed[idx[ok]]
    return out_best, out_time


def summarise(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per problem: optimum used, and per sampler the regret curves, times and trial counts.

    The curves are indexed by trial, or, on a multi-fidelity problem (records with ``costs``), by
    budget unit spent (``n_trials * R`` entries); ``reach`` is then in budget units too."""
    by_problem: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_problem[r["problem"]].append(r)
    out: dict[str, dict[str, Any]] = {}
    for problem, runs in by_problem.items():
        n = max(r["n_trials"] for r in runs)
        top = runs[0].get("max_budget")
        length = n * int(top) if top else n
        known = runs[0].get("optimum")
        best_found = min(
            (v for r in runs for v in r["values"] if math.isfinite(v)), default=math.nan
        )
        optimum = known if known is not None else best_found
        per: dict[str, Any] = {}
        for sampler in sorted({r["sampler"] for r in runs}, key=_order):
            mine = [r for r in runs if r["sampler"] == sampler]
            if top:
                grids = [
                    _on_budget_grid(
                        _best_so_far(r["values"]), np.asarray(r["elapsed"], float), r["costs"], length
                    )
                    for r in mine
                ]
                regret = np.array([g[0] - optimum for g in grids], dtype=float)
                elapsed = np.array([g[1] for g in grids])
            else:
                regret = np.array(
                    [_pad(_best_so_far(r["values"]) - optimum, n) for r in mine], dtype=float
                )
                elapsed = np.array([_pad(np.asarray(r["elapsed"], float), n) for r in mine])
            target = mine[0]["target"]
            reach = []
            for row in regret:
                hit = np.nonzero(row <= target)[0]
                reach.append(int(hit[0]) + 1 if len(hit) else None)
            overhead = [float(np.median(r["overhead"])) for r in mine if r["overhead"]]
            per[sampler] = {
                "regret": regret,
                "elapsed": elapsed,
                "reach": reach,
                "target": target,
                "overhead": float(np.median(overhead)) if overhead else math.nan,
                "trials": [len(r["values"]) for r in mine],
            }
        out[problem] = {
            "optimum": optimum,
            "known": known is not None,
            "n": n,
            "max_budget": int(top) if top else None,
            "description": runs[0].get("description", ""),
            "samplers": per,
        }
    return out


def _order(name: str) -> tuple[int, str]:
    names = list(SAMPLERS)
    return (names.index(name) if name in names else len(names), name)


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 1000 or abs(x) < 1e-3:
        return f"{x:.2e}"
    return f"{x:.4g}"


def _reach_text(reach: list[Optional[int]]) -> str:
    hits = sorted(r for r in reach if r is not None)
    if not hits:
        return f"never (0/{len(reach)})"
    # median over all seeds, counting misses as infinite
    vals = sorted(r if r is not None else math.inf for r in reach)
    med = float(np.median(vals)) if all(math.isfinite(v) for v in vals) else vals[len(vals) // 2]
    text = f"{med:.0f}" if math.isfinite(med) else "> budget"
    return f"{text} ({len(hits)}/{len(reach)})"


def write_markdown(summary: dict[str, dict[str, Any]], path: str, plots: list[str], meta: str) -> None:
    lines = ["# ferrotune benchmark report", "", meta, ""]
    lines += [
        "Regret = best value found so far minus the optimum (the known optimum, or, where none is",
        "known, the best value any run found). Median and interquartile range (IQR) over seeds of",
        "the final regret; *trials to target* is the median number of trials until the regret first",
        "fell to the problem's target (a run that never got there counts as infinite; in brackets:",
        "how many seeds got there); *overhead* is the median time per trial spent outside the",
        "objective (sampling and Optuna's bookkeeping).",
        "",
        "Multi-fidelity problems (`mf_*`) are measured by budget spent, not trials: a trial",
        "evaluates its configuration at the budgets 1, 3, 9, ..., R in turn (epochs for `mf_sgd`),",
        "reports each loss and stops when the pruner says so; it costs the last budget it ran (a",
        "promoted configuration continues, as training resumes from its last epoch). Every method",
        "gets the same total budget (the problem's trials x R); the methods without a pruner run",
        "every trial at the full budget R, the two Hyperband methods prune and so try more",
        "configurations. Only trials that ran to R count for the regret (their value is the loss at",
        "R; for `mf_hartmann6` the exact Hartmann-6 value, the lower budgets being biased and",
        "noisy). *budget to target* is in budget units, and the curves of `regret_vs_trials.png`",
        "are against budget spent on these problems.",
        "",
        "In the plots (median and IQR over seeds, log scale), a regret of 0 (a run that found the",
        "best value of all runs) is drawn at half the smallest positive regret of the panel.",
        "",
    ]
    for problem, info in summary.items():
        any_s = next(iter(info["samplers"].values()))
        opt = _fmt(info["optimum"]) + ("" if info["known"] else " (best found)")
        top = info.get("max_budget")
        seeds = max(len(s["reach"]) for s in info["samplers"].values())
        lines.append(f"## {problem}")
        lines.append("")
        if info.get("description"):
            lines.append(info["description"] + ".")
            lines.append("")
        if top:
            lines.append(
                f"Optimum {opt}; target regret {_fmt(any_s['target'])}; budget {info['n'] * top} "
                f"units per run ({info['n']} full evaluations at R = {top}); {seeds} seeds."
            )
            lines.append("")
            lines.append(
                "| sampler | final regret (median) | IQR | budget to target | trials run (median) "
                "| overhead ms/trial | seeds |"
            )
            lines.append("|---|---:|---|---:|---:|---:|---:|")
        else:
            lines.append(
                f"Optimum {opt}; target regret {_fmt(any_s['target'])}; budget {info['n']} trials; "
                f"{seeds} seeds."
            )
            lines.append("")
            lines.append(
                "| sampler | final regret (median) | IQR | trials to target | overhead ms/trial | seeds |"
            )
            lines.append("|---|---:|---|---:|---:|---:|")
        ranked = sorted(
            info["samplers"].items(), key=lambda kv: float(np.median(kv[1]["regret"][:, -1]))
        )
        for sampler, s in ranked:
            final = s["regret"][:, -1]
            q1, med, q3 = np.percentile(final, [25, 50, 75])
            if top:
                lines.append(
                    f"| {sampler} | {_fmt(med)} | {_fmt(q1)} – {_fmt(q3)} | "
                    f"{_reach_text(s['reach'])} | {float(np.median(s['trials'])):.0f} | "
                    f"{s['overhead'] * 1000:.2f} | {len(final)} |"
                )
                continue
            short = ""
            if min(s["trials"]) < info["n"]:
                short = f" (stopped after {min(s['trials'])})"
            lines.append(
                f"| {sampler}{short} | {_fmt(med)} | {_fmt(q1)} – {_fmt(q3)} | "
                f"{_reach_text(s['reach'])} | {s['overhead'] * 1000:.2f} | {len(final)} |"
            )
        lines.append("")
        names = list(info["samplers"])
        same = [
            f"{a} = {b}"
            for i, a in enumerate(names)
            for b in names[i + 1 :]
            if info["samplers"][a]["regret"].shape == info["samplers"][b]["regret"].shape
            and np.array_equal(info["samplers"][a]["regret"], info["samplers"][b]["regret"])
        ]
        if same:
            lines.append(
                "Identical regret curves on every seed (the plots overlap): " + "; ".join(same) + "."
            )
            lines.append("")
    for p in plots:
        lines.append(f"![{os.path.splitext(os.path.basename(p))[0]}]({os.path.basename(p)})")
        lines.append("")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


def write_plots(summary: dict[str, dict[str, Any]], out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    paths = []
    all_samplers = sorted({s for info in summary.values() for s in info["samplers"]}, key=_order)
    cmap = plt.get_cmap("tab10")
    palette = [cmap(i) for i in range(10)] + ["black", "gold", "lime", "navy"]
    colours = {s: palette[i % len(palette)] for i, s in enumerate(all_samplers)}
    for kind in ("trials", "time"):
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
        for ax, problem in zip(axes.flat, names):
            info = summary[problem]
            # log scale: a regret of 0 (the best value found) is drawn at half the smallest
            # positive regret of the panel
            positive = [
                float(np.min(r[(r > 0) & np.isfinite(r)]))
                for r in (s["regret"] for s in info["samplers"].values())
                if np.any((r > 0) & np.isfinite(r))
            ]
            floor = 0.5 * min(positive) if positive else 1e-9
            for sampler, s in info["samplers"].items():
                reg = np.maximum(s["regret"], floor)
                med = np.median(reg, axis=0)
                lo, hi = np.percentile(reg, [25, 75], axis=0)
                x = (
                    np.arange(1, reg.shape[1] + 1)
                    if kind == "trials"
                    else np.median(s["elapsed"], axis=0)
                )
                style = "-" if sampler.startswith("ferrotune") else "--"
                ax.plot(x, med, style, color=colours[sampler], label=sampler, lw=1.4)
                ax.fill_between(x, lo, hi, color=colours[sampler], alpha=0.12)
            ax.set_yscale("log")
            if kind == "time":
                ax.set_xscale("log")
            top = info.get("max_budget")
            ax.set_title(problem)
            if kind == "trials":
                ax.set_xlabel(f"budget spent (R = {top} per full evaluation)" if top else "trials")
            else:
                ax.set_xlabel("wall time [s] (median over seeds)")
            ax.set_ylabel("best-so-far regret")
            ax.grid(True, which="both", alpha=0.3)
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        seen: dict[str, Any] = {}
        for ax in axes.flat:  # every method, also those that run on some problems only
            for h, lab in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lab, h)
        labels = sorted(seen, key=_order)
        handles = [seen[lab] for lab in labels]
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=8)
        fig.tight_layout(rect=(0, 0.08, 1, 1))
        path = os.path.join(out_dir, f"regret_vs_{kind}.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
