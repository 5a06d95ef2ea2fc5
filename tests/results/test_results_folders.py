"""Paths and names: a bare search name finds results/<name>, `--resume` without `--name` finds the
latest search of the space, and a folder whose driver still runs is refused with that reason."""

import os
import subprocess
import sys
import time

import pytest
import yaml

from kdsearch.errors import UserError
from kdsearch.results.folders import FolderClaim, latest_search_of, results_folder, running_driver


def _search(root, name, space="smoke", age=0.0):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "space.yaml").write_text(yaml.safe_dump({"name": space}))
    (folder / "meta.json").write_text("{}")
    stamp = time.time() - age
    os.utime(folder, (stamp, stamp))
    return folder


def test_a_bare_name_is_found_under_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _search(tmp_path / "results", "edam-1")
    assert results_folder("edam-1").resolve() == tmp_path / "results" / "edam-1"
    assert results_folder(str(tmp_path / "results" / "edam-1")) == tmp_path / "results" / "edam-1"
    with pytest.raises(UserError, match=r"nope: no such results directory .*searches in results/: edam-1"):
        results_folder("nope")


def test_resume_without_name_takes_the_latest_search_of_the_space(tmp_path):
    _search(tmp_path, "smoke-old", age=100)
    _search(tmp_path, "smoke-new", age=1)
    _search(tmp_path, "edam-newest", space="edam")
    assert latest_search_of(tmp_path, "smoke") == "smoke-new"
    with pytest.raises(UserError, match=r"--resume: no search of space 'dmd'.*edam-newest, smoke-new, smoke-old"):
        latest_search_of(tmp_path, "dmd")


def test_a_folder_claimed_by_a_live_driver_is_refused_and_freed_when_it_dies(tmp_path):
    folder = _search(tmp_path, "s")
    # Another process (as a second driver would be) holds the claim.
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from kdsearch.results.folders import FolderClaim; "
                               f"c = FolderClaim(Path({str(folder)!r})); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert running_driver(folder) == f"pid {holder.pid} on {os.uname().nodename}"
        with pytest.raises(UserError, match="still running"):
            FolderClaim(folder)
    finally:
        holder.kill()
        holder.wait()
    assert running_driver(folder) is None  # the kernel dropped the claim with the process
    FolderClaim(folder).release()


def test_cli_names_the_search_a_bare_name_finds(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kdsearch", "leaderboard", "missing"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "missing: no such results directory (nor results/missing)" in result.stderr


@pytest.mark.parametrize("resume", [False, True])
def test_cli_refuses_a_second_driver_on_a_running_search(tmp_path, resume):
    """What `kdsearch run` holds while it runs (FolderClaim), held here by another process."""
    folder = _search(tmp_path / "results", "s")
    holder = subprocess.Popen([sys.executable, "-c", "import time; from pathlib import Path; "
                               "from kdsearch.results.folders import FolderClaim; "
                               f"c = FolderClaim(Path({str(folder)!r})); print('held', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = subprocess.run([sys.executable, "-m", "kdsearch", "run", "smoke", "--name", "s",
                                 *(["--resume"] if resume else [])], cwd=tmp_path, capture_output=True, text=True,
                                timeout=300)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"kdsearch: error: results/s: --name: this search is still running (pid "
                                     f"{holder.pid} on {os.uname().nodename}): two drivers cannot share its folder; "
                                     "wait for it, stop it, or choose another --name")
