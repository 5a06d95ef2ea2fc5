"""`kdsearch leaderboard`: the table of a search, from its files (also while it runs).

The live view drawn during a run is `kdsearch.search.live_leaderboard`; both render through
`kdsearch.results.table`, so they show the same table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console

from kdsearch.results.provenance import SHORT_NOTES, metrics_line, task_of
from kdsearch.results.store import read_results
from kdsearch.results.table import best_trial, fmt_metric, render_leaderboard

# Rows of the live table, the final table of a run and `kdsearch leaderboard`: one number, so
# the table a run ends on and the one the command prints from the files are the same.
TOP_ROWS = 20


def leaderboard_command(results_dir: str | os.PathLike, top: int = TOP_ROWS,
                        console: Console | None = None) -> int:
    """`kdsearch leaderboard results/<name>`: prints the table and the best trial's config.

    Args:
        results_dir: a directory written by `ResultsWriter`.
        top: rows to show.
        console: where to print (default: stdout).

    Returns:
        The exit code (0). Missing or corrupt files raise `kdsearch.errors.UserError`.
    """
    console = console or Console()
    meta, trials, _ = read_results(results_dir)
    metric, mode, searched = meta["metric"], meta["mode"], list(meta["searched"])
    console.print(render_leaderboard(with_imported(results_dir, trials), searched=searched, metric=metric, mode=mode, top=top,
                                     max_epochs=meta.get("max_epochs"), rungs=meta.get("rungs"),
                                     objectives=meta.get("objectives")))
    best = best_trial(trials, metric=metric, mode=mode)
    if best is None:
        console.print(f"No trial has reported {metric} yet.", markup=False)
        return 0
    console.print(f"Best trial {best['trial_id']}: {metric}={fmt_metric(best[f'best_{metric}'])}"
                  f" at epoch {int(best['best_epoch'])} ({best['status']})", markup=False)
    # Every validation metric of that epoch, with the conventions they follow (the figures a user
    # puts beside a paper's table).
    console.print(f"  validation at that epoch: {metrics_line(best)}", markup=False, highlight=False)
    console.print(f"  ({SHORT_NOTES[task_of(best)]})", markup=False, highlight=False)
    config = {name: best.get(name) for name in searched}
    config.update({key[len("config/"):]: best[key] for key in best.index
                   if key.startswith("config/")})
    for name, value in config.items():
        # Full precision here: these are the values to copy into a final training run.
        console.print(f"  {name}: {_plain(value)}", markup=False, highlight=False)
    return 0


def with_imported(results_dir, trials):
    """The trials, plus the rows a warm start imported (status "imported"), for display only:
    the best trial, evaluate and export stay this search's own."""
    import pandas as pd

    from kdsearch.results.store import WARM_FILE

    path = Path(results_dir) / WARM_FILE
    if not path.is_file():
        return trials
    imported = pd.read_parquet(path)
    return imported if trials.empty else pd.concat([trials, imported], ignore_index=True)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
