"""EDAM-T↑: learned linear resizing of the teacher's attention maps to the student's size.

Paper 000 §4.3: when the student does not downsample its proxy streams, "the teacher's attention
maps are upsampled to the student's map size with linear layers". The paper leaves open which
axis, whether rows are renormalised and whether the layers train (docs/methods.md §4.2). Our choices:

  * Axes: one Linear per axis whose length differs (rows T_q, columns T_k), acting along that
    axis; an axis of equal length is left alone.
  * What is resized: the teacher's row-wise *log*-probabilities (masked keys at log 1e-8), and
    the result is renormalised by a log-softmax over the student's allowed keys. Resizing
    log-probabilities keeps every row a valid distribution without clipping negative values,
    and is a geometric interpolation of the probabilities.
  * Initialisation: each Linear starts as linear interpolation (align_corners), so from step one
    the target is the interpolated teacher map, not noise.
  * Training: the layers are parameters of the loss, so they train with the student (the
    objective hands them to the optimiser). Caveat: they are trained by the KD loss alone, which
    can also be lowered by moving the target toward the student; `trainable=False` keeps the
    fixed interpolation instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def interpolation_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) matrix of 1-D linear interpolation with aligned end points."""
    if n_in == 1:
        return torch.ones(n_out, 1)
    basis = torch.eye(n_in).unsqueeze(0)  # (1, n_in channels, n_in positions)
    resized = F.interpolate(basis, size=n_out, mode="linear", align_corners=n_out > 1)
    return resized[0].T.contiguous()


def _axis_linear(n_in: int, n_out: int, trainable: bool) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.copy_(interpolation_matrix(n_in, n_out))
        layer.bias.zero_()
    layer.requires_grad_(trainable)
    return layer


class MapResizer(nn.Module):
    """Resize (..., T_q, T_k) teacher log-maps to (..., S_q, S_k) with one Linear per changed axis.

    Args:
        teacher_shape: (T_q, T_k) of the teacher's maps.
        student_shape: (S_q, S_k) of the student's maps.
        trainable: whether the Linear layers receive gradients.
    """

    def __init__(self, teacher_shape: tuple[int, int], student_shape: tuple[int, int], trainable: bool = True):
        super().__init__()
        (t_q, t_k), (s_q, s_k) = teacher_shape, student_shape
        self.teacher_shape, self.student_shape = (t_q, t_k), (s_q, s_k)
        self.rows = _axis_linear(t_q, s_q, trainable) if t_q != s_q else None
        self.cols = _axis_linear(t_k, s_k, trainable) if t_k != s_k else None

    def forward(self, log_maps: torch.Tensor) -> torch.Tensor:
        """Resized (not yet renormalised) log-maps."""
        if tuple(log_maps.shape[-2:]) != self.teacher_shape:
            raise ValueError(f"EDAM-T↑: teacher map is {tuple(log_maps.shape[-2:])}, this resizer was built for "
                             f"{self.teacher_shape}")
        x = log_maps
        if self.cols is not None:
            x = self.cols(x)
        if self.rows is not None:
            x = self.rows(x.transpose(-1, -2)).transpose(-1, -2)
        return x


def resized_teacher_log_maps(resizer: MapResizer, log_t: torch.Tensor, allowed_t: torch.Tensor,
                             allowed_s: torch.Tensor, log_floor: float) -> torch.Tensor:
    """The teacher's row log-probabilities at the student's map size, 0 where the student masks.

    Args:
        resizer: the pair-and-layer's `MapResizer`.
        log_t: teacher log-probabilities (0 where masked), (B, [H,] T_q, T_k).
        allowed_t: where the teacher's keys are allowed.
        allowed_s: where the student's keys are allowed, (B, [H,] S_q, S_k).
        log_floor: log-probability given to the teacher's masked keys before resizing.
    """
    resized = resizer(torch.where(allowed_t, log_t, log_floor))
    resized = torch.log_softmax(resized.masked_fill(~allowed_s, float("-inf")), dim=-1)
    return torch.where(allowed_s, resized, 0.0)
