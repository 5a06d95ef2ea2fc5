"""The "naive" reference: MulT written the way the original MulT code runs it (docs/methods.md §2).

Same architecture, same parameters and the same module names as `MulTTeacher`, so
``naive.load_state_dict(teacher.state_dict())`` works and both compute the same function. Only the
execution style differs, on purpose, so `kdsearch bench --compare naive` measures what the
optimised models save:

* time-first layout (T, B, d) with a transpose in and out of every encoder;
* q, k and v projected by three separate `F.linear` calls on slices of the fused weight;
* the attention mask rebuilt on **every layer call** as an additive -inf float matrix with
  `torch.triu` on the CPU, then copied to the input's device;
* positional indices recomputed on every call (cumulative count of non-pad steps) and gathered
  from the sinusoid table;
* explicit attention: bmm, additive mask, fp32 softmax, dropout, bmm, plus the head-averaged
  weights MulT computes and then throws away; no `scaled_dot_product_attention`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdsearch.models.crossmodal import MODALITIES, split_pair
from kdsearch.models.head import ResidualHead
from kdsearch.models.mult_teacher import BRANCH_PAIRS, temporal_projection
from kdsearch.models.output import ModelOutput
from kdsearch.models.positional import sinusoid_table

_INPUTS = {"text": "L", "audio": "A", "vision": "V"}


def naive_future_mask(t_q: int, t_k: int, device: torch.device) -> torch.Tensor:
    """MulT's additive mask, built from scratch on the CPU and copied over (no caching).

    -inf above the diagonal offset 1 + |T_k - T_q|: query i sees keys j <= i + |T_k - T_q|.
    """
    future = torch.triu(torch.full((t_q, t_k), float("-inf")), 1 + abs(t_k - t_q))
    return future.to(device)


class NaiveAttention(nn.Module):
    """Multi-head attention with MulT's fused parameter layout, executed call by call."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.d_model, self.heads, self.head_dim = d_model, heads, d_model // heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _in_proj(self, x: torch.Tensor, part: int) -> torch.Tensor:
        rows = slice(part * self.d_model, (part + 1) * self.d_model)
        return F.linear(x, self.in_proj_weight[rows], self.in_proj_bias[rows])

    def forward(self, query, key, value, mask=None):
        """query (T_q, B, d), key/value (T_k, B, d), additive mask (T_q, T_k) -> (T_q, B, d)."""
        t_q, batch, _ = query.shape
        t_k = key.shape[0]
        q = self._in_proj(query, 0) * self.head_dim ** -0.5
        k = self._in_proj(key, 1)
        v = self._in_proj(value, 2)
        q = q.contiguous().view(t_q, batch * self.heads, self.head_dim).transpose(0, 1)
        k = k.contiguous().view(t_k, batch * self.heads, self.head_dim).transpose(0, 1)
        v = v.contiguous().view(t_k, batch * self.heads, self.head_dim).transpose(0, 1)
        weights = torch.bmm(q, k.transpose(1, 2))
        if mask is not None:
            weights = weights + mask.unsqueeze(0)
        weights = F.softmax(weights.float(), dim=-1).type_as(weights)
        weights = F.dropout(weights, self.dropout, self.training)
        out = torch.bmm(weights, v).transpose(0, 1).contiguous().view(t_q, batch, self.d_model)
        # MulT also returns the head-averaged weights; the encoder discards them. Kept: it is
        # part of what the original code spends per call.
        _ = weights.view(batch, self.heads, t_q, t_k).sum(dim=1) / self.heads
        return self.out_proj(out)


class NaiveLayer(nn.Module):
    """Pre-LN layer; same parameter names as `kdsearch.models.encoder.EncoderLayer`."""

    def __init__(self, d_model, heads, *, attn_dropout, relu_dropout, res_dropout, use_mask):
        super().__init__()
        self.attn = NaiveAttention(d_model, heads, attn_dropout)
        self.norm_attn = nn.LayerNorm(d_model)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.fc2 = nn.Linear(4 * d_model, d_model)
        self.relu_dropout, self.res_dropout, self.use_mask = relu_dropout, res_dropout, use_mask

    def forward(self, x, x_k=None, x_v=None):
        residual = x
        x = self.norm_attn(x)
        mask = naive_future_mask(x.shape[0], (x if x_k is None else x_k).shape[0], x.device) if self.use_mask else None
        if x_k is None:
            x = self.attn(x, x, x, mask)
        else:  # same LN0 for queries, keys and values, as MulT
            x = self.attn(x, self.norm_attn(x_k), self.norm_attn(x_v), mask)
        x = residual + F.dropout(x, self.res_dropout, self.training)
        residual = x
        x = F.dropout(F.relu(self.fc1(self.norm_ffn(x))), self.relu_dropout, self.training)
        return residual + F.dropout(self.fc2(x), self.res_dropout, self.training)


