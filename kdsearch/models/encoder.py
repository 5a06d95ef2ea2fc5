"""MulT's pre-LN TransformerEncoder, surfacing attention scores and outputs on request.

One encoder is one named "pair" of paper 000 (e.g. "V<-A": queries from A, keys/values from V) or a
self-attention stage ("mem_V", "V<-V"). The key/value stream is embedded once and stays fixed
across layers: every layer re-attends to the same embedded source (docs/methods.md §2.1).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from kdsearch.models.attention import MultiheadAttention
from kdsearch.models.masks import attention_mask, fresh_mask
from kdsearch.models.positional import SinusoidalPositions


class EncoderOutput(NamedTuple):
    """What one encoder returns: the final sequence and, if asked, per-layer extras."""

    sequence: torch.Tensor  # (B, T_q, d), after the final LayerNorm
    scores: list[torch.Tensor]  # per layer (B, H, T_q, T_k) pre-softmax, [] unless asked
    post_attention: list[torch.Tensor]  # per layer (B, T_q, d) after out_proj, [] unless asked


class EncoderLayer(nn.Module):
    """Pre-LN layer: x + Drop(MHA(LN0(x), LN0(kv))), then x + Drop(FFN(LN1(x)))."""

    def __init__(self, d_model: int, heads: int, *, attn_dropout: float, relu_dropout: float, res_dropout: float):
        super().__init__()
        self.attn = MultiheadAttention(d_model, heads, attn_dropout)
        self.norm_attn = nn.LayerNorm(d_model)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)
        for linear in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
        self.relu_dropout = relu_dropout
        self.res_dropout = res_dropout

    def forward(self, x, source=None, *, value_source=None, mask=None, keep_scores=False):
        """Returns (x, scores or None, attention output after out_proj)."""
        x_norm = self.norm_attn(x)
        # MulT applies the *same* LN0 to the key/value stream(s) as to the queries.
        source_norm = None if source is None else self.norm_attn(source)
        value_norm = None if value_source is None else self.norm_attn(value_source)
        attended, scores = self.attn(x_norm, source_norm, value_source=value_norm, mask=mask,
                                     keep_scores=keep_scores)
        x = x + F.dropout(attended, self.res_dropout, self.training)
        hidden = F.dropout(F.relu(self.fc1(self.norm_ffn(x))), self.relu_dropout, self.training)
        x = x + F.dropout(self.fc2(hidden), self.res_dropout, self.training)
        return x, scores, attended


class TransformerEncoder(nn.Module):
    """A stack of `EncoderLayer`s with MulT's input embedding and final LayerNorm.

    Args:
        d_model: width d.
        heads: attention heads (must divide d).
        layers: number of layers.
        t_q: expected query length (the mask and PE table are built for it once).
        t_k: expected key/value length; None for self-attention (= t_q).
        attn_mask: apply MulT's mask rule (`kdsearch.models.masks`).
        attn_dropout, relu_dropout, res_dropout, embed_dropout: MulT's dropouts.
    """

    def __init__(
        self,
        *,
        d_model: int,
        heads: int,
        layers: int,
        t_q: int,
        t_k: int | None = None,
        attn_mask: bool = True,
        attn_dropout: float = 0.0,
        relu_dropout: float = 0.0,
        res_dropout: float = 0.0,
        embed_dropout: float = 0.0,
    ):
        super().__init__()
        self.d_model = d_model
        self.heads = heads
        self.t_q, self.t_k = t_q, (t_q if t_k is None else t_k)
        self.use_mask = attn_mask
        self.embed_scale = math.sqrt(d_model)
        self.embed_dropout = embed_dropout
        self.positions = SinusoidalPositions(d_model, max(self.t_q, self.t_k))
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, heads, attn_dropout=attn_dropout, relu_dropout=relu_dropout, res_dropout=res_dropout)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(d_model)
        # A buffer (not a per-call build) so the mask follows .to(device) and torch.compile sees a
        # constant; each encoder owns its copy (see `fresh_mask`).
        self.register_buffer("mask", fresh_mask(self.t_q, self.t_k) if attn_mask else None, persistent=False)

    def mask_for(self, t_q: int, t_k: int, device: torch.device) -> torch.Tensor | None:
        """The (t_q, t_k) mask in use (the buffer when lengths are the built ones)."""
        if not self.use_mask:
            return None
        if (t_q, t_k) == (self.t_q, self.t_k):
            return self.mask
        return attention_mask(t_q, t_k, device)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed_scale * x + self.positions(x)

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.embed_dropout, self.training)

    def forward(
        self, x: torch.Tensor, source: torch.Tensor | None = None, *, keep_scores: bool = False, keep_post: bool = False
    ) -> EncoderOutput:
        """Encode `x` (B, T_q, d), attending to `source` (B, T_k, d) or to itself when None.

        Args:
            x: query stream.
            source: key/value stream, None for self-attention.
            keep_scores: return each layer's pre-softmax per-head scores (slower path).
            keep_post: return each layer's attention output (after out_proj, before residual).
        """
        t_k = x.shape[1] if source is None else source.shape[1]
        mask = self.mask_for(x.shape[1], t_k, x.device)
        x = self._dropout(self._embed(x))
        value_source = None
        if source is not None:
            # Embedded once, then fixed across layers. MulT draws the embedding dropout twice, once
            # for the keys and once for the values (docs/methods.md §2.1); without dropout the two are
            # one tensor, and one matmul projects both.
            embedded = self._embed(source)
            source = self._dropout(embedded)
            if self.training and self.embed_dropout > 0:
                value_source = self._dropout(embedded)
        scores, post = [], []
        for layer in self.layers:
            x, layer_scores, attended = layer(x, source, value_source=value_source, mask=mask,
                                              keep_scores=keep_scores)
            if keep_scores:
                scores.append(layer_scores)
            if keep_post:
                post.append(attended)
        return EncoderOutput(self.norm(x), scores, post)
