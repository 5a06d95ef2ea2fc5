"""One configuration-5 EDAM training step with the teacher run online and with its targets read
from the teacher cache, timed side by side (`timing.interleaved`).

Two model sizes: the demo's (d 16, 2 heads, 2 layers: search_spaces/edam.yaml) and MulT's
(d 30, 5 heads, 5 layers). Both sides train the same student with the same loss on the same
batch; the only difference is where the teacher's maps come from. One thread by default: a
trial holds one CPU.
"""

from __future__ import annotations

import torch

from kdsearch.bench import steps
from kdsearch.bench.timing import cpu_ratio, interleaved, ratio
from kdsearch.train.objectives import DistillObjective
from kdsearch.train.teacher_targets import TeacherTargets, compute_targets

SIZES = {"demo_d16_l2": {"d_model": 16, "heads": 2, "layers": 2},
         "mult_d30_l5": {"d_model": 30, "heads": 5, "layers": 5}}


def cache_step_comparison(*, shapes: str = "small", batch: int = 64, config: int = 5, device: str = "cpu",
                          reps: int = 15, warmup: int = 2, threads: int | None = 1, sizes=None) -> dict:
    """{size: {"online": timing, "cached": timing, "speedup": x, "speedup_cpu_time": x}}."""
    where = torch.device(device)
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        out = {}
        for name, cfg in (sizes or SIZES).items():
            shape = steps.shapes_of(shapes)
            online = steps.student_objective(config, shape, where, teacher_cfg=cfg, student_cfg=cfg)
            split = steps.random_split(shape, batch, where)
            targets = TeacherTargets(compute_targets(online.teacher, split, online.kd), where)
            cached = DistillObjective(online.student, online.teacher, online.task, online.kd, alpha=1.0, beta=1.0,
                                      targets=targets)
            timings = interleaved({"online": steps.train_step_fn(online, split),
                                   "cached": steps.train_step_fn(cached, split)}, where, warmup=warmup, reps=reps)
            out[name] = {"model": cfg, "batch": batch, "online": timings["online"].as_dict(),
                         "cached": timings["cached"].as_dict(),
                         "speedup": ratio(timings["online"], timings["cached"]),
                         "speedup_cpu_time": cpu_ratio(timings["online"], timings["cached"])}
        return out
    finally:
        torch.set_num_threads(previous)
