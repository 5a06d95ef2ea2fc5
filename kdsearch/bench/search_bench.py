"""A fixed small search, timed end to end: trials per hour and GPU utilisation meanwhile.

The search is the bundled `smoke` space (tiny EDAM students on the synthetic `small` data,
ASHA + TPE), so the figure is comparable between machines and commits. The dataset and the
teacher are prepared *before* the clock starts (they are cached once per machine, not paid per
search); Ray start-up, trial start-up, training and result writing are all inside it, because a
user pays for them on every search.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

SEARCH_SPACE = "smoke"
NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]


def read_gpu_utilisation() -> list[float] | None:
    """Utilisation in percent of every visible GPU, or None when nvidia-smi is absent or fails."""
    if shutil.which(NVIDIA_SMI_QUERY[0]) is None:
        return None
    try:
        text = subprocess.run(NVIDIA_SMI_QUERY, capture_output=True, text=True, timeout=5, check=True).stdout
        return [float(line) for line in text.split() if line.strip()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


@dataclass
class GpuSampler:
    """Samples GPU utilisation in a background thread while a `with` block runs.

    Attributes:
        interval_s: seconds between samples.
        samples: one value per sample, the mean over GPUs, in percent.
    """

    interval_s: float = 1.0
    samples: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            values = read_gpu_utilisation()
            if values:
                self.samples.append(sum(values) / len(values))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "GpuSampler":
        if read_gpu_utilisation() is not None:  # no GPU (or no driver tool): no thread at all
            self._thread = threading.Thread(target=self._loop, name="gpu-util-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def summary(self) -> dict:
        """Mean and max utilisation over the samples, or "n/a" when nothing was sampled."""
        if not self.samples:
            return {"gpu_util_mean": "n/a", "gpu_util_max": "n/a", "gpu_util_samples": 0}
        return {"gpu_util_mean": sum(self.samples) / len(self.samples), "gpu_util_max": max(self.samples),
                "gpu_util_samples": len(self.samples)}


def run_search_bench(*, num_samples: int = 4, gpus: int | None = None, threads: int | None = None,
                     console=None) -> dict:
    """Run the fixed search once and measure it.

    Args:
        num_samples: trials to run (the smoke space's 4 by default).
        gpus: GPUs the search may use (default: all visible, as `kdsearch run`).
        threads: torch threads while the teacher is prepared in this process (None: torch's
            default). Trials set their own, from the space's cpus_per_trial.
        console: a rich console for the search's own output; a silent one when None.

    Returns:
        A dict: space, trials (rows in trials.parquet), epochs (rows in epochs.parquet),
        wall_s, trials_per_hour, prep_s (dataset + teacher, outside the clock), and the GPU
        utilisation summary of `GpuSampler.summary`.
    """
    from rich.console import Console

    from kdsearch.data.source import load_for_search
    from kdsearch.results.store import read_results
    from kdsearch.search.driver import RunOptions, run_search
    from kdsearch.spec.space import load_space
    from kdsearch.train.teacher_cache import get_teacher

    console = console or Console(quiet=True)
    space = load_space(SEARCH_SPACE)
    space.search["num_samples"] = int(num_samples)
    started = time.perf_counter()
    device = "cuda" if _cuda_available() and gpus != 0 else "cpu"
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads or previous_threads)
    try:  # cached now, so the timed search reuses it
        get_teacher(space.config, load_for_search(space.config["data"]), device=device)
    finally:
        torch.set_num_threads(previous_threads)
    prep_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="kdsearch-bench-") as root:
        opts = RunOptions(gpus=gpus, name="bench", results_root=root)
        with GpuSampler() as sampler:
            outcome = run_search(space, opts, console)
        _, trials, epochs = read_results(Path(root) / "bench")
    n_trials = int(len(trials))
    return {"space": SEARCH_SPACE, "trials": n_trials, "epochs": int(len(epochs)), "wall_s": outcome.wall_s,
            "trials_per_hour": n_trials / outcome.wall_s * 3600.0, "prep_s": prep_s, **sampler.summary()}


def _cuda_available() -> bool:
    return torch.cuda.is_available()
