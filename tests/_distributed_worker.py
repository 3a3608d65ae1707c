"""One worker process of tests/test_distributed.py (run as a script, never collected).

    python _distributed_worker.py CONFIG_JSON

CONFIG_JSON keys: ``storage`` ("postgres" | "journal"), ``location`` (URL or journal file),
``study``, ``seed``, ``n_trials``, optional ``heartbeat`` ([interval, grace] seconds, RDB only),
``hang_at`` (the objective of this worker's first trial writes the trial number to this file
and then sleeps until the process is killed), ``sleep`` (seconds per trial), ``pickled``
(a path: the sampler is loaded from that pickle instead of being built) and ``sampler``
("tpe", the default, or "bohb": ``ferrotune.BOHBSampler``).

On a storage error (an ``optuna.exceptions.StorageInternalError`` anywhere in the exception
chain) it prints ``STORAGE-ERROR`` and the chain of exception types, and exits with 3.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
import time

import optuna

import ferrotune

N_STEPS = 4  # Hyperband resource: min 1, max 4, reduction factor 2 (rungs at 1, 2, 4)


def make_storage(cfg: dict) -> optuna.storages.BaseStorage:
    if cfg["storage"] == "postgres":
        kwargs = {}
        if cfg.get("heartbeat"):
            kwargs = {
                "heartbeat_interval": cfg["heartbeat"][0],
                "grace_period": cfg["heartbeat"][1],
            }
        return optuna.storages.RDBStorage(cfg["location"], **kwargs)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(cfg["location"]))


def make_sampler(seed: int, kind: str = "tpe") -> optuna.samplers.BaseSampler:
    if kind == "bohb":
        return ferrotune.BOHBSampler(seed=seed)
    return ferrotune.TPESampler(seed=seed, n_startup_trials=10)


def make_pruner() -> ferrotune.HyperbandPruner:
    return ferrotune.HyperbandPruner(min_resource=1, max_resource=N_STEPS, reduction_factor=2)


RESOLUTION = 0.05


def value_of(x: float, y: float, z: float) -> float:
    """A cheap function of three continuous parameters (minimum 0 at (1, -2, 0.5)), measured
    with a resolution of 0.05, as an error rate on 20 validation examples is: the comparison of
    best values in tests/test_distributed.py is at that resolution."""
    r2 = (x - 1.0) ** 2 + (y + 2.0) ** 2 + (z - 0.5) ** 2
    raw = r2 + 0.5 * (1.0 - math.cos(2.0 * (x - 1.0)))
    return math.ceil(raw / RESOLUTION) * RESOLUTION


def objective_factory(cfg: dict):
    hang_at = cfg.get("hang_at")
    pause = float(cfg.get("sleep", 0.0))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5.0, 5.0)
        y = trial.suggest_float("y", -5.0, 5.0)
        z = trial.suggest_float("z", -5.0, 5.0)
        final = value_of(x, y, z)
        if hang_at:
            with open(hang_at + ".tmp", "w") as f:
                f.write(str(trial.number))
            import os

            os.replace(hang_at + ".tmp", hang_at)
            while True:  # killed with SIGKILL by the test
                time.sleep(1.0)
        for step in range(1, N_STEPS + 1):
            if pause:
                time.sleep(pause / N_STEPS)
            trial.report(final * (1.0 + 2.0 / step), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return final

    return objective


def main() -> int:
    cfg = json.loads(sys.argv[1])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if cfg.get("pickled"):
        with open(cfg["pickled"], "rb") as f:
            sampler = pickle.load(f)
    else:
        sampler = make_sampler(cfg["seed"], cfg.get("sampler", "tpe"))
    try:
        study = optuna.load_study(
            study_name=cfg["study"],
            storage=make_storage(cfg),
            sampler=sampler,
            pruner=make_pruner(),
        )
        study.optimize(objective_factory(cfg), n_trials=cfg["n_trials"])
    except Exception as e:
        # Optuna 5.0 can raise UnboundLocalError from `_run_trial` while handling the storage
        # error (its `finally` reads a variable the failed read never set): report the chain.
        chain = []
        err: BaseException | None = e
        while err is not None and len(chain) < 10:
            chain.append(err)
            err = err.__cause__ or err.__context__
        storage_errors = [c for c in chain if isinstance(c, optuna.exceptions.StorageInternalError)]
        if not storage_errors:
            raise
        names = " <- ".join(f"{type(c).__module__}.{type(c).__qualname__}" for c in chain)
        print(f"STORAGE-ERROR {names}", flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
