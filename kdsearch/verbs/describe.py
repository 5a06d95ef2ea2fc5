"""`kdsearch describe SPACE.yaml`: sizes and batch-1 inference latency of the space's models.

Paper 000 reports a 1.802M-parameter teacher, a 0.675M-parameter student and a student inference
time of 29 ms, "22% less" than the complete teacher (hardware and batch size unstated, docs/methods.md
§10). This command builds the teacher and student a space describes (every distinct one, when
the space has rows or searched model choices), counts their parameters and times one batch-1
forward pass on this machine, so the two can be put side by side. Shapes come from the space's
data, or with ``--shapes mosei`` from CMU-MOSEI's unaligned features (the paper's setting).
"""

from __future__ import annotations

import json
import statistics
import time

import torch
from torch import nn
from kdsearch.data.schema import MODALITIES

PAPER_000 = {"teacher_params": 1_802_000, "student_params": 675_000, "student_ms": 29.0, "time_saved": 0.22}
MOSEI_SHAPES = ({"text": 300, "audio": 74, "vision": 35}, {"text": 50, "audio": 500, "vision": 500})


def batch_one(dims: dict[str, int], lengths: dict[str, int], device, seed: int = 0) -> dict[str, torch.Tensor]:
    """One random sample per modality, (1, T, D): what a deployed model sees per clip."""
    gen = torch.Generator().manual_seed(seed)
    return {m: torch.randn(1, lengths[m], dims[m], generator=gen).to(device) for m in MODALITIES}


# Without --repeats: at least this many timed passes, and passes for at least this long, so
# the median is stable on a busy machine (other processes only ever add time, and the median of
# many passes is not moved by the few a neighbour slowed down); capped for very slow models.
MIN_REPEATS, MIN_TIMED_S, MAX_REPEATS = 25, 1.0, 1000


@torch.inference_mode()
def latency_ms(model: nn.Module, batch: dict[str, torch.Tensor], *, repeats: int | None = None,
               warmup: int = 3) -> float:
    """Median wall time of one forward pass in eval mode (fused attention, no maps kept): of
    `repeats` timed passes, or by default of at least MIN_REPEATS passes and MIN_TIMED_S seconds."""
    from kdsearch.train.objectives import run_model

    model.eval()
    device = next(model.parameters()).device
    times: list[float] = []
    for _ in range(warmup):
        run_model(model, batch)
    while _wants_more(times, repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        run_model(model, batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def _wants_more(times: list[float], repeats: int | None) -> bool:
    if repeats is not None:
        return len(times) < repeats
    return len(times) < MAX_REPEATS and (len(times) < MIN_REPEATS or sum(times) < 1000.0 * MIN_TIMED_S)


def model_configs(space) -> list[dict]:
    """Every experiment config whose models differ (rows and categorical choices included)."""
    from kdsearch.spec.combos import categorical_configs

    seen, out = set(), []
    for cfg in categorical_configs(space):
        key = json.dumps([cfg["teacher"], cfg["student"]], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(cfg)
    return out


def describe_space(space, *, shapes: str = "data", device: str = "cpu", repeats: int | None = None) -> list[dict]:
    """One row per distinct model: role, description, parameters, batch-1 latency (ms).

    The first teacher and student rows are those of the space's base config.
    """
    from kdsearch.models.build import count_parameters
    from kdsearch.train.experiment import build_models, data_shapes

    dims, lengths = MOSEI_SHAPES if shapes == "mosei" else data_shapes(space.config)
    batch = batch_one(dims, lengths, device)
    rows, seen = [], set()
    for cfg in [space.config, *model_configs(space)]:
        teacher, student = build_models(cfg, dims, lengths)
        for role, model, section in (("teacher", teacher, cfg["teacher"]), ("student", student, cfg["student"])):
            key = json.dumps([role, section], sort_keys=True, default=str)
            if key in seen:
                continue
            seen.add(key)
            model.to(device)
            rows.append({"role": role, "what": _what(role, section), "params": count_parameters(model),
                         "latency_ms": latency_ms(model, batch, repeats=repeats)})
    return rows


def _what(role: str, section: dict) -> str:
    shape = f"d{section['d_model']} h{section['heads']} L{section['layers']}"
    if role == "teacher":
        from kdsearch.train.teachers import teacher_title

        return f"{teacher_title(section)} ({shape})"
    return f"config {section['config']}, align {section['align']} ({shape})"


def describe_command(space_arg: str, *, shapes: str = "data", device: str = "cpu", repeats: int | None = None) -> int:
    """CLI body: print the models' sizes and latency next to paper 000's figures."""
    from rich.console import Console
    from rich.table import Table

    from kdsearch.errors import UserError
    from kdsearch.spec.space import load_space

    if repeats is not None and repeats < 1:
        raise UserError(f"must be >= 1, got {repeats}", field="--repeats")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("CUDA is not available on this machine", field="--device")
    space = load_space(space_arg)
    rows = describe_space(space, shapes=shapes, device=device, repeats=repeats)
    where = "CMU-MOSEI unaligned shapes" if shapes == "mosei" else "the space's data shapes"
    timed = f"median of {repeats} passes" if repeats else f"median of >= {MIN_REPEATS} passes and >= {MIN_TIMED_S:g} s"
    table = Table(title=f"{space.name}: models on {where}, batch 1, {device} ({torch.get_num_threads()} threads; "
                        f"latency: {timed})")
    for col in ("role", "model", "parameters", "latency (ms)"):
        table.add_column(col, justify="right" if col in ("parameters", "latency (ms)") else "left")
    for row in rows:
        table.add_row(row["role"], row["what"], f"{row['params']:,}", f"{row['latency_ms']:.2f}")
    console = Console(width=120)
    console.print(table)
    for line in comparison_lines(rows):
        console.print(line)
    return 0


def comparison_lines(rows: list[dict]) -> list[str]:
    """Ours (the base config's teacher and student) beside paper 000's figures."""
    teacher = next(r for r in rows if r["role"] == "teacher")
    student = next(r for r in rows if r["role"] == "student")
    p = PAPER_000
    return [
        f"paper 000: teacher {p['teacher_params'] / 1e6:.3f}M, student {p['student_params'] / 1e6:.3f}M "
        f"({_size_ratio(p['teacher_params'], p['student_params'])}), student {p['student_ms']:.0f} ms, "
        f"{p['time_saved']:.0%} less time than the teacher, i.e. {_speed(1.0 - p['time_saved'])} "
        "(hardware and batch size not stated)",
        f"this space: teacher {teacher['params'] / 1e6:.3f}M, student {student['params'] / 1e6:.3f}M "
        f"({_size_ratio(teacher['params'], student['params'])}), student {student['latency_ms']:.1f} ms, "
        f"teacher {teacher['latency_ms']:.1f} ms: {_speed(student['latency_ms'] / teacher['latency_ms'])}",
    ]


def _speed(time_ratio: float) -> str:
    """Student time / teacher time -> '1.3x faster than the teacher' (or 'slower')."""
    if time_ratio <= 1.0:
        return f"{1.0 / time_ratio:.1f}x faster than the teacher"
    return f"{time_ratio:.1f}x slower than the teacher"


def _size_ratio(teacher_params: int, student_params: int) -> str:
    """'2.7x smaller' or, where the student's proxy convs outweigh a small teacher, '1.5x larger'."""
    if student_params <= teacher_params:
        return f"{teacher_params / student_params:.1f}x smaller"
    return f"{student_params / teacher_params:.1f}x larger"
