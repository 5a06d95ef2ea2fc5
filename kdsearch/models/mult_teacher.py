"""MulT teacher of paper 000: the complete network or one branch (docs/methods.md §2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kdsearch.models.crossmodal import CrossModalBody, HasCrossModalBody
from kdsearch.models.head import ResidualHead
from kdsearch.models.options import check_choice, check_dropouts, check_flags, check_sizes
from kdsearch.models.output import ModelOutput

# Pairs per branch, in MulT's concatenation order (trans_l_with_a before trans_l_with_v, ...),
# so the mem stage sees features in the same order as an original MulT checkpoint.
BRANCH_PAIRS: dict[str, tuple[str, ...]] = {
    "language": ("A<-L", "V<-L"),  # T4
    "audio": ("L<-A", "V<-A"),  # T3
    "video": ("L<-V", "A<-V"),  # T2
}
BRANCH_PAIRS["complete"] = BRANCH_PAIRS["language"] + BRANCH_PAIRS["audio"] + BRANCH_PAIRS["video"]  # T1

_INPUTS = {"text": "L", "audio": "A", "vision": "V"}


def temporal_projection(in_dim: int, d_model: int, kernel: int) -> nn.Conv1d:
    """MulT's per-modality Conv1d without bias, with 'same' padding.

    MulT uses padding 0, so a kernel-3 conv shortens every sequence by 2 (500 -> 498). Paper 000
    uses kernel 3 and needs teacher and student maps of equal, known size; 'same' padding keeps
    the dataset lengths, so the student's downsampling targets are simply the data lengths.
    """
    return nn.Conv1d(in_dim, d_model, kernel, padding="same", bias=False)


class MulTTeacher(HasCrossModalBody):
    """Multimodal Transformer (MulT) teacher, complete or one branch.

    Unlike MulT's --vonly/--aonly/--lonly modes, a branch builds only the encoders it uses
    (MulT keeps all three mem encoders), so parameter counts are the effective ones.

    Args:
        dims: feature width per modality, keys "text", "audio", "vision".
        lengths: sequence length per modality, same keys.
        n_out: output units (7 classes, or 1 for regression).
        branch: "complete" (T1, 9 encoders) or "video" (T2), "audio" (T3), "language" (T4).
        d_model, heads, layers: encoder width, heads and cross-modal depth (mem: max(layers, 3)).
        conv_kernel: kernel of the temporal projections (paper 000: 3).
        attn_mask: MulT's attention mask rule.
        attn_dropout, attn_dropout_a, attn_dropout_v, relu_dropout, res_dropout, embed_dropout,
            out_dropout: MulT's dropouts (embed_dropout is also the text input dropout).
    """

    def __init__(
        self,
        *,
        dims: dict[str, int],
        lengths: dict[str, int],
        n_out: int,
        branch: str = "complete",
        d_model: int = 30,
        heads: int = 5,
        layers: int = 5,
        conv_kernel: int = 3,
        attn_mask: bool = True,
        attn_dropout: float = 0.1,
        attn_dropout_a: float = 0.0,
        attn_dropout_v: float = 0.0,
        relu_dropout: float = 0.1,
        res_dropout: float = 0.1,
        embed_dropout: float = 0.25,
        out_dropout: float = 0.0,
    ):
        super().__init__()
        check_choice("branch", branch, BRANCH_PAIRS)
        check_sizes(d_model=d_model, heads=heads, layers=layers, conv_kernel=conv_kernel, n_out=n_out)
        check_flags(attn_mask=attn_mask)
        check_dropouts(attn_dropout=attn_dropout, attn_dropout_a=attn_dropout_a, attn_dropout_v=attn_dropout_v,
                       relu_dropout=relu_dropout, res_dropout=res_dropout, embed_dropout=embed_dropout,
                       out_dropout=out_dropout)
        self.branch = branch
        self.embed_dropout = embed_dropout
        self.projections = nn.ModuleDict(
            {name: temporal_projection(dims[name], d_model, conv_kernel) for name in _INPUTS})
        self.body = CrossModalBody(
            pairs=BRANCH_PAIRS[branch], lengths={_INPUTS[k]: lengths[k] for k in _INPUTS}, use_mem=True,
            d_model=d_model, heads=heads, layers=layers, attn_mask=attn_mask, attn_dropout=attn_dropout,
            attn_dropout_a=attn_dropout_a, attn_dropout_v=attn_dropout_v, relu_dropout=relu_dropout,
            res_dropout=res_dropout, embed_dropout=embed_dropout)
        self.head = ResidualHead(self.body.out_dim, n_out, out_dropout)


    def forward(
        self,
        text: torch.Tensor,
        audio: torch.Tensor,
        vision: torch.Tensor,
        *,
        maps_for: frozenset[str] = frozenset(),
        post_attention_for: frozenset[str] = frozenset(),
    ) -> ModelOutput:
        """Forward pass on (B, T, D) features of each modality.

        Args:
            text, audio, vision: (B, T_l, D_l), (B, T_a, D_a), (B, T_v, D_v).
            maps_for: pairs whose per-layer pre-softmax scores to return (others run fused SDPA).
            post_attention_for: pairs whose per-layer attention outputs to return.
        """
        text = F.dropout(text, self.embed_dropout, self.training)  # MulT's text input dropout
        streams = {
            _INPUTS[name]: self.projections[name](x.transpose(1, 2)).transpose(1, 2)
            for name, x in (("text", text), ("audio", audio), ("vision", vision))
        }
        pooled, scores, masks, post = self.body(streams, maps_for=maps_for, post_attention_for=post_attention_for)
        penultimate, logits = self.head(pooled)
        return ModelOutput(logits=logits, features={"penultimate": penultimate, "final": logits},
                           attn_scores=scores, attn_mask=masks, post_attention=post)

