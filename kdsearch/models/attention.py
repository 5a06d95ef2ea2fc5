"""Multi-head attention with MulT's parameter layout and two execution paths.

* Fast path (default): `torch.nn.functional.scaled_dot_product_attention`, fused kernels, no
  (B, H, T_q, T_k) tensor kept.
* Map path (`keep_scores=True`): the same arithmetic written out, returning the per-head scores
  q·k/sqrt(head_dim) *before* softmax and dropout (masked entries -inf), so a distillation loss
  can apply its own temperature. Only the pairs a loss distils should take this path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MultiheadAttention(nn.Module):
    """MulT-style attention: one fused (3d x d) in-projection, out_proj Linear(d, d).

    For cross-modal use, queries are projected with the first d rows of the fused weight and
    keys/values (one source stream) with the last 2d rows: slices of the same parameter, as in
    MulT, so checkpoints map one to one.

    Args:
        d_model: model width d.
        heads: number of heads; must divide d.
        dropout: attention dropout on the softmax probabilities (training only).
    """

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if heads < 1 or d_model % heads:
            raise ValueError(f"d_model={d_model} is not divisible by heads={heads}")
        self.d_model = d_model
        self.heads = heads
        self.head_dim = d_model // heads
        self.dropout = dropout
        # Always the explicit path (matmul, softmax, matmul): set on a pack's batched template
        # (kdsearch.train.packing), since vmap has no batching rule for CPU flash attention and
        # falls back to a per-student loop.
        self.explicit = False
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.xavier_uniform_(self.out_proj.weight)  # as MulT initialises it
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

    def _project(self, query: torch.Tensor, source: torch.Tensor | None, value_source: torch.Tensor | None):
        if source is None:  # self-attention: one matmul for q, k and v
            return F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        d = self.d_model
        q = F.linear(query, self.in_proj_weight[:d], self.in_proj_bias[:d])
        if value_source is None:  # keys and values from one stream: one matmul for both
            k, v = F.linear(source, self.in_proj_weight[d:], self.in_proj_bias[d:]).chunk(2, dim=-1)
        else:
            k = F.linear(source, self.in_proj_weight[d:2 * d], self.in_proj_bias[d:2 * d])
            v = F.linear(value_source, self.in_proj_weight[2 * d:], self.in_proj_bias[2 * d:])
        return q, k, v

    def forward(
        self,
        query: torch.Tensor,
        source: torch.Tensor | None = None,
        *,
        value_source: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        keep_scores: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from `query` (B, T_q, d) over `source` (B, T_k, d), or over itself if None.

        Args:
            query: query stream.
            source: key/value stream (already layer-normed by the caller), None for self-attention.
            value_source: a separate value stream (same shape as `source`), or None when the
                values come from `source` too.
            mask: (T_q, T_k) bool, True where allowed, or None.
            keep_scores: take the explicit path and return the pre-softmax per-head scores.

        Returns:
            (output after out_proj (B, T_q, d), scores (B, H, T_q, T_k) or None).
        """
        q, k, v = (self._split_heads(t) for t in self._project(query, source, value_source))
        p = self.dropout if self.training else 0.0
        scores = None
        if keep_scores or self.explicit:
            # Scale q (T_q x head_dim) rather than the (T_q x T_k) scores, and mask in place on the
            # fresh matmul output: two fewer passes over the big tensor (~40% of this path on CPU).
            scores = torch.matmul(q * (self.head_dim**-0.5), k.transpose(-2, -1))
            if mask is not None:
                scores.masked_fill_(~mask, float("-inf"))
            # Softmax in fp32 as MulT does: under bf16 autocast long rows lose mass otherwise.
            probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(v.dtype)
            out = torch.matmul(F.dropout(probs, p, self.training), v)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        batch, _, length, _ = out.shape
        out = out.transpose(1, 2).reshape(batch, length, self.d_model)
        return self.out_proj(out), scores
