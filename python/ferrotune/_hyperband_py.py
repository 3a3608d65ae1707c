"""Pure-Python twin of the native Hyperband core (``ferrotune._core.hb_*``, ``HbRungTable``,
``HbScheduler``; Rust source in ``rust/ferrotune-core/src/hyperband/``).

Same names, same signatures, same results, same errors: the pruners and the scheduler call
whichever of the two the backend selection picks (``ferrotune.pruners._hb_core``). Integers are
exact (Python ints, checked against the same 64-bit limits the Rust code enforces) and the float
operations are performed in the same order, so both give identical numbers.
"""

from __future__ import annotations

import binascii
import math
from bisect import bisect_left, bisect_right, insort
from typing import Dict, List, Optional, Tuple

from ferrotune.exceptions import InvalidArgumentError

INT_LIMIT = 2**63 - 1
"""Largest accepted resource, reduction factor, rate or count (``i64::MAX``)."""
_U32 = 2**32
_U64_MAX = 2**64 - 1
_U128 = 2**128


def _non_negative(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise InvalidArgumentError(f"{name} must be an integer in [0, 2^63), got {value!r}")
    if value < 0:
        raise InvalidArgumentError(f"{name} must be a non-negative integer, got {value}")
    return value


def _check_eta(eta: int) -> None:
    if not 2 <= eta <= INT_LIMIT:
        raise InvalidArgumentError(
            f"reduction_factor must be an integer in [2, {INT_LIMIT}], got {eta}"
        )


# --- Optuna's pruner-side bracket arithmetic -------------------------------------------------


def hb_crc32(text: str) -> int:
    """CRC-32 of the UTF-8 encoding of ``text``."""
    return binascii.crc32(text.encode())


def hb_n_brackets(min_resource: int, max_resource: int, eta: int) -> int:
    """Exact ``floor(log_eta(max_resource / min_resource)) + 1``, without a logarithm."""
    _non_negative("min_resource", min_resource)
    _non_negative("max_resource", max_resource)
    _non_negative("reduction_factor", eta)
    _check_eta(eta)
    if not 1 <= min_resource <= INT_LIMIT:
        raise InvalidArgumentError(
            f"min_resource must be an integer in [1, {INT_LIMIT}], got {min_resource}"
        )
    if not min_resource <= max_resource <= INT_LIMIT:
        raise InvalidArgumentError(
            f"max_resource must be an integer in [min_resource, {INT_LIMIT}] = "
            f"[{min_resource}, {INT_LIMIT}], got {max_resource}"
        )
    reached, s = min_resource, 0
    while reached * eta <= max_resource:
        reached *= eta
        s += 1
    return s + 1


def hb_allocation_budgets(n_brackets: int, eta: int) -> List[int]:
    """``ceil(n_brackets * eta^s / (s + 1))`` for bracket ``b`` with ``s = n_brackets - 1 - b``."""
    if not 0 <= n_brackets < _U32:
        raise InvalidArgumentError(f"n_brackets must be in [1, 2^32), got {n_brackets}")
    _non_negative("reduction_factor", eta)
    if n_brackets == 0:
        raise InvalidArgumentError("n_brackets must be at least 1")
    _check_eta(eta)
    budgets = []
    for b in range(n_brackets):
        s = n_brackets - 1 - b
        weight = n_brackets * eta**s
        if weight >= _U128:
            raise InvalidArgumentError(
                f"{n_brackets} brackets with reduction_factor {eta}: allocation budgets overflow"
            )
        budgets.append(-(-weight // (s + 1)))
    return budgets


def hb_bracket_of_trial(study_name: str, number: int, budgets: List[int]) -> int:
    """Bracket of trial ``number``: crc32 of ``"{study_name}_{number}"`` modulo the total budget,
    walked through the cumulative budgets."""
    _non_negative("trial number", number)
    total = sum(budgets)
    if total >= _U128:
        raise InvalidArgumentError("allocation budgets overflow")
    if total == 0:
        raise InvalidArgumentError("allocation budgets must contain a positive budget")
    rest = binascii.crc32(f"{study_name}_{number}".encode()) % total
    for bracket, budget in enumerate(budgets):
        if rest < budget:
            return bracket
        rest -= budget
    raise InvalidArgumentError("bracket walk ran past the budgets")  # pragma: no cover


def hb_promotion_step(min_resource: int, eta: int, exponent: int) -> Optional[int]:
    """``min_resource * eta^exponent``, or ``None`` past 2^128."""
    _non_negative("min_resource", min_resource)
    _non_negative("reduction_factor", eta)
    _non_negative("exponent", exponent)
    if exponent >= _U32:
        return None
    if eta >= 2 and exponent > 128:  # 2^129 already overflows: skip the huge power
        return None
    power = eta**exponent
    if power >= _U128:
        return None
    step = power * min_resource
    return step if step < _U128 else None


# --- The promotion rule and the rung table ---------------------------------------------------


def _count_better(ascending: List[float], value: float, maximize: bool) -> int:
    if maximize:
        return len(ascending) - bisect_right(ascending, value)
    return bisect_left(ascending, value)


def _rank_passes(n_better: int, n_others: int, eta: int) -> bool:
    k = max((n_others + 1) // eta - 1, 0)
    return n_better <= k


def hb_is_promotable(value: float, competitors: List[float], eta: int, maximize: bool) -> bool:
    """Is ``value`` among the best ``max(n // eta - 1, 0) + 1`` of ``competitors`` plus itself?"""
    _non_negative("reduction_factor", eta)
    if eta < 2:
        raise InvalidArgumentError(f"reduction_factor must be at least 2, got {eta}")
    if math.isnan(value):
        return False
    others = sorted(x for x in competitors if not math.isnan(x))
    return _rank_passes(_count_better(others, value, maximize), len(others), eta)


class HbRungTable:
    """Rung values of many trials, grouped by bracket, with sorted copies per (group, rung)."""

    __slots__ = ("_sorted", "_trials")

    def __init__(self) -> None:
        self._sorted: Dict[Tuple[int, int], List[float]] = {}
        # trial -> (group, {rung: value})
        self._trials: Dict[int, Tuple[int, Dict[int, float]]] = {}

    def _insert(self, group: int, rung: int, value: float) -> None:
        insort(self._sorted.setdefault((group, rung), []), value)

    def _remove(self, group: int, rung: int, value: float) -> None:
        level = self._sorted.get((group, rung))
        if level is None:
            return
        at = bisect_left(level, value)
        if at < len(level) and level[at] == value:
            del level[at]
        if not level:
            del self._sorted[(group, rung)]

    def set(self, trial: int, group: int, rung: int, value: float) -> None:
        _non_negative("group", group)
        if not 0 <= rung < _U32:
            raise InvalidArgumentError(f"rung must be in [0, 2^32), got {rung}")
        value = float(value)
        entry = self._trials.get(trial)
        if entry is not None and entry[0] != group:
            for r, v in entry[1].items():
                self._remove(entry[0], r, v)
                self._insert(group, r, v)
            entry = (group, entry[1])
            self._trials[trial] = entry
        if entry is not None and rung in entry[1]:
            previous = entry[1][rung]
            if previous == value:
                return
            self._remove(group, rung, previous)
            del entry[1][rung]
        if not math.isnan(value):
            self._insert(group, rung, value)
            if entry is None:
                entry = (group, {})
                self._trials[trial] = entry
            entry[1][rung] = value
        if entry is not None and not entry[1]:
            del self._trials[trial]

    def get(self, trial: int, rung: int) -> Optional[float]:
        entry = self._trials.get(trial)
        return None if entry is None else entry[1].get(rung)

    def remove_trial(self, trial: int) -> None:
        entry = self._trials.pop(trial, None)
        if entry is not None:
            for r, v in entry[1].items():
                self._remove(entry[0], r, v)

    def count(self, group: int, rung: int) -> int:
        return len(self._sorted.get((group, rung), ()))

    def n_trials(self) -> int:
        return len(self._trials)

    def _competitors(
        self, trial: int, group: int, rung: int, value: float, maximize: bool
    ) -> Tuple[int, int]:
        level = self._sorted.get((group, rung))
        if level is None:
            return 0, 0
        n_others = len(level)
        n_better = _count_better(level, value, maximize)
        entry = self._trials.get(trial)
        if entry is not None and entry[0] == group and rung in entry[1]:
            own = entry[1][rung]
            n_others -= 1
            if _count_better([own], value, maximize) == 1:
                n_better -= 1
        if math.isnan(value):
            n_better = n_others  # NaN ranks below every value
        return n_others, n_better

    def rank(self, trial: int, group: int, rung: int, value: float, maximize: bool) -> int:
        _non_negative("group", group)
        return self._competitors(trial, group, rung, float(value), maximize)[1]

    def decide(
        self,
        trial: int,
        group: int,
        rung: int,
        step: int,
        value: float,
        min_resource: int,
        reduction_factor: int,
        min_early_stopping_rate: int,
        bootstrap_count: int,
        maximize: bool,
    ) -> Tuple[int, bool]:
        """``(rungs_completed, prune)`` for ``trial`` at ``step`` (see the Rust ``RungTable``)."""
        for name, v in (
            ("min_resource", min_resource),
            ("reduction_factor", reduction_factor),
            ("min_early_stopping_rate", min_early_stopping_rate),
            ("bootstrap_count", bootstrap_count),
        ):
            _non_negative(name, v)
        _non_negative("group", group)
        if not 0 <= rung < _U32:
            raise InvalidArgumentError(f"rung must be in [0, 2^32), got {rung}")
        _non_negative("step", step)
        if not 1 <= min_resource <= INT_LIMIT:
            raise InvalidArgumentError(
                f"min_resource must be an integer in [1, {INT_LIMIT}], got {min_resource}"
            )
        _check_eta(reduction_factor)
        for name, v in (
            ("min_early_stopping_rate", min_early_stopping_rate),
            ("bootstrap_count", bootstrap_count),
        ):
            if v > INT_LIMIT:
                raise InvalidArgumentError(
                    f"{name} must be an integer in [0, {INT_LIMIT}], got {v}"
                )
        value = float(value)
        completed = 0
        while True:
            at = hb_promotion_step(min_resource, reduction_factor, min_early_stopping_rate + rung)
            if at is None or step < at:
                return completed, False
            if math.isnan(value):
                return completed, True
            completed += 1
            n_others, n_better = self._competitors(trial, group, rung, value, maximize)
            if n_others < bootstrap_count:
                return completed, True
            if not _rank_passes(n_better, n_others, reduction_factor):
                return completed, True
            if rung + 1 >= _U32:
                return completed, False
            rung += 1


# --- Li et al.'s synchronous brackets --------------------------------------------------------


def _pow_f64(eta: int, k: int) -> float:
    base = float(eta)
    p = 1.0
    for _ in range(k):
        p *= base
    return p


def _max_bracket_index(min_budget: float, max_budget: float, eta: int) -> int:
    if not (math.isfinite(min_budget) and min_budget > 0.0):
        raise InvalidArgumentError(f"min_budget must be a finite number > 0, got {min_budget}")
    if not math.isfinite(max_budget):
        raise InvalidArgumentError(f"max_budget must be finite, got {max_budget}")
    if min_budget >= max_budget:
        raise InvalidArgumentError(
            f"min_budget must be smaller than max_budget, got {min_budget} >= {max_budget}"
        )
    if eta < 2:
        raise InvalidArgumentError(f"eta must be an integer >= 2, got {eta}")
    base = float(eta)
    s, p = 0, base
    while min_budget * p <= max_budget:
        s += 1
        p *= base
    return s


def hb_plan(min_budget: float, max_budget: float, eta: int) -> List[Tuple[int, List[Tuple[int, float]]]]:
    """Li et al.'s bracket table ``[(s, [(n_i, r_i), ...]), ...]`` from ``s = s_max`` to 0."""
    _non_negative("eta", eta)
    min_budget, max_budget = float(min_budget), float(max_budget)
    s_max = _max_bracket_index(min_budget, max_budget, eta)
    width = s_max + 1
    plan = []
    for s in range(s_max, -1, -1):
        eta_s = eta**s
        if eta_s > _U64_MAX or width * eta_s > _U64_MAX:
            raise InvalidArgumentError(
                f"budgets {min_budget}..{max_budget} with eta {eta} give {width} brackets: the "
                "bracket sizes do not fit in 64 bits"
            )
        n = -(-(width * eta_s) // (s + 1))
        rungs = [(n // eta**i, max_budget / _pow_f64(eta, s - i)) for i in range(s + 1)]
        plan.append((s, rungs))
    return plan


class HbScheduler:
    """Ask/tell Hyperband over configuration ids; see the Rust ``Scheduler`` for the rules.

    ``ask()`` returns ``(id, config, bracket, rung, budget, new_config)``.
    """

    def __init__(self, min_budget: float, max_budget: float, eta: int, mode: str) -> None:
        _non_negative("eta", eta)
        if mode not in ("sync", "async"):
            raise InvalidArgumentError(f"mode must be 'sync' or 'async', got {mode!r}")
        self._plan = hb_plan(min_budget, max_budget, eta)
        self._eta = eta
        self._mode = mode
        self._next_job = 0
        self._next_config = 0
        self._pending = 0
        # job id -> [config, slot, told]; slot = ("sync", instance, position) | ("async", p, k)
        self._jobs: Dict[int, list] = {}
        # Synchronous: instance id -> [bracket, rung, promoted, results, told]; dicts keep order.
        self._open: Dict[int, list] = {}
        self._next_instance = 0
        self._next_sync_bracket = 0
        # Asynchronous: per bracket, per rung: [sorted (loss, job, config) list, promoted set].
        self._asha = [[[[], set()] for _ in rungs] for _, rungs in self._plan]
        self._new_bracket = 0
        self._new_in_bracket = 0

    def n_pending(self) -> int:
        return self._pending

    def n_configs(self) -> int:
        return self._next_config

    def _issue(self, config: int, bracket: int, rung: int, slot: tuple, new: bool) -> tuple:
        job = self._next_job
        self._next_job += 1
        self._pending += 1
        self._jobs[job] = [config, slot, False]
        s, rungs = self._plan[bracket]
        return (job, config, s, rung, rungs[rung][1], new)

    def ask(self) -> tuple:
        return self._ask_sync() if self._mode == "sync" else self._ask_async()

    def _ask_sync(self) -> tuple:
        ready = None
        for inst_id, inst in self._open.items():
            if len(inst[3]) < self._plan[inst[0]][1][inst[1]][0]:
                ready = inst_id
                break
        if ready is None:
            ready = self._next_instance
            self._next_instance += 1
            bracket = self._next_sync_bracket
            self._next_sync_bracket = (bracket + 1) % len(self._plan)
            self._open[ready] = [bracket, 0, [], [], 0]
        inst = self._open[ready]
        bracket, rung, position = inst[0], inst[1], len(inst[3])
        if rung > 0 and position < len(inst[2]):
            config, new = inst[2][position], False
        else:
            config, new = self._next_config, True
            self._next_config += 1
        inst[3].append([config, None])
        return self._issue(config, bracket, rung, ("sync", ready, position), new)

    def _find_promotion(self) -> Optional[Tuple[int, int, int]]:
        s_max = len(self._plan) - 1
        for level in range(s_max - 1, -1, -1):
            for p in range(level + 1):
                results, promoted = self._asha[p][level - p]
                top = len(results) // self._eta
                for _, _, config in results[:top]:
                    if config not in promoted:
                        return p, level - p, config
        return None

    def _ask_async(self) -> tuple:
        found = self._find_promotion()
        if found is not None:
            p, k, config = found
            self._asha[p][k][1].add(config)
            return self._issue(config, p, k + 1, ("async", p, k + 1), False)
        p = self._new_bracket
        self._new_in_bracket += 1
        if self._new_in_bracket >= self._plan[p][1][0][0]:
            self._new_bracket = (p + 1) % len(self._plan)
            self._new_in_bracket = 0
        config = self._next_config
        self._next_config += 1
        return self._issue(config, p, 0, ("async", p, 0), True)

    def tell(self, job_id: int, loss: float) -> None:
        loss = float(loss)
        if not math.isfinite(loss):
            raise InvalidArgumentError(f"the loss of job {job_id} must be finite, got {loss}")
        record = self._jobs.get(job_id)
        if record is None:
            raise InvalidArgumentError(f"unknown job id {job_id}")
        if record[2]:
            raise InvalidArgumentError(f"job {job_id} has already been told")
        slot = record[1]
        if slot[0] == "sync":
            self._tell_sync(slot[1], slot[2], loss)
        else:
            insort(self._asha[slot[1]][slot[2]][0], (loss, job_id, record[0]))
        record[2] = True
        self._pending -= 1

    def _tell_sync(self, instance: int, position: int, loss: float) -> None:
        inst = self._open.get(instance)
        if inst is None:
            raise InvalidArgumentError(f"bracket instance {instance} is no longer open")
        inst[3][position][1] = loss
        inst[4] += 1
        rungs = self._plan[inst[0]][1]
        if inst[4] < rungs[inst[1]][0]:
            return
        if inst[1] + 1 == len(rungs):
            del self._open[instance]
            return
        keep = rungs[inst[1] + 1][0]
        ranked = sorted(
            (l if l is not None else math.inf, pos, config)
            for pos, (config, l) in enumerate(inst[3])
        )
        inst[2] = [config for _, _, config in ranked[:keep]]
        inst[1] += 1
        inst[3] = []
        inst[4] = 0
