"""`kdsearch run --address` against a real cluster of `ray start` processes on this machine: a
head with no CPUs and one worker node, with Ray 2.60's token authentication on.

Without the token in force the run stops in seconds with one line naming RAY_AUTH_MODE (exit 2);
an address where nothing listens likewise; with it, every trial runs on the worker node.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    """`ray start ... --block` in its own process group: killing the group stops every Ray
    process it started, and nothing else on the machine (never `ray stop`, which stops all)."""
    return subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", *args], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the group, SIGKILL to what is left of it 2 s later; returns once it is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + 2
        while time.time() < deadline and _group_alive(proc):
            time.sleep(0.1)


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()  # reap `ray start` itself: a zombie still counts as a member of its group
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for_port(port: int, timeout: float) -> None:
    """Until the head's GCS accepts connections (a worker node started before then cannot join)."""
    deadline = time.time() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def token_cluster(tmp_path):
    home = tmp_path / "home"  # a home of its own: the cluster's token lives in home/.ray/auth_token
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token", "OMP_NUM_THREADS": "1"}
    env.pop("RAY_ADDRESS", None)
    subprocess.run([RAY, "get-auth-token", "--generate"], env=env, check=True, capture_output=True)
    port = _free_port()
    temp = f"/tmp/kdsj-{port}"  # Ray's socket paths must stay short
    started = [_ray_start(["--head", "--num-cpus=0", "--num-gpus=0", f"--port={port}", "--include-dashboard=false",
                           f"--temp-dir={temp}"], env, tmp_path / "head.log")]
    try:
        _wait_for_port(port, timeout=60)
        started.append(_ray_start([f"--address=127.0.0.1:{port}", "--num-cpus=1", "--num-gpus=0"], env,
                                  tmp_path / "worker.log"))
        deadline = time.time() + 120
        while time.time() < deadline:  # the worker node has joined once the cluster shows its CPU
            status = subprocess.run([RAY, "status", f"--address=127.0.0.1:{port}"], env=env, capture_output=True,
                                    text=True)
            if "1.0 CPU" in status.stdout or "0.0/1.0 CPU" in status.stdout:
                break
            time.sleep(2)
        else:
            pytest.fail(f"the worker node did not join: {status.stdout[-2000:]}{status.stderr[-2000:]}")
        yield f"127.0.0.1:{port}", env
    finally:
        for proc in reversed(started):
            _stop(proc)


def _kdsearch(args, env, cwd, timeout=900):
    return subprocess.run([sys.executable, "-m", "kdsearch", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_join_without_token_mode_fails_in_one_line_then_runs_on_the_worker(tmp_path, warm_cache, token_cluster):
    address, env = token_cluster
    env = {**env, "KDSEARCH_CACHE": str(warm_cache)}  # the smoke teacher is cached: trials start at once
    # Two trials: every one of them must run on the worker node (one CPU: they run one after the other).
    space = write_smoke_space(tmp_path / "join.yaml", search={"num_samples": 2})
    storage = str(tmp_path / "storage")

    no_mode = {k: v for k, v in env.items() if k != "RAY_AUTH_MODE"}  # the token file alone is not enough
    started = time.perf_counter()
    refused = _kdsearch(["run", str(space), "--address", address, "--storage", storage, "--name", "a"], no_mode,
                        tmp_path)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert refused.stderr.strip().count("\n") == 0, refused.stderr  # one line, no Ray retries or traceback
    assert "RAY_AUTH_MODE=token" in refused.stderr and "auth_token" in refused.stderr
    assert time.perf_counter() - started < 120  # not Ray's minute of retries on top of start-up
    assert not (tmp_path / "results" / "a").exists()

    nobody = f"127.0.0.1:{_free_port()}"
    nothing = _kdsearch(["run", str(space), "--address", nobody, "--name", "b"], env, tmp_path)
    assert nothing.returncode == 2 and "no Ray cluster answers there" in nothing.stderr, nothing.stderr[-2000:]
    assert nothing.stderr.strip().count("\n") == 0

    ok = _kdsearch(["run", str(space), "--address", address, "--storage", storage, "--name", "c"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "Search c finished" in ok.stdout
    trials = pq.read_table(tmp_path / "results" / "c" / "trials.parquet").to_pandas()
    epochs = pq.read_table(tmp_path / "results" / "c" / "epochs.parquet").to_pandas()
    assert len(trials) == 2 and set(trials.status) <= {"done", "stopped"}
    assert epochs["node_id"].nunique() == 1  # the head has no CPUs: every trial ran on the worker node
