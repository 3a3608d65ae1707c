"""``ferrotune.SuccessiveHalvingPruner`` and ``ferrotune.HyperbandPruner``: drop-in replacements
for Optuna 5.0's pruners of the same names, whose cost per call does not grow with the number of
trials.

**Same decisions.** Both take Optuna's constructor arguments with Optuna's defaults, write the
same ``completed_rung_{k}`` trial system attributes, and, on the same study, prune the same trials
at the same steps. Decisions are derived from those attributes in storage, so several processes
sharing a storage agree, and a study can be resumed by either implementation. Two documented
differences:

- *Bracket count* (Hyperband). Optuna computes ``floor(log_eta(max/min)) + 1`` with a floating
  point ``math.log``, which lands just below an integer for some exact powers:
  ``math.log(243, 3) = 4.999…`` gives 5 brackets for ``(min_resource, max_resource,
  reduction_factor) = (1, 243, 3)`` and ``math.log(1000, 10)`` gives 3 for ``(1, 1000, 10)``.
  ferrotune counts brackets with integers and gets 6 and 4. With a different bracket count, the
  brackets' allocation budgets, hence the bracket of each trial and the decisions, differ. For
  every other argument combination the count is the same.
- *Brackets and samplers.* Optuna's ``HyperbandPruner`` makes samplers see only the trials of the
  current trial's bracket (``optuna.pruners._filter_study`` wraps the study in a ``_BracketStudy``
  for instances of ``optuna.pruners.HyperbandPruner``). Our class is not a subclass of it, so
  samplers see the whole study. In Optuna 5.0 that filter reaches only samplers that call
  ``study.get_trials``; ``TPESampler`` reads ``study._get_trials`` and already sees every trial.

**Cost.** Optuna's successive-halving step reads every trial of the study (and Hyperband hashes
every trial into its bracket) on each rung decision, so one ``should_prune`` costs O(n) in the
number of trials n. Here each pruner keeps, per study, an incremental mirror of the rung values
(``HbRungTable``: sorted values per bracket and rung, O(log n) rank queries, in the Rust core).
A call that completes a rung reads from storage only

- the trials created since the previous call (probed by trial number, one read each, once), and
- the trials that were unfinished at the previous call (one read each): another thread or process
  may have written rung values for them, and this is how those values are seen,

then answers from the mirror. Finished trials are never read again: their attributes cannot
change. A call that completes no rung reads nothing, as in Optuna. So the cost of a call grows
with the number of *unfinished* trials (the parallel workers, plus trials still waiting after
``study.enqueue_trial``), not with the size of the study. Each read is a dictionary look-up for
``InMemoryStorage``; with ``RDBStorage`` Optuna's caching layer serves finished trials from
memory and each unfinished trial costs one query. Until ``HyperbandPruner``'s
``max_resource="auto"`` is resolved, each call reads the completed trials, exactly as Optuna does.

The mirror is rebuilt from storage (one full read) on first use, after unpickling, and whenever
it cannot be trusted: a trial number that maps to another trial id, a trial that storage no longer
knows, a gap in the trial numbers. Correctness across processes follows from the two rules above:
every value another process may have written since the last call belongs to a trial that was
unfinished then or did not exist yet, and both kinds are read before deciding.

Both pruners are thread-safe (one lock per pruner; decisions of one pruner instance are
serialised) and picklable (the mirrors are dropped and rebuilt from storage after unpickling).
"""

from __future__ import annotations

import math
import operator
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Union

from optuna.pruners import BasePruner
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from ferrotune import _hyperband_py
from ferrotune._backend import get_backend_impl
from ferrotune.exceptions import InvalidArgumentError, NativeBuildMismatchError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.study import Study

__all__ = ["SuccessiveHalvingPruner", "HyperbandPruner"]

INT_LIMIT = 2**63 - 1
_RUNG_PREFIX = "completed_rung_"
_RUNG_LIMIT = 2**32


def _hb_core() -> Any:
    """The Hyperband core of the active backend: ``ferrotune._core`` or ``_hyperband_py``."""
    backend = get_backend_impl()
    if backend.name != "rust":
        return _hyperband_py
    core = getattr(backend, "core", None)
    if core is None or not hasattr(core, "HbRungTable"):
        raise NativeBuildMismatchError(
            "the native module ferrotune._core has no Hyperband functions (a stale build); "
            "rebuild it with `pip install .` or `maturin develop`."
        )
    return core


