"""Repeated wall-clock timing that is honest on both CPU and GPU.

CUDA kernels run asynchronously, so every repetition is bracketed by `torch.cuda.synchronize`;
without it a timer measures how fast Python queues work, not how fast the GPU does it. Results
are medians with the interquartile range: one slow repetition (another process taking the CPU,
a GC pause) moves a mean but barely moves a median.

Each repetition also records the CPU time this process used (all its threads). On a machine
shared with other jobs, wall time includes the time spent waiting for a core, CPU time does not:
with one thread, a CPU-time ratio is the steadier estimate of how much work each side does.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Timing:
    """Summary of repeated timings of one callable, in milliseconds."""

    median_ms: float
    iqr_ms: float  # 75th minus 25th percentile: the spread of the middle half
    min_ms: float
    reps: int
    cpu_median_ms: float | None = None  # CPU time of this process (all threads) per repetition

    def as_dict(self) -> dict:
        return asdict(self)


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work on `device`; a no-op on CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summarize(samples_s: list[float], cpu_samples_s: list[float] | None = None) -> Timing:
    """Median, IQR and minimum of wall durations given in seconds (and the median CPU time)."""
    if not samples_s:
        raise ValueError("no timing samples")
    ms = sorted(s * 1000.0 for s in samples_s)
    if len(ms) >= 4:
        q1, _, q3 = statistics.quantiles(ms, n=4, method="inclusive")
    else:
        q1, q3 = ms[0], ms[-1]
    cpu = statistics.median(s * 1000.0 for s in cpu_samples_s) if cpu_samples_s else None
    return Timing(median_ms=statistics.median(ms), iqr_ms=q3 - q1, min_ms=ms[0], reps=len(ms), cpu_median_ms=cpu)


def _timed(fn: Callable[[], object], device) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one synchronised call."""
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_fn(fn: Callable[[], object], device: torch.device | str, *, warmup: int = 2, reps: int = 5,
            max_seconds: float | None = None) -> Timing:
    """Time `fn()` after `warmup` untimed calls.

    Args:
        fn: the work to time (e.g. one training step); its return value is ignored.
        device: where the work runs; GPU work is synchronised before and after each call.
        warmup: untimed calls first (allocator, autotuning, lazy initialisation, caches).
        reps: timed calls.
        max_seconds: stop repeating once the timed calls have taken this long (at least one
            timed call is always made), so slow shapes on a CPU stay bounded.

    Returns:
        The `Timing` of the timed calls.
    """
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    cpu_samples: list[float] = []
    for _ in range(max(reps, 1)):
        wall, cpu = _timed(fn, device)
        samples.append(wall)
        cpu_samples.append(cpu)
        if max_seconds is not None and sum(samples) >= max_seconds:
            break
    return summarize(samples, cpu_samples)


def interleaved(fns: dict[str, Callable[[], object]], device: torch.device | str, *, warmup: int = 1,
                reps: int = 5) -> dict[str, Timing]:
    """Time several callables in alternation (A B A B ...) and summarise each.

    For side-by-side ratios on a shared machine: a burst of load from another process then hits
    every contender alike instead of whichever happened to be running.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    cpu_samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(reps, 1)):
        for name, fn in fns.items():
            wall, cpu = _timed(fn, device)
            samples[name].append(wall)
            cpu_samples[name].append(cpu)
    return {name: summarize(samples[name], cpu_samples[name]) for name in fns}


def ratio(slow: Timing, fast: Timing) -> float:
    """How many times faster `fast` is than `slow`, by median wall time."""
    return slow.median_ms / fast.median_ms


def cpu_ratio(slow: Timing, fast: Timing) -> float | None:
    """The same ratio by median CPU time, or None when either side has none (or used none)."""
    if not slow.cpu_median_ms or not fast.cpu_median_ms:
        return None
    return slow.cpu_median_ms / fast.cpu_median_ms
