"""The closing summary of `kdsearch run`: where results are, the best trial, what ASHA did."""

from __future__ import annotations

import sys

from kdsearch.results.store import read_results
from kdsearch.results.table import best_trial, fmt_metric, fmt_value, status_counts


def print_outcome(outcome, console) -> None:
    meta, trials, _ = read_results(outcome.results_dir)
    metric, mode = meta["metric"], meta["mode"]
    counts = status_counts(trials)
    shown = " · ".join(f"{status} {n}" for status, n in counts.items() if n)
    console.print(f"\n[bold]Search {outcome.name} finished[/] in {outcome.wall_s:.0f} s: {len(trials)} trials ({shown})")
    for key, metrics in outcome.teacher_metrics.items():
        shown = ", ".join(f"{k[4:]}={fmt_metric(v)}" for k, v in metrics.items() if k != "val_loss")
        console.print(f"Teacher {key}: validation {shown}")
    if outcome.teacher_metrics:
        console.print(f"Teachers from the cache: {outcome.teachers_reused} of {len(outcome.teacher_metrics)}")
    best = best_trial(trials, metric=metric, mode=mode)
    if best is None:
        console.print("[red]No trial reported a validation metric.[/]")
    else:
        values = ", ".join(f"{p}={fmt_value(best[p])}" for p in meta["searched"] if p in best.index)
        scores = ", ".join(f"{c[9:]}={fmt_metric(best[c])}" for c in best.index
                           if c.startswith("best_val_") and c != "best_val_loss")
        console.print(f"Best trial [bold]{best['trial_id']}[/] (epoch {_int(best.get('best_epoch'))}): {values}")
        console.print(f"  validation: {scores}")
    console.print(f"Results: {outcome.results_dir}/trials.parquet, epochs.parquet · "
                  f"`kdsearch leaderboard {outcome.results_dir}`")


def _int(value) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return "?"


def print_interrupted(exc, resume: str) -> None:
    """What an interrupted `kdsearch run` says instead of a summary (on stderr: a script that
    reads stdout for the results still sees the failure through the exit status)."""
    ctx = exc.context
    folder = ctx.get("folder")
    which = f"search {ctx['name']}" if ctx.get("name") else "search"
    print(f"kdsearch: {which} interrupted ({exc.signal_name}); it did not finish.", file=sys.stderr)
    if ctx.get("resumable"):
        recorded = folder / "trials.parquet"
        so_far = f"Trials recorded so far: {recorded}." if recorded.is_file() else "No trial had started."
        print(f"{so_far} Continue it with:\n  {resume}", file=sys.stderr)
    else:
        print("Nothing was written yet: run the same command again to start it.", file=sys.stderr)
