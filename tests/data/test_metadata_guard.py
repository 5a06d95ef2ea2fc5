"""A dataset file whose HDF5 metadata libhdf5 cannot finish reading is refused in one line."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from kdsearch.data import metadata_guard

# Made by flipping bytes of a small kdsearch dataset file: reading its string attributes sends
# libhdf5 through a damaged global heap, seconds of work inside one C call (longer flips loop
# for ever), which nothing in the reading process can interrupt.
CORRUPT_HEAP = Path(__file__).resolve().parents[1] / "fixtures" / "corrupt_heap.h5"


def test_a_metadata_read_past_the_bound_is_one_line_and_exit_2(tmp_path):
    shutil.copy(CORRUPT_HEAP, tmp_path / "damaged.h5")
    env = {**os.environ, "KDSEARCH_HDF5_PROBE_TIMEOUT_S": "0.5", "KDSEARCH_CACHE": str(tmp_path / "cache")}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "kdsearch", "data", "info", "damaged.h5"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "kdsearch: error: damaged.h5: corrupt HDF5 file: reading its metadata did not finish in 0.5 s "
        "(re-create or re-import it)"]
    assert time.monotonic() - started < 30  # the parent never read the heap itself
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.h5"]


def test_a_sound_file_is_probed_once_per_process(tiny_file, monkeypatch):
    path = tiny_file  # tests/data/conftest.py: a valid dataset file
    calls = []
    real_run = subprocess.run
    monkeypatch.setattr(metadata_guard.subprocess, "run", lambda *a, **k: calls.append(a) or real_run(*a, **k))
    metadata_guard.check_metadata_readable(path)
    metadata_guard.check_metadata_readable(path)
    assert len(calls) == 1
