"""Show benchmark results as a short rich table and write them as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

from rich.table import Table
from kdsearch.atomic import atomic_write_text


def _ms(entry: dict | None) -> str:
    if not entry:
        return "-"
    return f"{entry['median_ms']:.1f} ±{entry['iqr_ms']:.1f}"


def _num(value, fmt: str = "{:.1f}") -> str:
    return "n/a" if value is None or isinstance(value, str) else fmt.format(value)


def results_table(results: dict) -> Table:
    """One row per model: parameters, training step, best batch, epoch estimate, latency, memory."""
    meta = results["meta"]
    table = Table(title=f"kdsearch bench · {meta['device']} ({meta['device_name']}) · {meta['shapes']} shapes · "
                        f"{meta['threads']} thread(s)", title_justify="left")
    batch = meta["batch"]
    for column in ("model", "params", f"train ms @{batch} (median ±IQR)", "CPU ms", "best batch: samples/s",
                   "epoch s (est.)", "infer ms b1", "infer ms b32", "peak MB"):
        table.add_column(column, justify="left" if column == "model" else "right")
    rows = [("teacher (MulT)", results["teacher"])]
    naive = results.get("compare", {}).get("naive")
    if naive:
        rows.append(("teacher, naive MulT style", naive))
    rows += [(f"student {name} + EDAM", entry) for name, entry in results["students"].items()]
    for name, entry in rows:
        best = entry.get("best")
        cpu_ms = _num(entry["train"].get("cpu_median_ms"), "{:.0f}")
        table.add_row(name, f"{entry['params']:,}", _ms(entry["train"]), cpu_ms,
                      f"{best['batch']}: {best['samples_per_s']:.3g}" if best else "-",
                      _num(entry["train"]["epoch_s_est"]), _ms(entry.get("infer_b1")), _ms(entry.get("infer_b32")),
                      _num(entry.get("peak_mem_mb"), "{:.0f}"))
    return table


def summary_lines(results: dict) -> list[str]:
    """The side-by-side ratios, the search figures and the conditions of the run, in words."""
    meta = results["meta"]
    lines = []
    naive = results.get("compare", {}).get("naive")
    if naive:
        reps = naive["train"]["reps"]
        by_cpu = naive.get("speedup_train_cpu_time")
        cpu_text = f" ({by_cpu:.2f}x by CPU time)" if by_cpu else ""
        lines.append(f"optimised teacher vs naive MulT-style code, timed side by side: training step "
                     f"{naive['speedup_train']:.2f}x{cpu_text}, inference b1 {naive['speedup_infer_b1']:.2f}x, "
                     f"b32 {naive['speedup_infer_b32']:.2f}x faster (medians of {reps}; same weights, "
                     f"same parameter count: {naive['same_params']})")
    search = results.get("search", {})
    if search and not search.get("skipped"):
        util = search["gpu_util_mean"]
        util_text = "n/a (no GPU)" if isinstance(util, str) else f"{util:.0f}% mean, {search['gpu_util_max']:.0f}% max"
        lines.append(f"search '{search['space']}': {search['trials']} trials in {search['wall_s']:.1f} s = "
                     f"{search['trials_per_hour']:.0f} trials/hour; GPU utilisation {util_text}")
    lines.append(f"load average {meta['load_avg_start']} -> {meta.get('load_avg_end')} on {meta['cpu_count']} CPUs; "
                 f"{meta.get('wall_s', 0):.1f} s in all; epoch = {meta['n_train']:,} samples "
                 f"(estimate: median step x steps)")
    return lines


def print_results(results: dict, console) -> None:
    console.print(results_table(results))
    for line in summary_lines(results):
        console.print(line, highlight=False)


def write_json(results: dict, path: str | os.PathLike) -> Path:
    """Write `results` to `path` atomically (a reader never sees half a file)."""
    atomic_write_text(path, json.dumps(results, indent=2, sort_keys=False) + "\n")
    return Path(path)
