"""Sinusoidal positional embedding of MulT/fairseq, pad-aware, tables built once.

PE[pos] = [sin(pos * w_k) | cos(pos * w_k)] (halves concatenated, not interleaved) with
w_k = exp(-k ln(10000) / (half - 1)), k = 0..half-1; a zero column is appended when d is odd.
Positions run 1..T from the start of the sequence; a time step whose first channel is exactly 0
is treated as padding and gets position 0, whose embedding is all zeros (docs/methods.md §2.1). This is
what keeps zero left-padding free of positional signal in MulT.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """(length + 1, dim) float32 table; row p is the embedding of position p, row 0 is zero."""
    half = dim // 2
    # fairseq divides by (half - 1); guard dim < 4, where that would be a division by zero.
    step = math.log(10000.0) / max(half - 1, 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -step)
    angles = torch.arange(length + 1, dtype=torch.float32).unsqueeze(1) * freqs.unsqueeze(0)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if dim % 2:
        table = torch.cat([table, torch.zeros(length + 1, 1)], dim=1)
    table[0] = 0.0
    return table


@lru_cache(maxsize=64)
def _cached_rows(length: int, dim: int, device: str) -> torch.Tensor:
    return sinusoid_table(length, dim)[1:].to(device)


class SinusoidalPositions(nn.Module):
    """Adds nothing itself: returns the pad-aware positional embedding of a (B, T, d) input.

    The table for `max_len` positions is a non-persistent buffer (follows `.to(device)`, not saved
    in checkpoints); longer inputs fall back to a table cached per (T, d, device).
    """

    def __init__(self, dim: int, max_len: int):
        super().__init__()
        self.dim = dim
        self.register_buffer("rows", sinusoid_table(max_len, dim)[1:], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Positional embedding (B, T, d) for `x` (B, T, d), zero where x[..., 0] == 0."""
        length = x.shape[1]
        rows = self.rows if length <= self.rows.shape[0] else _cached_rows(length, self.dim, str(x.device))
        not_pad = (x[..., 0] != 0).unsqueeze(-1)
        # Multiplying by the pad flag equals indexing row 0 (zeros) for padding: no gather needed.
        return rows[:length].to(x.dtype) * not_pad
