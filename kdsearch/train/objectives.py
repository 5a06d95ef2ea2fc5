"""Objectives own the forward pass and the loss; the trainer only ever sees ``out["loss"]``.

`TaskObjective` trains one model on the task (the teacher, or any model alone).
`DistillObjective` trains the video-only student with ``alpha * task + beta * kd`` against a
frozen teacher: the teacher stays in eval mode under no_grad whatever the trainer does, and only
the student and the KD loss's own parameters (e.g. learned upsampling) reach the optimiser.
"""

from __future__ import annotations

import torch
from torch import nn

from kdsearch.models.output import ModelOutput
from kdsearch.train.tasks import Task


def run_model(model: nn.Module, batch: dict, maps_for=frozenset(), post_attention_for=frozenset()) -> ModelOutput:
    """Call a teacher with all three modalities, a video-only student with video alone."""
    from kdsearch.models.video_student import VideoStudent

    asked = dict(maps_for=maps_for, post_attention_for=post_attention_for)
    if isinstance(model, VideoStudent):
        return model(batch["vision"], **asked)
    return model(batch["text"], batch["audio"], batch["vision"], **asked)


class Objective(nn.Module):
    """What the Trainer trains: `forward(batch)` returns {"loss", "task", ["kd"], "logits"}.

    `epoch_metrics` adds facts to each epoch's validation metrics (DMD: every head's metrics and
    the learned edges); the base adds none, so the trainer calls it on every objective.
    """

    # The teacher's cached outputs a distillation objective reads instead of running the teacher
    # (`DistillObjective`); None for every other objective.
    targets = None

    def predict(self, batch: dict) -> torch.Tensor:
        raise NotImplementedError

    def epoch_metrics(self, split, batch_size: int) -> dict[str, float]:
        return {}


class TaskObjective(Objective):
    def __init__(self, model: nn.Module, task: Task):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        out = run_model(self.model, batch)
        task_loss = self.task.loss(out.logits, batch["label"])
        return {"loss": task_loss, "task": task_loss, "logits": out.logits}

    def predict(self, batch: dict) -> torch.Tensor:
        return run_model(self.model, batch).logits


class DistillObjective(Objective):
    """alpha * L_task + beta * L_KD (paper 000 eq. 1); beta = 0 skips the teacher entirely.

    With `targets` (a `TeacherTargets` over the training split) the teacher's output for a
    training batch is read by the batch's sample ``index`` instead of computed: the same numbers,
    since a frozen eval-mode teacher is a fixed function of each sample. Only in training mode:
    the indices of any other split's batch would address the wrong samples, so the objective in
    eval mode runs the teacher (when it has one).
    """

    def __init__(self, student: nn.Module, teacher: nn.Module | None, task: Task, kd_loss: nn.Module | None,
                 *, alpha: float, beta: float, targets=None):
        super().__init__()
        self.student, self.task, self.kd = student, task, kd_loss
        self.alpha, self.beta = float(alpha), float(beta)
        self.targets = targets
        # Kept out of the module tree on purpose: its parameters must never reach the optimiser
        # or the student's checkpoint.
        self._teacher = [teacher] if teacher is not None else []
        if teacher is not None:
            teacher.eval().requires_grad_(False)

    @property
    def teacher(self) -> nn.Module | None:
        return self._teacher[0] if self._teacher else None

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        cached = self.targets is not None and self.training
        use_kd = self.kd is not None and self.beta != 0.0 and (self.teacher is not None or cached)
        s_out = (run_model(self.student, batch, self.kd.student_maps(), self.kd.student_post_attention()) if use_kd
                 else run_model(self.student, batch))
        task_loss = self._task_loss(s_out.logits, batch)
        if not use_kd:
            return {"loss": self.alpha * task_loss, "task": task_loss, "logits": s_out.logits}
        if cached:
            t_out = self.targets.lookup(batch["index"])
        else:
            with torch.no_grad():
                t_out = run_model(self.teacher, batch, self.kd.teacher_maps(), self.kd.teacher_post_attention())
        kd_loss = self.kd(s_out, t_out, batch)
        return {"loss": self.alpha * task_loss + self.beta * kd_loss, "task": task_loss, "kd": kd_loss,
                "logits": s_out.logits}

    def _task_loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        """The task loss on the labelled samples of the batch only (all, unless labels are scarce)."""
        labelled = batch.get("labelled")
        if labelled is None:
            return self.task.loss(logits, batch["label"])
        if not bool(labelled.any()):
            return logits.sum() * 0.0  # keeps the graph; this batch teaches through KD alone
        return self.task.loss(logits[labelled], batch["label"][labelled])

    def predict(self, batch: dict) -> torch.Tensor:
        return run_model(self.student, batch).logits
