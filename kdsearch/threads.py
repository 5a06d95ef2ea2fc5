"""How many CPU threads torch uses in a kdsearch process: chosen, never left to chance.

torch (through OpenMP) starts one thread per core by default. kdsearch's models are small, so
a step gains little from more threads, and on a machine other jobs share, threads waiting for
busy cores stall every step: `kdsearch train edam --set loss.beta=0 --set train.epochs=2` took
205 s and 169 s per epoch with torch's default (2 threads) on a 2-core machine at load average
11-15, against 5.0 s and 3.3 s with one thread, with identical metrics. One thread per process
is therefore the default, as a search's trials already use one thread per CPU they hold. `--threads N` (or `auto`: every CPU this process may
use) overrides it, and so does OMP_NUM_THREADS set by the user or a job scheduler.
"""

from __future__ import annotations

import os

from kdsearch.errors import UserError

DEFAULT_THREADS = 1


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and schedulers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_threads(value: str | int | None) -> int:
    """`--threads` as given (None, 'auto' or a positive integer) -> the thread count to use."""
    if value is None:
        told = os.environ.get("OMP_NUM_THREADS", "")
        return int(told) if told.isdigit() and int(told) > 0 else DEFAULT_THREADS
    if str(value).strip().lower() == "auto":
        return available_cpus()
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise UserError(f"must be a positive integer or 'auto', got {value!r}", field="--threads")
    return count


def use_threads(value: str | int | None) -> int:
    """Sets torch's intra-op threads (and OMP_NUM_THREADS for child processes) for this process;
    returns the count."""
    import torch

    count = resolve_threads(value)
    torch.set_num_threads(count)
    os.environ["OMP_NUM_THREADS"] = str(count)
    return count
