"""optuna-dashboard works on a finished search's journal, as the README says: started on
127.0.0.1 (a free port) against results/<name>/optuna.journal, its HTTP API gives the study
back with every trial and the values the leaderboard ranks. Skipped without the extra
(`pip install -e ".[dashboard]"`)."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return json.loads(reply.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_dashboard_serves_the_study_of_a_finished_search(two_trial_search):
    pytest.importorskip("optuna_dashboard")
    exe = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent / "optuna-dashboard")
    folder = two_trial_search  # the session's finished `kdsearch run` of 2 trials (tests/shared_searches.py)
    port = _free_port()
    server = subprocess.Popen([exe, str(folder / "optuna.journal"), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        (summary,) = _get(f"http://127.0.0.1:{port}/api/studies", deadline)["study_summaries"]
        assert summary["study_name"] == folder.name and summary["directions"] == ["maximize"]
        study = _get(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}?after=0", deadline)
        trials = pd.read_parquet(folder / "trials.parquet")
        assert len(study["trials"]) == len(trials) == 2
        assert sorted(t["values"][0] for t in study["trials"]) == pytest.approx(sorted(trials["best_val_acc7"]))
        assert {p["name"] for p in study["trials"][0]["params"]} == {"loss.alpha", "loss.beta", "distill.temperature"}
    finally:
        server.terminate()
        server.wait(timeout=30)
