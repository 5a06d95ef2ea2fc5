"""render_leaderboard, summary_line and the budget: the one renderer, on handmade tables."""

from __future__ import annotations

import io

import pandas as pd
from rich.console import Console

from kdsearch.results.table import (
    best_trial, budget_used, fmt_seconds, fmt_value, rank_trials, render_leaderboard,
    summary_line,
)

SEARCHED = ["loss.alpha", "distill.temperature"]


def _trials():
    return pd.DataFrame([
        {"trial_id": "t_a", "loss.alpha": 0.123456, "distill.temperature": 4.0, "status": "done",
         "error": None, "epochs": 8, "best_epoch": 7, "best_val_acc7": 0.41,
         "last_val_acc7": 0.40, "elapsed_s": 125.0},
        {"trial_id": "t_b", "loss.alpha": 0.5, "distill.temperature": 2.0, "status": "stopped",
         "error": None, "epochs": 2, "best_epoch": 2, "best_val_acc7": 0.30,
         "last_val_acc7": 0.30, "elapsed_s": 20.0},
        {"trial_id": "t_c", "loss.alpha": 0.9, "distill.temperature": 1.0, "status": "error",
         "error": "loss became NaN at epoch 3 " + "x" * 60, "epochs": 2, "best_epoch": 1,
         "best_val_acc7": 0.55, "last_val_acc7": 0.2, "elapsed_s": 9.0},
        {"trial_id": "t_d", "loss.alpha": 0.7, "distill.temperature": 8.0, "status": "running",
         "error": None, "epochs": 4, "best_epoch": 3, "best_val_acc7": 0.45,
         "last_val_acc7": 0.44, "elapsed_s": 3700.0},
        {"trial_id": "t_e", "loss.alpha": 0.2, "distill.temperature": 8.0, "status": "running",
         "error": None, "epochs": 0, "best_epoch": None, "best_val_acc7": None,
         "last_val_acc7": None, "elapsed_s": 1.0},
    ])


def _text(renderable, width=220):
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False).print(renderable)
    return out.getvalue()


def test_rank_max_puts_failed_and_unreported_trials_last():
    ranked = rank_trials(_trials(), metric="val_acc7", mode="max")
    assert list(ranked["trial_id"]) == ["t_d", "t_a", "t_b", "t_c", "t_e"]
    assert best_trial(_trials(), metric="val_acc7", mode="max")["trial_id"] == "t_d"


def test_rank_min_mode():
    trials = _trials().rename(columns={"best_val_acc7": "best_val_loss"})
    ranked = rank_trials(trials, metric="val_loss", mode="min")
    assert list(ranked["trial_id"]) == ["t_b", "t_a", "t_d", "t_c", "t_e"]


def test_render_shows_rank_values_status_and_hidden_count():
    table = render_leaderboard(_trials(), searched=SEARCHED, metric="val_acc7", mode="max",
                               top=4, max_epochs=8, rungs=[1, 2, 4])
    assert [c.header for c in table.columns] == [
        "#", "trial", "alpha", "temperature", "epoch", "rung", "val_acc7",
        "best val_acc7", "status", "elapsed"]
    assert table.row_count == 4
    text = _text(table)
    lines = [line for line in text.splitlines() if "t_" in line]
    assert [line.split("│")[2].strip() for line in lines] == ["t_d", "t_a", "t_b", "t_c"]
    first = [cell.strip() for cell in lines[0].split("│")[1:-1]]
    assert first == ["1", "t_d", "0.7", "8", "4/8", "4", "0.44", "0.45 @3", "running", "1h01m"]
    assert "0.123" in text and "0.123456" not in text  # 3 significant digits
    assert "stopped by ASHA" in text and "2m05s" in text
    failed = [cell.strip() for cell in lines[3].split("│")[1:-1]]
    assert failed[0] == "-" and failed[-2].startswith("error: loss became NaN") and "…" in failed[-2]
    assert "running 2 · stopped 1 · done 1 · error 1 · 1 more not shown" in text


def test_render_empty_table_and_no_rungs():
    empty = pd.DataFrame(columns=["trial_id", "status", "epochs"])
    table = render_leaderboard(empty, searched=SEARCHED, metric="val_acc7", mode="max", top=5)
    assert table.row_count == 0 and "rung" not in [c.header for c in table.columns]
    assert "running 0" in _text(table)


def test_summary_line_and_budget():
    trials = _trials()
    # stopped and error count all 8 epochs; done 8; running 4 + 0.
    assert budget_used(trials, num_samples=10, max_epochs=8) == (8 + 8 + 8 + 4 + 0, 80)
    assert budget_used(trials, num_samples=-1, max_epochs=8)[1] is None
    line = summary_line(trials, metric="val_acc7", mode="max", num_samples=10, max_epochs=8)
    assert line == ("[kdsearch] 5/10 trials · running 2 · stopped 1 · done 1 · error 1"
                    " · budget 35% · best val_acc7=0.45 (trial t_d)")
    empty = pd.DataFrame(columns=["trial_id", "status", "epochs"])
    assert summary_line(empty, metric="val_acc7", mode="max", num_samples=None,
                        max_epochs=8).endswith("0 trials · running 0 · stopped 0 · done 0"
                                               " · error 0 · best val_acc7=-")


def test_formatting_helpers():
    assert fmt_value(0.000123456) == "0.000123"
    assert fmt_value(3) == "3" and fmt_value(2.0) == "2" and fmt_value("adamw") == "adamw"
    assert fmt_value(None) == "-" and fmt_value(float("nan")) == "-"
    assert fmt_seconds(42.04) == "42.0s" and fmt_seconds(185) == "3m05s"
    assert fmt_seconds(7620) == "2h07m"
