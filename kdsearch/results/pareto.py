"""The Pareto front of a multi-objective search (e.g. accuracy against student size or latency)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def objective_columns(metric: str, mode: str, objectives: Sequence[dict] | None) -> list[tuple[str, str]]:
    """[(trials.parquet column, mode)]: the search metric's best value first, then the others.

    A validation metric is read at its best epoch (`best_<metric>`); per-trial facts such as
    `student_params` or `latency_ms` are read as they are.
    """
    cols = [(f"best_{metric}", mode)]
    for obj in objectives or []:
        name = obj["metric"]
        cols.append((f"best_{name}" if name.startswith("val_") else name, obj["mode"]))
    return cols


def pareto_mask(trials: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> np.ndarray:
    """True for trials that no other trial beats on every objective (ties don't dominate)."""
    if trials.empty or any(c not in trials.columns for c, _ in columns):
        return np.zeros(len(trials), dtype=bool)
    # Turn every objective into "smaller is better".
    values = np.column_stack([
        pd.to_numeric(trials[c], errors="coerce").to_numpy(dtype=float) * (-1.0 if m == "max" else 1.0)
        for c, m in columns
    ])
    usable = ~np.isnan(values).any(axis=1)
    if "status" in trials.columns:
        usable &= (trials["status"] != "error").to_numpy()
    mask = np.zeros(len(trials), dtype=bool)
    for i in np.flatnonzero(usable):
        others = values[usable]
        dominated = np.any(np.all(others <= values[i], axis=1) & np.any(others < values[i], axis=1))
        mask[i] = not dominated
    return mask


def front_marks(trials: pd.DataFrame, mask: np.ndarray) -> list[str]:
    """The Pareto column's cell per trial: ★ on the front; "★ stopped" when ASHA stopped that
    trial early, so its values are a shorter run's (its best epoch before max_t), not a full one."""
    status = trials["status"] if "status" in trials.columns else pd.Series("", index=trials.index)
    return [("★ stopped" if s == "stopped" else "★") if on else "" for on, s in zip(mask, status)]
