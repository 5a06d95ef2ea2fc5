"""DMD's adaptive fusion of the heterogeneous and homogeneous representations (paper 003 §3.2).

Each pooled representation h gets a gate sigmoid(W h) of its own width (a Linear(h, h) per
modality for the reinforced Z_{->m}^prt, one for the pooled common features). The paper fuses the
features "with an adaptive weight learned from each of them", read here as h * gate ("paper").
DMD's code instead feeds the gates themselves to the head: the gate *replaces* the feature
("code", docs/methods.md §6.2). Both then go through MulT's residual head.
"""

from __future__ import annotations

import torch
from torch import nn

from kdsearch.models.head import ResidualHead
from kdsearch.models.options import check_choice

FUSIONS = ("paper", "code")


class AdaptiveFusion(nn.Module):
    """Gates per representation, concatenation, residual head.

    Args:
        streams: stream letters of the heterogeneous inputs, in concatenation order.
        hetero_dim: width of each reinforced heterogeneous representation (2d).
        common_dim: width of the pooled homogeneous representation (3d).
        n_out: output units.
        dropout: dropout inside the residual head.
        mode: "paper" (h * sigmoid(W h)) or "code" (sigmoid(W h) alone).
    """

    def __init__(self, *, streams: tuple[str, ...], hetero_dim: int, common_dim: int, n_out: int,
                 dropout: float, mode: str = "paper"):
        super().__init__()
        check_choice("fusion", mode, FUSIONS)
        self.mode = mode
        self.streams = streams
        self.gates = nn.ModuleDict({m: nn.Linear(hetero_dim, hetero_dim) for m in streams})
        self.common_gate = nn.Linear(common_dim, common_dim)
        self.head = ResidualHead(len(streams) * hetero_dim + common_dim, n_out, dropout)

    def _gated(self, gate: nn.Linear, h: torch.Tensor) -> torch.Tensor:
        weight = torch.sigmoid(gate(h))
        return h * weight if self.mode == "paper" else weight

    def forward(self, hetero: dict[str, torch.Tensor], common: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fuse `hetero` (letter -> (B, hetero_dim)) with `common` (B, common_dim).

        Returns:
            (penultimate (B, 3·hetero_dim + common_dim), logits (B, n_out)).
        """
        parts = [self._gated(self.gates[m], hetero[m]) for m in self.streams]
        parts.append(self._gated(self.common_gate, common))
        return self.head(torch.cat(parts, dim=-1))
