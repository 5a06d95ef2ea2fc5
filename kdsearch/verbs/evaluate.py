"""`kdsearch evaluate results/<name> [--top K]`: test-split metrics, once, for the chosen trials.

The search chose its trials on validation metrics only. Here the top K trials (by their best
validation value) are restored from the checkpoint of that best epoch and scored once on the
test split; the figures go to results/<name>/evaluation.parquet. A trial already evaluated is
not evaluated again (the test split is for reporting, not for choosing), unless --force.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from kdsearch.errors import UserError
from kdsearch.results.store import read_results, write_parquet_atomic
from kdsearch.results.table import fmt_metric, rank_trials

EVAL_FILE = "evaluation.parquet"


def restore_trial(results_dir: Path, trial_id: str, best_epoch, device: str = "cpu", exp: dict | None = None):
    """(trainer with the trial's best-epoch weights, experiment config, dataset, epoch, model).

    `exp`: the trial's experiment config when the caller knows it (a `kdsearch confirm` grid);
    by default it is rebuilt from the search's space.yaml and trials.parquet."""
    from kdsearch.data.source import load_for_search
    from kdsearch.verbs.checkpoints import best_checkpoint, load_trainer_state
    from kdsearch.verbs.replay import trial_config
    from kdsearch.spec.kinds import kind_of
    from kdsearch.train.experiment import data_shapes_of

    if exp is None:
        exp, _, _ = trial_config(results_dir, trial_id)
    epoch, state_path = best_checkpoint(results_dir, trial_id, None if pd.isna(best_epoch) else best_epoch)
    dataset = load_for_search(exp["data"])
    arrays = dataset.to_arrays()
    # Scoring needs the trained model only: build the objective without a teacher and load the
    # checkpoint's model weights (KD-loss parameters, if any, are not needed).
    kind = kind_of(exp)
    trainer, _, _, model = kind.build_run(kind.scoring_config(exp), arrays, data_shapes_of(arrays), torch.device(device))
    state = load_trainer_state(state_path, device)
    missing, _ = trainer.objective.load_state_dict(state["objective"], strict=False)
    if missing:
        raise UserError(f"checkpoint lacks weights {missing[:3]}", file=str(state_path))
    return trainer, exp, dataset, epoch, model


def evaluate(results_dir: str | Path, *, top: int = 3, force: bool = False, console: Console | None = None) -> pd.DataFrame:
    from kdsearch.train.experiment import tensor_split

    console = console or Console()
    folder = Path(results_dir)
    meta, trials, _ = read_results(folder)
    ranked = rank_trials(trials[trials["status"] != "error"], metric=meta["metric"], mode=meta["mode"]).head(top)
    if ranked.empty:
        raise UserError("no finished trial to evaluate", file=str(folder / "trials.parquet"))
    done = pd.read_parquet(folder / EVAL_FILE) if (folder / EVAL_FILE).is_file() else pd.DataFrame()
    rows = [] if done.empty else done.to_dict("records")
    seen = set() if done.empty else set(done["trial_id"])
    for _, row in ranked.iterrows():
        if row["trial_id"] in seen and not force:
            console.print(f"Trial {row['trial_id']}: already evaluated (use --force to score the test split again)")
            continue
        trainer, exp, dataset, epoch, _ = restore_trial(folder, row["trial_id"], row.get("best_epoch"))
        test = trainer.evaluate(tensor_split(dataset.to_arrays(), "test", torch.device("cpu")), prefix="test_")
        rows = [r for r in rows if r["trial_id"] != row["trial_id"]]
        rows.append({"trial_id": row["trial_id"], "epoch": epoch, f"best_{meta['metric']}": row[f"best_{meta['metric']}"],
                     **test})
        console.print(f"Trial {row['trial_id']}: evaluated on the test split (epoch {epoch})")
    table = pd.DataFrame(rows)
    write_parquet_atomic(table, folder / EVAL_FILE)
    _print(table, meta["metric"], console)
    return table


def _print(table: pd.DataFrame, metric: str, console: Console) -> None:
    from kdsearch.results.provenance import SHORT_NOTES

    task = "regression" if "test_mae" in table.columns else "classification"
    view = Table(title="Test-split metrics (each trial at its best validation epoch)", caption=SHORT_NOTES[task])
    cols = [c for c in table.columns if c.startswith("test_")]
    for col in ["trial_id", "epoch", f"best_{metric}", *cols]:
        view.add_column(col.replace("best_", "valid "), justify="right")
    for _, row in table.iterrows():
        view.add_row(str(row["trial_id"]), str(int(row["epoch"])), fmt_metric(row[f"best_{metric}"]),
                     *(fmt_metric(row[c]) for c in cols))
    console.print(view)


def evaluate_command(results_dir: str, top: int = 3, force: bool = False, console: Console | None = None) -> int:
    evaluate(results_dir, top=top, force=force, console=console)
    return 0
