"""Training recipes of the reference code as options of the one Trainer, and presets naming them.

Every key below lives in a space's `train:` (and `teacher_train:`) section beside epochs, lr and
batch_size. `preset` fills the keys the section does not set itself, when the space is read
(explicit keys win; a preset cannot be searched, its keys can):

  * ``none`` (default): plain Adam, gradient-norm clipping at `grad_clip`, no schedule, no early
    stop, one step per batch: the behaviour before presets existed.
  * ``mult``: MulT's train.py: ReduceLROnPlateau(factor 0.1, patience 20) stepping on the
    validation loss, clip_grad_norm_ 0.8, lr 1e-3, batch 24.
  * ``dmd``: DMD's code (config.json, trains/singleTask/DMD.py): lr 1e-4, batch 16, gradients of
    10 batches summed into one step, clip_grad_value_ 0.6, ReduceLROnPlateau(factor 0.5,
    patience 5) on the validation loss, early stop after 10 epochs without a validation-loss
    improvement (for regression the validation loss is the L1 loss, i.e. validation MAE).

How the options behave (the reference code's order):

  * ``accumulate: N``: gradients of N consecutive batches are *summed* (as DMD's code does; with
    Adam the scale barely matters, with value clipping it does) and one optimiser step follows.
    A last partial group of an epoch still takes its step (DMD's code drops it).
  * ``clip_mode``: ``norm`` (clip_grad_norm_, MulT) or ``value`` (clip_grad_value_, DMD), at
    `grad_clip` (0 = off), applied after every backward, as DMD's code does on accumulated grads.
  * ``lr_schedule: plateau``: ReduceLROnPlateau on `plateau_metric` (its direction from the
    name: losses and MAE fall, accuracies, F1 and Corr rise), once per epoch.
  * ``early_stop_patience: N`` (0 = off): the run ends after N epochs in which `early_stop_metric`
    did not improve by more than 1e-6 (DMD's threshold); the last epoch reports early_stopped = 1.
"""

from __future__ import annotations

import math

from kdsearch.config import did_you_mean
from kdsearch.models.options import InvalidOption

PRESET_NAMES = ("none", "mult", "dmd")
CLIP_MODES = ("norm", "value")
SCHEDULES = ("none", "plateau")
EARLY_STOP_MIN_DELTA = 1e-6  # DMD's "improvement larger than 1e-6"

# The recipe keys and what they are without a preset. A teacher cached before these keys
# existed trained exactly like this, so `teacher_cache` leaves keys at these values out of its
# hash and the cache stays valid.
RECIPE_DEFAULTS: dict = {
    "preset": "none",
    "accumulate": 1,
    "clip_mode": "norm",
    "lr_schedule": "none",
    "plateau_factor": 0.1,
    "plateau_patience": 10,
    "plateau_metric": "val_loss",
    "early_stop_patience": 0,
    "early_stop_metric": "val_loss",
}

PRESETS: dict[str, dict] = {
    "none": {},
    "mult": {"lr": 1.0e-3, "batch_size": 24, "grad_clip": 0.8, "clip_mode": "norm", "lr_schedule": "plateau",
             "plateau_factor": 0.1, "plateau_patience": 20, "plateau_metric": "val_loss"},
    "dmd": {"lr": 1.0e-4, "batch_size": 16, "accumulate": 10, "grad_clip": 0.6, "clip_mode": "value",
            "lr_schedule": "plateau", "plateau_factor": 0.5, "plateau_patience": 5, "plateau_metric": "val_loss",
            "early_stop_patience": 10, "early_stop_metric": "val_loss", "weight_decay": 0.0},
}

_RISING = ("acc", "f1", "corr")  # metric names that improve upward; everything else (loss, mae) falls


def metric_mode(name: str) -> str:
    """"max" for accuracies, F1 and Corr, "min" for losses and MAE (by the metric's name)."""
    bare = name.removeprefix("val_")
    return "max" if bare.startswith(_RISING) else "min"


def apply_preset(section: dict) -> dict:
    """The section with its preset's values under the keys it sets itself.

    Raises:
        InvalidOption: an unknown preset (option "preset").
    """
    name = section.get("preset", "none")
    if not isinstance(name, str) or name not in PRESETS:
        raise InvalidOption("preset", f"unknown preset {name!r}{did_you_mean(str(name), PRESETS)}; presets: "
                                      f"{', '.join(PRESET_NAMES)}")
    return {**PRESETS[name], **section}


def check_recipe(section: dict, metrics: tuple[str, ...]) -> None:
    """Raise `InvalidOption` naming the first recipe key of `section` that cannot run.

    Args:
        section: a filled `train` / `teacher_train` section.
        metrics: the validation metrics the task reports (what plateau/early stop may watch).
    """
    if section["preset"] not in PRESETS:
        raise InvalidOption("preset", f"unknown preset {section['preset']!r}; presets: {', '.join(PRESET_NAMES)}")
    for key in ("accumulate",):
        if not _is_int(section[key]) or section[key] < 1:
            raise InvalidOption(key, f"must be an integer >= 1, got {section[key]!r}")
    for key in ("plateau_patience", "early_stop_patience"):
        if not _is_int(section[key]) or section[key] < 0:
            raise InvalidOption(key, f"must be an integer >= 0, got {section[key]!r}")
    for key, choices in (("clip_mode", CLIP_MODES), ("lr_schedule", SCHEDULES)):
        if section[key] not in choices:
            raise InvalidOption(key, f"must be one of {', '.join(choices)}, got {section[key]!r}")
    factor = section["plateau_factor"]
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise InvalidOption("plateau_factor", f"must be a number in (0, 1), got {factor!r}")
    for key in ("plateau_metric", "early_stop_metric"):
        if section[key] not in metrics:
            raise InvalidOption(key, f"{section[key]!r} is not a validation metric of this task; "
                                     f"choose one of {', '.join(metrics)}")


def plateau_scheduler(optimizer, settings):
    """torch's ReduceLROnPlateau for `settings` (a `TrainSettings`), or None without a schedule."""
    if settings.lr_schedule != "plateau":
        return None
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return ReduceLROnPlateau(optimizer, mode=metric_mode(settings.plateau_metric), factor=settings.plateau_factor,
                             patience=settings.plateau_patience)


class EarlyStopper:
    """Counts epochs without an improvement of `metric` larger than `EARLY_STOP_MIN_DELTA`."""

    def __init__(self, metric: str, patience: int):
        self.metric, self.patience = metric, int(patience)
        self.sign = 1.0 if metric_mode(metric) == "max" else -1.0
        self.best: float | None = None
        self.bad_epochs = 0

    def should_stop(self, metrics: dict[str, float]) -> bool:
        """Record one epoch; True once `patience` epochs in a row brought no improvement."""
        value = float(metrics.get(self.metric, math.nan))
        if math.isfinite(value) and (self.best is None or self.sign * (value - self.best) > EARLY_STOP_MIN_DELTA):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_epochs = state["best"], int(state["bad_epochs"])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
