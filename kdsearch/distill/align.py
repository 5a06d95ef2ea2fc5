"""EDAM-T↑: linear resizing of the teacher's attention maps to the student's size.

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
  * Training (EDAM's `upsample_trainable`): by default the layers stay the fixed interpolation,
    so what the student is taught is the teacher's map. The risk of training them on the KD loss,
    as "trained jointly" would read: the loss falls just as well by moving the *target* toward
    the student, and it does. With the student frozen and only the upsampler trained (150 Adam
    steps, tests/paper000/test_edam_teacher_up.py) the KD loss falls 27% while the target rows'
    entropy collapses from 2.27 to 0.92 nats (a longer run measured -38% and 1.93 -> 0.18): a
    near one-hot target that carries little of the teacher. The safeguard when they do train:
    the KD term sees the resized map detached, and the layers learn only from
    `reconstruction_loss`, how well the teacher's own map is recovered from the resized one by
    the fixed interpolation back; a collapsed or reshaped target recovers the teacher badly.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn


@lru_cache(maxsize=64)
def _cached_interpolation(n_in: int, n_out: int) -> torch.Tensor:
    return interpolation_matrix(n_in, n_out)


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


def reconstruction_loss(resized: torch.Tensor, log_t: torch.Tensor, allowed_s: torch.Tensor,
                        allowed_t: torch.Tensor, log_floor: float) -> torch.Tensor:
    """KL(teacher row || the row recovered from the resized map), mean over rows: what trains a
    trainable resizer (its only gradient; the module docstring says why).

    The resized log-map goes back to the teacher's size through the fixed linear interpolation of
    each resized axis and is renormalised over the teacher's allowed keys.

    Args:
        resized: the teacher's map at the student's size, `resized_teacher_log_maps` output.
        log_t: the teacher's own row log-probabilities (0 where masked).
        allowed_s, allowed_t: where the student's / the teacher's keys are allowed.
        log_floor: log-probability given to keys the student masks before resizing back.
    """
    (s_q, s_k), (t_q, t_k) = resized.shape[-2:], log_t.shape[-2:]
    x = torch.where(allowed_s, resized, log_floor)
    if s_k != t_k:
        x = x @ _cached_interpolation(s_k, t_k).to(x).T
    if s_q != t_q:
        x = _cached_interpolation(s_q, t_q).to(x) @ x
    recovered = torch.log_softmax(x.masked_fill(~allowed_t, float("-inf")), dim=-1)
    p_t = torch.where(allowed_t, log_t.exp(), 0.0)
    gap = torch.where(allowed_t, log_t - recovered, 0.0)
    return (p_t * gap).sum(dim=-1).mean()
