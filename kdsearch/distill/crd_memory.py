"""CRD's memory bank and NCE loss. Tian, Krishnan, Isola, "Contrastive Representation
Distillation" (ICLR 2020), https://arxiv.org/abs/1910.10699 (RepDistiller; docs/methods.md §4.3).

Two non-parametric banks hold one L2-normalised embedding per training sample: `bank_s` the
student's, `bank_t` the teacher's. For a batch with sample indices y, each anchor is scored
against K+1 rows of the *other* model's bank (row 0 = its own sample, the positive; K negatives):

    P = exp(bank_other[idx] . f / tau) / Z

with Z fixed at the first forward as mean(P) * n_data, and the NCE loss of RepDistiller's eq. 18
with noise probability Pn = 1 / n_data. After the step, the rows of the batch's samples move
toward the new embeddings: bank[y] <- normalise(m * bank[y] + (1 - m) * f).

Departures from RepDistiller, and why:
  * The banks are updated when the step's gradients are computed (a hook on the student's
    embedding), not inside forward. A forward that is never trained (a dry run, a repeated
    forward of the same batch) leaves the bank untouched, so the loss is a pure function of the
    batch until a step is taken.
  * Negatives are drawn from a generator seeded by (seed, number of updates so far): the same
    batch at the same step draws the same negatives, and runs are reproducible without touching
    torch's global RNG (which the trainer's shuffling uses).
  * No `.cuda()` anywhere: banks follow the loss module's device.

Rows (paper 000 eq. 9, `map_rows: per_row`): with ``rows = R > 1`` every sample has R anchors,
one per attention-map row, and each bank holds n_data x R embeddings (row r of sample i at
i * R + r). Row r is contrasted with row r of the negative samples only; the K negative samples
are drawn once per sample and shared by its rows. The noise distribution is still uniform over
the n_data samples, so Z and Pn use n_data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

NEGATIVE_MODES = ("uniform", "other_class")
_EPS = 1e-7  # RepDistiller's epsilon in the NCE ratios


def nce_loss(scores: torch.Tensor, n_data: int) -> torch.Tensor:
    """RepDistiller's NCE loss of one side: positives in column 0, K negatives after it.

    Args:
        scores: (B, K+1) normalised scores P (already divided by Z).
        n_data: size of the bank (the noise distribution is uniform, Pn = 1 / n_data).

    Returns:
        -(1/B) [sum_b log(P_b0 / (P_b0 + K Pn)) + sum_{b,k} log(K Pn / (P_bk + K Pn))].
    """
    k = scores.shape[1] - 1
    noise = k / n_data
    positive = scores[:, 0]
    log_d1 = torch.log(positive / (positive + noise + _EPS))
    log_d0 = torch.log(noise / (scores[:, 1:] + noise + _EPS))
    return -(log_d1.sum() + log_d0.sum()) / scores.shape[0]


class ContrastMemory(nn.Module):
    """The two banks, their normalising constants, negative sampling and the momentum update.

    Args:
        n_data: rows per bank (the training-set size; indices are positions in the train split).
        feat_dim: embedding width.
        nce_k: negatives per anchor (K).
        nce_t: temperature tau of the scores.
        nce_m: momentum m of the bank update.
        seed: seeds the bank initialisation and the negative draws.
        classes: (n_data,) class of every sample, needed for ``negatives="other_class"``.
        negatives: "uniform" (any sample, with replacement: RepDistiller's default draw) or
            "other_class" (samples of other classes only: RepDistiller's CIFAR recipe; K distinct
            samples when every anchor's pool holds K, else drawn with replacement, as there).
        rows: anchors per sample (module docstring); 1 = one embedding per sample.
    """

    def __init__(self, n_data: int, feat_dim: int, *, nce_k: int, nce_t: float, nce_m: float, seed: int = 0,
                 classes: torch.Tensor | None = None, negatives: str = "uniform", rows: int = 1):
        super().__init__()
        if negatives == "other_class" and classes is None:
            raise ValueError("negatives='other_class' needs the class of every training sample")
        self.rows = int(rows)
        self.n_data, self.feat_dim = int(n_data), int(feat_dim)
        self.nce_k, self.nce_t, self.nce_m = int(nce_k), float(nce_t), float(nce_m)
        self.seed = int(seed)
        self.negatives = negatives
        self.updates = 0  # steps applied; seeds the next draw (not saved: a resumed run redraws)
        gen = torch.Generator().manual_seed(self.seed)
        bound = 1.0 / math.sqrt(feat_dim / 3)  # RepDistiller's uniform init range
        for name in ("bank_s", "bank_t"):
            self.register_buffer(name, (torch.rand(n_data * self.rows, feat_dim, generator=gen) * 2 - 1) * bound)
        # Z of the student-anchored and teacher-anchored scores; -1 = not fixed yet. Saved, so a
        # resumed run keeps the constants it trained with.
        self.register_buffer("z", torch.full((2,), -1.0))
        self._z_checked = False
        if classes is not None:
            classes = classes.long()
            counts = torch.bincount(classes, minlength=int(classes.max()) + 1)
            self.register_buffer("classes", classes, persistent=False)
            self.register_buffer("by_class", torch.argsort(classes, stable=True), persistent=False)
            self.register_buffer("class_count", counts, persistent=False)
            self.register_buffer("class_start", torch.cumsum(counts, 0) - counts, persistent=False)
            # RepDistiller draws other-class negatives without replacement unless K exceeds the
            # pool; the smallest pool is everything outside the largest class.
            self._distinct = self.nce_k <= self.n_data - int(counts.max())
        else:
            self.classes = None

    def sample(self, index: torch.Tensor) -> torch.Tensor:
        """(B, K+1) bank rows to score: column 0 the sample itself, then K negatives."""
        device = index.device
        gen = torch.Generator(device=device).manual_seed(self.seed * 1_000_003 + self.updates)
        shape = (index.shape[0], self.nce_k)
        if self.negatives == "uniform":
            negatives = torch.randint(self.n_data, shape, generator=gen, device=device)
        else:
            negatives = self._other_class(index, shape, gen)
        return torch.cat([index.unsqueeze(1), negatives], dim=1)

    def _other_class(self, index: torch.Tensor, shape, gen) -> torch.Tensor:
        cls = self.classes[index]
        if self._distinct:
            # K distinct samples of other classes per anchor: the K smallest of random keys, with
            # the anchor's own class keyed out of reach (B x n keys: 4 MB at MOSEI size, batch 64).
            keys = torch.rand((shape[0], self.n_data), generator=gen, device=index.device)
            keys.masked_fill_(self.classes.unsqueeze(0) == cls.unsqueeze(1), 2.0)
            return keys.topk(self.nce_k, dim=1, largest=False).indices
        # K exceeds some anchor's pool: draw with replacement, as RepDistiller then does.
        # Sorted by class, the samples of the anchor's class c fill [start_c, start_c + count_c);
        # a uniform position among the other n - count_c samples skips over that block.
        count, start = self.class_count[cls].unsqueeze(1), self.class_start[cls].unsqueeze(1)
        others = (self.n_data - count).clamp_min(1)
        pos = (torch.rand(shape, generator=gen, device=index.device) * others).long().clamp_max(others - 1)
        pos = pos + count * (pos >= start)
        return self.by_class[pos.clamp_max(self.n_data - 1)]

    def _slots(self, samples: torch.Tensor) -> torch.Tensor:
        """Bank slots of `samples` ((B,) or (B, K+1) sample indices), each sample's rows in turn:
        (B * rows,) or (B * rows, K+1). The identity when a sample has one row."""
        if self.rows == 1:
            return samples
        row = torch.arange(self.rows, device=samples.device)
        if samples.dim() == 1:
            return (samples.unsqueeze(1) * self.rows + row).reshape(-1)
        return (samples.unsqueeze(1) * self.rows + row.view(1, -1, 1)).flatten(0, 1)

    def scores(self, f_s: torch.Tensor, f_t: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(P_s, P_t): the student anchors against the teacher bank, and the reverse."""
        out_s = torch.exp(torch.einsum("bkf,bf->bk", self.bank_t[idx], f_s) / self.nce_t)
        out_t = torch.exp(torch.einsum("bkf,bf->bk", self.bank_s[idx], f_t) / self.nce_t)
        if not self._z_checked:  # one host sync, at the first forward only
            if bool((self.z < 0).any()):
                self.z.copy_(torch.stack([out_s.detach().mean(), out_t.detach().mean()]) * self.n_data)
            self._z_checked = True
        return out_s / self.z[0], out_t / self.z[1]

    @torch.no_grad()
    def grow(self, n_data: int) -> None:
        """Add freshly initialised rows up to `n_data` (only for a bank not sized to a train set)."""
        if self.classes is not None:
            raise ValueError("a bank with per-sample classes cannot grow")
        extra = n_data - self.n_data
        if extra <= 0:
            return
        gen = torch.Generator().manual_seed(self.seed + n_data)
        bound = 1.0 / math.sqrt(self.feat_dim / 3)
        for name in ("bank_s", "bank_t"):  # sample-major layout: new samples' rows go at the end
            bank = getattr(self, name)
            rows = ((torch.rand(extra * self.rows, self.feat_dim, generator=gen) * 2 - 1) * bound).to(bank)
            setattr(self, name, torch.cat([bank, rows]))
        self.n_data = int(n_data)

    @torch.no_grad()
    def update(self, index: torch.Tensor, f_s: torch.Tensor, f_t: torch.Tensor) -> None:
        """Move the batch's rows toward the new embeddings (momentum nce_m), renormalised."""
        index = self._slots(index)
        for bank, feats in ((self.bank_s, f_s), (self.bank_t, f_t)):
            rows = bank[index] * self.nce_m + feats.to(bank.dtype) * (1 - self.nce_m)
            bank.index_copy_(0, index, F.normalize(rows, dim=1))
        self.updates += 1

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """CRD loss of one (student, teacher) embedding pair; schedules the bank update.

        Args:
            f_s: (B, feat_dim) L2-normalised student embeddings (carry gradients).
            f_t: (B, feat_dim) L2-normalised teacher embeddings (gradients reach the teacher's
                embedding head only: the teacher's own outputs were detached before it).
            index: (B,) positions of the samples in the training split.
        """
        if int(index.max()) >= self.n_data:
            raise IndexError(f"CRD: sample index {int(index.max())} is outside the memory bank of {self.n_data} "
                             f"rows; bind the loss to the training set (bind(n_train=...)) before training")
        if f_s.shape[0] != index.shape[0] * self.rows:
            raise ValueError(f"CRD: {f_s.shape[0]} embeddings for {index.shape[0]} samples; this memory holds "
                             f"{self.rows} per sample")
        idx = self._slots(self.sample(index))  # (B * rows, K + 1) bank slots, row r against row r
        p_s, p_t = self.scores(f_s.float(), f_t.float(), idx)
        loss = nce_loss(p_s, self.n_data) + nce_loss(p_t, self.n_data)
        if f_s.requires_grad:
            snapshot = (index.detach(), f_s.detach().float(), f_t.detach().float())
            f_s.register_hook(lambda grad: self.update(*snapshot))
        return loss
