"""The fixed small search and the GPU utilisation sampler."""

import os
import stat
import time

import pytest

from kdsearch.bench.search_bench import GpuSampler, read_gpu_utilisation, run_search_bench


@pytest.fixture
def fake_nvidia_smi(tmp_path, monkeypatch):
    """An `nvidia-smi` executable first on PATH that prints two GPUs' utilisation, as the real one does."""
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\nprintf '40\\n60\\n'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")
    return tool


def test_sampler_reads_every_gpu_and_averages(fake_nvidia_smi):
    assert read_gpu_utilisation() == [40.0, 60.0]
    with GpuSampler(interval_s=0.05) as sampler:
        time.sleep(0.3)
    summary = sampler.summary()
    assert summary["gpu_util_samples"] >= 2
    assert summary["gpu_util_mean"] == pytest.approx(50.0) and summary["gpu_util_max"] == pytest.approx(50.0)


def test_sampler_without_a_gpu_reports_na(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    assert read_gpu_utilisation() is None
    with GpuSampler(interval_s=0.01) as sampler:
        time.sleep(0.05)
    assert sampler.summary() == {"gpu_util_mean": "n/a", "gpu_util_max": "n/a", "gpu_util_samples": 0}


@pytest.mark.slow
def test_fixed_search_reports_trials_per_hour(tmp_path, monkeypatch):
    monkeypatch.setenv("KDSEARCH_CACHE", str(tmp_path / "cache"))  # cold, private cache
    result = run_search_bench(num_samples=2, gpus=0, threads=1)
    assert result["space"] == "smoke" and result["trials"] == 2 and result["epochs"] >= 2
    assert result["wall_s"] > 0 and result["prep_s"] > 0
    assert result["trials_per_hour"] == pytest.approx(2 / result["wall_s"] * 3600)
    assert result["gpu_util_mean"] == "n/a" or result["gpu_util_samples"] > 0