def _rung_key(rung: int) -> str:
    return f"{_RUNG_PREFIX}{rung}"


def _as_int(name: str, value: Any, low: int) -> int:
    """``value`` as a Python int in ``[low, INT_LIMIT]``, or ``InvalidArgumentError``."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"`{name}` must be an integer, got the bool {value!r}.")
    try:
        as_int = operator.index(value)
    except TypeError:
        raise InvalidArgumentError(
            f"`{name}` must be an integer, got {value!r} of type {type(value).__name__}."
        ) from None
    if not low <= as_int <= INT_LIMIT:
        raise InvalidArgumentError(
            f"The value of `{name}` is {as_int}, but must be `{name} >= {low}`"
            + (f" (and at most {INT_LIMIT})." if as_int > INT_LIMIT else ".")
        )
    return as_int


def _current_rung(trial: FrozenTrial) -> int:
    """Number of consecutive ``completed_rung_{k}`` attributes from k = 0 (as Optuna counts)."""
    attrs = trial.system_attrs
    rung = 0
    while _rung_key(rung) in attrs:
        rung += 1
    return rung


def _rung_values(attrs: Dict[str, Any]) -> Dict[int, float]:
    """The ``completed_rung_{k}`` attributes of a trial as ``{k: value}``; keys that Optuna would
    not produce (``completed_rung_01``) and non-numeric values are ignored."""
    found: Dict[int, float] = {}
    for key, raw in attrs.items():
        if not key.startswith(_RUNG_PREFIX):
            continue
        suffix = key[len(_RUNG_PREFIX) :]
        if not suffix.isdigit() or str(int(suffix)) != suffix:
            continue
        rung = int(suffix)
        if rung >= _RUNG_LIMIT or isinstance(raw, bool):
            continue
        try:
            found[rung] = float(raw)
        except (TypeError, ValueError):
            continue
    return found


class _Stale(Exception):
    """The mirror disagrees with storage: rebuild it."""


def _storage_ref(storage: "BaseStorage") -> Callable[[], Optional["BaseStorage"]]:
    try:
        return weakref.ref(storage)
    except TypeError:  # a storage class without weak-reference support
        return lambda: storage


class _RungMirror:
    """Incremental mirror of one study's ``completed_rung_{k}`` attributes.

    ``ids[n]`` is the trial id of trial number n for the contiguous numbers seen so far;
    ``unfinished`` maps the trials last seen unfinished to the rung values read for them.
    """

    def __init__(
        self,
        core: Any,
        storage: "BaseStorage",
        study_id: int,
        study_name: str,
        group_of: Callable[[int], int],
        track_complete: bool,
    ) -> None:
        self.core = core
        self.storage_ref = _storage_ref(storage)
        self.study_id = study_id
        self.study_name = study_name
        self.group_of = group_of
        self.track_complete = track_complete
        self.table = core.HbRungTable()
        self.ids: list = []
        self.unfinished: Dict[int, Dict[int, float]] = {}
        self.max_complete_step: Optional[int] = None
        self._build(storage)

    def matches(self, core: Any, storage: "BaseStorage", study_name: str) -> bool:
        return (
            self.core is core and self.storage_ref() is storage and self.study_name == study_name
        )

    def _build(self, storage: "BaseStorage") -> None:
        trials = storage.get_all_trials(self.study_id, deepcopy=False)
        by_number: Dict[int, int] = {}
        for t in trials:
            self.ingest(t)
            by_number[t.number] = t._trial_id
        n = 0
        while n in by_number:
            self.ids.append(by_number[n])
            n += 1

    def ingest(self, t: FrozenTrial) -> None:
        tid = t._trial_id
        values = _rung_values(t.system_attrs)
        known = self.unfinished.get(tid)
        if values:
            group = self.group_of(t.number)
            for rung, value in values.items():
                if known is None or known.get(rung) != value:
                    self.table.set(tid, group, rung, value)
        if t.state.is_finished():
            self.unfinished.pop(tid, None)
            if self.track_complete and t.state == TrialState.COMPLETE:
                last = t.last_step
                if last is not None and (
                    self.max_complete_step is None or last > self.max_complete_step
                ):
                    self.max_complete_step = last
        else:
            self.unfinished[tid] = values

    def record(self, tid: int, group: int, rung: int, value: float) -> None:
        """A rung value this pruner has just written for the running trial ``tid``."""
        self.table.set(tid, group, rung, value)
        known = self.unfinished.get(tid)
        if known is not None:
            known[rung] = value

    def refresh(self, storage: "BaseStorage", current: Optional[FrozenTrial]) -> None:
        """Bring the mirror up to date: re-read the trials that were unfinished, read new ones."""
        cur_id = None if current is None else current._trial_id
        if current is not None:
            n = current.number
            if n < len(self.ids) and self.ids[n] != cur_id:
                raise _Stale
        for tid in list(self.unfinished):
            if tid == cur_id:
                t = current
            else:
                try:
                    t = storage.get_trial(tid)
                except KeyError:
                    raise _Stale from None
            self.ingest(t)
        n = len(self.ids)
        while True:
            try:
                tid = storage.get_trial_id_from_study_id_trial_number(self.study_id, n)
            except KeyError:
                break
            if tid == cur_id:
                t = current
            else:
                try:
                    t = storage.get_trial(tid)
                except KeyError:
                    raise _Stale from None
            self.ingest(t)
            self.ids.append(tid)
            n += 1
        if current is not None and current.number >= len(self.ids):
            raise _Stale  # a gap in the trial numbers: fall back to a full read


class _RungPruner(BasePruner):
    """Shared machinery: per-study mirrors, the lock, pickling, the rung decision."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._mirrors: Dict[Tuple[int, int], _RungMirror] = {}

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_mirrors"] = {}
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _group_of(self, study_name: str) -> Callable[[int], int]:
        return lambda number: 0

    def _tracks_complete(self) -> bool:
        return False

    def _mirror(self, study: "Study", current: Optional[FrozenTrial], core: Any) -> _RungMirror:
        """The study's mirror, refreshed from storage (rebuilt when it cannot be trusted)."""
        storage = study._storage
        study_id = study._study_id
        name = study.study_name
        key = (id(storage), study_id)
        mirror = self._mirrors.get(key)
        if mirror is not None and mirror.matches(core, storage, name):
            try:
                mirror.refresh(storage, current)
                return mirror
            except _Stale:
                pass
        # Forget mirrors of storages that no longer exist.
        for k in [k for k, m in self._mirrors.items() if m.storage_ref() is None]:
            del self._mirrors[k]
        group_of = self._group_of(name)
        mirror = _RungMirror(core, storage, study_id, name, group_of, self._tracks_complete())
        if current is not None:
            mirror.ingest(current)
        self._mirrors[key] = mirror
        return mirror

    def _decide(
        self,
        study: "Study",
        trial: FrozenTrial,
        core: Any,
        mirror: Optional[_RungMirror],
        *,
        min_resource: int,
        reduction_factor: int,
        rate: int,
        bootstrap_count: int,
        group: int,
        rung: int,
        step: int,
        value: float,
    ) -> bool:
        at = core.hb_promotion_step(min_resource, reduction_factor, rate + rung)
        if at is None or step < at:
            return False  # no rung completed: nothing to read or write
        if math.isnan(value):
            return True
        if mirror is None:
            mirror = self._mirror(study, trial, core)
        tid = trial._trial_id
        maximize = study.direction == StudyDirection.MAXIMIZE
        completed, prune = mirror.table.decide(
            tid,
            group,
            rung,
            step,
            value,
            min_resource,
            reduction_factor,
            rate,
            bootstrap_count,
            maximize,
        )
        for k in range(rung, rung + completed):
            study._storage.set_trial_system_attr(tid, _rung_key(k), value)
            mirror.record(tid, group, k, value)
        return prune


