"""A results directory that cannot be written: refused before Ray starts (exit code 2, one line,
nothing written), or, when the disk fills up mid-search, the search stops with one line, keeps
every trial recorded before, and `--resume` finishes it once there is room again.

Tests run as root, where permissions do not stop a write. The disks here are real: tmpfs mounts
made inside a private mount namespace (`unshare -m`), so a read-only or a full filesystem exists
only for the search under test and disappears with it. The test fills the disk itself, from
outside, through /proc/<pid>/root. Without mount namespaces those tests skip; the
folder-is-a-file case needs none.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fault_helpers import space_dict, write_space

pytestmark = pytest.mark.slow

KDSEARCH = f"{sys.executable} -m kdsearch"


def _unshare() -> list[str] | None:
    """The command prefix that runs a shell in a private mount namespace, or None if not allowed."""
    for prefix in (["unshare", "--mount", "--propagation", "private"], ["unshare", "--map-root-user", "--mount"]):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


UNSHARE = _unshare()
needs_namespace = pytest.mark.skipif(UNSHARE is None, reason="no private mount namespace (unshare -m) here")


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "KDSEARCH_CACHE": str(tmp_path / "cache")}


def test_results_dir_that_is_a_file_is_refused_before_anything_starts(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    raw = space_dict("unwritable", tmp_path / "unused.h5")
    raw["data"] = {"synthetic": "small"}  # would be generated into the cache if the run got that far
    space = write_space(tmp_path, raw)
    done = subprocess.run([sys.executable, "-m", "kdsearch", "run", str(space), "--results-dir", str(blocker),
                           "--name", "r"], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"kdsearch: error: {blocker}/r: results directory is not writable: "
                                        "Not a directory"]
    assert done.stdout == ""  # not even the start banner: nothing ran
    assert not (tmp_path / "cache").exists() and blocker.read_text() == "not a folder"


@needs_namespace
def test_read_only_or_full_disk_is_refused_before_anything_starts(tmp_path, tiny_data):
    space = write_space(tmp_path, space_dict("refused", tiny_data))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = f"""
        mount -t tmpfs -o ro,size=100m tmpfs {mnt}
        {KDSEARCH} run {space} --results-dir {mnt} --name r; echo "rc=$?"
        umount {mnt}
        mount -t tmpfs -o size=1m tmpfs {mnt}
        {KDSEARCH} run {space} --results-dir {mnt} --name r; echo "rc=$?"
        echo "left: $(ls -A {mnt})"
    """
    done = subprocess.run([*UNSHARE, "bash", "-c", script], cwd=tmp_path, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=180)
    assert done.stdout.splitlines() == ["rc=2", "rc=2", "left: "], done.stderr[-2000:]
    assert done.stderr.splitlines() == [
        f"kdsearch: error: {mnt}/r: results directory is not writable: Read-only file system",
        f"kdsearch: error: {mnt}/r: only 1.0 MiB free on its disk; a search needs at least 64 MiB for "
        "checkpoints and results",
    ]


def _finished(results: Path) -> list[str]:
    try:
        trials = pq.read_table(results / "trials.parquet").to_pandas()
    except Exception:  # noqa: BLE001 - not written yet
        return []
    return sorted(trials[trials.status == "done"].trial_id)


def _fill(folder: Path) -> None:
    """Writes zeros into folder/filler until the disk is full."""
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 2**20)
                f.flush()
        except OSError:
            pass


def _wait(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@needs_namespace
def test_disk_full_mid_search_stops_cleanly_and_resume_finishes(tmp_path, tiny_data):
    space = write_space(tmp_path, space_dict("full", tiny_data, num_samples=4, max_concurrent=1, max_failures=1))
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    # The first run stops on the full disk; the script waits for the test to free it, resumes,
    # and copies the results out before its namespace (and the tmpfs) goes away.
    script = f"""
        mount -t tmpfs -o size=80m tmpfs {mnt}
        {KDSEARCH} run {space} --results-dir {mnt} --name d > {out}/first.log 2>&1; echo $? > {out}/first.rc
        while [ -e {mnt}/filler ]; do sleep 0.2; done
        {KDSEARCH} run {space} --results-dir {mnt} --name d --resume > {out}/second.log 2>&1
        echo $? > {out}/second.rc
        cp -a {mnt}/d {out}/d
    """
    shell = subprocess.Popen([*UNSHARE, "bash", "-c", script], cwd=tmp_path, env=_env(tmp_path),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        inside = Path(f"/proc/{shell.pid}/root") / mnt.relative_to("/")  # the tmpfs, seen from here
        done_before = _wait(lambda: _finished(inside / "d"), 240, "a finished trial")
        _fill(inside)
        _wait(lambda: (out / "first.rc").exists(), 240, "the first run to stop")
        first = (out / "first.log").read_text()
        # One line says what happened and what to do; no traceback.
        assert (out / "first.rc").read_text().strip() == "2", first[-3000:]
        last = first.strip().splitlines()[-1]
        assert last.startswith(f"kdsearch: error: {mnt}/d: a disk the search writes to failed mid-search (No space "
                               "left on device") and last.endswith("--name d --resume"), first[-3000:]
        kept = _finished(inside / "d")
        assert set(done_before) <= set(kept)  # nothing finished was lost
        epochs_kept = pq.read_table(inside / "d" / "epochs.parquet").to_pandas()
        (inside / "filler").unlink()
        assert shell.wait(timeout=300) == 0
    finally:
        if shell.poll() is None:
            shell.kill()
    second = (out / "second.log").read_text()
    assert (out / "second.rc").read_text().strip() == "0", second[-3000:]
    trials = pq.read_table(out / "d" / "trials.parquet").to_pandas()
    epochs = pq.read_table(out / "d" / "epochs.parquet").to_pandas()
    assert len(trials) == 4 and set(trials.status) == {"done"}, trials[["trial_id", "status", "error"]]
    assert not epochs.duplicated(["trial_id", "epoch"]).any() and len(epochs) == int(trials["epochs"].sum())
    for trial_id in kept:  # trials finished before the disk filled were not trained again
        old = epochs_kept[epochs_kept.trial_id == trial_id].sort_values("epoch")["epoch_time_s"].tolist()
        assert epochs[epochs.trial_id == trial_id].sort_values("epoch")["epoch_time_s"].tolist() == old
