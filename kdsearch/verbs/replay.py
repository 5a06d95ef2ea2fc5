"""`kdsearch replay results/<name> TRIAL_ID`: re-run one trial on CPU and compare its metrics.

A trial is fully determined by the space as run (results/<name>/space.yaml), its sampled values
(trials.parquet), the recorded seed, the dataset and the cached teacher. Replay rebuilds all of
them and runs the trial's own code path (its kind's `build_run`), outside Ray, so a surprising
leaderboard entry can be checked, debugged or profiled by anyone.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from kdsearch.config import with_overrides
from kdsearch.errors import UserError
from kdsearch.results.store import read_results, read_space_record


def trial_config(results_dir: str | Path, trial_id: str) -> tuple[dict, dict, pd.DataFrame]:
    """(experiment config of the trial, its space record, its reported epochs)."""
    folder = Path(results_dir)
    meta, trials, epochs = read_results(folder)
    row = trials[trials["trial_id"] == trial_id]
    if row.empty:
        known = ", ".join(trials["trial_id"].astype(str).head(10))
        raise UserError(f"no trial {trial_id!r} (trials: {known}{', ...' if len(trials) > 10 else ''})",
                        file=str(folder / "trials.parquet"), field="trial_id")
    record = read_space_record(folder)
    values = {}
    for path in meta["searched"]:
        value = row.iloc[0][path]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue  # a conditional parameter this trial did not sample
        values[path] = value.item() if hasattr(value, "item") else value
    exp = with_overrides(record["config"], values)
    if "seed" in row.columns and not pd.isna(row.iloc[0]["seed"]):
        exp["train"]["seed"] = int(row.iloc[0]["seed"])
    return exp, record, epochs[epochs["trial_id"] == trial_id].sort_values("epoch")


def replay(results_dir: str | Path, trial_id: str, *, epochs: int | None = None, console: Console | None = None):
    """Re-train the trial on CPU; returns (replayed metrics per epoch, recorded metrics per epoch)."""
    from kdsearch.data.source import load_for_search
    from kdsearch.train.teacher_cache import load_teacher_blob, teacher_path
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.experiment import data_shapes_of

    console = console or Console()
    exp, record, recorded = trial_config(results_dir, trial_id)
    if epochs is not None:
        exp["train"]["epochs"] = int(epochs)
    else:
        exp["train"]["epochs"] = int(recorded["epoch"].max()) if len(recorded) else exp["train"]["epochs"]
    torch.set_num_threads(max(1, int(record.get("resources", {}).get("cpus_per_trial", 1))))
    dataset = load_for_search(exp["data"], console=console)
    arrays = dataset.to_arrays()
    kind = kind_of(exp)
    if not kind.needs_teacher(exp):
        blob = data_shapes_of(arrays)
    else:
        path = teacher_path(exp, dataset.fingerprint)
        if not path.is_file():
            raise UserError("the trial's teacher is not in the cache (was it cleared? re-run the search to "
                            "train it again)", file=str(path))
        blob = load_teacher_blob(path)
    targets = None
    if kind.needs_teacher(exp):  # the teacher cache, as the search's trials read it (same numbers)
        from kdsearch.spec.teacher_cache_plan import in_process_targets

        targets = in_process_targets(exp, dataset, blob, console=console)
    trainer, train, valid, _ = kind.build_run(exp, arrays, blob, torch.device("cpu"), targets=targets)
    replayed: list[dict] = []
    trainer.hooks.append(lambda _t, epoch, metrics: replayed.append(dict(metrics)))
    console.print(f"Replaying trial {trial_id} on CPU for {exp['train']['epochs']} epoch(s), seed {exp['train']['seed']}")
    trainer.fit(train, valid)
    return replayed, recorded


def replay_command(results_dir: str, trial_id: str, epochs: int | None = None, console: Console | None = None) -> int:
    console = console or Console()
    replayed, recorded = replay(results_dir, trial_id, epochs=epochs, console=console)
    metrics = [c for c in recorded.columns if c.startswith("val_")]
    table = Table(title=f"Trial {trial_id}: recorded vs replayed validation metrics")
    table.add_column("epoch", justify="right")
    for m in metrics:
        table.add_column(f"{m} rec / replay", justify="right")
    worst = 0.0
    for row in replayed:
        rec = recorded[recorded["epoch"] == row["epoch"]]
        cells = [str(row["epoch"])]
        for m in metrics:
            old = float(rec.iloc[0][m]) if len(rec) else float("nan")
            new = float(row.get(m, float("nan")))
            if not math.isnan(old) and not math.isnan(new):
                worst = max(worst, abs(old - new))
            cells.append(f"{old:.4f} / {new:.4f}")
        table.add_row(*cells)
    console.print(table)
    console.print(f"Largest difference: {worst:.2e}" + ("  (reproduced)" if worst < 1e-4 else ""))
    if worst >= 1e-4:
        for reason in why_it_differs(recorded):
            console.print(f"  likely why: {reason}")
    return 0


def why_it_differs(recorded: pd.DataFrame) -> list[str]:
    """What the recorded epochs say about a replay that does not match them."""
    reasons = []
    if "device" in recorded and (recorded["device"].dropna() != "cpu").any():
        reasons.append(f"the trial trained on {recorded['device'].dropna().iloc[0]}; replay runs on CPU, whose "
                       "arithmetic differs in the last bits, and the gap grows with every step")
    if "resumed_from_epoch" in recorded and recorded["resumed_from_epoch"].notna().any():
        epoch = int(recorded["resumed_from_epoch"].dropna().iloc[0])
        reasons.append(f"the trial resumed from its checkpoint of epoch {epoch}; checkpoints written before "
                       "kdsearch kept every random state (dropout's too) continue differently from there")
    if "packed" in recorded and (recorded["packed"] == 1).any():
        size = int(recorded["pack_size"].max()) if "pack_size" in recorded else 0
        reasons.append(f"the trial trained in a pack ({size} students at most, resources.students_per_worker): with "
                       "dropout, the pack draws the masks for all its students at once, so its numbers are "
                       "statistically the same as an unpacked run's, not identical (docs/packing.md)")
    if "pack_shares_batches" in recorded and (recorded["pack_shares_batches"] == 1).any():
        reasons.append("the pack shared its batch order (resources.pack_shares_batches): the trial saw its pack's "
                       "order, not the one its own seed gives")
    return reasons or ["the code, the data file or the library versions changed since the search ran"]
