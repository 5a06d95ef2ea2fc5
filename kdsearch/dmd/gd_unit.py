"""DMD's graph distillation unit (paper 003 §3.2 eq. 7-9; code: docs/methods.md §6.3).

Nodes are the modalities L, A, V; each carries its logits f(X_m) and representation X_m. The
directed edge i -> j (teacher i distils into student j) gets the score
g([z_i, z_j]) with z_m = [W_logit f(X_m), W_repr X_m] (eq. 8), and one softmax over the six
edges of each sample turns the scores into weights W that sum to 1 (the code scales the scores by
1/8 first). The distillation loss is ||W ⊙ E||_1 (eq. 9): E_ij = ||f(X_j) - stopgrad(f(X_i))||_1,
averaged over the batch and summed over the edges. The edge MLP learns from that loss itself:
an edge is cheap where the two modalities already agree.

Code-only extras (off by default, the paper has neither):
* priors: fixed edge priors p (softmax of a one-hot pattern / 0.25 that favours L -> V, L -> A,
  and for HeteroGD also V -> A, the very pattern of the paper's Fig. 5), used as weights W + p
  and pulled towards by gd_reg * sum_x (mean_b W_x - p_x)^2;
* a representation term (HeteroGD, weight 10): mean_b max(0, cos(X_j, stopgrad(X_i))) times the
  edge's mean weight, which pushes the representations of different modalities *apart*.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from kdsearch.models.crossmodal import MODALITIES

# (source i, target j) of every directed edge, the column order of the (B, 6) weights.
EDGES: tuple[tuple[str, str], ...] = tuple((i, j) for i in MODALITIES for j in MODALITIES if i != j)
PRIOR_EDGES: dict[str, frozenset[tuple[str, str]]] = {
    "homo": frozenset({("L", "V"), ("L", "A")}),
    "hetero": frozenset({("L", "V"), ("L", "A"), ("V", "A")}),
}
PRIOR_TEMPERATURE = 0.25
EDGE_SCALE = 1.0 / 8.0  # the code's alpha: softmax(alpha * scores)


def code_prior(unit: str) -> torch.Tensor:
    """The code's fixed edge prior of `unit` ("homo" or "hetero"), (6,) in `EDGES` order."""
    pattern = torch.tensor([1.0 if edge in PRIOR_EDGES[unit] else 0.0 for edge in EDGES])
    return torch.softmax(pattern / PRIOR_TEMPERATURE, dim=0)


def edge_matrix(weights: torch.Tensor) -> torch.Tensor:
    """(3, 3) matrix M[i, j] = mean over the batch of w_{i -> j}; rows/cols in L, A, V order, diagonal 0."""
    index = {m: k for k, m in enumerate(MODALITIES)}
    matrix = weights.new_zeros(len(MODALITIES), len(MODALITIES))
    means = weights.float().mean(dim=0)
    for x, (i, j) in enumerate(EDGES):
        matrix[index[i], index[j]] = means[x]
    return matrix


class GDResult(NamedTuple):
    loss: torch.Tensor  # logit + repr + reg
    logit: torch.Tensor  # ||W ⊙ E||_1
    repr: torch.Tensor  # code's representation term (0 unless repr_weight > 0)
    reg: torch.Tensor  # prior regulariser (0 without priors)
    weights: torch.Tensor  # (B, 6) softmax-normalised edge weights, `EDGES` order


class GDUnit(nn.Module):
    """One GD-Unit: edge MLP, per-sample softmax over the six edges, distillation loss.

    Args:
        repr_dim: width of each node's representation (d for HomoGD, 2d for HeteroGD).
        n_out: width of each node's logits.
        hidden: width g of each embedded half of z_m (code: 64 homo, 32 hetero).
        prior: (6,) fixed edge prior (`code_prior`), or None (paper: learned edges only).
        prior_reg: weight of the prior regulariser (code: 10); unused without a prior.
        repr_weight: weight of the code's representation term (code: 10 for HeteroGD, else 0).
    """

    def __init__(self, *, repr_dim: int, n_out: int, hidden: int, prior: torch.Tensor | None = None,
                 prior_reg: float = 10.0, repr_weight: float = 0.0):
        super().__init__()
        self.logit_embed = nn.Linear(n_out, hidden)
        self.repr_embed = nn.Linear(repr_dim, hidden)
        self.edge = nn.Linear(4 * hidden, 1)
        self.register_buffer("prior", None if prior is None else prior.detach().clone().float())
        self.prior_reg = float(prior_reg)
        self.repr_weight = float(repr_weight)

    def edge_weights(self, logits: dict[str, torch.Tensor], reprs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, 6) edge weights in `EDGES` order; each row sums to 1."""
        z = {m: torch.cat([self.logit_embed(logits[m]), self.repr_embed(reprs[m])], dim=-1) for m in MODALITIES}
        scores = torch.cat([self.edge(torch.cat([z[i], z[j]], dim=-1)) for i, j in EDGES], dim=-1)
        return torch.softmax(EDGE_SCALE * scores.float(), dim=-1)

    def forward(self, logits: dict[str, torch.Tensor], reprs: dict[str, torch.Tensor]) -> GDResult:
        """Distillation over the graph.

        Args:
            logits: letter -> (B, n_out) node logits.
            reprs: letter -> (B, repr_dim) node representations.
        """
        weights = self.edge_weights(logits, reprs)
        used = weights if self.prior is None else weights + self.prior
        zero = weights.sum() * 0.0
        logit_terms, repr_terms = [], []
        for x, (i, j) in enumerate(EDGES):
            gap = (logits[j].float() - logits[i].detach().float()).abs().sum(dim=-1)  # E_ij per sample
            logit_terms.append((used[:, x] * gap).mean())
            if self.repr_weight:
                cos = F.cosine_similarity(reprs[j].float(), reprs[i].detach().float(), dim=-1)
                repr_terms.append(cos.clamp_min(0.0).mean() * used[:, x].mean())
        logit_loss = torch.stack(logit_terms).sum()
        repr_loss = self.repr_weight * torch.stack(repr_terms).sum() if repr_terms else zero
        reg = self.prior_reg * ((weights.mean(dim=0) - self.prior) ** 2).sum() if self.prior is not None else zero
        return GDResult(logit_loss + repr_loss + reg, logit_loss, repr_loss, reg, weights)
