"""The two tasks a space can choose: paper 000's 7-class classification or MOSEI regression.

A task owns what differs between them: the output width, the loss against the continuous label,
and the metrics. Everything else (models, trainer, search) is the same code for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from kdsearch.train.metrics import classification_metrics, regression_metrics


@dataclass(frozen=True)
class Task:
    name: str
    n_out: int
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]]


def _seven_class_ce(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    # torch.round rounds half to even, like numpy: the same class as the metrics use.
    target = (torch.round(label.clamp(-3.0, 3.0)) + 3).long()
    return F.cross_entropy(logits, target)


def _l1(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(pred.reshape(-1), label.reshape(-1))


TASKS = {
    "classification": Task("classification", 7, _seven_class_ce, classification_metrics),
    "regression": Task("regression", 1, _l1, regression_metrics),
}


def get_task(name: str) -> Task:
    return TASKS[name]
