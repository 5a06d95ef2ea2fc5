"""Train each teacher once and cache it by content: the teacher cache (no Ray).

The cache key hashes what determines the teacher's weights: the dataset's fingerprint, the task,
the teacher's architecture config and its training settings (seed included). A second search on
the same data with the same teacher reuses the file and says so. Checkpoints hold tensors and
plain Python values only, so they load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch
from kdsearch.atomic import atomic_write, atomic_write_text


def cache_root() -> Path:
    """Where teachers and generated datasets live: $KDSEARCH_CACHE or ~/.cache/kdsearch."""
    return Path(os.environ.get("KDSEARCH_CACHE") or Path.home() / ".cache" / "kdsearch")


# Bumped when a code change alters how a teacher trains with the same settings (it was 1 until
# keys and values got their own embedding dropout draws, as in MulT): old cached teachers are
# then trained again instead of being reused as if nothing had changed.
TEACHER_RECIPE = 2


def teacher_key(config: dict, fingerprint: str) -> str:
    from kdsearch.train.recipes import RECIPE_DEFAULTS

    # Recipe keys at their plain-loop values train exactly as before those keys existed: left
    # out, so teachers cached then keep their keys.
    training = {k: v for k, v in config["teacher_train"].items()
                if not (k in RECIPE_DEFAULTS and v == RECIPE_DEFAULTS[k])}
    payload = {"fingerprint": fingerprint, "task": config["task"], "teacher": config["teacher"],
               "teacher_train": training, "recipe": TEACHER_RECIPE}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def teacher_path(config: dict, fingerprint: str) -> Path:
    return cache_root() / "teachers" / teacher_key(config, fingerprint) / "teacher.pt"


def load_teacher_blob(path: Path) -> dict:
    """A cached teacher (weights_only: a file holding pickled objects is refused, unread)."""
    from kdsearch.models.checkpoint import read_weights_only

    return read_weights_only(str(path), what="teacher checkpoint")


def save_teacher_blob(blob: dict, path: Path) -> None:
    """Atomic: a crash mid-save never leaves a half-written teacher in the cache."""
    atomic_write(path, lambda f: torch.save(blob, f))
    meta = {k: v for k, v in blob.items() if k != "state_dict"}
    atomic_write_text(path.parent / "meta.json", json.dumps(meta, indent=2, default=str))


def get_teacher(config: dict, dataset, *, console=None, device: str = "cpu") -> tuple[dict, bool]:
    """The cached teacher for this config and dataset, training it first when missing.

    Returns:
        (blob, reused): blob holds ``state_dict`` (CPU tensors), ``config``, ``dims``,
        ``lengths``, ``n_out``, ``task``, ``val_metrics``; reused tells whether it came from
        the cache.
    """
    path = teacher_path(config, dataset.fingerprint)
    if path.is_file():
        blob = load_teacher_blob(path)
        if console is not None:
            shown = ", ".join(f"{k}={v:.3f}" for k, v in blob["val_metrics"].items() if k.startswith("val_"))
            console.print(f"[green]Reusing cached teacher[/] {path} ({shown})")
        return blob, True
    blob = train_teacher(config, dataset, console=console, device=device)
    save_teacher_blob(blob, path)
    if console is not None:
        console.print(f"Teacher cached at {path}")
    return blob, False


def train_teacher(config: dict, dataset, *, console=None, device: str = "cpu") -> dict:
    """Train the configured teacher on the train split, select the best epoch on valid."""
    from kdsearch.train.teachers import split_arch, teacher_objective
    from kdsearch.train.experiment import tensor_split
    from kdsearch.train.tasks import get_task
    from kdsearch.train.trainer import Trainer, TrainSettings, best_tracker

    settings = TrainSettings.from_config(config["teacher_train"])
    torch.manual_seed(settings.seed)
    task = get_task(config["task"])
    objective, teacher = teacher_objective(config["teacher"], dims=dataset.dims, lengths=dataset.lengths, task=task)
    objective.to(device)
    arrays = dataset.to_arrays()
    train, valid = tensor_split(arrays, "train", device), tensor_split(arrays, "valid", device)
    metric, mode = ("val_acc7", "max") if task.name == "classification" else ("val_mae", "min")
    best = best_tracker(metric, mode)
    trainer = Trainer(objective, task, settings, hooks=[best, _progress(console, settings)])
    started = time.perf_counter()
    trainer.fit(train, valid)
    trainer.objective.load_state_dict(best.weights)
    state = {k: v.detach().cpu() for k, v in teacher.state_dict().items()}
    return {
        "state_dict": state, "arch": split_arch(config["teacher"])[0].name, "config": dict(config["teacher"]),
        "dims": dict(dataset.dims),
        "lengths": dict(dataset.lengths), "n_out": task.n_out, "task": task.name,
        "fingerprint": dataset.fingerprint, "val_metrics": {k: float(v) for k, v in best.best.items()},
        "train_seconds": round(time.perf_counter() - started, 1),
    }


def _progress(console, settings):
    """Per-epoch teacher progress: a line per epoch, so the user sees it is not stuck."""

    def hook(trainer, epoch, metrics):
        if console is not None:
            shown = " ".join(f"{k}={metrics[k]:.3f}" for k in ("train_loss", "val_loss", "val_acc7", "val_mae")
                             if k in metrics)
            console.print(f"  teacher epoch {epoch}/{settings.epochs}  {shown}  ({metrics['epoch_time_s']:.1f}s)")

    return hook
