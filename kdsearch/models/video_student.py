"""Video-only students of paper 000 (docs/methods.md §3).

The video features are projected three times, each by its own Conv1d: V_S (video), A_S (audio
proxy) and L_S (language proxy). The five configurations of paper 000 are rows of a table below,
not branches in code: each row lists the transformers and whether MulT's mem stage follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from kdsearch.models.crossmodal import CrossModalBody, HasCrossModalBody
from kdsearch.models.head import ResidualHead
from kdsearch.models.mult_teacher import BRANCH_PAIRS, temporal_projection
from kdsearch.models.options import InvalidOption, check_choice, check_dropouts, check_flags, check_sizes
from kdsearch.models.output import ModelOutput


@dataclass(frozen=True)
class StudentLayout:
    """One student configuration: its transformers (concat order) and whether mem follows."""

    pairs: tuple[str, ...]
    use_mem: bool


STUDENT_CONFIGS: dict[int, StudentLayout] = {
    1: StudentLayout(BRANCH_PAIRS["complete"], use_mem=True),  # mirrors the complete teacher
    2: StudentLayout(("V<-V", "A<-V", "L<-V"), use_mem=False),  # queries from V_S
    3: StudentLayout(("V<-V", "V<-L", "A<-L"), use_mem=False),  # queries from L_S
    4: StudentLayout(("V<-V", "V<-A", "L<-A"), use_mem=False),  # queries from A_S
    5: StudentLayout(("V<-V", "V<-L", "V<-A"), use_mem=False),  # paper 000's best
}

# Paper 000's default student pair -> teacher pair per configuration (docs/methods.md §3.1).
DISTILLED_PAIRS: dict[int, dict[str, str]] = {
    1: {name: name for name in BRANCH_PAIRS["complete"] + ("mem_L", "mem_A", "mem_V")},
    2: {"A<-V": "A<-V", "L<-V": "L<-V"},
    3: {"V<-L": "V<-L", "A<-L": "A<-L"},
    4: {"V<-A": "V<-A", "L<-A": "L<-A"},
    5: {"V<-A": "V<-A", "V<-L": "V<-L"},
}
TEACHER_BRANCH_FOR_CONFIG: dict[int, str] = {1: "complete", 2: "video", 3: "language", 4: "audio", 5: "complete"}

ALIGNS = ("student_down", "none")
DOWNSAMPLES = ("valid_conv", "pool")


def proxy_projection(in_dim: int, d_model: int, *, t_in: int, t_out: int, kernel: int, downsample: str) -> nn.Module:
    """Conv1d from video (length t_in) to a proxy stream of length t_out.

    Equal lengths: a plain kernel-`kernel` 'same' conv. Shorter target, "valid_conv": one stride-1
    conv with kernel t_in - t_out + 1 and no padding; paper 000 says it downsamples "with
    different sized kernels", and a 451-tap conv (500 -> 50) is what brings a MulT-sized student to
    its reported 0.675M parameters (docs/methods.md §3.3). "pool": adaptive average pooling to t_out then
    a kernel-`kernel` conv, for far fewer parameters.
    """
    if t_out == t_in:
        return temporal_projection(in_dim, d_model, kernel)
    if downsample == "pool":
        return nn.Sequential(nn.AdaptiveAvgPool1d(t_out), temporal_projection(in_dim, d_model, kernel))
    if t_out > t_in:
        raise InvalidOption("downsample", f"'valid_conv' cannot lengthen video {t_in} -> {t_out}; use 'pool'")
    return nn.Conv1d(in_dim, d_model, t_in - t_out + 1, bias=False)


class VideoStudent(HasCrossModalBody):
    """Video-only student (paper 000), one of five configurations.

    Args:
        vision_dim: video feature width.
        lengths: the teacher's sequence lengths, keys "text", "audio", "vision".
        n_out: output units (7 classes, or 1).
        config: 1..5 (`STUDENT_CONFIGS`); 5 is paper 000's best.
        align: "student_down" (EDAM-S↓: A_S and L_S are downsampled to the teacher's audio and
            language lengths, so maps match the teacher's) or "none" (every proxy keeps length T_v).
        downsample: "valid_conv" or "pool", see `proxy_projection`.
        d_model, heads, layers, conv_kernel, attn_mask: as the teacher.
        attn_dropout, attn_dropout_a, attn_dropout_v, relu_dropout, res_dropout, embed_dropout,
            out_dropout: as the teacher (A_S/V_S/L_S keys take the _a/_v/plain attention dropout).
    """

    def __init__(
        self,
        *,
        vision_dim: int,
        lengths: dict[str, int],
        n_out: int,
        config: int = 5,
        align: str = "student_down",
        downsample: str = "valid_conv",
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
        check_choice("config", config, STUDENT_CONFIGS)
        check_choice("align", align, ALIGNS)
        check_choice("downsample", downsample, DOWNSAMPLES)
        check_sizes(vision_dim=vision_dim, d_model=d_model, heads=heads, layers=layers, conv_kernel=conv_kernel,
                    n_out=n_out)
        check_flags(attn_mask=attn_mask)
        check_dropouts(attn_dropout=attn_dropout, attn_dropout_a=attn_dropout_a, attn_dropout_v=attn_dropout_v,
                       relu_dropout=relu_dropout, res_dropout=res_dropout, embed_dropout=embed_dropout,
                       out_dropout=out_dropout)
        self.config = config
        t_v = lengths["vision"]
        targets = {"V": t_v, "A": lengths["audio"], "L": lengths["text"]}
        if align == "none":
            targets = {letter: t_v for letter in targets}
        self.projections = nn.ModuleDict({
            letter: proxy_projection(vision_dim, d_model, t_in=t_v, t_out=t_out, kernel=conv_kernel,
                                     downsample=downsample)
            for letter, t_out in targets.items()})
        layout = STUDENT_CONFIGS[config]
        self.body = CrossModalBody(
            pairs=layout.pairs, lengths=targets, use_mem=layout.use_mem, d_model=d_model, heads=heads,
            layers=layers, attn_mask=attn_mask, attn_dropout=attn_dropout, attn_dropout_a=attn_dropout_a,
            attn_dropout_v=attn_dropout_v, relu_dropout=relu_dropout, res_dropout=res_dropout,
            embed_dropout=embed_dropout)
        self.head = ResidualHead(self.body.out_dim, n_out, out_dropout)


    def forward(
        self,
        vision: torch.Tensor,
        *,
        maps_for: frozenset[str] = frozenset(),
        post_attention_for: frozenset[str] = frozenset(),
    ) -> ModelOutput:
        """Forward pass on video features (B, T_v, D_v).

        Args:
            vision: video features.
            maps_for: pairs whose per-layer pre-softmax scores to return.
            post_attention_for: pairs whose per-layer attention outputs to return.
        """
        channels_first = vision.transpose(1, 2)
        streams = {letter: proj(channels_first).transpose(1, 2) for letter, proj in self.projections.items()}
        pooled, scores, masks, post = self.body(streams, maps_for=maps_for, post_attention_for=post_attention_for)
        penultimate, logits = self.head(pooled)
        return ModelOutput(logits=logits, features={"penultimate": penultimate, "final": logits},
                           attn_scores=scores, attn_mask=masks, post_attention=post)
