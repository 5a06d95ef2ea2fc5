"""MulT's residual output head: h' = proj2(dropout(relu(proj1(h)))) + h; logits = out(h')."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualHead(nn.Module):
    """Two-layer residual MLP followed by the output layer.

    Args:
        dim: width of the pooled representation h.
        n_out: output units (7 class logits, or 1 regression value).
        out_dropout: dropout between proj1 and proj2.
    """

    def __init__(self, dim: int, n_out: int, out_dropout: float = 0.0):
        super().__init__()
        self.proj1 = nn.Linear(dim, dim)
        self.proj2 = nn.Linear(dim, dim)
        self.out_layer = nn.Linear(dim, n_out)
        self.out_dropout = out_dropout

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (penultimate h' incl. the residual, the input of out_layer; logits)."""
        hidden = F.dropout(F.relu(self.proj1(h)), self.out_dropout, self.training)
        penultimate = self.proj2(hidden) + h
        return penultimate, self.out_layer(penultimate)
