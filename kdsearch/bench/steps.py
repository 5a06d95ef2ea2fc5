"""The units of work the benchmark times, built from the project's real training code.

A training step is one batch of `Trainer.train_epoch` (the very loop `kdsearch train` and a
search trial run: objective forward, backward, gradient clipping, Adam, the per-batch loss
read-back) on a split that holds exactly one batch. A student step is a `DistillObjective`
with EDAM on the configuration's default pairs, so the frozen teacher's forward (maps included)
is part of it, as in a real trial. Inference is one forward in eval mode under inference_mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from kdsearch.data.synthetic import PRESETS, preset_shapes
from kdsearch.distill import build_loss
from kdsearch.models import DISTILLED_PAIRS, TEACHER_BRANCH_FOR_CONFIG, build_student, build_teacher
from kdsearch.train.experiment import TensorSplit
from kdsearch.train.objectives import DistillObjective, TaskObjective, run_model
from kdsearch.train.tasks import get_task
from kdsearch.train.trainer import Trainer, TrainSettings
from kdsearch.data.schema import MODALITIES

TASK = "classification"  # paper 000's 7-class task
MULT_LR = 1e-3  # MulT's Adam learning rate
MULT_GRAD_CLIP = 0.8  # MulT's clip_grad_norm_


@dataclass(frozen=True)
class Shapes:
    """Feature widths and sequence lengths of a synthetic preset, and its training-set size."""

    preset: str
    dims: dict[str, int]
    lengths: dict[str, int]
    n_train: int


def shapes_of(preset: str) -> Shapes:
    """The `Shapes` of a `kdsearch.data.synthetic` preset ("small" or "mosei")."""
    dims, lengths = preset_shapes(preset)
    return Shapes(preset, dims, lengths, PRESETS[preset].n_train)


def random_split(shapes: Shapes, batch_size: int, device: torch.device, seed: int = 0) -> TensorSplit:
    """`batch_size` random samples with labels in [-3, 3], resident on `device`."""
    gen = torch.Generator().manual_seed(seed)
    features = {m: torch.randn(batch_size, shapes.lengths[m], shapes.dims[m], generator=gen)
                for m in MODALITIES}
    label = torch.rand(batch_size, generator=gen) * 6 - 3
    return TensorSplit(**{k: v.to(device) for k, v in {**features, "label": label}.items()})


def build_teacher_model(shapes: Shapes, device: torch.device, branch: str = "complete", **cfg) -> nn.Module:
    """A freshly initialised `MulTTeacher` (defaults: MulT repo sizes d 30, 5 heads, 5 layers)."""
    n_out = get_task(TASK).n_out
    return build_teacher({"branch": branch, **cfg}, dims=shapes.dims, lengths=shapes.lengths, n_out=n_out).to(device)


def build_student_model(shapes: Shapes, device: torch.device, config: int, **cfg) -> nn.Module:
    """A freshly initialised `VideoStudent` of configuration `config` (1-5)."""
    n_out = get_task(TASK).n_out
    return build_student({"config": config, **cfg}, dims=shapes.dims, lengths=shapes.lengths, n_out=n_out).to(device)


def _one_batch_trainer(objective: nn.Module, batch_size: int) -> Trainer:
    settings = TrainSettings(epochs=1, batch_size=batch_size, lr=MULT_LR, grad_clip=MULT_GRAD_CLIP)
    return Trainer(objective=objective, task=get_task(TASK), settings=settings)


def train_step_fn(objective: nn.Module, split: TensorSplit) -> Callable[[], None]:
    """One training step of `objective` on `split` (which holds exactly one batch)."""
    trainer = _one_batch_trainer(objective, split.n)
    return lambda: trainer.train_epoch(split, epoch=1)


def teacher_step(model: nn.Module, split: TensorSplit) -> Callable[[], None]:
    """A task-loss training step of a teacher (`MulTTeacher`, or `NaiveMulT` for comparison)."""
    return train_step_fn(TaskObjective(model, get_task(TASK)), split)


def naive_teacher_step(model: nn.Module, split: TensorSplit) -> Callable[[], None]:
    """A training step written as MulT's own loop runs it, for the naive side of a comparison.

    The batch stays on the CPU and is copied to the model's device every step (MulT's DataLoader
    then ``.cuda()``); plain `torch.optim.Adam` with its default implementation; zero_grad,
    forward, loss, backward, clip_grad_norm_ 0.8, step, then ``loss.item()``. Everything the
    kdsearch Trainer does better (resident data, optimiser choice) thus counts in the ratio.
    """
    device = next(model.parameters()).device
    host = {k: v.cpu() for k, v in split.batch(torch.arange(split.n, device=split.label.device)).items()}
    task = get_task(TASK)
    optimizer = torch.optim.Adam(model.parameters(), lr=MULT_LR)

    def step() -> None:
        model.train()
        batch = {k: v.to(device) for k, v in host.items()}
        model.zero_grad()
        loss = task.loss(run_model(model, batch).logits, batch["label"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MULT_GRAD_CLIP)
        optimizer.step()
        loss.item()

    return step


def student_objective(config: int, shapes: Shapes, device: torch.device, *, teacher: nn.Module | None = None,
                      teacher_cfg: dict | None = None, student_cfg: dict | None = None) -> DistillObjective:
    """alpha * task + beta * EDAM for student configuration `config`, against a frozen teacher.

    Args:
        config: student configuration 1-5; EDAM distils `DISTILLED_PAIRS[config]`.
        shapes: data shapes.
        device: where both models live.
        teacher: the frozen teacher to use; built (branch of `TEACHER_BRANCH_FOR_CONFIG`) when None.
        teacher_cfg, student_cfg: constructor overrides (e.g. smaller sizes in tests).
    """
    if teacher is None:
        teacher = build_teacher_model(shapes, device, TEACHER_BRANCH_FOR_CONFIG[config], **(teacher_cfg or {}))
    student = build_student_model(shapes, device, config, **(student_cfg or {}))
    kd = build_loss("edam", pairs=dict(DISTILLED_PAIRS[config]))
    return DistillObjective(student, teacher, get_task(TASK), kd, alpha=1.0, beta=1.0)


def inference_fn(model: nn.Module, split: TensorSplit) -> Callable[[], torch.Tensor]:
    """One eval-mode forward of `model` on the whole of `split` (its logits)."""
    batch = split.batch(torch.arange(split.n, device=split.label.device))

    def infer() -> torch.Tensor:
        if model.training:  # a training step timed in between switched it back
            model.eval()
        with torch.inference_mode():
            return run_model(model, batch).logits

    return infer
