"""Faults inside trials, in one real search: a worker process SIGKILLed mid-trial, and trials whose
model does not fit in memory. The killed trial resumes from its checkpoint, and continues exactly as it would have
without the kill (every random state travels in the checkpoint); the out-of-memory
trials fail alone with the allocator's reason; every other trial finishes.

The memory fault is a real allocation failure, under a limit the test sets: every Ray worker may
map only 512 MiB beyond its start-up size (RLIMIT_AS, set by `small_worker.limit_memory` as Ray's
worker_process_setup_hook), like a worker node or GPU smaller than the driver's machine. The
searched `student.d_model` is 8 or 2048; the 2048-wide student needs 873 MiB of weights, so
torch's allocator gets ENOMEM while the trial builds it, and raises "can't allocate memory", as it
does on a machine out of memory. (With no limit, an honest failure on this machine needs a single
tensor larger than RAM + swap, and the space validation on the driver builds that model first.)
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fault_helpers import cmdline, descendants, space_dict, write_space
from rich.console import Console
from small_worker import MARGIN_ENV

from kdsearch.search.driver import RunOptions, run_search
from kdsearch.spec.space import load_space

pytestmark = pytest.mark.slow

EPOCHS = 6
WIDE = 2048  # 873 MiB of student weights: more than a worker's 512 MiB allowance


class WorkerKiller(threading.Thread):
    """SIGKILLs the trial worker (`ray::ImplicitFunc`) once a trial has checkpointed two epochs
    and still has at least two to run, so the kill lands mid-trial, after a checkpoint."""

    def __init__(self, tune_dir: Path):
        super().__init__(daemon=True)
        self.tune_dir = tune_dir
        self.done = threading.Event()
        self.killed_trial: str | None = None
        self.killed_pid: int | None = None

    def run(self):
        while not self.done.is_set() and self.killed_pid is None:
            time.sleep(0.05)
            for trial_dir in self.tune_dir.glob("student_trial_*"):
                saved = [int(p.name.split("_")[-1]) for p in trial_dir.glob("checkpoint_*")]
                if saved and 1 <= max(saved) <= EPOCHS - 3:
                    self._kill(trial_dir.name)
                    break

    def _kill(self, trial_dir_name: str) -> None:
        # Only this test's own Ray: the workers are descendants of this process.
        workers = [pid for pid in descendants(os.getpid()) if cmdline(pid).startswith("ray::ImplicitFunc")]
        if len(workers) == 1:  # max_concurrent 1: the one worker is the running trial's
            os.kill(workers[0], signal.SIGKILL)
            self.killed_pid = workers[0]
            self.killed_trial = trial_dir_name.split("_")[2]  # student_trial_<id>_<n>_<params>


@pytest.fixture(scope="module")
def faulty_search(tmp_path_factory, tiny_data):
    import ray

    root = tmp_path_factory.mktemp("trial-faults")
    params = {"student.d_model": {"type": "int", "low": 8, "high": WIDE, "step": WIDE - 8},
              "train.lr": {"type": "categorical", "choices": [0.003, 0.002]}}
    raw = space_dict("faults", tiny_data, epochs=EPOCHS, params=params, num_samples=4, max_concurrent=1,
                     max_failures=1, sampler={"name": "grid", "seed": 0})
    space = load_space(str(write_space(root, raw)))
    killer = WorkerKiller(root / "results" / "f" / "tune")
    console = Console(record=True, width=200, force_terminal=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KDSEARCH_CACHE", str(root / "cache"))
        mp.setenv(MARGIN_ENV, "512")
        # Workers import the hook from here (they inherit the driver's environment).
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                              os.environ.get("PYTHONPATH")])))
        # Started here (run_search uses a running Ray as it is) to give the workers their limit;
        # a small object store keeps its mapping inside the allowance.
        ray.init(num_cpus=2, num_gpus=0, object_store_memory=100 * 2**20, include_dashboard=False,
                 log_to_driver=False, runtime_env={"worker_process_setup_hook": "small_worker.limit_memory"})
        killer.start()
        try:
            outcome = run_search(space, RunOptions(name="f", results_root=str(root / "results")), console)
        finally:
            killer.done.set()
            killer.join()
            ray.shutdown()
    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas()
    epochs = pq.read_table(outcome.results_dir / "epochs.parquet").to_pandas()
    return trials, epochs, killer, console.export_text(), outcome.results_dir


def test_killed_worker_resumes_from_its_checkpoint(faulty_search):
    trials, epochs, killer, _, _ = faulty_search
    assert killer.killed_pid is not None, "no trial was caught mid-run to kill"
    row = trials.set_index("trial_id").loc[killer.killed_trial]
    assert row["status"] == "done" and row["epochs"] == EPOCHS and pd.isna(row["error"])
    mine = epochs[epochs.trial_id == killer.killed_trial].sort_values("epoch")
    assert mine["epoch"].tolist() == list(range(1, EPOCHS + 1))  # each epoch once, none lost
    resumed = mine["resumed_from_epoch"].dropna()
    # The retry started from a checkpoint (>= epoch 1), not from scratch, and only once.
    assert len(resumed) > 0 and resumed.nunique() == 1 and 1 <= resumed.iloc[0] <= EPOCHS - 2
    assert mine[mine.epoch <= resumed.iloc[0]]["resumed_from_epoch"].isna().all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    # No other trial was disturbed: the ones that fit finished, unresumed.
    fitting = trials[trials["student.d_model"] == 8]
    assert len(fitting) == 2 and set(fitting["status"]) == {"done"}
    others = epochs[epochs.trial_id.isin(fitting.trial_id) & (epochs.trial_id != killer.killed_trial)]
    assert "resumed_from_epoch" not in others or others["resumed_from_epoch"].isna().all()


def test_out_of_memory_trials_fail_alone_with_the_reason(faulty_search):
    trials, epochs, _, shown, _ = faulty_search
    assert len(trials) == 4
    oom = trials[trials["student.d_model"] == WIDE]
    assert len(oom) == 2 and set(oom["status"]) == {"error"}
    for reason in oom["error"]:
        assert "can't allocate memory" in reason and "bytes" in reason
    assert epochs[epochs.trial_id.isin(oom.trial_id)].empty  # they never trained an epoch
    assert set(trials[trials["student.d_model"] == 8]["status"]) == {"done"}
    assert "can't allocate memory" in shown  # the leaderboard says why


def test_the_killed_trial_continued_exactly_as_an_uninterrupted_run(faulty_search):
    """`replay` trains the killed trial's configuration from scratch without interruption (as
    the trial's own worker would: CPU, its thread count): every epoch's metrics equal, bit for bit,
    those the resumed trial recorded after the kill, dropout and data order included."""
    from kdsearch.verbs.replay import replay

    trials, epochs, killer, _, results_dir = faulty_search
    assert killer.killed_pid is not None, "no trial was caught mid-run to kill"
    replayed, recorded = replay(results_dir, killer.killed_trial, console=Console(file=open(os.devnull, "w")))
    assert recorded["resumed_from_epoch"].notna().any()  # it really was resumed
    columns = ["train_loss", "val_loss", "val_acc7", "val_acc2", "val_f1"]
    assert [[row[c] for c in columns] for row in replayed] == recorded[columns].values.tolist()
