"""One rule for which epoch counts (search.objective_epoch): what a trial reports to Tune and
Optuna, what the leaderboard ranks, and how the Pareto column marks ASHA-stopped trials."""

import numpy as np
import pandas as pd
import pytest

from kdsearch.results.objective import ChosenEpoch, objective_key
from kdsearch.results.pareto import front_marks
from kdsearch.results.records import TrialRecords

EPOCHS = [{"val_acc7": 0.2, "val_f1": 0.1, "latency_ms": 3.0}, {"val_acc7": 0.5, "val_f1": 0.4, "latency_ms": 2.0},
          {"val_acc7": 0.3, "val_f1": 0.6, "latency_ms": 1.0}]


def test_best_rule_reports_the_best_epoch_so_far_for_every_objective():
    chosen = ChosenEpoch("val_acc7", "max", "best", names=("val_acc7", "latency_ms"))
    reported = [chosen.update(row) for row in EPOCHS]
    assert [r[objective_key("val_acc7")] for r in reported] == [0.2, 0.5, 0.5]
    # the other objectives are read at the same (chosen) epoch, not at their own best
    assert [r["objective/latency_ms"] for r in reported] == [3.0, 2.0, 2.0]


def test_last_rule_and_min_mode():
    assert ChosenEpoch("val_acc7", "max", "last").update(EPOCHS[0]) == {"objective/val_acc7": 0.2}
    last = ChosenEpoch("val_acc7", "max", "last")
    assert [last.update(r)["objective/val_acc7"] for r in EPOCHS] == [0.2, 0.5, 0.3]
    low = ChosenEpoch("val_mae", "min", "best")
    assert [low.update({"val_mae": v})["objective/val_mae"] for v in (0.9, 0.7, 0.8, float("nan"))] == [0.9, 0.7,
                                                                                                          0.7, 0.7]
    with pytest.raises(ValueError, match="objective_epoch"):
        ChosenEpoch("val_acc7", "max", "median")


@pytest.mark.parametrize("rule, epoch, value", [("best", 2, 0.5), ("last", 3, 0.3)])
def test_records_rank_the_epoch_the_rule_chooses(rule, epoch, value):
    records = TrialRecords(searched=[], metric="val_acc7", mode="max", max_epochs=3, epoch_rule=rule)
    records.start("t1", {}, now=0.0)
    for i, row in enumerate(EPOCHS, 1):
        records.result("t1", {**row, "epoch": i, "objective/val_acc7": 9.9}, now=float(i))
    row = records.trials["t1"]
    assert (row["best_epoch"], row["best_val_acc7"]) == (epoch, value)
    assert row["best_val_f1"] == EPOCHS[epoch - 1]["val_f1"]  # one epoch's metrics
    # the objective columns repeat a chosen value for Tune; they are not new epoch facts
    assert not any(k.startswith("objective/") for k in records.epochs_frame().columns)


def test_front_marks_say_which_front_trials_asha_stopped():
    trials = pd.DataFrame({"status": ["done", "stopped", "stopped", "done"]})
    assert front_marks(trials, np.array([True, True, False, False])) == ["★", "★ stopped", "", ""]
