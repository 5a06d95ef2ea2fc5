"""Two searches at once, into different result directories and sharing one cache, while
`kdsearch leaderboard` reads one of them over and over: both finish, each holds only its own
trials, and the leaderboard never fails on a half-written file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from fault_helpers import space_dict, write_space

from kdsearch.cli import main

pytestmark = pytest.mark.slow

RANGES = {"a": (1.0e-3, 2.0e-3), "b": (5.0e-3, 1.0e-2)}  # disjoint: a row tells whose it is


def test_two_searches_and_a_reader_do_not_interfere(tmp_path, tiny_data, capsys):
    env = {**os.environ, "KDSEARCH_CACHE": str(tmp_path / "cache")}
    runs = {}
    for key, (low, high) in RANGES.items():
        raw = space_dict(f"space-{key}", tiny_data, num_samples=3, max_concurrent=1,
                         params={"train.lr": {"type": "float", "low": low, "high": high}})
        space = write_space(tmp_path, raw)
        # The same --name under two roots: only the root tells them apart.
        runs[key] = subprocess.Popen([sys.executable, "-m", "kdsearch", "run", str(space), "--cpus", "1",
                                      "--results-dir", str(tmp_path / key), "--name", "s"], cwd=tmp_path, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watched = tmp_path / "a" / "s"
    reads, deadline = 0, time.time() + 400
    try:
        while any(p.poll() is None for p in runs.values()) and time.time() < deadline:
            if (watched / "trials.parquet").exists():
                assert main(["leaderboard", str(watched)]) == 0, capsys.readouterr().err
                reads += 1
            time.sleep(0.1)
        errors = {key: p.communicate(timeout=60)[1] for key, p in runs.items()}
    finally:
        for p in runs.values():
            if p.poll() is None:
                p.kill()
    assert {key: p.returncode for key, p in runs.items()} == {"a": 0, "b": 0}, errors
    assert reads >= 5, "the leaderboard was hardly read while the searches ran"
    ids = {}
    for key, (low, high) in RANGES.items():
        trials = pq.read_table(tmp_path / key / "s" / "trials.parquet").to_pandas()
        epochs = pq.read_table(tmp_path / key / "s" / "epochs.parquet").to_pandas()
        assert len(trials) == 3 and set(trials.status) == {"done"}
        assert trials["train.lr"].between(low, high).all()  # none of the other search's trials
        assert set(epochs.trial_id) == set(trials.trial_id) and not epochs.duplicated(["trial_id", "epoch"]).any()
        ids[key] = set(trials.trial_id)
        journal = (tmp_path / key / "s" / "optuna.journal").read_text()
        assert journal.count('"op_code":0') == 1  # one study (CREATE_STUDY) in each journal
    assert not ids["a"] & ids["b"]
