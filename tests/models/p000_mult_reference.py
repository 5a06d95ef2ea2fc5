"""A reference MulT for the import parity test, written from docs/methods.md §2.1 (not from code).

It keeps the original's time-first (T, B, d) layout and its parameter names (proj_l,
trans_l_with_a.layers.0.self_attn.in_proj_weight, layer_norms.0, ...), so its state dict is what
the original `MULTModel` saves, while every computation is written out independently of
kdsearch.models: additive -inf triangular masks, an explicit (B*H) attention, positions looked up
per element from a sinusoid table.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoid_positions(x_in: torch.Tensor) -> torch.Tensor:
    """PE of a (T, B, d) stream: position t+1 where channel 0 is non-zero, else all zeros."""
    length, _, dim = x_in.shape
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / (half - 1)))
    pos = torch.arange(1, length + 1, dtype=torch.float32).unsqueeze(1) * (x_in[:, :, 0] != 0)  # (T, B)
    angles = pos.unsqueeze(-1) * freqs  # (T, B, half)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if dim % 2:
        table = F.pad(table, (0, 1))
    return table * (pos != 0).unsqueeze(-1)  # position 0 (padding) embeds to zeros


def additive_mask(t_q: int, t_k: int) -> torch.Tensor:
    """-inf above the diagonal shifted by 1 + |t_k - t_q|, 0 elsewhere."""
    return torch.triu(torch.full((t_q, t_k), float("-inf")), diagonal=1 + abs(t_k - t_q))


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.randn(3 * dim, dim) * 0.3)
        self.in_proj_bias = nn.Parameter(torch.randn(3 * dim) * 0.1)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, query, source, mask):
        t_q, batch, dim = query.shape
        t_k, hd = source.shape[0], dim // self.heads
        w, b = self.in_proj_weight, self.in_proj_bias
        q = (query @ w[:dim].T + b[:dim]) * hd ** -0.5
        k = source @ w[dim:2 * dim].T + b[dim:2 * dim]
        v = source @ w[2 * dim:].T + b[2 * dim:]
        q, k, v = (t.reshape(t.shape[0], batch * self.heads, hd).transpose(0, 1) for t in (q, k, v))
        weights = q @ k.transpose(1, 2)
        if mask is not None:
            weights = weights + mask
        out = torch.softmax(weights, dim=-1) @ v  # (B*H, T_q, hd)
        return self.out_proj(out.transpose(0, 1).reshape(t_q, batch, dim))


class Layer(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.self_attn = Attention(dim, heads)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.layer_norms = nn.ModuleList([nn.LayerNorm(dim), nn.LayerNorm(dim)])

    def forward(self, x, source, mask):
        normed = self.layer_norms[0](x)
        src = normed if source is None else self.layer_norms[0](source)
        x = x + self.self_attn(normed, src, mask)
        return x + self.fc2(F.relu(self.fc1(self.layer_norms[1](x))))


class PositionSlot(nn.Module):
    """Holds the one buffer the original's position module saves (and nothing else)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("_float_tensor", torch.zeros(1))


class Encoder(nn.Module):
    def __init__(self, dim: int, heads: int, layers: int, attn_mask: bool):
        super().__init__()
        self.dim, self.attn_mask = dim, attn_mask
        self.embed_positions = PositionSlot()
        self.layers = nn.ModuleList(Layer(dim, heads) for _ in range(layers))
        self.register_buffer("version", torch.tensor([2.0]))
        self.layer_norm = nn.LayerNorm(dim)

    def embed(self, x_in):
        return math.sqrt(self.dim) * x_in + sinusoid_positions(x_in)

    def forward(self, x_in, source_in=None):
        x = self.embed(x_in)
        source = None if source_in is None else self.embed(source_in)
        t_k = x.shape[0] if source is None else source.shape[0]
        mask = additive_mask(x.shape[0], t_k) if self.attn_mask else None
        for layer in self.layers:
            x = layer(x, source, mask)
        return self.layer_norm(x)


class ReferenceMulT(nn.Module):
    """MulT, complete (`only=None`) or one branch (`only="l"|"a"|"v"`, MulT's --lonly etc.)."""

    def __init__(self, dims: dict[str, int], *, d: int, heads: int, layers: int, n_out: int, attn_mask: bool = True,
                 only: str | None = None):
        super().__init__()
        self.d, self.only = d, only
        self.orig = {"l": dims["text"], "a": dims["audio"], "v": dims["vision"]}
        for m in "lav":
            setattr(self, f"proj_{m}", nn.Conv1d(self.orig[m], d, kernel_size=1, padding=0, bias=False))
        self.branches = [only] if only else list("lav")
        for x in self.branches:
            for y in (m for m in "lav" if m != x):
                setattr(self, f"trans_{x}_with_{y}", Encoder(d, heads, layers, attn_mask))
        for x in "lav":  # the original builds all three, even in partial mode
            setattr(self, f"trans_{x}_mem", Encoder(2 * d, heads, max(layers, 3), attn_mask))
        width = 2 * d * len(self.branches)
        self.proj1, self.proj2 = nn.Linear(width, width), nn.Linear(width, width)
        self.out_layer = nn.Linear(width, n_out)
        with torch.no_grad():  # non-trivial norms, so a swapped LayerNorm would show
            for module in self.modules():
                if isinstance(module, nn.LayerNorm):
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.normal_(0, 0.1)

    def forward(self, text, audio, vision):
        streams = {}
        for m, x in zip("lav", (text, audio, vision)):
            x = x.transpose(1, 2)
            x = x if self.orig[m] == self.d else getattr(self, f"proj_{m}")(x)
            streams[m] = x.permute(2, 0, 1)  # (T, B, d)
        lasts = []
        for x in self.branches:
            others = [m for m in "lav" if m != x]
            both = torch.cat([getattr(self, f"trans_{x}_with_{y}")(streams[x], streams[y]) for y in others], dim=2)
            lasts.append(getattr(self, f"trans_{x}_mem")(both)[-1])
        h = torch.cat(lasts, dim=1)
        return self.out_layer(self.proj2(F.relu(self.proj1(h))) + h)
