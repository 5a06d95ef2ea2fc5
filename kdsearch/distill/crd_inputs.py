"""What one CRD unit contrasts: a layer's tensor reduced to vectors, and the embedding head.

`unit_input` turns what a model returns at a KD level into the vectors a unit embeds (the
module docstring of `kdsearch.distill.crd` says what each level and option means);
`EmbedHead` is RepDistiller's Embed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def unit_input(x: torch.Tensor, level: str, *, pool: str, heads: str, per_row: bool) -> torch.Tensor:
    """(B, D) vectors, or (B, T_q, D) map rows with `per_row`, from one layer's output.

    Args:
        x: post-attention output (B, T_q, d) at ``post_attention``, pre-softmax scores
            (B, H, T_q, T_k) (-inf where masked) at ``attention_maps``; the logits or the
            penultimate vector (B, D) at the other levels (returned as they are).
        level: the KD level.
        pool: "mean", "last" or "flatten" over the query positions (post_attention).
        heads: "average" (MulT's head-averaged map) or "per_head" (each row holds the heads'
            rows side by side).
        per_row: keep the map's rows apart (one contrast per row) instead of their mean.
    """
    if level == "post_attention":
        if pool == "mean":
            return x.mean(dim=1)
        return x[:, -1] if pool == "last" else x.flatten(1)
    if level != "attention_maps":
        return x
    probs = torch.softmax(x.float(), dim=-1)  # masked keys (-inf) get probability 0
    if heads == "average":
        probs = probs.mean(dim=1)
    else:  # (B, H, T_q, T_k) -> (B, T_q, H * T_k)
        probs = probs.transpose(1, 2).flatten(2)
    return probs if per_row else probs.mean(dim=-2)  # the row mean: attention received per key


class EmbedHead(nn.Module):
    """RepDistiller's Embed: flatten, Linear(dim_in -> feat_dim), L2-normalise.

    Initialised like nn.Linear (uniform in +-1/sqrt(dim_in)) from `generator`, so the heads depend
    on the loss's seed only, not on how much of the global RNG the models used before.
    """

    def __init__(self, dim_in: int, feat_dim: int, generator: torch.Generator | None = None):
        super().__init__()
        self.linear = nn.Linear(dim_in, feat_dim)
        if generator is not None:
            bound = dim_in ** -0.5
            with torch.no_grad():
                self.linear.weight.uniform_(-bound, bound, generator=generator)
                self.linear.bias.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(x.flatten(1).to(self.linear.weight.dtype)), dim=1)