class NaiveEncoder(nn.Module):
    """MulT's TransformerEncoder (scale, positions, dropout, layers, final LayerNorm), time-first."""

    def __init__(self, *, d_model, heads, layers, max_len, attn_dropout, relu_dropout, res_dropout,
                 embed_dropout, use_mask):
        super().__init__()
        self.embed_scale = math.sqrt(d_model)
        self.embed_dropout = embed_dropout
        self.register_buffer("table", sinusoid_table(max_len, d_model), persistent=False)
        self.layers = nn.ModuleList(
            NaiveLayer(d_model, heads, attn_dropout=attn_dropout, relu_dropout=relu_dropout,
                       res_dropout=res_dropout, use_mask=use_mask) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)

    def _embed(self, x_in: torch.Tensor) -> torch.Tensor:
        # Positions recomputed per call: 1..T on real steps, 0 (zero row) where channel 0 is 0.
        tokens = x_in[:, :, 0].transpose(0, 1)  # (B, T)
        not_pad = tokens.ne(0).long()
        steps = torch.arange(1, tokens.shape[1] + 1, device=x_in.device).expand_as(tokens)
        positions = steps * not_pad
        pe = self.table.index_select(0, positions.reshape(-1)).view(*tokens.shape, -1).transpose(0, 1)
        return F.dropout(self.embed_scale * x_in + pe, self.embed_dropout, self.training)

    def forward(self, x_in, x_in_k=None):
        """x_in (T_q, B, d), optional x_in_k (T_k, B, d) -> (T_q, B, d)."""
        x = self._embed(x_in)
        # Keys and values: the same stream, each with its own dropout draw (as MulT).
        x_k = None if x_in_k is None else self._embed(x_in_k)
        x_v = None if x_in_k is None else self._embed(x_in_k)
        for layer in self.layers:
            x = layer(x, x_k, x_v)
        return self.norm(x)


class NaiveBody(nn.Module):
    """Cross-modal encoders then MulT's mem stage, with `CrossModalBody`'s names."""

    def __init__(self, *, pairs, lengths, d_model, heads, layers, attn_mask, attn_dropout, attn_dropout_a,
                 attn_dropout_v, relu_dropout, res_dropout, embed_dropout):
        super().__init__()
        self.pairs = tuple(pairs)
        by_key = {"L": attn_dropout, "A": attn_dropout_a, "V": attn_dropout_v}
        shared = dict(heads=heads, relu_dropout=relu_dropout, res_dropout=res_dropout, embed_dropout=embed_dropout,
                      use_mask=attn_mask)
        self.encoders = nn.ModuleDict()
        for name in self.pairs:
            query, key = split_pair(name)
            self.encoders[name] = NaiveEncoder(d_model=d_model, layers=layers, attn_dropout=by_key[key],
                                               max_len=max(lengths[query], lengths[key]), **shared)
        self.mem_groups = {}
        for query in MODALITIES:
            group = tuple(n for n in self.pairs if split_pair(n)[0] == query)
            if group:
                self.mem_groups[f"mem_{query}"] = group
                self.encoders[f"mem_{query}"] = NaiveEncoder(
                    d_model=len(group) * d_model, layers=max(layers, 3), max_len=lengths[query],
                    attn_dropout=attn_dropout, **shared)
        self.out_dim = sum(len(g) * d_model for g in self.mem_groups.values())

    def forward(self, streams: dict[str, torch.Tensor]) -> torch.Tensor:
        outputs = {}
        for name in self.pairs:
            query, key = split_pair(name)
            outputs[name] = self.encoders[name](streams[query], streams[key])
        finals = [self.encoders[mem](torch.cat([outputs[n] for n in group], dim=-1))
                  for mem, group in self.mem_groups.items()]
        return torch.cat([seq[-1] for seq in finals], dim=-1)


class NaiveMulT(nn.Module):
    """MulT teacher in the original code's execution style; drop-in for `MulTTeacher`.

    Takes the same keyword arguments as `MulTTeacher` (cross-modal pairs only: a self-attention
    pair "X<-X" is not part of any teacher branch).
    """

    def __init__(self, *, dims, lengths, n_out, branch="complete", d_model=30, heads=5, layers=5, conv_kernel=3,
                 attn_mask=True, attn_dropout=0.1, attn_dropout_a=0.0, attn_dropout_v=0.0, relu_dropout=0.1,
                 res_dropout=0.1, embed_dropout=0.25, out_dropout=0.0):
        super().__init__()
        self.embed_dropout = embed_dropout
        self.projections = nn.ModuleDict(
            {name: temporal_projection(dims[name], d_model, conv_kernel) for name in _INPUTS})
        self.body = NaiveBody(
            pairs=BRANCH_PAIRS[branch], lengths={_INPUTS[k]: lengths[k] for k in _INPUTS}, d_model=d_model,
            heads=heads, layers=layers, attn_mask=attn_mask, attn_dropout=attn_dropout,
            attn_dropout_a=attn_dropout_a, attn_dropout_v=attn_dropout_v, relu_dropout=relu_dropout,
            res_dropout=res_dropout, embed_dropout=embed_dropout)
        self.head = ResidualHead(self.body.out_dim, n_out, out_dropout)

    def forward(self, text, audio, vision, *, maps_for=frozenset(), post_attention_for=frozenset()) -> ModelOutput:
        """Same call as `MulTTeacher.forward`; attention maps are not offered (the reference never kept them)."""
        if maps_for or post_attention_for:
            raise ValueError("NaiveMulT does not return attention maps or post-attention outputs")
        text = F.dropout(text, self.embed_dropout, self.training)
        # (B, T, D) -> conv over time -> time-first (T, B, d), as MulT permutes after its convs.
        streams = {_INPUTS[name]: self.projections[name](x.transpose(1, 2)).permute(2, 0, 1)
                   for name, x in (("text", text), ("audio", audio), ("vision", vision))}
        penultimate, logits = self.head(self.body(streams))
        return ModelOutput(logits=logits, features={"penultimate": penultimate, "final": logits})
