"""Paper 000's Table 1 and `kdsearch report results/<name>`: our rows beside the paper's.

The rows are those of `search_spaces/table1.yaml` (same names); the paper's numbers are in
docs/methods.md §10 (CMU-MOSEI unaligned, 7 classes, test split, accuracy % and F1). Ours are
each row's best validation epoch (a search never reads the test split; `kdsearch predict` does,
once), mean and spread over the row's trials, in %. Values on another dataset (the synthetic
default) are not comparable to the paper's; the ordering of the rows is what can be compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kdsearch.errors import UserError
from kdsearch.train.teachers import split_arch
from kdsearch.results.provenance import read_space_record, settings_lines


@dataclass(frozen=True)
class PaperRow:
    """One student row of Table 1: the `table1.yaml` row name, its block and its numbers."""

    name: str
    block: str
    description: str
    acc: float
    f1: float


PAPER_ROWS: tuple[PaperRow, ...] = (
    PaperRow("no_kd", "-", "Student without KD", 41.296, 32.142),
    PaperRow("c1_edam_down", "cfg 1: complete teacher", "EDAM-S↓ on attention maps", 44.137, 36.286),
    PaperRow("c2_crd_final", "cfg 2: video branch", "CRD on final linear layer", 43.711, 33.281),
    PaperRow("c2_crd_penultimate", "cfg 2: video branch", "CRD on penultimate linear layer", 42.576, 35.565),
    PaperRow("c2_crd_attention_maps", "cfg 2: video branch", "CRD on attention maps", 43.837, 35.912),
    PaperRow("c3_crd_final", "cfg 3: language branch", "CRD on final linear layer", 43.154, 32.863),
    PaperRow("c3_crd_penultimate", "cfg 3: language branch", "CRD on penultimate linear layer", 42.901, 34.467),
    PaperRow("c4_crd_final", "cfg 4: audio branch", "CRD on final linear layer", 43.584, 33.260),
    PaperRow("c4_crd_penultimate", "cfg 4: audio branch", "CRD on penultimate linear layer", 43.232, 35.115),
    PaperRow("c5_crd_final", "cfg 5: L+A of complete", "CRD on final linear layer", 42.731, 32.513),
    PaperRow("c5_crd_penultimate", "cfg 5: L+A of complete", "CRD on penultimate linear layer", 43.732, 35.632),
    PaperRow("c5_crd_post_attention", "cfg 5: L+A of complete", "CRD on post-attention linear layers", 43.837,
             35.711),
    PaperRow("c5_crd_attention_maps", "cfg 5: L+A of complete", "CRD on attention maps", 44.031, 36.110),
    PaperRow("c5_edam_down", "cfg 5: L+A of complete", "EDAM-S↓ on attention maps (paper's best)", 44.231, 36.332),
    PaperRow("c5_edam_up", "cfg 5: L+A of complete", "EDAM-T↑ on attention maps", 43.993, 36.189),
)
PAPER_TEACHERS: dict[str, tuple[float, float]] = {
    "complete": (49.779, 48.817), "video": (49.621, 48.542), "language": (49.217, 47.250), "audio": (49.217, 47.232),
}


def student_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """Per Table-1 row: paper numbers and ours (mean/std of each trial's best validation epoch, %).

    Raises:
        UserError: the trials carry no ``row`` column (not a search over table1.yaml).
    """
    if "row" not in trials.columns:
        raise UserError("trials have no 'row' column: not a search over search_spaces/table1.yaml",
                        field="trials.parquet")
    records = []
    known = {r.name for r in PAPER_ROWS}
    extra = [PaperRow(str(n), "(not in the paper)", str(n), float("nan"), float("nan"))
             for n in trials["row"].dropna().unique() if n not in known]
    for row in (*PAPER_ROWS, *extra):
        mine = trials[trials["row"] == row.name]
        ok = mine[mine.get("status", pd.Series(index=mine.index, dtype=object)) != "error"]
        acc = pd.to_numeric(ok.get("best_val_acc7"), errors="coerce").dropna() * 100
        f1 = pd.to_numeric(ok.get("best_val_f1"), errors="coerce").dropna() * 100
        records.append({"row": row.name, "block": row.block, "description": row.description,
                        "paper_acc": row.acc, "paper_f1": row.f1, "trials": len(mine), "errors": len(mine) - len(ok),
                        "acc": acc.mean() if len(acc) else float("nan"), "acc_std": acc.std() if len(acc) > 1 else 0.0,
                        "f1": f1.mean() if len(f1) else float("nan"), "f1_std": f1.std() if len(f1) > 1 else 0.0})
    return pd.DataFrame(records)


def teacher_rows(results_dir: Path, meta: dict) -> pd.DataFrame:
    """Paper teacher numbers beside ours: the validation metrics of the teachers the search used.

    Read from meta.json's ``teachers`` (cache key -> {"teacher": section, "val_metrics": ...})
    when the search recorded it, else from the teacher cache via the space it ran.
    """
    found = {}
    for info in (meta.get("teachers") or {}).values():
        if split_arch(info["teacher"])[0].branches:  # Table 1's teachers are MulT's branches
            found[info["teacher"].get("branch", "complete")] = info.get("val_metrics", {})
    if not found:
        found = _teachers_from_cache(results_dir)
    records = []
    for branch, (acc, f1) in PAPER_TEACHERS.items():
        metrics = found.get(branch, {})
        records.append({"teacher": branch, "paper_acc": acc, "paper_f1": f1,
                        "acc": metrics.get("val_acc7", float("nan")) * 100,
                        "f1": metrics.get("val_f1", float("nan")) * 100})
    return pd.DataFrame(records)


def _teachers_from_cache(results_dir: Path) -> dict[str, dict]:
    """Best effort: rebuild each branch's cache key from space.yaml and read its meta.json."""
    from kdsearch.results.store import read_space_record
    from kdsearch.train.teacher_cache import teacher_path

    try:
        config = read_space_record(results_dir)["config"]
        fingerprint = _fingerprint(config["data"])
    except (KeyError, TypeError, UserError):
        return {}
    found = {}
    if config["teacher"].get("arch", "mult") != "mult":
        return found
    for branch in PAPER_TEACHERS:
        cfg = {**config, "teacher": {**config["teacher"], "branch": branch}}
        meta_file = teacher_path(cfg, fingerprint).parent / "meta.json"
        try:
            found[branch] = json.loads(meta_file.read_text()).get("val_metrics", {})
        except (OSError, json.JSONDecodeError):
            continue
    return found


def _fingerprint(data_cfg: dict) -> str:
    import h5py

    from kdsearch.data.source import dataset_path

    path = dataset_path(data_cfg, create=False)
    try:
        with h5py.File(path, "r") as f:
            return str(f.attrs["fingerprint"])
    except (OSError, KeyError):
        raise UserError("dataset not found", file=str(path)) from None


def report_command(results_dir: str) -> int:
    """CLI body: print Table 1 for a finished (or running) search over table1.yaml."""
    from rich.console import Console
    from rich.table import Table

    from kdsearch.results.store import read_results

    root = Path(results_dir)
    meta, trials, _ = read_results(root)
    students = student_rows(trials)
    teachers = teacher_rows(root, meta)
    console = Console(width=140)
    table = Table(title=f"Paper 000, Table 1 — {root.name}: paper (test, CMU-MOSEI) vs ours (validation)")
    for col in ("block", "row", "paper acc", "paper F1", "ours acc", "ours F1", "trials"):
        table.add_column(col, justify="left" if col in ("block", "row") else "right")
    for t in teachers.itertuples():
        table.add_row("teacher", t.teacher, _pct(t.paper_acc), _pct(t.paper_f1), _pct(t.acc), _pct(t.f1), "")
    for r in students.itertuples():
        trials_cell = str(r.trials) + (f" ({r.errors} failed)" if r.errors else "")
        table.add_row(r.block, f"{r.row}: {r.description}", _pct(r.paper_acc), _pct(r.paper_f1),
                      _pct(r.acc, r.acc_std), _pct(r.f1, r.f1_std), trials_cell)
    console.print(table)
    console.print("Paper: test split of the real CMU-MOSEI unaligned features (7 classes). Ours: each row's best "
                  "validation epoch on this search's data, mean ± std over its trials; on other data (e.g. the "
                  "synthetic default) compare the ordering of rows, not the values.")
    record = read_space_record(root)
    if record is not None:  # the recipes, each row's method conventions, the metric conventions
        console.print("Settings behind each number:", markup=False)
        for line in settings_lines(record, trials, list(meta.get("searched", []))):
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _pct(value: float, std: float = 0.0) -> str:
    if value != value:  # NaN: not run, or not in the paper
        return "—"
    return f"{value:.2f}" + (f" ± {std:.2f}" if std else "")
