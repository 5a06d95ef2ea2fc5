"""The one output contract every model returns, so distillation losses pair tensors by name.

Pair names follow paper 000: ``"Y<-X"`` is the transformer whose **query comes from X** and whose
**key/value come from Y** (MulT code: ``trans_x_with_y``). Self-attention stages of the complete
network are named ``"mem_L"``, ``"mem_A"``, ``"mem_V"``; a student's video self-attention is
``"V<-V"``. Teacher and student use the same names, so a loss never pairs by position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ModelOutput:
    """What a forward pass returns.

    Attributes:
        logits: (B, n_out) task output (7 class logits, or 1 regression value).
        features: named (B, D) tensors: ``"penultimate"`` (input of the last linear layer,
            after the residual head) and ``"final"`` (= logits).
        attn_scores: pair name -> one tensor per layer, (B, H, T_q, T_k): the scaled dot products
            q·k/sqrt(d_head) **before** softmax and dropout, with masked entries set to -inf.
            Only filled for the pairs the caller asked maps for (computing them is not free).
        attn_mask: pair name -> (T_q, T_k) bool tensor, True where attention is allowed, or None
            when nothing is masked. Losses use it to skip masked keys (their probability is 0).
        post_attention: pair name -> one (B, T_q, d) tensor per layer: the attention output
            softmax(qk)·v after the output projection. Only for the pairs asked for.
    """

    logits: torch.Tensor
    features: dict[str, torch.Tensor] = field(default_factory=dict)
    attn_scores: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    attn_mask: dict[str, torch.Tensor | None] = field(default_factory=dict)
    post_attention: dict[str, list[torch.Tensor]] = field(default_factory=dict)


def pair_name(query: str, key: str) -> str:
    """Paper-000 name of the transformer with queries from `query` and keys/values from `key`."""
    return f"{key}<-{query}"
