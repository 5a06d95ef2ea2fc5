"""Logit KD. Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network" (2015),
https://arxiv.org/abs/1503.02531.

Classification (n_out > 1): T^2 * KL(softmax(t/T) || softmax(s/T)), averaged over the batch; the
T^2 keeps gradient magnitudes comparable across temperatures. Regression (n_out == 1): MSE
between the two outputs (a temperature means nothing there).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdsearch.distill.base import KDLoss
from kdsearch.distill.registry import register_loss
from kdsearch.models.options import check_positive
from kdsearch.models.output import ModelOutput


@register_loss("logit")
class LogitKD(KDLoss):
    """Soft-target KD on `features["final"]` (the logits).

    Args:
        temperature: softening temperature T (> 0) for classification outputs.
    """

    levels = frozenset({"final"})

    def __init__(self, temperature: float = 4.0):
        super().__init__()
        check_positive("temperature", temperature)
        self.temperature = float(temperature)

    def forward(self, student_out: ModelOutput, teacher_out: ModelOutput, batch: dict) -> torch.Tensor:
        student = student_out.features.get("final", student_out.logits).float()
        teacher = teacher_out.features.get("final", teacher_out.logits).detach().float()
        if student.shape != teacher.shape:
            raise ValueError(
                f"logit KD: student output {tuple(student.shape)} != teacher output {tuple(teacher.shape)}")
        if student.shape[-1] == 1:
            return F.mse_loss(student, teacher)
        t = self.temperature
        log_s = torch.log_softmax(student / t, dim=-1)
        log_t = torch.log_softmax(teacher / t, dim=-1)
        # KL written out (not F.kl_div): it has a vmap batching rule, for batched students.
        kl = (log_t.exp() * (log_t - log_s)).sum(dim=-1).mean()
        return kl * t * t
