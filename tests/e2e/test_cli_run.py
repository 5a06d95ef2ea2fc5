"""The command a user types: `kdsearch run ...`, as a subprocess, exit codes included."""

import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow


def kdsearch(*args, cwd, cache):
    env = {**os.environ, "KDSEARCH_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "kdsearch", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_run_twice_reuses_the_cached_teacher_and_leaderboard_reads_results(tmp_path):
    cache = tmp_path / "cache"
    first = kdsearch("run", "spaces/smoke.yaml", "--smoke-test", "--name", "a", cwd=tmp_path, cache=cache)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "teacher epoch 1/1" in first.stdout
    second = kdsearch("run", "smoke", "--smoke-test", "--name", "b", cwd=tmp_path, cache=cache)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Reusing cached teacher" in second.stdout
    assert "teacher epoch" not in second.stdout
    trials = pq.read_table(tmp_path / "results" / "b" / "trials.parquet").to_pandas()
    assert len(trials) == 2  # --smoke-test: two trials
    board = kdsearch("leaderboard", "results/b", cwd=tmp_path, cache=cache)
    assert board.returncode == 0
    assert trials.iloc[0]["trial_id"] in board.stdout
    again = kdsearch("run", "smoke", "--smoke-test", "--name", "b", cwd=tmp_path, cache=cache)
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.parametrize("args,words", [
    (["run", "smoke", "--gpus", "1"], "asked for 1 GPU(s) but this machine has 0"),
    (["run", "no_such_space"], "no such space file"),
    (["run", "smoke", "--name", "../x"], "no path separators"),
    (["leaderboard", "results/none"], "no such results directory"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, args, words):
    result = kdsearch(*args, cwd=tmp_path, cache=tmp_path / "cache")
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results" / "x").exists()
