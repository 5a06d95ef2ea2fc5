"""DMD's margin loss on the homogeneous features (paper 003 eq. 4; code: docs/methods.md §6.3).

Every sample contributes one vector per modality (its `margin_features`, Linear(T'·d -> d) of the
flattened X^com: a projection is needed to compare modalities of different lengths), so a batch
of B gives N = 3B vectors, compared by cosine. Two readings:

* "paper" (eq. 4): triplets (i, j, k) with j of the *same class, another modality* (positive) and
  k of the *same modality, another class* (negative); loss = mean over all triplets of
  max(0, alpha - cos(i, j) + cos(i, k)). Classes of a continuous label are its 7 sentiment classes
  round(clip(y, -3, 3)) (the paper's "emotion category"; its alpha is not given).
* "code": positives are all other vectors with *exactly the same label value* (any modality),
  negatives all vectors with another label; the margin adapts to the label distance,
  0.15 * |y_i - y_k|. The hinge is averaged per anchor, then over anchors that have at least one
  positive and one negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdsearch.models.options import check_choice

MARGINS = ("paper", "code")
CODE_MARGIN_SCALE = 0.15
_MAX_TRIPLETS_PER_CHUNK = 1 << 22  # bounds the (anchors, N, N) hinge tensor (~16 MB in fp32)


def _stack(features: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, d) unit vectors, modality-major, and the (N,) modality index of each."""
    vectors = torch.cat(list(features.values()), dim=0)
    batch = next(iter(features.values())).shape[0]
    modality = torch.arange(len(features), device=vectors.device).repeat_interleave(batch)
    return F.normalize(vectors.float(), dim=-1), modality


def _anchor_hinges(cos, positive, negative, margin):
    """Per anchor: (sum of hinges over its valid (pos, neg) pairs, number of such pairs).

    hinge[a, p, n] = max(0, margin[a, n] - cos[a, p] + cos[a, n]), valid where positive[a, p]
    and negative[a, n]. Computed in chunks of anchors so memory stays bounded for large batches.
    """
    n = cos.shape[0]
    chunk = max(1, _MAX_TRIPLETS_PER_CHUNK // (n * n))
    sums = []
    for start in range(0, n, chunk):
        rows = slice(start, start + chunk)
        hinge = (margin[rows, None, :] - cos[rows, :, None] + cos[rows, None, :]).clamp_min(0.0)
        valid = positive[rows, :, None] & negative[rows, None, :]
        sums.append(torch.where(valid, hinge, 0.0).sum(dim=(1, 2)))
    counts = positive.sum(1) * negative.sum(1)
    return torch.cat(sums), counts


def margin_loss(
    features: dict[str, torch.Tensor], label: torch.Tensor, *, variant: str = "paper", alpha: float = 0.15,
) -> torch.Tensor:
    """The margin loss over the 3B homogeneous vectors of a batch.

    Args:
        features: letter -> (B, d) margin features of each modality.
        label: (B,) continuous labels (MOSEI sentiment in [-3, 3]).
        variant: "paper" (eq. 4 triplets, fixed margin `alpha`) or "code" (equal-label positives,
            label-distance margin), see the module docstring.
        alpha: the fixed margin of the paper variant (unused by "code").

    Returns:
        A scalar >= 0; 0 (still attached to the graph) when the batch has no valid triplet.
    """
    check_choice("margin", variant, MARGINS)
    unit, modality = _stack(features)
    cos = unit @ unit.T
    values = label.reshape(-1).float().repeat(len(features))
    if variant == "paper":
        classes = torch.round(values.clamp(-3.0, 3.0))
        same_class = classes[:, None] == classes[None, :]
        same_modality = modality[:, None] == modality[None, :]
        positive, negative = same_class & ~same_modality, ~same_class & same_modality
        margin = torch.full_like(cos, float(alpha))
    else:
        same_value = values[:, None] == values[None, :]
        self_pair = torch.eye(len(values), dtype=torch.bool, device=cos.device)
        positive, negative = same_value & ~self_pair, ~same_value
        margin = CODE_MARGIN_SCALE * (values[:, None] - values[None, :]).abs()
    sums, counts = _anchor_hinges(cos, positive, negative, margin)
    if variant == "paper":
        return sums.sum() / counts.sum().clamp_min(1)
    used = counts > 0
    per_anchor = sums[used] / counts[used]
    return per_anchor.mean() if used.any() else cos.sum() * 0.0
