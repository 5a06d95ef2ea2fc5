"""EDAM: Entropy Distillation in Attention Maps. Agarwal, Agrawal, Ferrari, Bremond, "From
Multimodal to Unimodal Attention in Transformers using Knowledge Distillation" (paper 000, §4.3).

For each distilled pair (student pair -> teacher pair) and layer, both maps are
A = softmax(scores / t) row by row (scores = q·k/sqrt(d_k), masked keys -inf), and each row pair
(a from one model, b from the other) costs F(a, b) = -sum_k a_k log b_k. The loss is the mean over
batch, rows (and heads), layers and pairs.

Direction:
  * "teacher_to_student" (default): F(teacher row, student row) = -sum_k t_k log s_k, the usual
    cross-entropy with the teacher as target. Minimised (at entropy(t)) when s == t.
  * "paper": F(student row, teacher row) = -sum_k s_k log t_k, as eq. 13 is written. With a frozen
    teacher it is linear in the student's probabilities, so it is minimised by putting all the
    student's mass on the teacher's row argmax, not by copying the teacher's map. We default to the
    usual direction because it transfers the whole map; "paper" is kept to reproduce the text.

Map sizes (``align``):
  * "student_down" (EDAM-S↓, default): the student's proxy streams already have the teacher's
    lengths (`student.align: student_down`), so maps are compared as they are; sizes must match.
  * "teacher_up" (EDAM-T↑): the student keeps every proxy at the video length
    (`student.align: none`) and the teacher's maps are resized to the student's by linear
    layers, one `MapResizer` per (pair, student layer); see `kdsearch.distill.align`. By default
    the layers stay the linear interpolation they start as (`upsample_trainable: false`), so the
    student receives the teacher's maps, not a reshaped target; `upsample_trainable: true`
    trains them, with the safeguard described in `kdsearch.distill.align`.

Masked keys have probability exactly 0 (MulT's mask). Their log-probabilities (-inf) are replaced by
0 with torch.where *before* any product, so neither the value nor its gradient meets 0 * -inf.
The student's log-probabilities are log_softmax outputs used as they are: a floor would cut the
gradient of exactly the keys where the student is most wrong. Only the teacher's log-probabilities
(the weights of direction "paper", constants) are floored at log(1e-8), so a single near-zero
teacher probability cannot dominate that direction.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from kdsearch.distill.align import MapResizer, reconstruction_loss, resized_teacher_log_maps
from kdsearch.distill.base import KDLoss
from kdsearch.distill.registry import register_loss
from kdsearch.errors import short
from kdsearch.models.options import InvalidOption, check_choice, check_flags, check_positive
from kdsearch.models.output import ModelOutput

DIRECTIONS = ("teacher_to_student", "paper")
HEAD_MODES = ("average", "per_head")
ALIGNS = ("student_down", "teacher_up")
LOG_FLOOR = math.log(1e-8)


def log_attention_maps(scores: torch.Tensor, temperature: float, heads: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-wise log-probabilities of softmax(scores / temperature) and where keys are allowed.

    Args:
        scores: (B, H, T_q, T_k) pre-softmax scores, -inf where masked.
        temperature: EDAM's t.
        heads: "per_head" keeps the H maps; "average" returns log of the head-averaged map
            (MulT's maps are head averages), computed as logsumexp over heads - log H.

    Returns:
        (log-probs, allowed) of shape (B, H, T_q, T_k) or (B, T_q, T_k); log-probs are 0 where masked.
    """
    z = scores.float()
    # x / 1 is x, bit for bit: skip a pass over the map and its backward. A packed run
    # (kdsearch.train.packing) passes a tensor of temperatures under vmap: always divided.
    if not (isinstance(temperature, (int, float)) and temperature == 1.0):
        z = z / temperature
    allowed = _finite(z)
    log_p = torch.where(allowed, torch.log_softmax(z, dim=-1), 0.0)
    if heads == "average":
        # Masked entries are 0 in every head, so the logsumexp there is log H - log H = 0: finite.
        log_p = torch.logsumexp(log_p, dim=1) - math.log(z.shape[1])
        allowed = _all_heads(allowed)
    return log_p, allowed


def _finite(z: torch.Tensor) -> torch.Tensor:
    """torch.isfinite(z), in two passes instead of its four (|NaN| < inf is False, as is
    |±inf| < inf); detached, so autograd records nothing for a mask. These maps are the largest
    tensors of a distillation step: `kdsearch bench` times it (README "Speed")."""
    return z.detach().abs() < math.inf


