"""ferrotune's SuccessiveHalvingPruner / HyperbandPruner: the same decisions and system attributes
as Optuna 5.0's pruners on the same studies, the exact bracket count (and the one documented
difference), storage reads that do not grow with the study, multi-process agreement, pickling,
threads, bad input, and Rust-vs-Python agreement of the core."""

from __future__ import annotations

import binascii
import math
import pickle
import random
from typing import Callable, List, Optional, Tuple

import optuna
import pytest
from optuna.storages import InMemoryStorage
from optuna.trial import TrialState

import ferrotune.pruners as fp
from ferrotune import _hyperband_py as pyhb
from ferrotune.exceptions import InvalidArgumentError

from _native import core as _core
from _native import needs_native as _needs_native

needs_native = _needs_native("HbRungTable", " (with the Hyperband core)")

Curve = Callable[[float, int], float]


# --- Running the same study under two pruners -------------------------------------------------


def _smooth(x: float, step: int) -> float:
    return (x - 1.0) ** 2 + 1.0 / (step + 1) + 0.1 * math.sin(step * x)


def _quantized(x: float, step: int) -> float:
    # Few distinct values: many ties between trials.
    return round(_smooth(x, step) * 2) / 2


def _with_non_finite(x: float, step: int) -> float:
    if x > 2.0 and step % 4 == 3:
        return float("nan")
    if x < -2.0:
        return float("inf")
    if -0.2 < x < 0.0:
        return float("-inf")
    return _smooth(x, step)


def _run(
    pruner: optuna.pruners.BasePruner,
    curve: Curve = _smooth,
    n_trials: int = 50,
    steps: Optional[List[int]] = None,
    direction: str = "minimize",
    seed: int = 0,
    study_name: str = "parity",
    fail_above: Optional[float] = None,
) -> Tuple[list, list]:
    """Run a study; return every should_prune answer and each trial's (state, rung attrs)."""
    steps = list(range(30)) if steps is None else steps
    calls: list = []

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3.0, 3.0)
        if fail_above is not None and x > fail_above:
            trial.report(_smooth(x, 0), 0)
            raise ValueError("a failing trial")
        value = 0.0
        for step in steps:
            value = curve(x, step)
            trial.report(value, step)
            answer = trial.should_prune()
            calls.append((trial.number, step, answer))
            if answer:
                raise optuna.TrialPruned()
        return value if math.isfinite(value) else 1e9

    study = optuna.create_study(
        study_name=study_name,
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=pruner,
        direction=direction,
    )
    study.optimize(objective, n_trials=n_trials, catch=(ValueError,))
    return calls, _attrs(study)


def _attrs(study: optuna.Study) -> list:
    return [
        (
            t.state,
            {k: v for k, v in t.system_attrs.items() if k.startswith("completed_rung_")},
        )
        for t in study.get_trials(deepcopy=False)
    ]


