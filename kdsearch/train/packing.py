"""Packed students: K same-shape students trained as one batched model, each still its own run.

The students (with their KD loss's own parameters, e.g. EDAM-T↑'s resizers) are stacked with
`torch.func.stack_module_state`; one step is `torch.vmap` over `functional_call`. What differs
between students enters as batched inputs: data order and labelled subset, alpha, beta, the
temperature and, in the optimiser, learning rate, weight decay, clipping and step count. The
teacher's outputs come from the teacher cache, or from one forward on a batch order the pack
shares. Each student's numbers are its unpacked `Trainer` run's (tested within 1e-5); one whose
loss is not finite fails alone. kdsearch.train.pack_session runs packs; docs/packing.md.

Limits: dropout inside a pack is drawn by vmap (statistically the same, not the same numbers as
an unpacked run); losses that update state in place by sample index (CRD's banks) cannot be
packed (`check_packable`).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

from kdsearch.models.attention import MultiheadAttention
from kdsearch.train.packed_adam import packed_adam_step
from kdsearch.train.tasks import Task
from kdsearch.train.teacher_targets import TeacherTargets, output_from_flat

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
    # Where a resumed student left off: its Adam moments by stacked name ("student.x", "kd.y")
    # and step count, and its data order's generator state (None: a fresh start).
    moments: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None
    steps: int = 0
    generator_state: torch.Tensor | None = None
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(int(self.seed))
        if self.generator_state is not None:
            self.generator.set_state(self.generator_state)

    def unit(self) -> nn.Module:
        return _StudentWithLoss(self.student, self.kd)


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


def check_packable(*losses: nn.Module) -> None:
    """Refuse losses that keep per-sample state updated in place (CRD's banks): vmap cannot."""
    for kd in losses:
        if any(True for _ in kd.buffers()):
            raise ValueError(f"the {type(kd).__name__} loss keeps per-sample state (memory banks); it trains one "
                             f"student per worker (resources.students_per_worker: 1)")


class PackedTrainer:
    """Trains `members` (same student shapes, same KD method) one epoch at a time, in lockstep."""

    def __init__(self, members: list[Member], task: Task, *, batch_size: int, targets: TeacherTargets | None = None,
                 teacher: nn.Module | None = None, shared_seed: int | None = None):
        """`targets`: the teacher's cached outputs, looked up per student. Without them,
        `teacher` runs online once per step on a batch order every member shares (seeded by
        `shared_seed`: `resources.pack_shares_batches`), so one forward serves the whole pack."""
        check_packable(*(m.kd for m in members))
        if targets is None and (teacher is None or shared_seed is None):
            raise ValueError("a pack reads its teacher from the teacher cache, or shares batches (one teacher "
                             "forward serves every student)")
        self.task, self.batch_size, self.targets, self.teacher = task, int(batch_size), targets, teacher
        self.shared = None if shared_seed is None else torch.Generator().manual_seed(int(shared_seed))
        self.members: list[Member] = []
        self.failed: list[Member] = []  # members that left the pack with a non-finite loss
        self._restack(list(members))

    def _restack(self, members: list[Member]) -> None:
        """Stack `members`' modules, moments and step counts (after any join or leave)."""
        self.members = members
        if not members:
            self.params, self.buffers, self.moments, self.steps = {}, {}, {}, []
            return
        units = [m.unit() for m in members]
        self.trainable = {name for name, p in units[0].named_parameters() if p.requires_grad}
        self.params, self.buffers = stack_module_state(units)
        self.template = copy.deepcopy(units[0]).to("meta")
        for module in self.template.modules():  # batched attention as plain batched matmuls
            if isinstance(module, MultiheadAttention):
                module.explicit = True
        self.predictor = _Predictor(self.template)  # the same meta modules, forward = the student's logits
        self.moments = {}
        for name in self.trainable:
            own, like = [m.moments.get(name) if m.moments else None for m in members], self.params[name][0]
            self.moments[name] = tuple(torch.stack([o[j].to(like) if o is not None else torch.zeros_like(like)
                                                    for o in own]) for j in (0, 1))
        self.steps = [int(m.steps) for m in members]

    def sync_out(self) -> None:
        """Write each member's slice back into its own modules, moments and step count."""
        for i, member in enumerate(self.members):
            unit = member.unit()
            with torch.no_grad():
                for name, value in [*unit.named_parameters(), *unit.named_buffers()]:
                    source = self.params.get(name, self.buffers.get(name))
                    value.copy_(source[i])
            member.moments = {name: (m[i].detach().clone(), v[i].detach().clone())
                              for name, (m, v) in self.moments.items()}
            member.steps = self.steps[i]

    def add(self, member: Member) -> None:
        """A new member joins (between epochs); the others train on unchanged."""
        check_packable(member.kd)
        self.sync_out()
        self._restack([*self.members, member])

    # ------------------------------------------------------------------ per-member vectors
    def _vector(self, attr: str) -> torch.Tensor:
        device = next(iter(self.params.values())).device
        return torch.tensor([float(getattr(m, attr)) for m in self.members], device=device)

    def _options(self) -> dict[str, torch.Tensor]:
        kd = self.members[0].kd
        numeric = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
        return {name: torch.tensor([float(getattr(m.kd, name)) for m in self.members])
                for name in FLOAT_OPTIONS if numeric(getattr(kd, name, None))}

    # ------------------------------------------------------------------ training
    def train_epoch(self, train, epoch: int | list[int]) -> list[dict[str, float]]:
        """One epoch for every member; returns each member's `Trainer.train_epoch`-style metrics.
        Members whose loss was not finite are marked failed and leave the pack afterwards."""
        self.template.train()
        n, k = train.n, len(self.members)
        if self.shared is not None:  # one order for the pack: one teacher forward a batch
            order = torch.randperm(n, generator=self.shared).to(train.label.device)
            orders = [order] * k
        else:
            orders = [torch.randperm(n, generator=m.generator).to(train.label.device) for m in self.members]
        sums = torch.zeros(k, 3, dtype=torch.float64)
        for start in range(0, n, self.batch_size):
            index = torch.stack([order[start:start + self.batch_size] for order in orders])  # (K, B)
            totals = self._step(train, index)
            sums += totals.detach().double().cpu() * index.shape[1]
        results = []
        epochs = epoch if isinstance(epoch, list) else [epoch] * k  # each member's own epoch number
        for member, row, own in zip(self.members, (sums / n).tolist(), epochs):
            metrics = {"train_loss": row[0], "train_task": row[1], "train_kd": row[2]}
            if not all(math.isfinite(v) for v in metrics.values()):
                member.failed = f"loss became NaN/inf at epoch {own}"
            results.append(metrics)
        self._drop_failed()
        return results

    def _step(self, train, index: torch.Tensor) -> torch.Tensor:
        k, b = index.shape
        if self.targets is not None:
            flat = index.reshape(-1)
            teacher = {name: v.reshape(k, b, *v.shape[1:]) for name, v in _flat(self.targets, flat).items()}
        else:  # a shared batch: the teacher's outputs once, seen by every member
            teacher = {name: v.expand(k, *v.shape) for name, v in self._teacher_once(train, index[0]).items()}
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

    @torch.no_grad()
    def _teacher_once(self, train, index: torch.Tensor) -> dict[str, torch.Tensor]:
        from kdsearch.train.teacher_targets import flat_teacher_output

        self.teacher.eval()
        return {name: value.float() for name, value in
                flat_teacher_output(self.teacher, train.batch(index), self.members[0].kd).items()}

    def trainable_names(self) -> list[str]:
        return [name for name in self.params if name in self.trainable]

    def _adam(self, grads: dict[str, torch.Tensor]) -> None:
        self.steps = [s + 1 for s in self.steps]
        packed_adam_step(self.params, self.moments, grads, steps=self.steps, lr=self._vector("lr"),
                         weight_decay=self._vector("weight_decay"), clip=self._vector("grad_clip"))

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
        """Drop member `i` (stopped by ASHA, finished, or failed); the others train on unchanged.
        Its modules, moments and step count are brought up to date first."""
        self.sync_out()
        member = self.members[i]
        self._restack([m for j, m in enumerate(self.members) if j != i])
        return member

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
