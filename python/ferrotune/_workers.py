"""Distinct random streams for workers that share one study.

Optuna's ``TPESampler(seed=s)`` draws from one random stream per sampler object. Workers that were
built the same way (the same ``seed`` in a copied configuration, or one pickled sampler sent to
several processes) hold identical streams, so they suggest identical points, most visibly during
the random startup trials. ``ferrotune.TPESampler`` avoids that with two streams per trial:

* **The sampler's own stream** (Optuna's: ``numpy.random.RandomState(seed)`` for the TPE step
  and ``RandomSampler(seed)`` for the startup trials). It is used as long as the sampler instance
  is the only writer it has seen in the study, so a single process suggests exactly what Optuna's
  sampler suggests for the same seed.
* **A per-trial stream** for every trial sampled once the study is *shared*. Its seed is
  ``blake2b("ferrotune-trial-stream", seed, trial number)`` (128 bits, see :func:`trial_seed`),
  so it depends only on the sampler's ``seed`` and the trial's number. Optuna gives every trial
  of a study a distinct number (``RDBStorage`` numbers trials under a row lock on the study,
  ``JournalStorage`` in log order), so no two trials of a study share a stream, whatever the
  number of workers, and a run stays reproducible trial by trial: the same seed and the same
  history give the same suggestion for trial ``n`` in any worker. With ``seed=None`` (or after
  ``reseed_rng()``, which Optuna calls in each thread of ``n_jobs``), random bytes drawn per
  instance (the worker token below, fresh ones after each ``reseed_rng()``) replace the seed.

**Who is a writer.** Each sampler instance draws a *worker token*, 16 random bytes from
``os.urandom``, when it is constructed, unpickled or deep-copied, and writes it on every trial
it starts as the trial system attribute ``ferrotune:worker`` (one storage write per trial). It
also remembers, per study, the ids of the trials it started. The study counts as shared for this
instance from the first time a sampling call finds a trial that the instance did not start and
that either is ``RUNNING`` (another worker is on it) or carries a ``ferrotune:worker`` attribute
(another ferrotune sampler started it). Shared is final for that instance and study. Trials that
the user adds with ``study.add_trial`` or ``enqueue_trial`` carry no token and are not running,
so they do not make a study shared (Optuna parity holds for them). A study resumed by a new
process, or by a copied or unpickled sampler (a copy is another worker: it gets a new token and
does not know which trials the original started), is shared from the first new trial when its
earlier trials carry tokens, which keeps resumed runs reproducible without repeating the points
of the first run. Threads of one process (``n_jobs``) share one sampler instance: its trials
are its own.

Why no two identically built workers draw from one stream: the sampler's own stream is used for
trial ``n`` only if every other trial the instance can see was started by it. Of two copies
holding the same stream, the one whose first trial comes second sees the other one's trial,
running or finished with its token, and switches to per-trial streams.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np
from optuna.samplers import RandomSampler
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from optuna.study import Study

WORKER_ATTR = "ferrotune:worker"
"""Trial system attribute holding the token of the sampler instance that started the trial."""

_FINAL = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_MAX_OPEN_TRIALS = 4096


def new_token() -> str:
    """A fresh worker token: 16 random bytes from ``os.urandom``, as hex."""
    return os.urandom(16).hex()


def trial_seed(material: str, number: int) -> np.ndarray:
    """The 128-bit seed (four uint32 words) of the per-trial stream of trial ``number``.

    ``material`` is ``"seed:<seed>"`` for a seeded sampler and ``"entropy:<random hex>"``
    otherwise (the worker token, or fresh random bytes after ``reseed_rng()``).
    """
    digest = hashlib.blake2b(
        f"ferrotune-trial-stream\0{material}\0{int(number)}".encode(), digest_size=16
    ).digest()
    return np.frombuffer(digest, dtype="<u4").astype(np.uint32)


class _StudyState:
    """What one sampler instance knows about one study."""

    __slots__ = ("storage_ref", "study_id", "own", "checked", "shared")

    def __init__(self, study: Study) -> None:
        try:
            self.storage_ref: Any = weakref.ref(study._storage)
        except TypeError:  # pragma: no cover - a storage without weak-reference support
            storage = study._storage
            self.storage_ref = lambda: storage
        self.study_id = study._study_id
        self.own: set = set()  # trial ids this instance started
        self.checked = 0  # leading trials (storage order) known final and not foreign
        self.shared = False

    def matches(self, study: Study) -> bool:
        return self.storage_ref() is study._storage and self.study_id == study._study_id


class WorkerStreams:
    """The stream bookkeeping of one sampler instance (not thread-safe: callers hold a lock)."""

    def __init__(self, seed: Optional[int]) -> None:
        self.seed = seed
        self.token = new_token()
        self.entropy = self.token  # replaces the seed when there is none, or after reseed()
        self.reseeded = False
        self._studies: Dict[Tuple[int, int], _StudyState] = {}
        # trial id -> (RandomState, RandomSampler) of the trials on per-trial streams, or None
        # for trials on the sampler's own stream.
        self._trials: Dict[int, Optional[Tuple[np.random.RandomState, RandomSampler]]] = {}

    # -- copying: a copy is another worker. It gets a new token and forgets which trials it
    # started (they are told apart by storage identity, which does not survive pickling), so in
    # a study that already has trials with tokens a copy samples from per-trial streams.
    def __getstate__(self) -> Dict[str, Any]:
        return {"seed": self.seed, "reseeded": self.reseeded}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.seed = state["seed"]
        self.reseeded = state["reseeded"]
        self.token = new_token()
        self.entropy = self.token
        self._studies = {}
        self._trials = {}

    def reseed(self) -> None:
        """``reseed_rng()`` (Optuna calls it in every thread of ``n_jobs``): per-trial streams
        come from fresh random bytes from now on; the token stays."""
        self.entropy = new_token()
        self.reseeded = True

    def material(self) -> str:
        if self.seed is not None and not self.reseeded:
            return f"seed:{int(self.seed)}"
        return f"entropy:{self.entropy}"

    def _state(self, study: Study) -> _StudyState:
        key = (id(study._storage), study._study_id)
        st = self._studies.get(key)
        if st is None or not st.matches(study):
            st = _StudyState(study)
            self._studies[key] = st
        return st

    # -- hooks ---------------------------------------------------------------------------------
    def start(self, study: Study, trial: FrozenTrial) -> str:
        """Record ``trial`` as started by this instance; returns the token that the caller
        writes on it (``WORKER_ATTR``), outside its lock."""
        self._state(study).own.add(trial._trial_id)
        return self.token

    def after_trial(self, trial: FrozenTrial) -> None:
        self._trials.pop(trial._trial_id, None)

    def streams(
        self, study: Study, trial: FrozenTrial
    ) -> Optional[Tuple[np.random.RandomState, RandomSampler]]:
        """``None`` when ``trial`` samples from the sampler's own stream, else its per-trial
        ``(RandomState, RandomSampler)``. Decided at the trial's first sampling call and kept
        for the trial."""
        tid = trial._trial_id
        if tid in self._trials:
            return self._trials[tid]
        st = self._state(study)
        if not st.shared:
            st.shared = self._finds_other_writer(study, st)
        entry = None
        if st.shared:
            seed = trial_seed(self.material(), trial.number)
            rng = np.random.RandomState()
            rng.seed(seed)
            entry = (rng, RandomSampler(seed=seed))  # type: ignore[arg-type]
        if len(self._trials) >= _MAX_OPEN_TRIALS:  # entries of trials never finished here
            self._trials.clear()
        self._trials[tid] = entry
        return entry

    @staticmethod
    def _finds_other_writer(study: Study, st: _StudyState) -> bool:
        trials = study._get_trials(deepcopy=False, states=None, use_cache=True)
        own = st.own
        extending = True
        for t in trials[st.checked :]:
            if t._trial_id not in own and (
                t.state == TrialState.RUNNING or WORKER_ATTR in t.system_attrs
            ):
                return True
            if extending and t.state in _FINAL:
                st.checked += 1
            else:
                extending = False
        return False


class WorkerHooks:
    """Optuna's ``before_trial``/``after_trial`` hooks for a sampler whose only per-trial
    bookkeeping is its :class:`WorkerStreams` (``self._workers``, guarded by ``self._lock``),
    and the independent sampler of a trial. Put it before ``BaseSampler`` in the bases."""

    _lock: Any
    _workers: WorkerStreams

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        with self._lock:
            token = self._workers.start(study, trial)
        study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, token)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        with self._lock:
            self._workers.after_trial(trial)

    def _random_for(self, study: Study, trial: FrozenTrial, own: RandomSampler) -> RandomSampler:
        """``own`` while ``trial`` is on the sampler's own stream, else its per-trial sampler.
        Call with the lock held."""
        streams = self._workers.streams(study, trial)
        return own if streams is None else streams[1]