def _same(a, b) -> bool:
    """Equality that treats NaN as equal to NaN (rung values are never NaN, but be exact)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _assert_parity(ours, theirs) -> None:
    our_calls, our_attrs = ours
    their_calls, their_attrs = theirs
    assert len(our_calls) == len(their_calls)
    for mine, other in zip(our_calls, their_calls):
        assert mine == other, f"first differing should_prune call: ours {mine}, Optuna {other}"
    assert _same(our_attrs, their_attrs)


HB_CASES = [
    dict(min_resource=1, max_resource=30, reduction_factor=3),
    dict(min_resource=1, max_resource=81, reduction_factor=3),
    dict(min_resource=2, max_resource=29, reduction_factor=2),
    dict(min_resource=1, max_resource="auto", reduction_factor=3),
    dict(min_resource=1, max_resource=30, reduction_factor=3, bootstrap_count=2),
    dict(min_resource=3, max_resource=27, reduction_factor=4),
]


@pytest.mark.parametrize("kwargs", HB_CASES, ids=lambda k: ",".join(map(str, k.values())))
def test_hyperband_matches_optuna(kwargs: dict) -> None:
    ours = _run(fp.HyperbandPruner(**kwargs))
    theirs = _run(optuna.pruners.HyperbandPruner(**kwargs))
    _assert_parity(ours, theirs)
    n_pruned = sum(answer for _, _, answer in ours[0])
    assert n_pruned > 5  # the comparison exercised real pruning


SH_CASES = [
    dict(),
    dict(min_resource=1, reduction_factor=2),
    dict(min_resource=2, reduction_factor=3, min_early_stopping_rate=1, bootstrap_count=2),
    dict(min_resource=1, reduction_factor=3, min_early_stopping_rate=2),
]


@pytest.mark.parametrize("kwargs", SH_CASES, ids=lambda k: ",".join(map(str, k.values())) or "defaults")
def test_successive_halving_matches_optuna(kwargs: dict) -> None:
    steps = list(range(120)) if not kwargs else None  # "auto" needs >= 100 steps to matter
    n = 25 if not kwargs else 50
    ours = _run(fp.SuccessiveHalvingPruner(**kwargs), steps=steps, n_trials=n)
    theirs = _run(optuna.pruners.SuccessiveHalvingPruner(**kwargs), steps=steps, n_trials=n)
    _assert_parity(ours, theirs)
    assert sum(answer for _, _, answer in ours[0]) > 3


@pytest.mark.parametrize(
    "scenario",
    ["maximize", "ties", "sparse", "non_finite", "decreasing_steps", "failures"],
)
@pytest.mark.parametrize("kind", ["hyperband", "successive_halving"])
def test_parity_scenarios(kind: str, scenario: str) -> None:
    options: dict = {}
    if scenario == "maximize":
        options = dict(direction="maximize", curve=lambda x, s: -_smooth(x, s))
    elif scenario == "ties":
        options = dict(curve=_quantized)
    elif scenario == "sparse":
        # Reports far apart: one call completes several rungs at once.
        options = dict(steps=[0, 7, 20, 29])
    elif scenario == "non_finite":
        options = dict(curve=_with_non_finite)
    elif scenario == "decreasing_steps":
        # Steps reported out of order: the last step is the largest reported, as in Optuna.
        options = dict(steps=[5, 2, 9, 3, 27, 12, 29, 1])
    elif scenario == "failures":
        options = dict(fail_above=1.5)
    if kind == "hyperband":
        make = lambda m: m.HyperbandPruner(min_resource=1, max_resource=30, reduction_factor=3)
    else:
        make = lambda m: m.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    ours = _run(make(fp), **options)
    theirs = _run(make(optuna.pruners), **options)
    _assert_parity(ours, theirs)


def test_non_finite_values_behave_as_in_optuna() -> None:
    """NaN at a rung prunes without writing the rung; infinities are stored and compete."""
    calls, attrs = _run(fp.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3), curve=_with_non_finite)
    stored = [v for _, rungs in attrs for v in rungs.values()]
    assert any(math.isinf(v) for v in stored)
    assert not any(math.isnan(v) for v in stored)


def test_filter_study_sees_the_whole_study() -> None:
    pruner = fp.HyperbandPruner(min_resource=1, max_resource=9)
    study = optuna.create_study(pruner=pruner)
    trial = study.ask()
    assert optuna.pruners._filter_study(study, trial) is study


# --- The bracket count --------------------------------------------------------------------------


def _optuna_n_brackets(lo: int, hi: int, eta: int) -> int:
    return math.floor(math.log(hi / lo, eta)) + 1


def _brute_n_brackets(lo: int, hi: int, eta: int) -> int:
    s = 0
    while lo * eta ** (s + 1) <= hi:
        s += 1
    return s + 1


def test_bracket_count_is_exact_and_documents_optuna_quirk() -> None:
    core = fp._hb_core()
    differing = []
    for lo in (1, 2, 3, 5):
        for eta in (2, 3, 4, 5, 10):
            for k in range(0, 9):
                for hi in {lo * eta**k - 1, lo * eta**k, lo * eta**k + 1}:
                    if hi < lo:
                        continue
                    ours = core.hb_n_brackets(lo, hi, eta)
                    assert ours == _brute_n_brackets(lo, hi, eta)
                    if ours != _optuna_n_brackets(lo, hi, eta):
                        differing.append((lo, hi, eta))
    # The cases reported in the reference notes, among others.
    assert (1, 243, 3) in differing
    assert (1, 1000, 10) in differing
    assert core.hb_n_brackets(1, 243, 3) == 6 and _optuna_n_brackets(1, 243, 3) == 5
    # Every difference is Optuna's float log landing one below an exact power.
    for lo, hi, eta in differing:
        assert hi == lo * eta ** (core.hb_n_brackets(lo, hi, eta) - 1)


def test_quirk_case_differs_from_optuna_but_matches_exact_bracket_count() -> None:
    """(1, 243, 3): Optuna makes 5 brackets, we make 6. Forcing Optuna's pruner to the exact
    count (it honours a preset ``_n_brackets``) gives exactly our decisions."""
    kwargs = dict(min_resource=1, max_resource=243, reduction_factor=3)
    ours_pruner = fp.HyperbandPruner(**kwargs)
    steps = [0, 1, 2, 3, 5, 8, 9, 20, 27, 50, 81, 120, 242]
    ours = _run(ours_pruner, steps=steps, n_trials=60)
    assert ours_pruner.n_brackets == 6
    # ceil(6 * 3^s / (s + 1)) for s = 5..0: 243, 97.2, 40.5, 18, 9, 6.
    assert ours_pruner.allocation_budgets == [243, 98, 41, 18, 9, 6]

    plain = optuna.pruners.HyperbandPruner(**kwargs)
    theirs_plain = _run(plain, steps=steps, n_trials=60)
    assert plain._n_brackets == 5
    assert plain._trial_allocation_budgets == [81, 34, 15, 8, 5]
    # The brackets (and with them the decisions) differ.
    ours_brackets = [ours_pruner.bracket_of("parity", n) for n in range(60)]
    theirs_brackets = [plain._get_bracket_id(_named("parity"), _numbered(n)) for n in range(60)]
    assert ours_brackets != theirs_brackets
    assert ours[0] != theirs_plain[0]

    forced = optuna.pruners.HyperbandPruner(**kwargs)
    forced._n_brackets = 6
    _assert_parity(ours, _run(forced, steps=steps, n_trials=60))


class _named:
    def __init__(self, name: str) -> None:
        self.study_name = name


class _numbered:
    def __init__(self, number: int) -> None:
        self.number = number


def test_bracket_assignment_matches_optuna() -> None:
    ours = fp.HyperbandPruner(min_resource=1, max_resource=100, reduction_factor=3)
    theirs = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=100, reduction_factor=3)
    study = optuna.create_study(study_name="brackets", pruner=theirs)
    theirs._try_initialization(study)
    ours._try_initialization(study, fp._hb_core())
    assert ours.allocation_budgets == theirs._trial_allocation_budgets
    for number in range(2000):
        assert ours.bracket_of("brackets", number) == theirs._get_bracket_id(study, _numbered(number))


# --- Storage reads, several processes, pickling, threads ---------------------------------------


class _CountingStorage(InMemoryStorage):
    """Counts reads made while ``counting`` is on."""

    def __init__(self) -> None:
        super().__init__()
        self.counting = False
        self.reads = {"get_all_trials": 0, "get_trial": 0, "probe": 0}

    def get_all_trials(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.counting:
            self.reads["get_all_trials"] += 1
        return super().get_all_trials(*args, **kwargs)

    def get_trial(self, trial_id):  # type: ignore[no-untyped-def]
        if self.counting:
            self.reads["get_trial"] += 1
        return super().get_trial(trial_id)

    def get_trial_id_from_study_id_trial_number(self, study_id, trial_number):  # type: ignore[no-untyped-def]
        if self.counting:
            self.reads["probe"] += 1
        return super().get_trial_id_from_study_id_trial_number(study_id, trial_number)


@pytest.mark.parametrize("kind", ["hyperband", "successive_halving"])
def test_storage_reads_do_not_grow_with_the_study(kind: str) -> None:
    storage = _CountingStorage()
    if kind == "hyperband":
        pruner = fp.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    else:
        pruner = fp.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = optuna.create_study(
        storage=storage, pruner=pruner, sampler=optuna.samplers.RandomSampler(0)
    )
    per_call = []
    for _ in range(300):
        trial = study.ask()
        x = trial.suggest_float("x", -3, 3)
        pruned = False
        for step in range(10):
            trial.report(_smooth(x, step), step)
            before = dict(storage.reads)
            storage.counting = True
            pruned = trial.should_prune()
            storage.counting = False
            per_call.append({k: storage.reads[k] - before[k] for k in before})
            if pruned:
                break
        study.tell(trial, state=TrialState.PRUNED if pruned else TrialState.COMPLETE,
                   values=None if pruned else _smooth(x, 9))
    # One full read builds the mirror; after that, never again.
    assert storage.reads["get_all_trials"] == 1
    # Per call: Optuna's own read of the trial's system attributes, the previous trial (seen
    # unfinished, now finished), one probe for new trials: bounded, whatever the study size.
    late = per_call[len(per_call) // 2 :]
    assert max(c["get_trial"] for c in late) <= 2
    assert max(c["probe"] for c in late) <= 2
    assert max(c["get_all_trials"] for c in late) == 0


def _interleaved(make_pruner: Callable[[], optuna.pruners.BasePruner], storage, n_rounds: int = 8):
    """Two workers (two Study objects, two pruner instances: two processes in effect) run trials
    concurrently on one storage, alternating step by step. Returns every decision."""
    optuna.create_study(study_name="shared", storage=storage)
    workers = [
        optuna.load_study(
            study_name="shared",
            storage=storage,
            pruner=make_pruner(),
            sampler=optuna.samplers.RandomSampler(seed=w),
        )
        for w in range(2)
    ]
    decisions = []
    for _ in range(n_rounds):
        trials = [w.ask() for w in workers]
        xs = [t.suggest_float("x", -3, 3) for t in trials]
        alive = [True, True]
        for step in range(12):
            for i, (w, t) in enumerate(zip(workers, trials)):
                if not alive[i]:
                    continue
                t.report(_smooth(xs[i], step), step)
                answer = t.should_prune()
                decisions.append((t.number, step, answer))
                if answer:
                    w.tell(t, state=TrialState.PRUNED)
                    alive[i] = False
        for i, (w, t) in enumerate(zip(workers, trials)):
            if alive[i]:
                w.tell(t, _smooth(xs[i], 11))
    study = optuna.load_study(study_name="shared", storage=storage)
    return decisions, _attrs(study)


@pytest.mark.parametrize("kind", ["hyperband", "successive_halving"])
def test_two_processes_on_one_storage_agree_with_optuna(kind: str, tmp_path) -> None:
    if kind == "hyperband":
        make = lambda m: (lambda: m.HyperbandPruner(min_resource=1, max_resource=12))
    else:
        make = lambda m: (lambda: m.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2))
    theirs = _interleaved(make(optuna.pruners), InMemoryStorage())
    ours = _interleaved(make(fp), InMemoryStorage())
    _assert_parity(ours, theirs)
    # The same through an RDB storage (Optuna wraps it in its caching layer).
    ours_rdb = _interleaved(make(fp), f"sqlite:///{tmp_path / 'shared.db'}", n_rounds=4)
    theirs_short = _interleaved(make(optuna.pruners), InMemoryStorage(), n_rounds=4)
    _assert_parity(ours_rdb, theirs_short)


def test_pickled_pruner_continues_with_the_same_decisions() -> None:
    """Pickle both pruners mid-study and continue with the copies."""
    def run(module) -> tuple:
        pruner = module.HyperbandPruner(min_resource=1, max_resource=20)
        study = optuna.create_study(
            study_name="pickle", pruner=pruner, sampler=optuna.samplers.RandomSampler(3)
        )
        calls: list = []

        def objective(trial: optuna.Trial) -> float:
            x = trial.suggest_float("x", -3, 3)
            for step in range(20):
                trial.report(_smooth(x, step), step)
                answer = trial.should_prune()
                calls.append((trial.number, step, answer))
                if answer:
                    raise optuna.TrialPruned()
            return _smooth(x, 19)

        study.optimize(objective, n_trials=20)
        study.pruner = pickle.loads(pickle.dumps(study.pruner))
        study.optimize(objective, n_trials=20)
        return calls, _attrs(study)

    _assert_parity(run(fp), run(optuna.pruners))


def test_one_pruner_shared_by_two_studies_matches_optuna() -> None:
    def run(module) -> list:
        pruner = module.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        studies = [
            optuna.create_study(study_name=f"s{k}", pruner=pruner, storage=InMemoryStorage(),
                                sampler=optuna.samplers.RandomSampler(k))
            for k in range(2)
        ]
        calls = []
        for _ in range(15):
            for k, study in enumerate(studies):
                trial = study.ask()
                x = trial.suggest_float("x", -3, 3)
                state = TrialState.COMPLETE
                for step in range(10):
                    trial.report(_smooth(x, step) + k, step)
                    answer = trial.should_prune()
                    calls.append((k, trial.number, step, answer))
                    if answer:
                        state = TrialState.PRUNED
                        break
                study.tell(trial, values=None if state == TrialState.PRUNED else 0.0, state=state)
        return calls + [_attrs(s) for s in studies]

    assert _same(run(fp), run(optuna.pruners))


def test_threads_keep_rung_records_consistent() -> None:
    pruner = fp.HyperbandPruner(min_resource=1, max_resource=27, reduction_factor=3)
    study = optuna.create_study(study_name="threads", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(0))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        for step in range(27):
            trial.report(_smooth(x, step), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return _smooth(x, 26)

    study.optimize(objective, n_trials=80, n_jobs=4)
    assert len(study.trials) == 80
    n_pruned = 0
    for t in study.trials:
        rungs = {k: v for k, v in t.system_attrs.items() if k.startswith("completed_rung_")}
        bracket = pruner.bracket_of("threads", t.number)
        # Consecutive rungs, each holding the value reported at its promotion step.
        for k in range(len(rungs)):
            assert rungs[f"completed_rung_{k}"] == t.intermediate_values[3 ** (bracket + k)]
        if t.state == TrialState.PRUNED:
            n_pruned += 1
            # A pruned trial stopped right at the step of its last completed rung.
            assert t.last_step == 3 ** (bracket + len(rungs) - 1)
    assert n_pruned > 0


# --- Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(reduction_factor=1),
        dict(reduction_factor=0),
        dict(min_resource=0),
        dict(min_resource=-3),
        dict(min_resource="fast"),
        dict(min_early_stopping_rate=-1),
        dict(bootstrap_count=-1),
        dict(bootstrap_count=2),  # with min_resource="auto"
    ],
)
def test_successive_halving_rejects_bad_arguments_like_optuna(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        optuna.pruners.SuccessiveHalvingPruner(**kwargs)
    with pytest.raises(InvalidArgumentError):
        fp.SuccessiveHalvingPruner(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_resource="big"),
        dict(max_resource=None),
        dict(bootstrap_count=1),  # with max_resource="auto"
    ],
)
def test_hyperband_rejects_bad_arguments_like_optuna(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        optuna.pruners.HyperbandPruner(**kwargs)
    with pytest.raises(InvalidArgumentError):
        fp.HyperbandPruner(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(reduction_factor=1, max_resource=10),
        dict(min_resource=0, max_resource=10),
        dict(min_resource="auto", max_resource=10),
        dict(min_resource=5, max_resource=4),
        dict(min_resource=1.5, max_resource=10),
        dict(min_resource=True, max_resource=10),
        dict(reduction_factor=2.5, max_resource=10),
        dict(max_resource=2**63),
        dict(bootstrap_count=-1, max_resource=10),
    ],
)
def test_hyperband_validates_eagerly(kwargs: dict) -> None:
    """Optuna validates these only inside the first prune (or crashes there); we refuse them at
    construction."""
    with pytest.raises(InvalidArgumentError):
        fp.HyperbandPruner(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [dict(min_resource=2.0), dict(reduction_factor=3.5), dict(min_early_stopping_rate=0.5)],
)
def test_successive_halving_rejects_non_integers(kwargs: dict) -> None:
    with pytest.raises(InvalidArgumentError):
        fp.SuccessiveHalvingPruner(**kwargs)


def test_numpy_integers_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    pruner = fp.HyperbandPruner(min_resource=np.int64(1), max_resource=np.int32(9))
    assert pruner.max_resource == 9 and isinstance(pruner.max_resource, int)


def test_no_report_and_before_first_rung_never_prune() -> None:
    study = optuna.create_study(pruner=fp.SuccessiveHalvingPruner(min_resource=4))
    trial = study.ask()
    assert not trial.should_prune()  # nothing reported
    trial.report(float("nan"), 2)
    assert not trial.should_prune()  # NaN, but the first rung is at step 4
    trial.report(float("nan"), 4)
    assert trial.should_prune()
    assert not any(k.startswith("completed_rung") for k in study.trials[0].system_attrs)


# --- Rust and Python cores agree ---------------------------------------------------------------


@needs_native
def test_cores_agree_on_arithmetic() -> None:
    rng = random.Random(0)
    for lo in range(1, 12):
        for hi in range(lo, 300, 7):
            for eta in (2, 3, 4, 7):
                n = _core.hb_n_brackets(lo, hi, eta)
                assert n == pyhb.hb_n_brackets(lo, hi, eta)
                assert _core.hb_allocation_budgets(n, eta) == pyhb.hb_allocation_budgets(n, eta)
    big = _core.hb_n_brackets(1, 2**63 - 1, 2)
    assert big == pyhb.hb_n_brackets(1, 2**63 - 1, 2) == 63
    assert _core.hb_allocation_budgets(big, 2) == pyhb.hb_allocation_budgets(big, 2)
    alphabet = "ab_-é漢😀 0123456789"
    budgets = [81, 34, 15, 8, 5]
    for _ in range(3000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
        number = rng.randrange(0, 10**6)
        key = f"{name}_{number}"
        assert _core.hb_crc32(key) == binascii.crc32(key.encode()) == pyhb.hb_crc32(key)
        assert _core.hb_bracket_of_trial(name, number, budgets) == pyhb.hb_bracket_of_trial(
            name, number, budgets
        )
    for lo, eta, exp in [(1, 3, 0), (2, 3, 4), (1, 2, 127), (1, 2, 128), (5, 7, 50), (3, 1, 10),
                         (1, 2, 2**40), (2**62, 2**62, 1), (2**62, 2**62, 2)]:
        assert _core.hb_promotion_step(lo, eta, exp) == pyhb.hb_promotion_step(lo, eta, exp)
    for args in [(1, 81, 3), (1, 27, 3), (0.01, 1, 3), (1, 100, 3), (3, 1000, 4), (1, 2, 3),
                 (1e-3, 1e3, 2), (0.5, 1e6, 10)]:
        assert _core.hb_plan(*args) == pyhb.hb_plan(*args)


@needs_native
def test_cores_agree_on_errors() -> None:
    calls = [
        ("hb_n_brackets", (0, 10, 3)),
        ("hb_n_brackets", (5, 4, 3)),
        ("hb_n_brackets", (1, 10, 1)),
        ("hb_n_brackets", (-1, 10, 3)),
        ("hb_n_brackets", (1, 2**63, 3)),
        ("hb_allocation_budgets", (0, 3)),
        ("hb_allocation_budgets", (3, 1)),
        ("hb_allocation_budgets", (500, 2**62)),
        ("hb_bracket_of_trial", ("s", -1, [1, 2])),
        ("hb_bracket_of_trial", ("s", 1, [])),
        ("hb_bracket_of_trial", ("s", 1, [0, 0])),
        ("hb_is_promotable", (1.0, [2.0], 1, False)),
        ("hb_plan", (1, 1, 3)),
        ("hb_plan", (0, 1, 3)),
        ("hb_plan", (1, math.inf, 3)),
        ("hb_plan", (math.nan, 1, 3)),
        ("hb_plan", (1, 81, 1)),
        ("hb_plan", (1e-300, 1, 2)),
    ]
    for name, args in calls:
        for module in (_core, pyhb):
            with pytest.raises(InvalidArgumentError):
                getattr(module, name)(*args)


@needs_native
def test_cores_agree_on_promotion_and_rung_tables() -> None:
    rng = random.Random(1)

    def value() -> float:
        r = rng.random()
        if r < 0.05:
            return math.inf
        if r < 0.08:
            return -math.inf
        if r < 0.1:
            return math.nan
        return rng.randrange(8) * 0.5

    for _ in range(3000):
        others = [value() for _ in range(rng.randrange(12))]
        v, eta, maximize = value(), rng.randrange(2, 6), rng.random() < 0.5
        assert _core.hb_is_promotable(v, others, eta, maximize) == pyhb.hb_is_promotable(
            v, others, eta, maximize
        )
    for round_ in range(20):
        tables = [_core.HbRungTable(), pyhb.HbRungTable()]
        rule = (1, rng.randrange(2, 5), rng.randrange(3), rng.randrange(3), round_ % 2 == 0)
        for _ in range(300):
            trial, rung, step, v = rng.randrange(40), rng.randrange(5), rng.randrange(60), value()
            group = trial % 3 if rng.random() < 0.95 else 7
            answers = [t.decide(trial, group, rung, step, v, *rule) for t in tables]
            assert answers[0] == answers[1]
            ranks = [t.rank(trial, group, rung, v, rule[-1]) for t in tables]
            assert ranks[0] == ranks[1]
            if rng.random() < 0.05:
                for t in tables:
                    t.remove_trial(trial)
            for t in tables:
                t.set(trial, group, rung, v)
            assert tables[0].n_trials() == tables[1].n_trials()
            assert tables[0].get(trial, rung) == tables[1].get(trial, rung) or math.isnan(v)
            for g in (0, 1, 2, 7):
                for k in range(5):
                    assert tables[0].count(g, k) == tables[1].count(g, k)
        for t in tables:
            with pytest.raises(InvalidArgumentError):
                t.decide(1, 0, 0, 5, 1.0, 0, 3, 0, 0, False)
            with pytest.raises(InvalidArgumentError):
                t.decide(1, 0, 0, -5, 1.0, 1, 3, 0, 0, False)
            with pytest.raises(InvalidArgumentError):
                t.set(1, -1, 0, 1.0)
