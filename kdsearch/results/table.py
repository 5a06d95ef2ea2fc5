"""The one leaderboard renderer (live view, final table, `kdsearch leaderboard`) and its helpers.

Everything here works on the trials DataFrame (`TrialRecords.trials_frame()` or
trials.parquet), so the live view and the offline command cannot drift apart.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd
from rich.table import Table
from rich.text import Text

from kdsearch.results.records import STATUSES, is_number

_STATUS_STYLE = {"running": "cyan", "stopped": "yellow", "done": "green", "error": "red", "imported": "magenta"}
_REASON_CHARS = 40


def rank_trials(trials: pd.DataFrame, *, metric: str, mode: str) -> pd.DataFrame:
    """Trials sorted best first by `best_<metric>` under `mode`.

    Failed trials come after every trial with a value, whatever their metric (a run that looked
    great and then diverged to NaN is not a candidate winner), but before trials that have not
    reported yet, so failures stay visible in a top-N view.
    """
    key = f"best_{metric}"
    if trials.empty or key not in trials.columns:
        return trials.reset_index(drop=True)
    values = pd.to_numeric(trials[key], errors="coerce")
    failed = (trials["status"] if "status" in trials.columns
              else pd.Series(None, index=trials.index)).eq("error")
    group = values.isna().map({True: 2, False: 0}).where(~failed, 1)
    ranked = trials.assign(_group=group, _order=values if mode == "min" else -values)
    ranked = ranked.sort_values(["_group", "_order", "trial_id"], na_position="last",
                                kind="stable")
    return ranked.drop(columns=["_group", "_order"]).reset_index(drop=True)


def is_candidate(row: pd.Series, metric: str) -> bool:
    """A trial that may win: it reported the metric and did not fail."""
    return not _missing(row.get(f"best_{metric}")) and row.get("status") != "error"


def best_trial(trials: pd.DataFrame, *, metric: str, mode: str) -> pd.Series | None:
    """The best trial's row (failed trials excluded), or None when there is none yet."""
    ranked = rank_trials(trials, metric=metric, mode=mode)
    if ranked.empty or not is_candidate(ranked.loc[0], metric):
        return None
    return ranked.loc[0]


def status_counts(trials: pd.DataFrame) -> dict[str, int]:
    """Number of trials per status, every status present (zeros included)."""
    counts = dict.fromkeys(STATUSES, 0)
    if "status" in trials.columns:
        for status, n in trials["status"].value_counts().items():
            counts[str(status)] = int(n)
    return counts


def budget_used(trials: pd.DataFrame, *, num_samples: int | None,
                max_epochs: int) -> tuple[int, int | None]:
    """Trial-epochs consumed and the whole budget (num_samples x max_epochs; None if unbounded).

    A stopped or failed trial will never use its remaining epochs, so they count as consumed:
    the bar then reaches 100% exactly when the search ends.
    """
    used = 0
    for status, epochs in zip(trials.get("status", []), trials.get("epochs", [])):
        ended = status in ("stopped", "error")
        used += max_epochs if ended else min(0 if _missing(epochs) else int(epochs), max_epochs)
    total = num_samples * max_epochs if num_samples and num_samples > 0 else None
    return used, total


def summary_line(trials: pd.DataFrame, *, metric: str, mode: str, num_samples: int | None,
                 max_epochs: int) -> str:
    """One compact progress line for logs, e.g. `[kdsearch] 12/16 trials · running 2 ·
    stopped 5 · done 4 · error 1 · budget 63% · best val_acc7=0.412 (trial ab12_00003)`."""
    counts = status_counts(trials)
    seen = f"{len(trials)}/{num_samples}" if num_samples and num_samples > 0 else str(len(trials))
    parts = [f"[kdsearch] {seen} trials", *(f"{s} {n}" for s, n in counts.items())]
    used, total = budget_used(trials, num_samples=num_samples, max_epochs=max_epochs)
    if total:
        parts.append(f"budget {100 * used / total:.0f}%")
    best = best_trial(trials, metric=metric, mode=mode)
    if best is None:
        parts.append(f"best {metric}=-")
    else:
        value = fmt_metric(best[f"best_{metric}"])
        parts.append(f"best {metric}={value} (trial {best['trial_id']})")
    return " · ".join(parts)


