"""DMD's feature decoupling (paper 003 §3.1, docs/methods.md §6.1): shallow convs, encoders, decoders.

Every modality m is projected by its own temporal Conv1d to the common width d (X~_m), then split
by one *shared* encoder into X_m^com and by a *private* encoder per modality into X_m^prt. A
private decoder rebuilds X~_m from [X^com, X^prt]; re-encoding that rebuild with the private
encoder closes the cycle. The encoders and decoders are DMD's kernel-1 convolutions, written as
bias-free Linear layers on the (B, T, d) layout: the same parameters, no transposes.

Paper vs code: the paper concatenates [com, prt] for the decoder, the code [prt, com]; the two are
the same function up to a permutation of the decoder's input columns, so only the paper order is
built. The code also skips the projection when a modality already has width d; we always
project (one d x d conv more in that rare case).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from kdsearch.models.options import check_choice

STREAMS = {"text": "L", "audio": "A", "vision": "V"}  # batch key -> stream letter
PADDINGS = ("same", "valid")


def projected_length(length: int, kernel: int, padding: str) -> int:
    """Sequence length after a kernel-`kernel` conv: unchanged for 'same', T - k + 1 for 'valid'."""
    return length if padding == "same" else length - kernel + 1


class DecoupledFeatures(NamedTuple):
    """Per stream letter ("L", "A", "V"): the (B, T', d) tensors of the decoupling stage."""

    origin: dict[str, torch.Tensor]  # X~_m, after the shallow conv
    com: dict[str, torch.Tensor]  # X_m^com = E^com(X~_m)
    prt: dict[str, torch.Tensor]  # X_m^prt = E_m^prt(X~_m)


class Decoupling(nn.Module):
    """Shallow temporal convs, the shared encoder, private encoders and private decoders.

    Args:
        dims: input width per modality, keys "text", "audio", "vision".
        d_model: the common width d.
        kernels: conv kernel per modality, same keys (DMD on MOSEI: text 5, audio 1, vision 3).
        padding: "same" keeps every length, as paper 003 says ("each modality preserves the input
            temporal dimension"); "valid" is the code's padding 0, so T' = T - k + 1.
    """

    def __init__(self, *, dims: dict[str, int], d_model: int, kernels: dict[str, int], padding: str = "same"):
        super().__init__()
        check_choice("conv_padding", padding, PADDINGS)
        self.padding = padding
        pad = "same" if padding == "same" else 0
        self.projections = nn.ModuleDict(
            {STREAMS[key]: nn.Conv1d(dims[key], d_model, kernels[key], padding=pad, bias=False) for key in STREAMS})
        self.shared = nn.Linear(d_model, d_model, bias=False)
        self.private = nn.ModuleDict({m: nn.Linear(d_model, d_model, bias=False) for m in STREAMS.values()})
        self.decoders = nn.ModuleDict({m: nn.Linear(2 * d_model, d_model, bias=False) for m in STREAMS.values()})

    def forward(self, inputs: dict[str, torch.Tensor]) -> DecoupledFeatures:
        """Decouple `inputs` (batch key -> (B, T, D)) into per-stream origin / com / prt features."""
        origin = {STREAMS[key]: self.projections[STREAMS[key]](inputs[key].transpose(1, 2)).transpose(1, 2)
                  for key in STREAMS}
        com = {m: self.shared(x) for m, x in origin.items()}
        prt = {m: self.private[m](x) for m, x in origin.items()}
        return DecoupledFeatures(origin, com, prt)

    def reconstruct(self, features: DecoupledFeatures) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(D_m([com, prt]), E_m^prt(D_m([com, prt]))) per stream: the inputs of L_rec and L_cyc."""
        recon = {m: self.decoders[m](torch.cat([features.com[m], features.prt[m]], dim=-1)) for m in features.com}
        cycle = {m: self.private[m](x) for m, x in recon.items()}
        return recon, cycle


class BottleneckHead(nn.Module):
    """DMD's homogeneous head f on a flattened (B, T'·d) X_m^com (the logit regressor of eq. 8).

    repr = ReLU(proj1(h)) (B, d); h' = proj2(dropout(repr)) + h; logits = out(h'). The head is
    T'·d wide, as in the code: cheap for aligned lengths, most of the model for 500-step inputs.
    """

    def __init__(self, in_dim: int, hidden: int, n_out: int, dropout: float):
        super().__init__()
        self.proj1 = nn.Linear(in_dim, hidden)
        self.proj2 = nn.Linear(hidden, in_dim)
        self.out_layer = nn.Linear(in_dim, n_out)
        self.dropout = dropout

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (repr (B, hidden), the GD-Unit's node feature; logits (B, n_out))."""
        representation = F.relu(self.proj1(h))
        h = self.proj2(F.dropout(representation, self.dropout, self.training)) + h
        return representation, self.out_layer(h)
