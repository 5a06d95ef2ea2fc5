"""Ctrl-C (SIGINT to the terminal's process group) and a scheduler's SIGTERM mid-trials: the run
says it was interrupted, prints the exact `--resume` line, exits 130 / 143, and that line (or
`--resume` alone, which finds the latest search of the space) finishes the search."""

import os
import shlex
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow


def _running_trials(results) -> bool:
    try:
        epochs = pq.read_table(results / "epochs.parquet").to_pandas()
    except Exception:  # not written yet
        return False
    return len(epochs) >= 1  # a trial reported an epoch: trials are mid-way


@pytest.mark.parametrize("signum,exit_code,whole_group", [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)])
def test_signal_mid_search_says_interrupted_and_resume_finishes(tmp_path, warm_cache, signum, exit_code, whole_group):
    space = write_smoke_space(tmp_path / "sig.yaml", train={"epochs": 4})
    # The smoke teacher is already cached (warm_cache): this test is about the signal, not a first training.
    env = {**os.environ, "KDSEARCH_CACHE": str(warm_cache)}
    results = tmp_path / "results" / "s"
    cmd = [sys.executable, "-m", "kdsearch", "run", str(space), "--name", "s"]
    driver = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and driver.poll() is None and not _running_trials(results):
            time.sleep(0.5)
        assert _running_trials(results), "the search did not get going"
        # A terminal's Ctrl-C reaches every process of the foreground group; a scheduler's
        # SIGTERM the command it started.
        (os.killpg if whole_group else os.kill)(driver.pid, signum)
        out, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == exit_code, err[-3000:]
    # The first line says which space file runs and where the results go.
    assert out.splitlines()[0] == f"kdsearch search s · space {space} · results in {results.resolve()}/"
    assert f"search s interrupted ({signal.Signals(signum).name}); it did not finish." in err
    resume = f"kdsearch run {shlex.quote(str(space))} --name s --resume"
    assert resume in err.splitlines()[-1], err[-2000:]
    assert "Tuner.restore" not in out + err and "finished in" not in out
    trials = pq.read_table(results / "trials.parquet").to_pandas()
    assert not set(trials.status) <= {"done", "stopped"} or len(trials) < 4  # it really stopped early

    argv = shlex.split(err.splitlines()[-1])[1:]  # the printed line, as written (without the program name)
    if not whole_group:  # --resume alone takes the latest search of the space: this one
        argv = [a for a in argv if a not in ("--name", "s")]
    resumed = subprocess.run([sys.executable, "-m", "kdsearch", *argv], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Search s finished" in resumed.stdout
    trials = pq.read_table(results / "trials.parquet").to_pandas()
    assert len(trials) == 4 and set(trials.status) <= {"done", "stopped"}