def render_leaderboard(trials: pd.DataFrame, *, searched: Sequence[str], metric: str, mode: str,
                       top: int | None = 15, max_epochs: int | None = None,
                       rungs: Sequence[int] | None = None, title: str | None = None,
                       caption: str | None = None, objectives: Sequence[dict] | None = None) -> Table:
    """Renders the leaderboard: best trials first, one row each.

    Args:
        trials: the trials table (one row per trial, columns as in trials.parquet).
        searched: dotted names of the searched parameters, shown as columns.
        metric: the search metric; ranks by `best_<metric>`.
        mode: "max" or "min".
        top: show at most this many rows (None: all); the caption says how many are hidden.
        max_epochs: shown as "epoch/max" when given.
        rungs: ASHA rung epochs; adds a column with the highest rung each trial reached.
        title: table title (default names the metric and mode).
        caption: table caption (default: counts per status).
        objectives: extra objectives of a multi-objective search; adds a column that marks the
            Pareto front, "★ stopped" for front trials ASHA stopped early (and the objectives'
            own columns).

    Returns:
        A `rich.table.Table`.
    """
    ranked = rank_trials(trials, metric=metric, mode=mode)
    front = None
    if objectives:
        from kdsearch.results.pareto import front_marks, objective_columns, pareto_mask

        front = front_marks(ranked, pareto_mask(ranked, objective_columns(metric, mode, objectives)))
    shown = ranked if top is None else ranked.head(top)
    table = Table(title=title or f"kdsearch leaderboard · {metric} ({mode})",
                  caption=caption if caption is not None else _default_caption(trials, len(shown)),
                  header_style="bold", title_justify="left", caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("trial", no_wrap=True)
    for name in searched:
        table.add_column(short_label(name, searched), justify="right")
    table.add_column("epoch", justify="right")
    if rungs:
        table.add_column("rung", justify="right")
    table.add_column(metric, justify="right")
    table.add_column(f"best {metric}", justify="right")
    extra_cols = [f"best_{o['metric']}" if o["metric"].startswith("val_") else o["metric"]
                  for o in objectives or []]
    for col in extra_cols:
        table.add_column(col.replace("best_", "best "), justify="right")
    if front is not None:
        table.add_column("Pareto", justify="center")
    table.add_column("status")
    table.add_column("elapsed", justify="right")

    best_key = f"best_{metric}"
    for i, row in shown.iterrows():
        has_best = not _missing(row.get(best_key))
        candidate = is_candidate(row, metric)
        cells: list[Any] = [str(i + 1) if candidate else "-", str(row["trial_id"])]
        cells += [fmt_value(row.get(name)) for name in searched]
        epochs = 0 if _missing(row.get("epochs")) else int(row["epochs"])
        cells.append(f"{epochs}/{max_epochs}" if max_epochs else str(epochs))
        if rungs:
            reached = [r for r in rungs if epochs >= r]
            cells.append(str(reached[-1]) if reached else "-")
        cells.append(fmt_metric(row.get(f"last_{metric}")))
        best = fmt_metric(row.get(best_key))
        if has_best and not _missing(row.get("best_epoch")):
            best += f" @{int(row['best_epoch'])}"
        cells.append(best)
        cells += [fmt_value(row.get(col)) for col in extra_cols]
        if front is not None:
            cells.append(front[i])
        cells.append(_status_cell(row))
        cells.append(fmt_seconds(row.get("elapsed_s")))
        table.add_row(*cells, style="bold" if i == 0 and candidate else None)
    return table


def short_label(path: str, paths: Sequence[str]) -> str:
    """The last part of a dotted path (`loss.beta` -> `beta`) when that is unambiguous.

    Keeps the table narrow enough for an 80-column terminal; the full paths are in the parquet.
    """
    last = path.rsplit(".", 1)[-1]
    return last if sum(p.rsplit(".", 1)[-1] == last for p in paths) == 1 else path


def _default_caption(trials: pd.DataFrame, shown: int) -> str:
    counts = status_counts(trials)
    text = " · ".join(f"{s} {n}" for s, n in counts.items())
    hidden = len(trials) - shown
    return text + (f" · {hidden} more not shown" if hidden > 0 else "")


def _status_cell(row: pd.Series) -> Text:
    status = str(row.get("status") or "?")
    label = {"stopped": "stopped by ASHA"}.get(status, status)
    if status == "imported" and not _missing(row.get("imported_from")):
        label = f"imported from {row['imported_from']}"  # a warm start's trial of an earlier search
    if status == "error" and not _missing(row.get("error")):
        reason = str(row["error"])
        if len(reason) > _REASON_CHARS:
            reason = reason[: _REASON_CHARS - 1] + "…"
        label = f"error: {reason}"
    return Text(label, style=_STATUS_STYLE.get(status, ""))


def fmt_value(value: Any) -> str:
    """Compact parameter value: 3 significant digits for floats, as-is otherwise."""
    if _missing(value):
        return "-"
    if is_number(value) and not float(value).is_integer():
        return f"{float(value):.3g}"
    if is_number(value):
        return str(int(value)) if abs(float(value)) < 1e6 else f"{float(value):.3g}"
    return str(value)


def fmt_metric(value: Any) -> str:
    """A metric value with 4 significant digits ("-" when missing)."""
    return "-" if _missing(value) or not is_number(value) else f"{float(value):.4g}"


def fmt_seconds(value: Any) -> str:
    """Durations as 42.0s, 3m05s or 2h07m."""
    if _missing(value):
        return "-"
    seconds = float(value)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)
