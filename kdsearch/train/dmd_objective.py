"""DMD's training objective: L = L_task + λ1·L_dec + λ2·(L_dtl^homo + L_dtl^hetero) (paper 003).

L_dec = L_rec + L_cyc + γ(L_mar + L_ort) (eq. 6). The two GD-Units (HomoGD on X^com, HeteroGD on
the cross-modal-reinforced X^prt) are owned here, next to the losses they produce, so the
`DMD` network alone is what a frozen-teacher checkpoint needs; the Trainer optimises every
parameter of this objective (network + both edge MLPs), as DMD's code optimises model + kernels.

Each paper/code disagreement is a keyword (docs/methods.md §6.3); the defaults follow the paper
except task_terms:
* task_terms: "code" (default) = the sum of 8 task losses (fused, 3 homo heads, 3 hetero heads,
  the common branch), as DMD's code trains, and as the paper's per-modality results (Table 4)
  presume. "paper" = L1 (or CE) on the fused output only, as §3.3 writes L_task. Consequence of
  "paper": the per-modality heads then learn from graph distillation alone, which only asks them
  to agree with each other; they settle on near-constants (measured: homo logits' std ~0.01,
  correlation with the label 0.18 / -0.06 / 0.07 for L / A / V after 150 steps, against
  0.90 / 0.78 / 0.54 with "code"), so λ2 and the learned edges then test nothing.
* margin: "paper" = eq. 4 triplets with fixed margin `margin_alpha`; "code" = equal-label
  positives with the label-distance margin 0.15·|Δy| (`kdsearch.dmd.margin`).
* orthogonality: "paper" = plain cosine; "code" = max(0, cos). ort_axis: "feature" (per (b, t))
  / "batch" (the torch-1.9 run) / "sample" (`kdsearch.dmd.decoupling_losses`).
* edge_priors: "none" = learned edges only; "code" = fixed priors + regulariser (`GDUnit`).
* gd_terms: "paper" = logit distillation only; "code" adds HeteroGD's representation term (×10).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from kdsearch.dmd.decoupling_losses import ORT_AXES, ORTHOGONALITIES, cycle_loss, orthogonality_loss, \
    reconstruction_loss
from kdsearch.dmd.gd_unit import GDUnit, code_prior, edge_matrix
from kdsearch.dmd.margin import MARGINS, margin_loss
from kdsearch.errors import SpaceError, short
from kdsearch.train.objectives import Objective
from kdsearch.config import did_you_mean
from kdsearch.models.crossmodal import MODALITIES
from kdsearch.models.dmd import DMD, DMDOutput
from kdsearch.models.options import InvalidOption, check_choice, check_sizes
from kdsearch.train.tasks import Task

TASK_TERMS = ("paper", "code")
EDGE_PRIORS = ("none", "code")
GD_TERMS = ("paper", "code")
CODE_REPR_WEIGHT = 10.0  # HeteroGD's w_r in the code's run.py


def _check_weight(option: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InvalidOption(option, f"must be a number >= 0, got {short(value)}")
    return float(value)


class DMDObjective(Objective):
    """Forward pass + every DMD loss; `forward(batch)["loss"]` is what the Trainer minimises.

    Args:
        model: the `DMD` network.
        task: regression (L1, n_out 1) or 7-class classification (CE); the task loss of every head.
        lambda1, lambda2, gamma: λ1 (decoupling), λ2 (graph distillation), γ (margin + orthogonality).
        task_terms, margin, orthogonality, ort_axis, edge_priors, gd_terms: paper/code variants
            (module docstring).
        margin_alpha: fixed margin α of the paper's margin loss (the paper gives no value; 0.15
            is the code's margin per label unit).
        gd_size_homo, gd_size_hetero: hidden width g of each GD-Unit's edge MLP (code: 64, 32).
    """

    def __init__(
        self,
        model: DMD,
        task: Task,
        *,
        lambda1: float = 0.1,
        lambda2: float = 0.05,
        gamma: float = 0.1,
        task_terms: str = "code",
        margin: str = "paper",
        margin_alpha: float = 0.15,
        orthogonality: str = "paper",
        ort_axis: str = "feature",
        edge_priors: str = "none",
        gd_terms: str = "paper",
        gd_size_homo: int = 64,
        gd_size_hetero: int = 32,
    ):
        super().__init__()
        check_choice("task_terms", task_terms, TASK_TERMS)
        check_choice("margin", margin, MARGINS)
        check_choice("orthogonality", orthogonality, ORTHOGONALITIES)
        check_choice("ort_axis", ort_axis, ORT_AXES)
        check_choice("edge_priors", edge_priors, EDGE_PRIORS)
        check_choice("gd_terms", gd_terms, GD_TERMS)
        check_sizes(gd_size_homo=gd_size_homo, gd_size_hetero=gd_size_hetero)
        self.lambda1 = _check_weight("lambda1", lambda1)
        self.lambda2 = _check_weight("lambda2", lambda2)
        self.gamma = _check_weight("gamma", gamma)
        self.margin_alpha = _check_weight("margin_alpha", margin_alpha)
        self.model, self.task = model, task
        self.task_terms, self.margin, self.orthogonality, self.ort_axis = task_terms, margin, orthogonality, ort_axis
        priors = edge_priors == "code"
        self.homo_gd = GDUnit(repr_dim=model.d_model, n_out=model.n_out, hidden=gd_size_homo,
                              prior=code_prior("homo") if priors else None)
        self.hetero_gd = GDUnit(repr_dim=2 * model.d_model, n_out=model.n_out, hidden=gd_size_hetero,
                                prior=code_prior("hetero") if priors else None,
                                repr_weight=CODE_REPR_WEIGHT if gd_terms == "code" else 0.0)

    def _run(self, batch: dict, reconstruct: bool) -> DMDOutput:
        return self.model.forward_all(batch["text"], batch["audio"], batch["vision"], reconstruct=reconstruct)

    def _task_loss(self, out: DMDOutput, label: torch.Tensor) -> torch.Tensor:
        loss = self.task.loss(out.logits, label)
        if self.task_terms == "code":
            heads = [out.homo_logits[m] for m in MODALITIES] + [out.hetero_logits[m] for m in MODALITIES]
            loss = loss + sum(self.task.loss(h, label) for h in heads + [out.common_logits])
        return loss

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        """All terms of one batch; "loss" = task + λ1·dec + λ2·dtl exactly."""
        out = self._run(batch, reconstruct=True)
        label = batch["label"]
        task = self._task_loss(out, label)
        rec = reconstruction_loss(out.decoupled.origin, out.recon)
        cyc = cycle_loss(out.decoupled.prt, out.cycle)
        mar = margin_loss(out.margin_features, label, variant=self.margin, alpha=self.margin_alpha)
        ort = orthogonality_loss(out.decoupled.com, out.decoupled.prt, variant=self.orthogonality, axis=self.ort_axis)
        dec = rec + cyc + self.gamma * (mar + ort)
        homo = self.homo_gd(out.homo_logits, out.homo_repr)
        hetero = self.hetero_gd(out.hetero_logits, out.hetero_repr)
        dtl = homo.loss + hetero.loss
        return {"loss": task + self.lambda1 * dec + self.lambda2 * dtl, "task": task, "dec": dec, "dtl": dtl,
                "rec": rec, "cyc": cyc, "mar": mar, "ort": ort, "dtl_homo": homo.loss, "dtl_hetero": hetero.loss,
                "logits": out.logits}

    def predict(self, batch: dict) -> torch.Tensor:
        """The fused prediction (no decoder pass)."""
        return self.model(batch["text"], batch["audio"], batch["vision"]).logits

    def edge_matrices(self, batches: Iterable[dict]) -> dict[str, np.ndarray]:
        """Mean learned edge weights over `batches` (eval mode), as paper 003's Fig. 5 shows them.

        Returns:
            {"homo": M, "hetero": M}, each (3, 3) with M[i, j] = mean weight of edge i -> j (i the
            teacher, j the student modality), rows/cols in "L", "A", "V" order, diagonal 0. Each
            sample's six weights sum to 1, so each matrix sums to 1.
        """
        return self.validation_pass(batches)[0]

    @torch.no_grad()
    def validation_pass(self, batches: Iterable[dict]) -> tuple[dict[str, np.ndarray], dict[str, torch.Tensor]]:
        """One eval-mode pass: the edge matrices (as `edge_matrices`) and every head's outputs.

        Returns:
            (edges, heads): heads maps "homo/L", ..., "hetero/V" and "common" to the (N, n_out)
            outputs of that head over all the batches, in order, on the CPU.
        """
        was_training = self.training
        self.eval()
        sums = {"homo": torch.zeros(3, 3), "hetero": torch.zeros(3, 3)}
        heads: dict[str, list[torch.Tensor]] = {}
        count = 0
        try:
            for batch in batches:
                out = self._run(batch, reconstruct=False)
                n = batch["label"].shape[0]
                for name, unit, logits, reprs in (("homo", self.homo_gd, out.homo_logits, out.homo_repr),
                                                  ("hetero", self.hetero_gd, out.hetero_logits, out.hetero_repr)):
                    sums[name] += edge_matrix(unit.edge_weights(logits, reprs)).cpu() * n
                    for m in MODALITIES:
                        heads.setdefault(f"{name}/{m}", []).append(logits[m].float().cpu())
                heads.setdefault("common", []).append(out.common_logits.float().cpu())
                count += n
        finally:
            self.train(was_training)
        if count == 0:
            raise ValueError("a validation pass needs at least one batch")
        edges = {name: (total / count).numpy() for name, total in sums.items()}
        return edges, {name: torch.cat(chunks) for name, chunks in heads.items()}

    def epoch_metrics(self, split, batch_size: int) -> dict[str, float]:
        """What the Trainer adds to each epoch's metrics: every head's validation metrics and
        the learned edges, so a run shows whether the branches learn (`kdsearch.train.dmd_heads`)."""
        from kdsearch.train.dmd_heads import head_metrics

        edges, heads = self.validation_pass(split.batches(batch_size, shuffle=False))
        return head_metrics(heads, split.label.cpu().numpy(), self.task, edges)


def _keyword_defaults(callable_, exclude: tuple[str, ...]) -> dict:
    params = inspect.signature(callable_).parameters.values()
    return {p.name: p.default for p in params
            if p.kind is p.KEYWORD_ONLY and p.default is not p.empty and p.name not in exclude}


# Read off the signatures so documented defaults cannot drift from the code. One YAML section
# holds both: the network's keys and the objective's (λ1, λ2, γ, variants).
DMD_MODEL_DEFAULTS: dict = _keyword_defaults(DMD.__init__, exclude=("dims", "lengths", "n_out"))
DMD_LOSS_DEFAULTS: dict = _keyword_defaults(DMDObjective.__init__, exclude=())
DMD_DEFAULTS: dict = {**DMD_MODEL_DEFAULTS, **DMD_LOSS_DEFAULTS}


def _split_config(cfg: dict, section: str) -> tuple[dict, dict]:
    for key in cfg:
        if key not in DMD_DEFAULTS:
            raise SpaceError(f"unknown key{did_you_mean(key, DMD_DEFAULTS)}; allowed: {', '.join(DMD_DEFAULTS)}",
                             field=f"{section}.{key}")
    model = {k: cfg.get(k, v) for k, v in DMD_MODEL_DEFAULTS.items()}
    loss = {k: cfg.get(k, v) for k, v in DMD_LOSS_DEFAULTS.items()}
    return model, loss


def build_dmd(cfg: dict, *, dims: dict[str, int], lengths: dict[str, int], n_out: int,
              section: str = "model") -> DMD:
    """A `DMD` network from `cfg` (keys of `DMD_DEFAULTS`; missing keys take the defaults).

    The objective's keys (lambda1, margin, ...) are accepted and checked for spelling, but only
    `build_dmd_objective` uses them, so one YAML section serves both (and a frozen DMD teacher).

    Args:
        cfg: the space's DMD section.
        dims, lengths: per-modality feature widths and sequence lengths ("text", "audio", "vision").
        n_out: output units.
        section: YAML section named in errors ("model", or "teacher" for a DMD teacher).

    Raises:
        SpaceError: unknown key or bad value, naming `<section>.<key>`.
    """
    model_cfg, _ = _split_config(cfg, section)
    try:
        return DMD(dims=dims, lengths=lengths, n_out=n_out, **model_cfg)
    except InvalidOption as err:
        raise SpaceError(err.problem, field=f"{section}.{err.option}") from err


def build_dmd_objective(cfg: dict, *, dims: dict[str, int], lengths: dict[str, int], task: Task,
                        section: str = "model") -> DMDObjective:
    """`DMDObjective(build_dmd(cfg), task, **loss keys of cfg)`; errors name `<section>.<key>`."""
    model = build_dmd(cfg, dims=dims, lengths=lengths, n_out=task.n_out, section=section)
    _, loss_cfg = _split_config(cfg, section)
    try:
        return DMDObjective(model, task, **loss_cfg)
    except InvalidOption as err:
        raise SpaceError(err.problem, field=f"{section}.{err.option}") from err
