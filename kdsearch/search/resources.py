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
from kdsearch.spec.pack_key import why_alone

# With packing, the CPU share each trial's client holds, out of its pack's cpus_per_trial (the
# pack actor holds the rest): clients only wait and report, and the pack's K clients plus the
# pack add up to one worker, so Ray places packs where whole workers fit.
CLIENT_SHARE = 0.01


@dataclass(frozen=True)
class ResourcePlan:
    cpus: int
    gpus: int
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int
    note: str = ""
    students_per_worker: int = 1  # > 1: trials are thin clients of packs (kdsearch.search.packs)

    @property
    def packed(self) -> bool:
        return self.students_per_worker > 1

    @property
    def trial_resources(self) -> dict:
        if self.packed:  # the pack holds the worker; each of its clients a sliver of its CPU
            return {"cpu": CLIENT_SHARE / self.students_per_worker, "gpu": 0}
        return {"cpu": self.cpus_per_trial, "gpu": self.gpus_per_trial}

    @property
    def pack_resources(self) -> tuple[float, float]:
        """(CPUs, GPUs) one pack actor holds: a worker's, less what its K clients hold."""
        return self.cpus_per_trial - CLIENT_SHARE, self.gpus_per_trial

    @property
    def workers(self) -> int:
        """Workers (packs, or single trials) that run at once."""
        return max(1, math.ceil(self.max_concurrent / self.students_per_worker))

    def describe(self) -> str:
        per = "worker" if self.packed else "trial"
        device = f"{self.gpus} GPU(s), {self.gpus_per_trial:g} GPU per {per}" if self.gpus else "CPU only"
        text = (f"Resources: {self.cpus} CPU(s), {device}, {self.cpus_per_trial:g} CPU per {per}, "
                f"up to {self.max_concurrent} trial(s) at once")
        if self.packed:
            text += f", up to {self.students_per_worker} students packed per worker"
        return text + (f"\n{self.note}" if self.note else "")


def plan_resources(space, opts, nodes: list[dict] | None = None) -> ResourcePlan:
    """Decide CPUs, GPUs and concurrency from the command line, the space and the hardware.

    Args:
        space: the checked space (its ``resources`` and ``search.max_concurrent``).
        opts: `--cpus` / `--gpus` (None: all there is).
        nodes: when joining a Ray cluster, each alive node's resources (``{"CPU": .., "GPU": ..}``);
            None plans for this machine alone.

    Raises:
        UserError: more GPUs asked for than exist, or a trial that no single node can hold (Ray
            would queue it forever without a word).
    """
    res, search = space.resources, space.search
    if opts.cpus is not None and opts.cpus < 1:
        raise UserError("must be at least 1", field="--cpus")
    if opts.gpus is not None and opts.gpus < 0:
        raise UserError("must be 0 or more", field="--gpus")
    where = "the Ray cluster" if nodes is not None else "this machine"
    if nodes is None:
        nodes = [{"CPU": opts.cpus or os.cpu_count() or 1, "GPU": _local_gpu_count()}]
    have_cpus = int(sum(n.get("CPU", 0) for n in nodes))
    have_gpus = int(sum(n.get("GPU", 0) for n in nodes))
    if opts.gpus is not None and opts.gpus > have_gpus:
        raise UserError(f"asked for {opts.gpus} GPU(s) but {where} has {have_gpus}"
                        + (" (no CUDA device visible to PyTorch)" if have_gpus == 0 and where == "this machine"
                           else ""), field="--gpus")
    cpus = int(opts.cpus or have_cpus)
    gpus = have_gpus if opts.gpus is None else int(opts.gpus)
    gpt = float(res["gpus_per_trial"]) if gpus > 0 else 0.0
    note = "" if gpus > 0 else "No GPU in use: trials run on CPU."
    cpt = float(res["cpus_per_trial"])
    if cpt > cpus:
        raise UserError(f"a trial needs {cpt:g} CPU(s) but the search may use {cpus}", field="resources.cpus_per_trial")
    if gpt > gpus:
        raise UserError(f"a trial needs {gpt:g} GPU(s) but the search may use {gpus}", field="resources.gpus_per_trial")
    # A trial runs on one node: count the trials each node can hold, not the totals.
    per_node = [min(n.get("CPU", 0) // cpt, n.get("GPU", 0) // gpt if gpt else math.inf) for n in nodes]
    if not any(k >= 1 for k in per_node):
        largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)))
        raise UserError(f"no node of {where} can hold one trial ({cpt:g} CPU, {gpt:g} GPU); the largest has "
                        f"{largest.get('CPU', 0):g} CPU, {largest.get('GPU', 0):g} GPU",
                        field="resources.gpus_per_trial" if gpt else "resources.cpus_per_trial")
    slots = min(int(sum(per_node)), int(cpus // cpt))
    if gpt > 0:
        slots = min(slots, int(math.floor(gpus / gpt + 1e-9)))
    # Packed, each worker slot trains up to K trials at once (search.max_concurrent counts trials).
    k = int(res.get("students_per_worker", 1))
    if k > 1 and cpt <= CLIENT_SHARE:
        raise UserError(f"a packed worker needs more than {CLIENT_SHARE:g} CPU (its trials' clients hold that)",
                        field="resources.cpus_per_trial")
    alone = why_alone(space.config) if k > 1 else None  # packing asked for, that these trials cannot use
    if alone:
        note = "\n".join(filter(None, [note, f"Packing: trials of this space train one per worker: {alone} "
                                               "(docs/packing.md)"]))
    limit = int(search["max_concurrent"]) or slots * k
    return ResourcePlan(cpus=cpus, gpus=gpus, cpus_per_trial=cpt, gpus_per_trial=gpt,
                        max_concurrent=max(1, min(limit, slots * k)), note=note, students_per_worker=k)


def _local_gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # a broken CUDA install should mean "no GPU", not a crash
        return 0


