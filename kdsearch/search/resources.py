"""How many CPUs and GPUs a search uses, and what each trial asks Ray for.

`--gpus N` is the number of GPUs the search may use; the per-trial share comes from the space
(``resources.gpus_per_trial``, e.g. 0.25 = four trials per GPU). Asking for more GPUs than the
machine or cluster has is refused at once: Ray would otherwise queue trials forever, silently.
With no GPU present, trials run on CPU and the user is told so once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from kdsearch.errors import UserError


@dataclass(frozen=True)
class ResourcePlan:
    cpus: int
    gpus: int
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int
    note: str = ""

    @property
    def trial_resources(self) -> dict:
        return {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}

    def describe(self) -> str:
        device = (f"{self.gpus} GPU(s), {self.gpus_per_trial:g} GPU per trial" if self.gpus
                  else "CPU only")
        text = (f"Resources: {self.cpus} CPU(s), {device}, {self.cpus_per_trial:g} CPU per trial, "
                f"up to {self.max_concurrent} trial(s) at once")
        return text + (f"\n{self.note}" if self.note else "")

    def checked_against(self, cluster: dict) -> "ResourcePlan":
        """Compare with what Ray actually has (matters with --address: the cluster decides)."""
        have_gpus = int(cluster.get("GPU", 0))
        if self.gpus > have_gpus:
            raise UserError(f"asked for {self.gpus} GPU(s) but the Ray cluster has {have_gpus}", field="--gpus")
        have_cpus = int(cluster.get("CPU", 0))
        if self.cpus_per_trial > have_cpus:
            raise UserError(f"a trial needs {self.cpus_per_trial:g} CPU(s) but the Ray cluster has {have_cpus}",
                            field="resources.cpus_per_trial")
        return self


def plan_resources(space, opts) -> ResourcePlan:
    """Decide CPUs, GPUs and concurrency from the command line, the space and the machine."""
    res, search = space.resources, space.search
    cpus = int(opts.cpus or os.cpu_count() or 1)
    if opts.cpus is not None and opts.cpus < 1:
        raise UserError("must be at least 1", field="--cpus")
    available = 0 if opts.address else _local_gpu_count()
    if opts.gpus is not None and opts.gpus < 0:
        raise UserError("must be 0 or more", field="--gpus")
    if opts.address:
        gpus = int(opts.gpus or 0)
    else:
        if opts.gpus is not None and opts.gpus > available:
            raise UserError(f"asked for {opts.gpus} GPU(s) but this machine has {available}"
                            + (" (no CUDA device visible to PyTorch)" if available == 0 else ""), field="--gpus")
        gpus = available if opts.gpus is None else int(opts.gpus)
    gpt = float(res["gpus_per_trial"]) if gpus > 0 else 0.0
    note = "" if gpus > 0 else "No GPU in use: trials run on CPU."
    cpt = float(res["cpus_per_trial"])
    if cpt > cpus:
        raise UserError(f"a trial needs {cpt:g} CPU(s) but the search may use {cpus}", field="resources.cpus_per_trial")
    slots = int(cpus // cpt)
    if gpt > 0:
        slots = min(slots, int(math.floor(gpus / gpt + 1e-9)))
    limit = int(search["max_concurrent"]) or slots
    return ResourcePlan(cpus=cpus, gpus=gpus, cpus_per_trial=cpt, gpus_per_trial=gpt,
                        max_concurrent=max(1, min(limit, slots)), note=note)


def _local_gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # a broken CUDA install should mean "no GPU", not a crash
        return 0


