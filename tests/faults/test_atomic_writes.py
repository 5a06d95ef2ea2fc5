"""Result files are written atomically: a SIGKILL at any moment of `ResultsWriter.flush()` leaves
trials.parquet and epochs.parquet each a valid, complete earlier version, and a resumed writer
gets back one consistent version of both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from kdsearch.results.store import EPOCHS_FILE, covered_epochs, read_results, write_parquet_atomic
from kdsearch.search.results_writer import ResultsWriter

KILLS = 30


def test_kill_during_flush_never_leaves_a_broken_file(tmp_path):
    script = Path(__file__).with_name("flush_until_killed.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "r"), str(KILLS), "0"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    checks = report["checks"]
    assert len(checks) == KILLS + 1
    assert [c for c in checks if "bad" in c] == []
    # Versions only move forward: no kill ever brought back an older file, and work got done.
    counts = [c["trials"] for c in checks]
    assert counts == sorted(counts) and counts[-1] >= 200
    # Some kills landed inside a write (they left a .tmp behind), so the property was exercised.
    assert report["kills_inside_a_write"] >= 3, report


def test_resume_drops_epoch_rows_the_trials_table_does_not_know(tmp_path):
    """The state a kill between the two file writes leaves (epochs are written first)."""
    writer = ResultsWriter(tmp_path, searched=["lr"], metric="val_acc7", mode="max", max_epochs=3)
    writer.setup()
    for trial_id in ("a", "b"):
        writer.records.start(trial_id, {"lr": 0.1})
        writer.records.result(trial_id, {"epoch": 1, "val_acc7": 0.5})
    writer.flush()
    writer.records.result("a", {"epoch": 2, "val_acc7": 0.6})
    writer.records.start("c", {"lr": 0.2})
    writer.records.result("c", {"epoch": 1, "val_acc7": 0.4})
    write_parquet_atomic(writer.records.epochs_frame(), tmp_path / EPOCHS_FILE)  # ...and killed here

    _, trials, epochs = read_results(tmp_path)
    assert len(epochs) == 4 and len(trials) == 2
    kept = covered_epochs(trials, epochs)
    assert sorted(zip(kept.trial_id, kept.epoch)) == [("a", 1), ("b", 1)]
    resumed = ResultsWriter(tmp_path, searched=["lr"], metric="val_acc7", mode="max", max_epochs=3, resume=True)
    resumed.setup()
    assert sorted(resumed.records.trials) == ["a", "b"]
    assert pd.DataFrame(resumed.records.epochs)[["trial_id", "epoch"]].values.tolist() == [["a", 1], ["b", 1]]
    # The re-reported epoch 2 of "a" (Tune replays it from the checkpoint) is recorded once.
    resumed.records.result("a", {"epoch": 2, "val_acc7": 0.6})
    assert not resumed.records.epochs_frame().duplicated(["trial_id", "epoch"]).any()