def _last_report(trial: FrozenTrial) -> Optional[Tuple[int, float]]:
    step = trial.last_step
    if step is None:
        return None
    return step, float(trial.intermediate_values[step])


class SuccessiveHalvingPruner(_RungPruner):
    """Asynchronous successive halving (ASHA), with Optuna's arguments, defaults and decisions.

    Rung ``k`` completes at step ``min_resource * reduction_factor ** (min_early_stopping_rate +
    k)``. There the trial's latest intermediate value is stored as the system attribute
    ``completed_rung_{k}``, and the trial goes on only if it is in the top ``1 / reduction_factor``
    of all trials of the study that have completed that rung (precisely: no worse than the
    ``max(n // reduction_factor - 1, 0)``-th best of the ``n`` values, its own included). A NaN
    value at a rung prunes the trial; infinities compete like any value.

    Args:
        min_resource: steps of the first rung, an integer >= 1, or ``"auto"``: once a trial has
            completed, ``max(last step of the completed trials // 100, 1)`` (fixed from then on;
            no pruning before).
        reduction_factor: ``eta``, an integer >= 2.
        min_early_stopping_rate: ``s``, an integer >= 0.
        bootstrap_count: a rung with at most this many values (the trial's own included) prunes
            every trial that reaches it. Must be 0 with ``min_resource="auto"``.

    Unlike Optuna, non-integer ``min_resource``/``reduction_factor`` (Optuna silently treats a
    float ``min_resource`` as ``"auto"``) raise ``InvalidArgumentError``, a ``ValueError``.
    See the module documentation for the cost model and multi-process behaviour.
    """

    def __init__(
        self,
        min_resource: Union[str, int] = "auto",
        reduction_factor: int = 4,
        min_early_stopping_rate: int = 0,
        bootstrap_count: int = 0,
    ) -> None:
        super().__init__()
        if isinstance(min_resource, str):
            if min_resource != "auto":
                raise InvalidArgumentError(
                    f"The value of `min_resource` is {min_resource}, "
                    "but must be either `min_resource` >= 1 or 'auto'"
                )
            resolved: Optional[int] = None
        else:
            resolved = _as_int("min_resource", min_resource, 1)
        self._reduction_factor = _as_int("reduction_factor", reduction_factor, 2)
        self._min_early_stopping_rate = _as_int(
            "min_early_stopping_rate", min_early_stopping_rate, 0
        )
        self._bootstrap_count = _as_int("bootstrap_count", bootstrap_count, 0)
        if self._bootstrap_count > 0 and resolved is None:
            raise InvalidArgumentError(
                "bootstrap_count > 0 and min_resource == 'auto' are mutually incompatible, "
                f"bootstrap_count is {self._bootstrap_count}"
            )
        self._min_resource = resolved

    @property
    def min_resource(self) -> Optional[int]:
        """The first rung's steps; ``None`` while ``"auto"`` is unresolved."""
        return self._min_resource

    def _tracks_complete(self) -> bool:
        return self._min_resource is None

    def prune(self, study: "Study", trial: FrozenTrial) -> bool:
        report = _last_report(trial)
        if report is None:
            return False
        step, value = report
        rung = _current_rung(trial)
        core = _hb_core()
        with self._lock:
            mirror = None
            if self._min_resource is None:
                mirror = self._mirror(study, trial, core)
                if mirror.max_complete_step is None:
                    return False
                self._min_resource = max(mirror.max_complete_step // 100, 1)
                for m in self._mirrors.values():
                    m.track_complete = False
            return self._decide(
                study,
                trial,
                core,
                mirror,
                min_resource=self._min_resource,
                reduction_factor=self._reduction_factor,
                rate=self._min_early_stopping_rate,
                bootstrap_count=self._bootstrap_count,
                group=0,
                rung=rung,
                step=step,
                value=value,
            )


class HyperbandPruner(_RungPruner):
    """Hyperband as Optuna's ``HyperbandPruner`` runs it: successive-halving brackets, with
    trials assigned to brackets by a hash of the study name and trial number.

    There are ``n = floor(log_eta(max_resource / min_resource)) + 1`` brackets (computed exactly;
    see the module documentation for the cases where Optuna's float logarithm gives one fewer).
    Bracket ``b`` is a :class:`SuccessiveHalvingPruner` with ``min_early_stopping_rate = b`` whose
    competitors are the trials of the same bracket. Trial ``number`` of study ``name`` belongs to
    bracket ``b`` chosen by ``crc32(f"{name}_{number}") % sum(budgets)`` walked through the
    cumulative budgets ``ceil(n * eta**s / (s + 1))``, ``s = n - 1 - b``. Name the study to make
    the assignment reproducible.

    Args:
        min_resource: an integer >= 1 (``"auto"`` is not supported, as in Optuna).
        max_resource: an integer >= ``min_resource``, or ``"auto"``: once a trial has completed,
            ``max(last step of the completed trials) + 1`` (no pruning before; raised to
            ``min_resource`` if smaller).
        reduction_factor: ``eta``, an integer >= 2.
        bootstrap_count: as for :class:`SuccessiveHalvingPruner`; must be 0 with
            ``max_resource="auto"``.

    Samplers see the whole study, not the trial's bracket (see the module documentation).
    """

    def __init__(
        self,
        min_resource: int = 1,
        max_resource: Union[str, int] = "auto",
        reduction_factor: int = 3,
        bootstrap_count: int = 0,
    ) -> None:
        super().__init__()
        self._min_resource = _as_int("min_resource", min_resource, 1)
        self._reduction_factor = _as_int("reduction_factor", reduction_factor, 2)
        self._bootstrap_count = _as_int("bootstrap_count", bootstrap_count, 0)
        if isinstance(max_resource, str):
            if max_resource != "auto":
                raise InvalidArgumentError(
                    "The 'max_resource' should be integer or 'auto'. "
                    f"But max_resource = {max_resource}"
                )
            self._max_resource: Union[str, int] = "auto"
            if self._bootstrap_count > 0:
                raise InvalidArgumentError(
                    "bootstrap_count > 0 and max_resource == 'auto' are mutually incompatible, "
                    f"bootstrap_count is {self._bootstrap_count}"
                )
        else:
            self._max_resource = _as_int("max_resource", max_resource, 1)
            if self._max_resource < self._min_resource:
                raise InvalidArgumentError(
                    f"max_resource ({self._max_resource}) must be >= min_resource "
                    f"({self._min_resource})."
                )
        self._n_brackets: Optional[int] = None
        self._budgets: Optional[list] = None

    @property
    def n_brackets(self) -> Optional[int]:
        """Number of brackets; ``None`` until ``max_resource="auto"`` is resolved."""
        return self._n_brackets

    @property
    def max_resource(self) -> Union[str, int]:
        return self._max_resource

    @property
    def allocation_budgets(self) -> Optional[list]:
        """Per-bracket trial weights ``ceil(n * eta**s / (s + 1))``; ``None`` before
        initialisation."""
        return None if self._budgets is None else list(self._budgets)

    def bracket_of(self, study_name: str, number: int) -> int:
        """Bracket of trial ``number`` of the study named ``study_name`` (0 before
        initialisation, as in Optuna)."""
        if self._budgets is None:
            return 0
        return _hb_core().hb_bracket_of_trial(study_name, number, self._budgets)

    def _group_of(self, study_name: str) -> Callable[[int], int]:
        budgets = self._budgets
        if budgets is None:  # pragma: no cover - mirrors are created after initialisation
            return lambda number: 0
        bracket_of = _hb_core().hb_bracket_of_trial
        return lambda number: bracket_of(study_name, number, budgets)

    def _try_initialization(self, study: "Study", core: Any) -> bool:
        if self._budgets is not None:
            return True
        if self._max_resource == "auto":
            trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            steps = [t.last_step for t in trials if t.last_step is not None]
            if not steps:
                return False
            self._max_resource = max(max(steps) + 1, self._min_resource)
        assert isinstance(self._max_resource, int)
        n = core.hb_n_brackets(self._min_resource, self._max_resource, self._reduction_factor)
        self._budgets = core.hb_allocation_budgets(n, self._reduction_factor)
        self._n_brackets = n
        self._mirrors.clear()
        return True

    def prune(self, study: "Study", trial: FrozenTrial) -> bool:
        core = _hb_core()
        with self._lock:
            if not self._try_initialization(study, core):
                return False
            report = _last_report(trial)
            if report is None:
                return False
            step, value = report
            assert self._budgets is not None
            bracket = core.hb_bracket_of_trial(study.study_name, trial.number, self._budgets)
            return self._decide(
                study,
                trial,
                core,
                None,
                min_resource=self._min_resource,
                reduction_factor=self._reduction_factor,
                rate=bracket,
                bootstrap_count=self._bootstrap_count,
                group=bracket,
                rung=_current_rung(trial),
                step=step,
                value=value,
            )
