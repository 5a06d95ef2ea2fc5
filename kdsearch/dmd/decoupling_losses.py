"""DMD's reconstruction, cycle and orthogonality losses (paper 003 eq. 2, 3, 5; docs/methods.md §6.3).

All three take dicts keyed by stream letter with (B, T', d) tensors and sum over the modalities.
The paper writes squared Frobenius norms; the code takes the *mean* squared error, which keeps
the terms independent of B, T' and d, so λ1 means the same thing for every dataset: we follow
the code here (a scale, not a different loss).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdsearch.models.options import check_choice

ORTHOGONALITIES = ("paper", "code")
ORT_AXES = ("feature", "batch", "sample")


def reconstruction_loss(origin: dict[str, torch.Tensor], recon: dict[str, torch.Tensor]) -> torch.Tensor:
    """L_rec = sum_m MSE(D_m([com, prt]), X~_m) (eq. 2)."""
    return sum(F.mse_loss(recon[m], origin[m]) for m in origin)


def cycle_loss(prt: dict[str, torch.Tensor], cycle: dict[str, torch.Tensor]) -> torch.Tensor:
    """L_cyc = sum_m MSE(E_m^prt(D_m([com, prt])), X_m^prt) (eq. 3)."""
    return sum(F.mse_loss(cycle[m], prt[m]) for m in prt)


def _cosines(a: torch.Tensor, b: torch.Tensor, axis: str) -> torch.Tensor:
    if axis == "feature":  # one cosine per (b, t) over the d features: the community fix
        return F.cosine_similarity(a, b, dim=-1)
    if axis == "batch":  # one cosine per (t, channel) over the batch: what torch 1.9 ran
        return F.cosine_similarity(a, b, dim=0)
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=-1)  # "sample": flattened (T'·d)


def orthogonality_loss(
    com: dict[str, torch.Tensor], prt: dict[str, torch.Tensor], *, variant: str = "paper", axis: str = "feature",
) -> torch.Tensor:
    """Soft orthogonality between X_m^com and X_m^prt (eq. 5), summed over modalities.

    Args:
        com, prt: letter -> (B, T', d) homogeneous and heterogeneous features.
        variant: "paper": the plain mean cosine, as eq. 5 is written. Note that minimising a plain
            cosine drives the pair towards anti-parallel (cos = -1), not only to orthogonal; the
            term can be negative. "code": max(0, cos) averaged (CosineEmbeddingLoss with target
            -1, margin 0), which stops at orthogonality and is never negative.
        axis: which vectors the cosine compares. "feature" (default): per (b, t) over d, the fix the
            DMD community adopted (mdswyz/DMD#6). "batch": per (t, channel) over the batch axis,
            what DMD's code computed under torch 1.9 (its 3-D (T', B, d) input put the batch on the
            cosine's dim 1), kept to reproduce that run. "sample": per sample, flattened T'·d.
    """
    check_choice("orthogonality", variant, ORTHOGONALITIES)
    check_choice("ort_axis", axis, ORT_AXES)
    total = 0.0
    for m in com:
        cos = _cosines(com[m], prt[m], axis)
        total = total + (cos.clamp_min(0.0) if variant == "code" else cos).mean()
    return total
