"""The driver's Ray: started (or joined) and kept quiet, and Tune stopped cleanly on a signal.

Our leaderboard is the display, so Ray's and Tune's own progress output and advice stay out of
it; a search joins a cluster with one clear line when it cannot (kdsearch.cluster.join).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kdsearch.search.resources import ResourcePlan


def quiet_ray_env(own_signals: bool = False) -> None:
    """Our leaderboard is the display: keep Ray's own progress output and noise out of it."""
    if own_signals:  # kdsearch stops Tune itself on Ctrl-C (and SIGTERM), see `_fit`
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    # Tune's advice on an interrupted run names its Python API (Tuner.restore); the CLI prints
    # the `kdsearch run ... --resume` line instead.
    logging.getLogger("ray.tune.tune").addFilter(_drop_tune_interrupt_advice)
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # they pin every trial in memory
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0 the old engine prints nothing
    # One small checkpoint per trial-epoch forces experiment-state snapshots; expected, not a problem.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Snapshot Tune's experiment state at every step (not Tune's adaptive period): after a kill,
    # `--resume` then knows every trial that finished, and none is trained again. A snapshot of
    # a small search's state is a few milliseconds.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "0")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The parquet files are the record; Tune's warning that its JSON/CSV loggers are off is noise.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    # "Token authentication is enabled" on every local start: the default, and safe; not news.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # The grid sampler stops its study when every combination is out; Ray warns about how.
    logging.getLogger("ray.tune.search.optuna.optuna_search").setLevel(logging.ERROR)


def start_ray(plan: "ResourcePlan | None", opts, payload_bytes: int = 0) -> None:
    """Join the cluster (--address, or RAY_ADDRESS inside a Ray job; `plan` is None then) or start
    a local Ray sized by `plan`."""
    import ray

    from kdsearch.search.object_store import object_store_bytes

    if ray.is_initialized():
        return
    common = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                  configure_logging=True)
    if opts.address:
        _join(opts.address, common)
    else:
        if os.environ.get("RAY_ADDRESS"):  # inside a Ray job: the job's cluster
            _join(os.environ["RAY_ADDRESS"], common)
            return
        # The dataset is one object every trial reads: the store must hold it whole.
        store = object_store_bytes(payload_bytes)
        # "local": a new Ray of our own, even when another search (or a test's cluster) already
        # runs on this machine; plain ray.init() would try to join that one.
        ray.init(address="local", num_cpus=plan.cpus, num_gpus=plan.gpus,
                 **({"object_store_memory": store} if store else {}), **common)


def _join(address: str, common: dict) -> None:
    """ray.init on a running cluster; what stops it (nothing listening, no auth token) is one line."""
    import ray

    from kdsearch.cluster.join import check_reachable, explain_join_failure, quick_gcs_connect

    check_reachable(address)
    try:
        with quick_gcs_connect():
            ray.init(address=address, **common)
    except Exception as exc:
        problem = explain_join_failure(exc, address)
        if problem is None:
            raise
        raise problem from None


def _drop_tune_interrupt_advice(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(s in message for s in ("Tuner.restore", "Stop signal received", "Trials did not complete"))


def stop_tune() -> bool:
    """Asks a running Tune loop to stop after its current step and save its experiment state: the
    SIGUSR1 handler Tune installs for exactly that. False when Tune's loop is not running yet."""
    handler = signal.getsignal(signal.SIGUSR1)
    if not callable(handler):
        return False
    handler(signal.SIGUSR1, None)
    return True
