"""What produced a number: the metric conventions and the training and method settings of a trial.

The leaderboard, `kdsearch evaluate` and `kdsearch report` print these lines beside the figures,
so a number copied next to a paper's table carries its conventions with it. Everything is read
from the results folder (space.yaml and the trials table); nothing here imports Ray or torch.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from kdsearch.config import with_overrides

# Metric -> convention, in the order the figures are shown.
METRIC_CONVENTIONS: dict[str, str] = {
    "acc7": "7-class accuracy: round(clip(·, -3, 3)), half to even",
    "acc5": "5-class accuracy: round(clip(·, -2, 2)), half to even",
    "acc2": "non-0 binary accuracy: samples with label != 0, pred > 0 vs label > 0",
    "f1": "non-0 F1: weighted by the labels' class support (MMSA/DMD; MulT's own eval swaps the "
          "arguments and weights by the predictions)",
    "acc2_has0": "has-0 binary accuracy: all samples, pred >= 0 vs label >= 0",
    "f1_has0": "has-0 F1: weighted, label >= 0 vs pred >= 0",
    "mae": "mean |pred - label|, unclipped",
    "corr": "Pearson r",
}
CLASSIFICATION_NOTES: dict[str, str] = {
    "acc7": "7-class accuracy, classes round(clip(label, -3, 3)) + 3, half to even",
    "f1": "F1 over the 7 classes weighted by the labels' class support (paper 000 does not say which average; "
          "MulT's own eval swaps the arguments and weights by the predictions)",
    "acc2": "non-0 binary accuracy: predicted class > 3 vs label > 0, on labels != 0",
}


SHORT_NOTES: dict[str, str] = {
    "regression": "acc2/f1: non-0 convention (labels != 0; pred > 0 vs label > 0); acc2_has0/f1_has0: pred >= 0 vs "
                  "label >= 0 on all; F1 weighted by the labels' classes (MulT's own F1 weights by the predictions); "
                  "acc5/acc7: clipped to ±2/±3, rounded half to even",
    "classification": "acc7: 7 classes round(clip(label, -3, 3)) + 3, half to even; f1: weighted by the labels' "
                      "classes (MulT's own F1 weights by the predictions); acc2: non-0, predicted class > 3 vs label > 0",
}


def task_of(row: pd.Series, prefix: str = "best_val_") -> str:
    """The task a trials or evaluation row was scored on, from the metrics it holds."""
    return "regression" if f"{prefix}mae" in row.index else "classification"


def metric_notes(task: str) -> list[str]:
    """One line per metric of the task: name and convention."""
    notes = CLASSIFICATION_NOTES if task == "classification" else METRIC_CONVENTIONS
    return [f"{name}: {text}" for name, text in notes.items()]


def metrics_line(row: pd.Series, prefix: str = "best_val_") -> str:
    """"acc7 0.431 · acc5 0.52 · ..." of the metrics the row holds under `prefix`, in the order above."""
    parts = []
    for name in METRIC_CONVENTIONS:
        value = row.get(f"{prefix}{name}")
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            parts.append(f"{name} {float(value):.4g}")
    return " · ".join(parts)


def trial_experiment(config: dict, trial: pd.Series, searched: list[str]) -> dict:
    """The experiment config a trial ran: the space's config (space.yaml), then the constants its
    config held (a row's paths, `config/<path>` columns), then its sampled values."""
    values: dict[str, Any] = {}
    for column, value in trial.items():
        path = column[len("config/"):] if str(column).startswith("config/") else (column if column in searched else None)
        if path is None or path == "row" or _missing(value):
            continue
        values[path] = value.item() if hasattr(value, "item") else value
    return with_overrides(config, values)


def recipe_line(section: dict, name: str = "train", searched: tuple[str, ...] | list[str] = ()) -> str:
    """How a `train`/`teacher_train` section trains: preset and the values that make it (a value
    the search varies says so: each trial's is in its row)."""
    def value(key: str, shown: str) -> str:
        return f"{key} searched" if f"{name}.{key}" in searched else shown

    parts = [f"preset {section.get('preset', 'none')}", value("lr", f"lr {section['lr']:g}"),
             value("batch_size", f"batch {section['batch_size']}")]
    if section.get("accumulate", 1) > 1:
        parts.append(f"gradients of {section['accumulate']} batches summed per step")
    if section.get("grad_clip", 0) > 0:
        parts.append(f"clip by {section.get('clip_mode', 'norm')} {section['grad_clip']:g}")
    if section.get("lr_schedule", "none") == "plateau":
        parts.append(f"ReduceLROnPlateau x{section['plateau_factor']:g} after {section['plateau_patience']} "
                     f"epochs on {section['plateau_metric']}")
    if section.get("early_stop_patience", 0) > 0:
        parts.append(f"early stop after {section['early_stop_patience']} epochs without {section['early_stop_metric']} "
                     f"improving")
    return f"{name}: " + ", ".join(parts) + f", at most {section['epochs']} epochs"


def method_line(exp: dict) -> str:
    """The conventions of the method behind a trial's numbers: which variant, not which values
    (the searched values are the leaderboard's columns)."""
    if exp.get("kind") == "dmd":
        m = exp["model"]
        keys = ("task_terms", "margin", "orthogonality", "ort_axis", "edge_priors", "gd_terms", "fusion",
                "conv_padding")
        return "DMD: " + ", ".join(f"{k} {m[k]}" for k in keys if k in m)
    d = exp["distill"]
    if float(exp["loss"]["beta"]) == 0.0:
        return f"no KD (beta 0), student configuration {exp['student']['config']}"
    head = (f"{d['method']} at {d['level']}, student configuration {exp['student']['config']} <- "
            f"{exp['teacher'].get('arch', 'mult')} teacher {exp['teacher'].get('branch', 'complete')}")
    if d["method"] == "edam":
        align = d.get("align", "student_down")
        up = (f", upsampler {'trained on reconstruction' if d.get('upsample_trainable') else 'fixed interpolation'}"
              if align == "teacher_up" else "")
        return (head + f"; EDAM {'S↓' if align == 'student_down' else 'T↑'}{up}, direction "
                f"{d.get('direction', 'teacher_to_student')}, heads {d.get('heads', 'average')}")
    if d["method"] == "crd":
        negatives = d.get("negatives") or ("other_class" if exp["task"] == "classification" else "uniform")
        rows = f", map rows {d.get('map_rows', 'row_mean')}" if d["level"] == "attention_maps" else ""
        return head + f"; CRD negatives {negatives}{rows}"
    return head


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def read_space_record(folder) -> dict | None:
    """results/<name>/space.yaml (the space as run), or None when it is missing or unreadable: a
    report still shows what the parquet files hold."""
    from kdsearch.errors import UserError
    from kdsearch.results.store import read_space_record as read_checked

    try:
        return read_checked(folder)
    except UserError:
        return None


def settings_lines(record: dict, trials: pd.DataFrame, searched: list[str]) -> list[str]:
    """Markdown bullets: the recipes, each distinct method setting (with the trials or rows that ran
    it) and the metric conventions behind a search's numbers."""
    config = record["config"]
    lines = [f"- task: {config['task']}; every number is on the validation split unless it says test"]
    for section in ("teacher_train", "train"):
        if section in config:
            lines.append(f"- {recipe_line(config[section], section, searched)}")
    by_method: dict[str, list[str]] = {}
    for _, trial in trials.iterrows():
        label = str(trial["row"]) if "row" in trial.index and not _missing(trial["row"]) else str(trial["trial_id"])
        by_method.setdefault(method_line(trial_experiment(config, trial, searched)), []).append(label)
    if not by_method:
        by_method[method_line(config)] = []
    for line, who in by_method.items():
        shown = "" if len(by_method) == 1 else f" ({', '.join(who[:6])}{', ...' if len(who) > 6 else ''})"
        lines.append(f"- {line}{shown}")
    lines += [f"- {note}" for note in metric_notes(config["task"])]
    return lines
