"""Packed students: K same-shape students trained as one batched model, each still its own run.

The students (with their KD loss's own parameters, e.g. EDAM-T↑'s resizers) are stacked with
`torch.func.stack_module_state`, and one step is `torch.vmap` over
`functional_call(template, (params_k, buffers_k), ...)`. What differs between students enters as
batched inputs: their own data order (a generator seeded like `Trainer`'s) and labelled subset,
alpha, beta, float loss options (temperature) and, in the optimiser, learning rate, weight decay
and gradient clipping. The teacher's outputs come from its cached targets, looked up for each
student's indices. Each student's numbers are those of its unpacked `Trainer` run (tested
within 1e-5); a student whose loss is not finite at the end of an epoch fails alone and leaves
the pack. docs/packing.md has the design, the trade-offs and what is not wired into Tune yet.

Limits: dropout inside a pack is drawn by vmap (statistically the same, not the same numbers as
an unpacked run); losses that update state in place by sample index (CRD's memory banks) cannot
be packed (`check_packable`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from kdsearch.train.tasks import Task
from kdsearch.train.teacher_targets import TeacherTargets, output_from_flat

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, as `Trainer` uses them
FLOAT_OPTIONS = ("temperature",)  # loss options that may differ inside a pack


@dataclass
class Member:
    """One student of a pack and everything about it that may differ from the others."""

    student: nn.Module
    kd: nn.Module
    alpha: float
    beta: float
    lr: float
    seed: int  # its data order (as `TrainSettings.seed`)
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    labelled: torch.Tensor | None = None
    failed: str | None = None
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(int(self.seed))


class _StudentWithLoss(nn.Module):
    """The unit stacked per member: the student and its KD loss (whose parameters train too)."""

    def __init__(self, student: nn.Module, kd: nn.Module):
        super().__init__()
        self.student, self.kd = student, kd

    def forward(self, vision, label, labelled, flat_teacher, alpha, beta, options, task: Task):
        kd = self.kd
        s_out = self.student(vision, maps_for=kd.student_maps(), post_attention_for=kd.student_post_attention())
        per_sample = torch.vmap(lambda out, y: task.loss(out[None], y[None]))(s_out.logits, label)
        weights = labelled.to(per_sample.dtype)
        task_loss = (per_sample * weights).sum() / weights.sum().clamp_min(1.0)
        saved = {name: getattr(kd, name) for name in options}
        try:
            for name, value in options.items():
                setattr(kd, name, value)  # a (batched) 0-d tensor where the loss has a float
            kd_loss = kd(s_out, output_from_flat(flat_teacher), {"label": label})
        finally:
            for name, value in saved.items():
                setattr(kd, name, value)
        return alpha * task_loss + beta * kd_loss, task_loss, kd_loss


def check_packable(kd: nn.Module) -> None:
    """Refuse losses that keep per-sample state updated in place (CRD's banks): vmap cannot."""
    if any(True for _ in kd.buffers()):
        raise ValueError(f"the {type(kd).__name__} loss keeps per-sample state (memory banks); it trains one "
                         f"student per worker (resources.students_per_worker: 1)")


class PackedTrainer:
    """Trains `members` (same student shapes, same KD method) one epoch at a time, in lockstep."""

    def __init__(self, members: list[Member], task: Task, *, batch_size: int, targets: TeacherTargets):
        for m in members:
            check_packable(m.kd)
        self.members, self.task, self.batch_size, self.targets = list(members), task, int(batch_size), targets
        units = [_StudentWithLoss(m.student, m.kd) for m in self.members]
        self.trainable = {name for name, p in units[0].named_parameters() if p.requires_grad}
        self.params, self.buffers = stack_module_state(units)
        self.template = copy.deepcopy(units[0]).to("meta")
        self.predictor = _Predictor(self.template)  # the same meta modules, forward = the student's logits
        self.failed: list[Member] = []  # members that left the pack with a non-finite loss
        self.moments = {name: (torch.zeros_like(p), torch.zeros_like(p)) for name, p in self.params.items()
                        if name in self.trainable}
        self.steps = 0

    # ------------------------------------------------------------------ per-member vectors
    def _vector(self, attr: str) -> torch.Tensor:
        device = next(iter(self.params.values())).device
        return torch.tensor([float(getattr(m, attr)) for m in self.members], device=device)

    def _options(self) -> dict[str, torch.Tensor]:
        kd = self.members[0].kd
        return {name: torch.tensor([float(getattr(m.kd, name)) for m in self.members])
                for name in FLOAT_OPTIONS if isinstance(getattr(kd, name, None), float)}

    # ------------------------------------------------------------------ training
    def train_epoch(self, train, epoch: int) -> list[dict[str, float]]:
        """One epoch for every member; returns each member's `Trainer.train_epoch`-style metrics.
        Members whose loss was not finite are marked failed and leave the pack afterwards."""
        self.template.train()
        n, k = train.n, len(self.members)
        orders = [torch.randperm(n, generator=m.generator).to(train.label.device) for m in self.members]
        sums = torch.zeros(k, 3, dtype=torch.float64)
        for start in range(0, n, self.batch_size):
            index = torch.stack([order[start:start + self.batch_size] for order in orders])  # (K, B)
            totals = self._step(train, index)
            sums += totals.detach().double().cpu() * index.shape[1]
        results = []
        for member, row in zip(self.members, (sums / n).tolist()):
            metrics = {"train_loss": row[0], "train_task": row[1], "train_kd": row[2]}
            if not all(math.isfinite(v) for v in metrics.values()):
                member.failed = f"loss became NaN/inf at epoch {epoch}"
            results.append(metrics)
        self._drop_failed()
        return results

    def _step(self, train, index: torch.Tensor) -> torch.Tensor:
        k, b = index.shape
        flat = index.reshape(-1)
        teacher = {name: v.reshape(k, b, *v.shape[1:]) for name, v in _flat(self.targets, flat).items()}
        labelled = torch.stack([torch.ones(b, dtype=torch.bool, device=index.device) if m.labelled is None
                                else m.labelled[idx] for m, idx in zip(self.members, index)])

        def one(params, buffers, vision, label, mask, flat_teacher, alpha, beta, options):
            return functional_call(self.template, (params, buffers),
                                   (vision, label, mask, flat_teacher, alpha, beta, options, self.task))

        loss, task_loss, kd_loss = torch.vmap(one, randomness="different")(
            self.params, self.buffers, train.vision[index], train.label[index], labelled, teacher,
            self._vector("alpha"), self._vector("beta"), self._options())
        grads = torch.autograd.grad(loss.sum(), [self.params[n] for n in self.trainable_names()], allow_unused=True)
        self._adam({name: g for name, g in zip(self.trainable_names(), grads) if g is not None})
        return torch.stack([loss, task_loss, kd_loss], dim=1)

    def trainable_names(self) -> list[str]:
        return [name for name in self.params if name in self.trainable]

    @torch.no_grad()
    def _adam(self, grads: dict[str, torch.Tensor]) -> None:
        """torch.optim.Adam's update, per member (its own lr, weight decay and clip norm)."""
        self.steps += 1
        clip = self._vector("grad_clip")
        if bool((clip > 0).any()):
            norm = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads.values()]).sum(0).sqrt()
            coef = torch.where(clip > 0, (clip / (norm + 1e-6)).clamp(max=1.0), torch.ones_like(clip))
            grads = {name: g * _per_member(coef, g) for name, g in grads.items()}
        lr, wd = self._vector("lr"), self._vector("weight_decay")
        b1, b2 = BETAS
        bc1, bc2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
        for name, g in grads.items():
            p, (m, v) = self.params[name], self.moments[name]
            g = g + _per_member(wd, g) * p
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / math.sqrt(bc2)).add_(EPS)
            p.sub_(_per_member(lr / bc1, p) * m / denom)

    # ------------------------------------------------------------------ evaluation and members
    @torch.no_grad()
    def predict(self, split, batch_size: int = 256) -> np.ndarray:
        """(K, N, n_out) predictions of every member on `split`, in eval mode."""
        self.predictor.eval()

        def one(params, buffers, vision):
            return functional_call(self.predictor, (params, buffers), (vision,))

        outs = []
        for start in range(0, split.n, batch_size):
            vision = split.vision[start:start + batch_size]
            outs.append(torch.vmap(one, in_dims=(0, 0, None), randomness="different")(
                self.params, self.buffers, vision).float().cpu())
        return torch.cat(outs, dim=1).numpy()

    def evaluate(self, split, prefix: str = "val_") -> list[dict[str, float]]:
        """Each member's task loss and metrics on `split`, as `Trainer.evaluate` computes them."""
        labels = split.label.cpu().numpy()
        out = []
        for preds in self.predict(split):
            loss = float(self.task.loss(torch.from_numpy(preds), torch.from_numpy(labels)))
            out.append({f"{prefix}{k}": v for k, v in {"loss": loss, **self.task.metrics(preds, labels)}.items()})
        return out

    def state_dict(self, i: int) -> dict[str, torch.Tensor]:
        """Member `i`'s student weights, as its own `student.state_dict()` (for its checkpoint)."""
        merged = {**self.params, **self.buffers}
        # state_dict's own keys: non-persistent buffers (masks rebuilt from shapes) are not saved
        return {name: merged[f"student.{name}"][i].detach().clone() for name in self.template.student.state_dict()}

    def remove(self, i: int) -> Member:
        """Drop member `i` (stopped by ASHA, or failed); the others train on unchanged."""
        keep = [j for j in range(len(self.members)) if j != i]
        index = torch.tensor(keep, dtype=torch.long)
        self.params = {n: p.detach()[index].requires_grad_(p.requires_grad) for n, p in self.params.items()}
        self.buffers = {n: b[index] for n, b in self.buffers.items()}
        self.moments = {n: (m[index], v[index]) for n, (m, v) in self.moments.items()}
        return self.members.pop(i)

    def _drop_failed(self) -> None:
        for i in reversed(range(len(self.members))):
            if self.members[i].failed:
                self.failed.append(self.remove(i))


class _Predictor(nn.Module):
    def __init__(self, unit: _StudentWithLoss):
        super().__init__()
        self.student, self.kd = unit.student, unit.kd

    def forward(self, vision):
        return self.student(vision).logits


def _flat(targets: TeacherTargets, index: torch.Tensor) -> dict[str, torch.Tensor]:
    return {name: value[index].float() for name, value in targets.tensors.items()}


def _per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(K,) -> (K, 1, ..., 1), broadcastable against a stacked tensor like `like`."""
    return values.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))
