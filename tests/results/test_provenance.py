"""Numbers carry their conventions: the leaderboard, `kdsearch report` of a Table 1 search and of a
DMD search say which metric conventions, training presets and method variants produced them."""

import json

import pandas as pd
import yaml
from rich.console import Console

from kdsearch.report.search_report import write_report
from kdsearch.report.table1 import report_command
from kdsearch.results.leaderboard import leaderboard_command
from kdsearch.results.store import write_parquet_atomic
from kdsearch.spec.space import load_space


def write_results(folder, space, trials, epochs=None, metric="val_acc7", mode="max"):
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({"metric": metric, "mode": mode, "searched": list(space.params),
                                                  "max_epochs": 8}))
    (folder / "space.yaml").write_text(yaml.safe_dump({"name": space.name, "config": space.config}))
    write_parquet_atomic(pd.DataFrame(trials), folder / "trials.parquet")
    write_parquet_atomic(pd.DataFrame(epochs) if epochs else pd.DataFrame(columns=["trial_id", "epoch"]),
                         folder / "epochs.parquet")


def test_table1_report_names_each_rows_method_conventions_and_the_recipes(tmp_path, capsys):
    space = load_space("table1")
    trials = []
    for i, name in enumerate(("c2_crd_final", "c5_edam_up", "no_kd")):
        # What Tune hands a trial of a row: the row's paths as constants (`config/<path>` columns).
        row = {f"config/{path}": value for path, value in space.rows[name].items()}
        trials.append({"trial_id": f"t{i}", "row": name, "status": "done", "best_val_acc7": 0.4, "best_val_f1": 0.3,
                       **row})
    write_results(tmp_path / "r", space, trials)
    assert report_command(str(tmp_path / "r")) == 0
    out = capsys.readouterr().out
    assert "Settings behind each number:" in out
    assert "teacher_train: preset none, lr 0.002, batch 64, clip by norm 0.8" in out
    assert "crd at final, student configuration 2 <- mult teacher video; CRD negatives other_class (c2_crd_final)" in out
    assert "EDAM T↑, upsampler fixed interpolation, direction teacher_to_student" in out and "(c5_edam_up)" in out
    assert "no KD (beta 0), student configuration 5 (no_kd)" in out
    assert "F1 over the 7 classes weighted by the labels' class support" in out


def test_dmd_report_shows_each_heads_learning_and_the_dmd_variants(tmp_path):
    space = load_space("dmd")
    heads = {f"head/{h}/val_{m}": v for h in ("homo/L", "homo/A", "hetero/V", "common")
             for m, v in (("mae", 0.9), ("corr", 0.1), ("std", 0.05))}
    better = {k: (0.4 if k.endswith("mae") else 0.8) for k in heads}
    edges = {f"edge/{u}/{a}->{b}": 1 / 6 for u in ("homo", "hetero") for a in "LAV" for b in "LAV" if a != b}
    epochs = [{"trial_id": "t0", "epoch": 1, "val_mae": 0.9, **heads, **edges},
              {"trial_id": "t0", "epoch": 2, "val_mae": 0.5, **better, **edges}]
    best = {"best_val_mae": 0.5, "best_val_acc2_has0": 0.81, "best_val_acc5": 0.55, "best_val_corr": 0.7}
    trials = [{"trial_id": "t0", "status": "done", "epochs": 2, "best_epoch": 2, **best,
               **{p: 0.1 for p in space.params}}]
    write_results(tmp_path / "r", space, trials, epochs, metric="val_mae", mode="min")
    summary = write_report(tmp_path / "r").read_text()
    assert "## DMD heads, validation (first epoch -> best epoch)" in summary
    assert "| homo/L | 0.1 -> 0.8 | 0.9 -> 0.4 | 0.05 -> 0.8 |" in summary  # corr, mae, std
    assert "Validation at that epoch: acc5 0.55 · acc2_has0 0.81 · mae 0.5 · corr 0.7" in summary
    assert "DMD: task_terms code, margin paper" in summary
    assert "- train: preset none, lr searched, batch 32, clip by norm 0.8, at most 8 epochs" in summary
    assert "acc2_has0: has-0 binary accuracy: all samples, pred >= 0 vs label >= 0" in summary
    assert "f1: non-0 F1: weighted by the labels' class support (MMSA/DMD; MulT's own eval swaps" in summary


def test_leaderboard_prints_every_validation_metric_of_the_best_epoch_with_its_convention(tmp_path):
    space = load_space("dmd")
    best = {"best_val_mae": 0.3, "best_val_corr": 0.9, "best_val_acc7": 0.6, "best_val_acc5": 0.7,
            "best_val_acc2": 0.85, "best_val_f1": 0.84, "best_val_acc2_has0": 0.8, "best_val_f1_has0": 0.79}
    trials = [{"trial_id": "t0", "status": "done", "epochs": 8, "best_epoch": 5, **best,
               **{p: 0.1 for p in space.params}}]
    write_results(tmp_path / "r", space, trials, metric="val_mae", mode="min")
    console = Console(record=True, width=300)
    assert leaderboard_command(tmp_path / "r", console=console) == 0
    text = console.export_text()
    assert ("validation at that epoch: acc7 0.6 · acc5 0.7 · acc2 0.85 · f1 0.84 · acc2_has0 0.8 · f1_has0 0.79 · "
            "mae 0.3 · corr 0.9") in text
    assert "acc2/f1: non-0 convention" in text and "MulT's own F1 weights by the predictions" in text
