"""A Ray `worker_process_setup_hook` that gives every worker a fixed memory allowance (tests only).

It plays a worker node (or a GPU) with less memory than the driver's machine: once torch and
kdsearch are imported, a worker may map at most `KDSEARCH_TEST_WORKER_MARGIN_MB` more address
space (RLIMIT_AS), so a model larger than that fails where a real one fails when memory runs out:
torch's allocator gets ENOMEM and raises "can't allocate memory". The driver is not limited, so the
space's validation (which builds the model there) passes, as it does on a cluster whose head node
has more memory than a trial's device.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

MARGIN_ENV = "KDSEARCH_TEST_WORKER_MARGIN_MB"


def limit_memory() -> None:
    import torch  # noqa: F401 - its libraries are mapped before the baseline is taken

    import kdsearch.search.trial  # noqa: F401

    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    mapped = int(status["VmSize"].split()[0]) * 1024
    margin = int(os.environ[MARGIN_ENV]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mapped + margin, resource.RLIM_INFINITY))
