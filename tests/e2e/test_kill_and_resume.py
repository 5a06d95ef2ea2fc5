"""SIGKILL the driver mid-search, then `--resume`: nothing finished is re-run, nothing is lost."""

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow


def _space(tmp_path):
    return write_smoke_space(tmp_path / "resume.yaml", search={"num_samples": 8}, train={"epochs": 3})


def _finished(results):
    try:
        trials = pq.read_table(results / "trials.parquet").to_pandas()
    except Exception:  # not written yet
        return None
    return trials[trials.status.isin(["done", "stopped"])]


def test_sigkill_then_resume_finishes_without_rerunning(tmp_path):
    space = _space(tmp_path)
    env = {**os.environ, "KDSEARCH_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "kdsearch", "run", str(space), "--name", "r"]
    results = tmp_path / "results" / "r"
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.time() + 300
    before = None
    while time.time() < deadline:
        time.sleep(1)
        before = _finished(results)
        if before is not None and len(before) >= 2:
            break
    assert before is not None and len(before) >= 2, "the search did not get going"
    epochs_before = pq.read_table(results / "epochs.parquet").to_pandas()
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and everything it started, at once
    driver.wait()

    resumed = subprocess.run([*cmd, "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # The live leaderboard took back the rows of before the kill: it ends counting all 8.
    assert "8/8 trials · running 0" in resumed.stdout, resumed.stdout[-3000:]
    trials = pq.read_table(results / "trials.parquet").to_pandas()
    epochs = pq.read_table(results / "epochs.parquet").to_pandas()
    assert len(trials) == 8 and set(trials.status) <= {"done", "stopped"}
    assert int(trials["epochs"].sum()) == len(epochs)
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    # Trials finished before the kill were not trained again: their rows are untouched.
    for trial_id in before["trial_id"]:
        old = epochs_before[epochs_before.trial_id == trial_id].sort_values("epoch")
        new = epochs[epochs.trial_id == trial_id].sort_values("epoch")
        assert old["epoch_time_s"].tolist() == new["epoch_time_s"].tolist()
    # The Optuna study came back too: one study trial per Tune trial, none left running.
    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(results / "optuna.journal")))
    study = optuna.load_study(study_name="r", storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) >= 8
