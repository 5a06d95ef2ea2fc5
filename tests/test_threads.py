"""CPU threads are chosen, not left to torch: 1 per process unless `--threads` or OMP_NUM_THREADS
says otherwise, applied before the command runs."""

import os
import subprocess
import sys

import pytest

from kdsearch.errors import UserError
from kdsearch.threads import available_cpus, resolve_threads


def test_default_is_one_thread_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert resolve_threads(None) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_threads(None) == 3  # a job scheduler's choice is kept
    assert resolve_threads("2") == 2 and resolve_threads("auto") == available_cpus()


@pytest.mark.parametrize("bad", ["0", "-1", "many"])
def test_a_bad_count_is_one_line_naming_the_flag(bad):
    with pytest.raises(UserError, match="--threads"):
        resolve_threads(bad)


@pytest.mark.parametrize("flag,expected", [([], "1 threads"), (["--threads", "2"], "2 threads")])
def test_the_command_runs_with_the_chosen_threads(flag, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = subprocess.run([sys.executable, "-m", "kdsearch", "describe", "smoke", "--repeats", "1", *flag],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout  # describe's title reports torch.get_num_threads()


def test_cli_refuses_zero_threads_with_exit_2():
    result = subprocess.run([sys.executable, "-m", "kdsearch", "train", "smoke", "--threads", "0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--threads" in result.stderr and result.stderr.count("\n") == 1
