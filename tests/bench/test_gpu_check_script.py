"""benchmarks/gpu_check.sh runs on a CPU as a dry run (tiny sizes), so the GPU script cannot rot."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_dry_run_takes_every_step_and_writes_one_json(tmp_path, cache_dir):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["dry_run"] is True and result["ok"] is True
    assert set(result["steps"]) >= {"imports", "tests", "bench", "cache_steps", "packed", "search", "search_packed"}
    assert result["figures"]["packed"]["packed_2_shared_vs_unpacked_online"] > 0
    assert result["figures"]["packed"]["packed_2_model_steps_per_s"] > 0
    assert result["figures"]["cache_steps"]["tiny"]["speedup"] > 0
    assert not list(tmp_path.glob("gpu_check.*/"))  # a clean run leaves only the JSON


def test_an_unknown_argument_is_refused():
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--bogus"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "unknown argument --bogus" in done.stderr
