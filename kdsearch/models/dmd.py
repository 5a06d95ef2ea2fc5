"""DMD: Decoupled Multimodal Distilling. Li, Wang, Cui, "Decoupled Multimodal Distilling for
Emotion Recognition", CVPR 2023 (paper 003), https://arxiv.org/abs/2303.13802.

The network, from the facts in docs/methods.md §6.1 (the losses and GD-Units live in `kdsearch.dmd`
and `kdsearch.train.dmd_objective`):

1. decoupling (`Decoupling`): shallow temporal convs to width d, X^com by the shared encoder,
   X^prt by private encoders, decoders for the reconstruction and cycle losses;
2. homogeneous side: per modality a T'·d-wide bottleneck head on flattened X^com (logits + repr
   for HomoGD), a Linear(T'·d -> d) projection for the margin loss, and a self-attention encoder
   per modality whose last steps are concatenated (3d) for the fusion (this common branch and its
   own head are in the code, not the paper; its head only feeds the code's 8-term task loss);
3. heterogeneous side: MulT's six cross-modal encoders and three mem encoders on X^prt (the
   shared `CrossModalBody`, pairs named as in paper 000: "V<-A" = queries from A, keys from V),
   a residual head per modality (logits + repr for HeteroGD);
4. adaptive fusion of the three reinforced Z_{->m}^prt and the pooled common features.

`forward` returns the shared `ModelOutput` contract, so a trained DMD can be the frozen teacher of
a video-only student (its cross-modal maps, by pair name, when `maps_for` asks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kdsearch.models.crossmodal import MODALITIES, CrossModalBody, HasCrossModalBody
from kdsearch.models.dmd_encoders import BottleneckHead, DecoupledFeatures, Decoupling, STREAMS, projected_length
from kdsearch.models.dmd_fusion import AdaptiveFusion
from kdsearch.models.encoder import TransformerEncoder
from kdsearch.models.head import ResidualHead
from kdsearch.models.mult_teacher import BRANCH_PAIRS
from kdsearch.models.options import InvalidOption, check_dropouts, check_flags, check_sizes
from kdsearch.models.output import ModelOutput


@dataclass
class DMDOutput:
    """Everything one DMD forward pass produces; dicts are keyed by stream letter "L", "A", "V".

    Attributes:
        logits: (B, n_out) fused prediction (DMD's output_logit).
        penultimate: (B, 9d) input of the fusion head's last linear layer.
        decoupled: origin / com / prt (B, T', d) features.
        margin_features: (B, d) projections of flattened X^com, compared by the margin loss.
        homo_logits, homo_repr: HomoGD nodes: (B, n_out) and (B, d).
        hetero_logits, hetero_repr: HeteroGD nodes: (B, n_out) and (B, 2d).
        common_logits: (B, n_out) logits of the common branch (the code's 8th task term).
        recon, cycle: D_m([com, prt]) and E_m^prt of it, (B, T', d); empty unless asked.
        attn_scores, attn_mask, post_attention: as in `ModelOutput`, for the hetero body's pairs.
    """

    logits: torch.Tensor
    penultimate: torch.Tensor
    decoupled: DecoupledFeatures
    margin_features: dict[str, torch.Tensor]
    homo_logits: dict[str, torch.Tensor]
    homo_repr: dict[str, torch.Tensor]
    hetero_logits: dict[str, torch.Tensor]
    hetero_repr: dict[str, torch.Tensor]
    common_logits: torch.Tensor
    recon: dict[str, torch.Tensor]
    cycle: dict[str, torch.Tensor]
    attn_scores: dict[str, list[torch.Tensor]]
    attn_mask: dict[str, torch.Tensor | None]
    post_attention: dict[str, list[torch.Tensor]]

    def model_output(self) -> ModelOutput:
        """The shared contract: fused logits, penultimate/final features, maps by pair name."""
        return ModelOutput(logits=self.logits, features={"penultimate": self.penultimate, "final": self.logits},
                           attn_scores=self.attn_scores, attn_mask=self.attn_mask, post_attention=self.post_attention)


class DMD(HasCrossModalBody):
    """The DMD network (paper 003), defaults from the code's MOSEI config (docs/methods.md §6.2).

    Args:
        dims: input width per modality, keys "text", "audio", "vision".
        lengths: sequence length per modality, same keys.
        n_out: output units (1 for regression, 7 for classification).
        d_model, heads, layers: width d, heads and cross-modal depth (mem: max(layers, 3)).
        conv_kernel_text, conv_kernel_audio, conv_kernel_vision: shallow conv kernels.
        conv_padding: "same" (paper: lengths preserved) or "valid" (code: T' = T - k + 1).
        fusion: "paper" (gated features) or "code" (gates replace features), see `AdaptiveFusion`.
        attn_mask: MulT's attention mask rule in every encoder.
        attn_dropout, attn_dropout_a, attn_dropout_v, relu_dropout, res_dropout, embed_dropout:
            MulT's encoder dropouts (by key modality, as in `CrossModalBody`); the common
            branch's self-attention on L, A, V uses attn_dropout, _a, _v respectively (DMD's code).
        text_dropout: dropout on the raw text features.
        output_dropout: dropout inside every head.
    """

    def __init__(
        self,
        *,
        dims: dict[str, int],
        lengths: dict[str, int],
        n_out: int,
        d_model: int = 30,
        heads: int = 6,
        layers: int = 4,
        conv_kernel_text: int = 5,
        conv_kernel_audio: int = 1,
        conv_kernel_vision: int = 3,
        conv_padding: str = "same",
        fusion: str = "paper",
        attn_mask: bool = True,
        attn_dropout: float = 0.4,
        attn_dropout_a: float = 0.0,
        attn_dropout_v: float = 0.0,
        relu_dropout: float = 0.0,
        res_dropout: float = 0.0,
        embed_dropout: float = 0.0,
        text_dropout: float = 0.3,
        output_dropout: float = 0.5,
    ):
        super().__init__()
        self.d_model, self.n_out = d_model, n_out
        kernels = {"text": conv_kernel_text, "audio": conv_kernel_audio, "vision": conv_kernel_vision}
        check_sizes(d_model=d_model, heads=heads, layers=layers, n_out=n_out,
                    **{f"conv_kernel_{key}": k for key, k in kernels.items()})
        check_flags(attn_mask=attn_mask)
        check_dropouts(attn_dropout=attn_dropout, attn_dropout_a=attn_dropout_a, attn_dropout_v=attn_dropout_v,
                       relu_dropout=relu_dropout, res_dropout=res_dropout, embed_dropout=embed_dropout,
                       text_dropout=text_dropout, output_dropout=output_dropout)
        self.decoupling = Decoupling(dims=dims, d_model=d_model, kernels=kernels, padding=conv_padding)
        self.lengths = {STREAMS[key]: projected_length(lengths[key], kernels[key], conv_padding) for key in STREAMS}
        for key in STREAMS:
            if self.lengths[STREAMS[key]] < 1:
                raise InvalidOption(f"conv_kernel_{key}", f"kernel {kernels[key]} is longer than the {key} "
                                                          f"sequence ({lengths[key]} steps) with 'valid' padding")
        self.text_dropout = text_dropout
        encoder_dropouts = dict(attn_mask=attn_mask, relu_dropout=relu_dropout, res_dropout=res_dropout,
                                embed_dropout=embed_dropout)
        width = {m: t * d_model for m, t in self.lengths.items()}  # flattened X^com
        self.margin_projections = nn.ModuleDict({m: nn.Linear(width[m], d_model) for m in MODALITIES})
        self.homo_heads = nn.ModuleDict(
            {m: BottleneckHead(width[m], d_model, n_out, output_dropout) for m in MODALITIES})
        # DMD's code builds each common self-attention encoder with its modality's attention
        # dropout (get_network(self_type='l'/'a'/'v')): attn_dropout for L, _a for A, _v for V.
        common_dropout = {"L": attn_dropout, "A": attn_dropout_a, "V": attn_dropout_v}
        self.common_encoders = nn.ModuleDict({
            m: TransformerEncoder(d_model=d_model, heads=heads, layers=layers, t_q=self.lengths[m],
                                  attn_dropout=common_dropout[m], **encoder_dropouts) for m in MODALITIES})
        self.common_head = ResidualHead(3 * d_model, n_out, output_dropout)
        self.body = CrossModalBody(
            pairs=BRANCH_PAIRS["complete"], lengths=self.lengths, use_mem=True, d_model=d_model, heads=heads,
            layers=layers, attn_dropout=attn_dropout, attn_dropout_a=attn_dropout_a, attn_dropout_v=attn_dropout_v,
            **encoder_dropouts)
        self.hetero_heads = nn.ModuleDict({m: ResidualHead(2 * d_model, n_out, output_dropout) for m in MODALITIES})
        self.fusion = AdaptiveFusion(streams=MODALITIES, hetero_dim=2 * d_model, common_dim=3 * d_model,
                                     n_out=n_out, dropout=output_dropout, mode=fusion)


    def forward_all(
        self,
        text: torch.Tensor,
        audio: torch.Tensor,
        vision: torch.Tensor,
        *,
        reconstruct: bool = True,
        maps_for: frozenset[str] = frozenset(),
        post_attention_for: frozenset[str] = frozenset(),
    ) -> DMDOutput:
        """Full forward pass on (B, T, D) features, with every intermediate the losses need.

        Args:
            text, audio, vision: (B, T_l, D_l), (B, T_a, D_a), (B, T_v, D_v).
            reconstruct: also run the decoders (L_rec, L_cyc); prediction alone does not need them.
            maps_for: hetero pairs whose per-layer pre-softmax scores to return.
            post_attention_for: hetero pairs whose per-layer attention outputs to return.
        """
        text = F.dropout(text, self.text_dropout, self.training)
        decoupled = self.decoupling({"text": text, "audio": audio, "vision": vision})
        flat = {m: x.flatten(1) for m, x in decoupled.com.items()}  # time-major (B, T'·d)
        homo = {m: self.homo_heads[m](flat[m]) for m in MODALITIES}
        common = torch.cat([self.common_encoders[m](decoupled.com[m]).sequence[:, -1] for m in MODALITIES], dim=-1)
        _, common_logits = self.common_head(common)
        pooled, scores, masks, post = self.body(decoupled.prt, maps_for=maps_for,
                                                post_attention_for=post_attention_for)
        # The body concatenates its mem outputs in MODALITIES order, 2d each: Z_{->L}, Z_{->A}, Z_{->V}.
        last = dict(zip(MODALITIES, pooled.chunk(len(MODALITIES), dim=-1)))
        hetero = {m: self.hetero_heads[m](last[m]) for m in MODALITIES}
        penultimate, logits = self.fusion(last, common)
        recon, cycle = self.decoupling.reconstruct(decoupled) if reconstruct else ({}, {})
        return DMDOutput(
            logits=logits, penultimate=penultimate, decoupled=decoupled,
            margin_features={m: self.margin_projections[m](flat[m]) for m in MODALITIES},
            homo_logits={m: out[1] for m, out in homo.items()}, homo_repr={m: out[0] for m, out in homo.items()},
            hetero_logits={m: out[1] for m, out in hetero.items()},
            hetero_repr={m: out[0] for m, out in hetero.items()},
            common_logits=common_logits, recon=recon, cycle=cycle,
            attn_scores=scores, attn_mask=masks, post_attention=post)

    def forward(
        self,
        text: torch.Tensor,
        audio: torch.Tensor,
        vision: torch.Tensor,
        *,
        maps_for: frozenset[str] = frozenset(),
        post_attention_for: frozenset[str] = frozenset(),
    ) -> ModelOutput:
        """The `ModelOutput` contract (as `MulTTeacher.forward`), e.g. when DMD is a frozen teacher."""
        return self.forward_all(text, audio, vision, reconstruct=False, maps_for=maps_for,
                                post_attention_for=post_attention_for).model_output()