def _all_heads(allowed: torch.Tensor) -> torch.Tensor:
    """allowed.all(dim=1) for a (B, H, T_q, T_k) bool mask, as H - 1 elementwise ANDs: a
    reduction over the strided head axis of a bool tensor is ten times slower on a CPU."""
    heads = allowed.unbind(1)
    out = heads[0]
    for head in heads[1:]:
        out = out & head
    return out


@register_loss("edam")
class EDAMLoss(KDLoss):
    """EDAM on attention maps (paper 000).

    Args:
        pairs: student pair -> teacher pair to distil (e.g. `DISTILLED_PAIRS[5]`). Map sizes must
            match (the student's "student_down" alignment makes them match).
        temperature: t > 0 in softmax(q·k / (sqrt(d_k) t)).
        direction: "teacher_to_student" (default) or "paper"; see the module docstring.
        heads: "average" (compare head-averaged maps) or "per_head" (needs equal head counts).
        align: "student_down" (EDAM-S↓, maps must match) or "teacher_up" (EDAM-T↑, the teacher's
            maps are resized to the student's by linear layers).
        upsample_trainable: with "teacher_up", False (default) keeps the resizing layers at the
            fixed linear interpolation; True trains them on reconstructing the teacher's own map,
            never on the KD loss (`kdsearch.distill.align`: trained by the KD loss alone they
            collapse the target onto the student).

    Layers: with L_s student and L_t teacher layers, student layer i is paired with teacher layer
    floor(i * L_t / L_s) (the identity when the counts match; spread evenly otherwise).
    """

    levels = frozenset({"attention_maps"})

    def __init__(self, pairs: dict[str, str], temperature: float = 1.0, direction: str = "teacher_to_student",
                 heads: str = "average", align: str = "student_down", upsample_trainable: bool = False):
        super().__init__()
        if not isinstance(pairs, dict) or not pairs or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()):
            raise InvalidOption("pairs", f"must be a non-empty mapping student pair -> teacher pair, got {short(pairs)}")
        check_positive("temperature", temperature)
        check_choice("direction", direction, DIRECTIONS)
        check_choice("heads", heads, HEAD_MODES)
        check_choice("align", align, ALIGNS)
        check_flags(upsample_trainable=upsample_trainable)
        self.pairs = dict(pairs)
        self.align = align
        self.upsample_trainable = upsample_trainable
        self.resizers = nn.ModuleDict()  # "pair|layer" -> MapResizer (teacher_up only)
        self.temperature = float(temperature)
        self.direction = direction
        self.heads = heads

    def student_maps(self) -> frozenset[str]:
        return frozenset(self.pairs)

    def teacher_maps(self) -> frozenset[str]:
        return frozenset(self.pairs.values())

    def bind(self, *, student: nn.Module | None = None, teacher: nn.Module | None = None,
             n_train: int | None = None, labels: torch.Tensor | None = None, task: str | None = None) -> None:
        """Check the pairs against the models and build the EDAM-T↑ resizers before training.

        Raises:
            InvalidOption: a pair is missing, "per_head" with unequal head counts, map sizes that
                differ under "student_down", or "teacher_up" where no map needs resizing.
        """
        if student is None or teacher is None:
            return
        needs_resize = False
        for s_pair, t_pair in self.pairs.items():
            s_enc, t_enc = _encoder(student, s_pair, "student"), _encoder(teacher, t_pair, "teacher")
            if self.heads == "per_head" and s_enc.heads != t_enc.heads:
                raise InvalidOption("heads", f"'per_head' needs equal head counts: student {s_pair} has "
                                             f"{s_enc.heads}, teacher {t_pair} has {t_enc.heads}; use 'average'")
            s_shape, t_shape = tuple(student.map_shape(s_pair)), tuple(teacher.map_shape(t_pair))
            needs_resize |= s_shape != t_shape
            if self.align == "student_down" and s_shape != t_shape:
                raise InvalidOption("pairs", f"map sizes differ: student {s_pair} is {s_shape[0]}x{s_shape[1]}, "
                                             f"teacher {t_pair} is {t_shape[0]}x{t_shape[1]} (use student.align: "
                                             f"student_down, or distill.align: teacher_up)")
            if self.align == "teacher_up":
                for i in range(len(s_enc.layers)):
                    self._resizer(s_pair, i, t_shape, s_shape)
        if self.align == "teacher_up" and not needs_resize:
            raise InvalidOption("align", "'teacher_up' resizes the teacher's maps to the student's, but every "
                                         "distilled map already has the teacher's size; set student.align: none "
                                         "(EDAM-T↑) or use distill.align: student_down (EDAM-S↓)")

    def _resizer(self, s_pair: str, layer: int, t_shape, s_shape, device=None) -> MapResizer:
        key = f"{s_pair}|{layer}"
        if key not in self.resizers:
            if device is not None:
                warnings.warn(f"EDAM-T↑ resizer {short(key)} built at its first forward: bind() the loss before "
                              f"building the optimiser, or it is not trained", stacklevel=4)
            resizer = MapResizer(tuple(t_shape), tuple(s_shape), trainable=self.upsample_trainable)
            self.resizers[key] = resizer if device is None else resizer.to(device)
        return self.resizers[key]

    def forward(self, student_out: ModelOutput, teacher_out: ModelOutput, batch: dict) -> torch.Tensor:
        per_pair = []
        for s_pair, t_pair in self.pairs.items():
            s_layers = _layers(student_out, s_pair, "student")
            t_layers = _layers(teacher_out, t_pair, "teacher")
            per_layer = [
                self._layer_loss(s_scores, t_layers[i * len(t_layers) // len(s_layers)].detach(), s_pair, t_pair, i)
                for i, s_scores in enumerate(s_layers)]
            per_pair.append(torch.stack(per_layer).mean())
        return torch.stack(per_pair).mean()

    def _layer_loss(self, s_scores, t_scores, s_pair, t_pair, layer) -> torch.Tensor:
        resize = self.align == "teacher_up" and s_scores.shape[-2:] != t_scores.shape[-2:]
        if s_scores.shape[0] != t_scores.shape[0] or (s_scores.shape[-2:] != t_scores.shape[-2:] and not resize):
            raise ValueError(
                f"EDAM: student map {short(s_pair)} has (B, T_q, T_k) = {_size(s_scores)} but teacher map {short(t_pair)} has "
                f"{_size(t_scores)}; sizes must match (use the student's align='student_down', or this loss's "
                f"align='teacher_up')")
        if self.heads == "per_head" and s_scores.shape[1] != t_scores.shape[1]:
            raise InvalidOption("heads", f"'per_head' needs equal head counts: student {short(s_pair)} has "
                                         f"{s_scores.shape[1]}, teacher {short(t_pair)} has {t_scores.shape[1]}")
        log_s, allowed_s = log_attention_maps(s_scores, self.temperature, self.heads)
        log_t, allowed_t = log_attention_maps(t_scores, self.temperature, self.heads)
        reconstruction = None
        if resize:
            resizer = self._resizer(s_pair, layer, t_scores.shape[-2:], s_scores.shape[-2:], device=s_scores.device)
            resized = resized_teacher_log_maps(resizer, log_t, allowed_t, allowed_s, LOG_FLOOR)
            if self.upsample_trainable:
                reconstruction = reconstruction_loss(resized, log_t, allowed_s, allowed_t, LOG_FLOOR)
                resized = resized.detach()  # the KD term must not reshape its own target
            log_t, allowed_t = resized, allowed_s
        allowed = allowed_s & allowed_t
        if self.direction == "teacher_to_student":
            weights, log_probs = log_t, log_s  # log_s straight from log_softmax: no floor, full gradient
        else:
            weights, log_probs = log_s, log_t.clamp_min(LOG_FLOOR)  # a constant: flooring cuts no gradient
        weights = torch.where(allowed, weights.exp(), 0.0)
        log_probs = torch.where(allowed, log_probs, 0.0)
        loss = -(weights * log_probs).sum(dim=-1).mean()
        if reconstruction is not None:
            # Adds the reconstruction's gradient (it reaches the resizer only) and nothing to the
            # value, so the reported KD loss stays the EDAM loss.
            loss = loss + (reconstruction - reconstruction.detach())
        return loss


def _layers(out: ModelOutput, pair: str, who: str) -> list[torch.Tensor]:
    layers = out.attn_scores.get(pair)
    if not layers:
        raise KeyError(f"EDAM: the {who} output has no attention scores for {short(pair)} "
                       f"(has {sorted(out.attn_scores)}); run the {who} with maps_for including it")
    return layers


def _encoder(model: nn.Module, pair: str, who: str) -> nn.Module:
    if pair not in model.body.encoders:
        raise InvalidOption("pairs", f"the {who} has no transformer {short(pair)}; it has {', '.join(model.pair_names)}")
    return model.body.encoders[pair]


def _size(scores: torch.Tensor) -> tuple[int, int, int]:
    return scores.shape[0], scores.shape[-2], scores.shape[-1]
