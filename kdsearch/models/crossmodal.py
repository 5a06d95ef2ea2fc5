"""The transformer body shared by the MulT teacher and the video students.

A body is a list of named pairs ("Y<-X": queries from stream X, keys/values from stream Y; "X<-X"
is self-attention) over three streams keyed "L", "A", "V", optionally followed by MulT's "mem"
stage. With the mem stage, the outputs of the pairs that share a query stream X are concatenated
(2d) and encoded by a self-attention "mem_X" encoder; without it, each pair output is used as is.
Either way the last time step of every final sequence is taken and they are concatenated.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from kdsearch.models.encoder import TransformerEncoder

MODALITIES = ("L", "A", "V")  # MulT's order, also the order pooled vectors are concatenated in


def split_pair(name: str) -> tuple[str, str]:
    """(query stream, key/value stream) of a pair name "Y<-X" (query X, key/value Y)."""
    key, arrow, query = name.partition("<-")
    if not arrow or key not in MODALITIES or query not in MODALITIES:
        raise ValueError(f"bad pair name {name!r}: expected 'Y<-X' with X, Y in {MODALITIES}")
    return query, key


class CrossModalBody(nn.Module):
    """Named encoders over the L/A/V streams, pooled to one vector.

    Args:
        pairs: pair names, in the order their outputs are concatenated.
        lengths: stream letter -> sequence length.
        use_mem: add the "mem_X" self-attention stage per query stream (MulT), with
            max(layers, 3) layers and width 2d.
        d_model, heads, layers, attn_mask: encoder shape.
        attn_dropout: attention dropout when keys come from L, and for self-attention/mem.
        attn_dropout_a, attn_dropout_v: attention dropout when keys come from A / from V.
        relu_dropout, res_dropout, embed_dropout: shared by every encoder.
    """

    def __init__(
        self,
        *,
        pairs: Sequence[str],
        lengths: dict[str, int],
        use_mem: bool,
        d_model: int,
        heads: int,
        layers: int,
        attn_mask: bool,
        attn_dropout: float,
        attn_dropout_a: float,
        attn_dropout_v: float,
        relu_dropout: float,
        res_dropout: float,
        embed_dropout: float,
    ):
        super().__init__()
        self.pairs = tuple(pairs)
        self.use_mem = use_mem
        self.lengths = dict(lengths)
        dropout_by_key = {"L": attn_dropout, "A": attn_dropout_a, "V": attn_dropout_v}
        shared = dict(heads=heads, attn_mask=attn_mask, relu_dropout=relu_dropout,
                      res_dropout=res_dropout, embed_dropout=embed_dropout)
        self.encoders = nn.ModuleDict()
        self._streams: dict[str, tuple[str, str]] = {}
        for name in self.pairs:
            query, key = split_pair(name)
            self._streams[name] = (query, key)
            # Self-attention follows MulT's mem encoders (attn_dropout), cross pairs their key stream.
            dropout = attn_dropout if query == key else dropout_by_key[key]
            self.encoders[name] = TransformerEncoder(
                d_model=d_model, layers=layers, t_q=lengths[query], t_k=None if query == key else lengths[key],
                attn_dropout=dropout, **shared)
        self.mem_groups: dict[str, tuple[str, ...]] = {}
        if use_mem:
            for query in MODALITIES:
                group = tuple(n for n in self.pairs if self._streams[n][0] == query)
                if not group:
                    continue
                self.mem_groups[f"mem_{query}"] = group
                self.encoders[f"mem_{query}"] = TransformerEncoder(
                    d_model=len(group) * d_model, layers=max(layers, 3), t_q=lengths[query],
                    attn_dropout=attn_dropout, **shared)
            self.out_dim = sum(len(g) * d_model for g in self.mem_groups.values())
        else:
            self.out_dim = len(self.pairs) * d_model
        self.names: tuple[str, ...] = self.pairs + tuple(self.mem_groups)

    def map_shape(self, name: str) -> tuple[int, int]:
        """(T_q, T_k) of the attention maps of encoder `name`."""
        self._check_names({name}, "pair")
        if name in self.mem_groups:
            length = self.lengths[name[-1]]
            return length, length
        query, key = self._streams[name]
        return self.lengths[query], self.lengths[key]

    def _check_names(self, names: frozenset[str] | set[str], what: str) -> None:
        unknown = set(names) - set(self.names)
        if unknown:
            raise ValueError(f"unknown {what} {sorted(unknown)}; this model has {list(self.names)}")

    def forward(
        self,
        streams: dict[str, torch.Tensor],
        *,
        maps_for: frozenset[str] = frozenset(),
        post_attention_for: frozenset[str] = frozenset(),
    ):
        """Run every encoder and pool.

        Args:
            streams: letter -> (B, T, d) projected stream.
            maps_for: encoder names whose pre-softmax scores to keep (others use fused SDPA).
            post_attention_for: encoder names whose per-layer attention outputs to keep.

        Returns:
            (pooled (B, out_dim), scores by name, masks by name, post-attention by name).
        """
        self._check_names(maps_for, "maps_for pair")
        self._check_names(post_attention_for, "post_attention_for pair")
        scores, masks, post, outputs = {}, {}, {}, {}

        def run(name, x, source):
            result = self.encoders[name](x, source, keep_scores=name in maps_for, keep_post=name in post_attention_for)
            t_k = x.shape[1] if source is None else source.shape[1]
            masks[name] = self.encoders[name].mask_for(x.shape[1], t_k, x.device)
            if name in maps_for:
                scores[name] = result.scores
            if name in post_attention_for:
                post[name] = result.post_attention
            return result.sequence

        for name in self.pairs:
            query, key = self._streams[name]
            outputs[name] = run(name, streams[query], None if query == key else streams[key])
        if self.use_mem:
            finals = [run(mem, torch.cat([outputs[n] for n in group], dim=-1), None)
                      for mem, group in self.mem_groups.items()]
        else:
            finals = [outputs[n] for n in self.pairs]
        pooled = torch.cat([seq[:, -1] for seq in finals], dim=-1)  # last time step, as MulT
        return pooled, scores, masks, post


class HasCrossModalBody(nn.Module):
    """A model whose attention maps live in `self.body` (a `CrossModalBody`): teacher, student
    and DMD all name their maps, and give their sizes, the same way, so the losses and
    `kdsearch diagnose` can ask any of them."""

    body: CrossModalBody

    @property
    def pair_names(self) -> tuple[str, ...]:
        """Names of every encoder: cross pairs, then "mem_X" stages."""
        return self.body.names

    def map_shape(self, pair: str) -> tuple[int, int]:
        """(T_q, T_k) of the attention maps of `pair`."""
        return self.body.map_shape(pair)
