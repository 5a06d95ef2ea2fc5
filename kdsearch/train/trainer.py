"""One training loop for teachers, students and DMD; everything else is a hook.

Hooks are called once per epoch with the epoch's metrics. Reporting to Ray Tune is one more
hook (kdsearch.search.trial), so `kdsearch train` and a search trial run the very same loop.
The reference codes' recipes (gradient accumulation, clipping by value, ReduceLROnPlateau, early
stopping) are options of this loop, described in `kdsearch.train.recipes`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import torch
from torch import nn

from kdsearch.train import rng_state
from kdsearch.train.experiment import TensorSplit
from kdsearch.train.recipes import RECIPE_DEFAULTS, EarlyStopper, plateau_scheduler
from kdsearch.train.tasks import Task


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the run stops with this reason (the search goes on)."""


class EpochHook(Protocol):
    def __call__(self, trainer: "Trainer", epoch: int, metrics: dict[str, float]) -> None: ...


@dataclass
class TrainSettings:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    seed: int = 0
    # The recipe options (kdsearch.train.recipes); these defaults are the plain loop.
    accumulate: int = 1
    clip_mode: str = "norm"
    lr_schedule: str = "none"
    plateau_factor: float = 0.1
    plateau_patience: int = 10
    plateau_metric: str = "val_loss"
    early_stop_patience: int = 0
    early_stop_metric: str = "val_loss"

    @classmethod
    def from_config(cls, section: dict) -> "TrainSettings":
        """From a filled `train`/`teacher_train` section (one written before the recipe keys
        existed, e.g. an old results folder's space.yaml, reads as the plain loop)."""
        keys = ("epochs", "batch_size", "lr", "weight_decay", "grad_clip", "seed")
        recipe = {k: section.get(k, v) for k, v in RECIPE_DEFAULTS.items() if k != "preset"}
        return cls(**{k: section[k] for k in keys}, **recipe)


@dataclass
class Trainer:
    """Trains `objective` (a module returning {"loss", "task", ["kd"], "logits"}) on `train`."""

    objective: nn.Module
    task: Task
    settings: TrainSettings
    hooks: list[EpochHook] = field(default_factory=list)
    start_epoch: int = 0

    def __post_init__(self) -> None:
        params = [p for p in self.objective.parameters() if p.requires_grad]
        # fused: one kernel for the whole update instead of several per parameter; measured with
        # `kdsearch bench` on CPU, the optimiser part of a small step went from 27 to 12 ms.
        self.optimizer = torch.optim.Adam(params, lr=self.settings.lr, weight_decay=self.settings.weight_decay,
                                          fused=True)
        self.generator = torch.Generator().manual_seed(self.settings.seed)
        self.params = params
        self.scheduler = plateau_scheduler(self.optimizer, self.settings)
        self.stopper = (EarlyStopper(self.settings.early_stop_metric, self.settings.early_stop_patience)
                        if self.settings.early_stop_patience > 0 else None)

    def fit(self, train: TensorSplit, valid: TensorSplit) -> dict[str, float]:
        """Run the remaining epochs; returns the last epoch's metrics."""
        metrics: dict[str, float] = {}
        for epoch in range(self.start_epoch + 1, self.settings.epochs + 1):
            started = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch trained at
            metrics = {"epoch": epoch, **self.train_epoch(train, epoch)}
            metrics.update(self.evaluate(valid, prefix="val_"))
            metrics.update(self.objective.epoch_metrics(valid, max(self.settings.batch_size, 256)))
            metrics["lr"] = lr
            if self.scheduler is not None:
                self.scheduler.step(metrics[self.settings.plateau_metric])
            stop = self.stopper is not None and self.stopper.should_stop(metrics)
            if stop:
                metrics["early_stopped"] = 1.0
            metrics["epoch_time_s"] = time.perf_counter() - started
            for hook in self.hooks:
                hook(self, epoch, metrics)
            if stop:
                break
        return metrics

    def train_epoch(self, train: TensorSplit, epoch: int) -> dict[str, float]:
        self.objective.train()
        sums: dict[str, float] = {}
        count = 0
        group = self.settings.accumulate
        n_batches = math.ceil(train.n / self.settings.batch_size)
        for i, batch in enumerate(train.batches(self.settings.batch_size, shuffle=True, generator=self.generator)):
            out = self.objective(batch)
            loss = out["loss"]
            if i % group == 0:
                self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # gradients of a group add up (DMD's accumulation sums them)
            self._clip()
            if (i + 1) % group == 0 or i + 1 == n_batches:
                self.optimizer.step()
            n = batch["label"].shape[0]
            count += n
            for key in ("loss", "task", "kd"):
                if key in out:
                    # One host sync per batch per term; cheap next to a transformer step.
                    sums[key] = sums.get(key, 0.0) + float(out[key].detach()) * n
        result = {f"train_{k}": v / max(count, 1) for k, v in sums.items()}
        if not all(math.isfinite(v) for v in result.values()):
            bad = next(k for k, v in result.items() if not math.isfinite(v))
            raise TrainingDiverged(f"loss became NaN/inf at epoch {epoch} ({bad})")
        return result

    def _clip(self) -> None:
        """After every backward, on the gradients accumulated so far (the reference codes' order)."""
        if self.settings.grad_clip <= 0:
            return
        if self.settings.clip_mode == "value":
            torch.nn.utils.clip_grad_value_(self.params, self.settings.grad_clip)
        else:
            torch.nn.utils.clip_grad_norm_(self.params, self.settings.grad_clip)

    @torch.no_grad()
    def predict(self, split: TensorSplit, batch_size: int | None = None) -> np.ndarray:
        self.objective.eval()
        outs = [self.objective.predict(b).float().cpu()
                for b in split.batches(batch_size or max(self.settings.batch_size, 256), shuffle=False)]
        return torch.cat(outs).numpy()

    def evaluate(self, split: TensorSplit, prefix: str = "") -> dict[str, float]:
        """Task loss and task metrics on a split (validation during search; test only on request)."""
        preds = self.predict(split)
        labels = split.label.cpu().numpy()
        with torch.no_grad():
            loss = float(self.task.loss(torch.from_numpy(preds), torch.from_numpy(labels)))
        metrics = {"loss": loss, **self.task.metrics(preds, labels)}
        return {f"{prefix}{k}": v for k, v in metrics.items()}

    def state(self) -> dict:
        """What a checkpoint needs to resume exactly (weights, optimiser, RNG)."""
        state = {"objective": self.objective.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "generator": self.generator.get_state(), "rng": rng_state.capture()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.stopper is not None:
            state["stopper"] = self.stopper.state_dict()
        return state

    def load_state(self, state: dict, epoch: int) -> None:
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())  # a CPU generator, whatever map_location said
        if "rng" in state:  # checkpoints written before the global states were kept lack it
            rng_state.restore(state["rng"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.stopper is not None and "stopper" in state:
            self.stopper.load_state_dict(state["stopper"])
        self.start_epoch = epoch


def best_tracker(metric: str, mode: str) -> Callable:
    """A hook that keeps the best epoch's metrics and a copy of the weights (model selection)."""
    better = (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b)

    def hook(trainer: Trainer, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics[metric]
        if hook.best is None or better(value, hook.best[metric]):
            hook.best = dict(metrics)
            hook.weights = {k: v.detach().clone() for k, v in trainer.objective.state_dict().items()}

    hook.best = None
    hook.weights = None
    return hook
