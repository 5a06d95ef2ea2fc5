"""The one interface every distillation loss implements.

A loss declares which KD levels it works at and which attention maps each model must compute;
the objective asks for exactly those maps (maps are not free: every other pair runs fused SDPA).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from kdsearch.models.output import ModelOutput

KD_LEVELS = frozenset({"final", "penultimate", "post_attention", "attention_maps"})


class KDLoss(nn.Module):
    """Base class: `forward(student_out, teacher_out, batch) -> scalar Tensor`.

    Subclasses must treat every teacher tensor as a constant (detach it): the teacher may have
    been run with gradients enabled, and its parameters must never receive gradients from KD.

    Attributes:
        name: the registry name (set by `register_loss`).
        levels: KD levels this loss can work at, a subset of `KD_LEVELS`.
    """

    name: ClassVar[str] = ""
    levels: ClassVar[frozenset[str]] = frozenset()

    def student_maps(self) -> frozenset[str]:
        """Pairs whose attention scores the student must return (`maps_for`)."""
        return frozenset()

    def teacher_maps(self) -> frozenset[str]:
        """Pairs whose attention scores the teacher must return (`maps_for`)."""
        return frozenset()

    def student_post_attention(self) -> frozenset[str]:
        """Pairs whose post-attention outputs the student must return (`post_attention_for`)."""
        return frozenset()

    def teacher_post_attention(self) -> frozenset[str]:
        """Pairs whose post-attention outputs the teacher must return (`post_attention_for`)."""
        return frozenset()

    def bind(self, *, student: nn.Module | None = None, teacher: nn.Module | None = None,
             n_train: int | None = None, labels: torch.Tensor | None = None, task: str | None = None) -> None:
        """Build what depends on the models, the training set and the task (heads, memory banks, resizers)
        before the optimiser is made, and refuse what cannot align (`InvalidOption`).

        A trial and validation both call it, so what it refuses is refused before Ray starts.
        The base loss has nothing to build.
        """

    def check_train_size(self, n_train: int) -> None:
        """Raise `InvalidOption` when the loss cannot work on a training set of `n_train` samples
        (CRD draws K negatives from it). Validation calls it without building a memory bank."""

    def forward(self, student_out: ModelOutput, teacher_out: ModelOutput, batch: dict) -> torch.Tensor:
        """The KD term, a scalar tensor that carries gradients to the student only."""
        raise NotImplementedError
