"""Packed vs unpacked student training throughput (model-steps per second), side by side.

K students of configuration 5 trained as one batched model (`kdsearch.train.packing`) against
one student trained by the ordinary `Trainer`, the teacher's targets read from the cache in both
(so the figure is the student's own step). On a CPU packing gains nothing (one thread is busy
with one student); on a GPU kernel launches dominate such small models and the pack shares them.

Where the cache does not fit, `resources.pack_shares_batches` lets one online teacher forward a
step serve the whole pack: `packed_K_shared` against one unpacked student that runs the teacher
in every step (`unpacked_online`), which is what each trial would otherwise do.

    python benchmarks/packed_throughput.py --device cuda --shapes mosei --packs 1,8,32 --out packed.json
    python benchmarks/packed_throughput.py --tiny --steps 2 --packs 2      # seconds, on a CPU (CI)
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from kdsearch.bench import steps
from kdsearch.distill import build_loss
from kdsearch.models import DISTILLED_PAIRS
from kdsearch.train.experiment import TensorSplit
from kdsearch.train.objectives import DistillObjective
from kdsearch.train.packing import Member, PackedTrainer
from kdsearch.train.tasks import get_task
from kdsearch.train.teacher_targets import TeacherTargets, compute_targets
from kdsearch.train.trainer import Trainer, TrainSettings

NO_DROPOUT = {k: 0.0 for k in ("attn_dropout", "relu_dropout", "res_dropout", "embed_dropout", "out_dropout")}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(*, device: str, shapes: str, batch: int, packs: list[int], n_steps: int, model: dict) -> dict:
    where = torch.device(device)
    shape = steps.shapes_of(shapes)
    if model.get("tiny"):
        shape = steps.Shapes("tiny", {"text": 12, "audio": 6, "vision": 5}, {"text": 4, "audio": 10, "vision": 10}, 64)
    cfg = {k: v for k, v in model.items() if k != "tiny"}
    task = get_task(steps.TASK)
    teacher = steps.build_teacher_model(shape, where, **cfg).eval()
    split: TensorSplit = steps.random_split(shape, batch * n_steps, where)
    kd0 = build_loss("edam", pairs=dict(DISTILLED_PAIRS[5]))
    targets = TeacherTargets(compute_targets(teacher, split, kd0), where)

    def member(seed):
        torch.manual_seed(seed)
        student = steps.build_student_model(shape, where, 5, **cfg, **NO_DROPOUT)
        kd = build_loss("edam", pairs=dict(DISTILLED_PAIRS[5]))
        kd.bind(student=student, teacher=teacher, n_train=split.n)
        return Member(student=student, kd=kd.to(where), alpha=1.0, beta=1.0, lr=1e-3, seed=seed)

    out = {"device": device, "shapes": shape.preset, "batch": batch, "steps": n_steps, "model": cfg}
    one = member(0)
    objective = DistillObjective(one.student, teacher, task, one.kd, alpha=1.0, beta=1.0, targets=targets)
    trainer = Trainer(objective, task, TrainSettings(epochs=1, batch_size=batch, lr=1e-3, seed=0))
    single = n_steps / _timed_epoch(lambda: trainer.train_epoch(split, 1), where)
    out["unpacked_model_steps_per_s"] = single
    online = Trainer(DistillObjective(one.student, teacher, task, one.kd, alpha=1.0, beta=1.0), task,
                     TrainSettings(epochs=1, batch_size=batch, lr=1e-3, seed=0))
    online_rate = n_steps / _timed_epoch(lambda: online.train_epoch(split, 1), where)
    out["unpacked_online_model_steps_per_s"] = online_rate
    for k in packs:
        pack = PackedTrainer([member(seed) for seed in range(k)], task, batch_size=batch, targets=targets)
        rate = k * n_steps / _timed_epoch(lambda: pack.train_epoch(split, 1), where)
        out[f"packed_{k}_model_steps_per_s"] = rate
        out[f"packed_{k}_vs_unpacked"] = rate / single
        shared = PackedTrainer([member(seed) for seed in range(k)], task, batch_size=batch, teacher=teacher,
                               shared_seed=0)
        rate = k * n_steps / _timed_epoch(lambda: shared.train_epoch(split, 1), where)
        out[f"packed_{k}_shared_model_steps_per_s"] = rate
        out[f"packed_{k}_shared_vs_unpacked_online"] = rate / online_rate
    return out


def _timed_epoch(epoch, where) -> float:
    """Seconds of one epoch after a warm-up epoch."""
    epoch()
    _sync(where)
    started = time.perf_counter()
    epoch()
    _sync(where)
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shapes", default="small", choices=("small", "mosei"))
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--packs", default="1,8,32", help="pack sizes K, comma-separated")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (one epoch of this many batches)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes and model (a CPU smoke run)")
    parser.add_argument("--model", default="mult", choices=("mult", "demo"),
                        help="student/teacher sizes: MulT's (d 30, 5 heads, 5 layers) or the demo's (d 16, 2, 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=None, help="write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = {"mult": {"d_model": 30, "heads": 5, "layers": 5}, "demo": {"d_model": 16, "heads": 2, "layers": 2}}
    model = {"tiny": True, "d_model": 8, "heads": 2, "layers": 1} if args.tiny else sizes[args.model]
    result = measure(device=args.device, shapes=args.shapes, batch=args.batch, n_steps=args.steps, model=model,
                     packs=[int(k) for k in args.packs.split(",") if k.strip()])
    for key, value in result.items():
        print(f"{key:>34}: {value:.2f}" if isinstance(value, float) else f"{key:>34}: {value}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
