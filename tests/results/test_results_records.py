"""TrialRecords: turning trial events into trial rows and epoch rows."""

from __future__ import annotations

import math

import pytest

from kdsearch.results.records import TrialRecords


def _records(mode="max", metric="val_acc7"):
    return TrialRecords(searched=["loss.alpha", "optim.name"], metric=metric, mode=mode,
                        max_epochs=4)


def _report(records, trial_id, epoch, **values):
    records.result(trial_id, {"epoch": epoch, "training_iteration": epoch, "timestamp": 1,
                              "config": {"x": 1}, "done": False, **values}, now=float(epoch))


def test_best_columns_are_one_epoch_not_per_column_maxima():
    records = _records()
    records.start("a", {"loss": {"alpha": 0.5}, "optim.name": "adam", "seed": 3}, now=0.0)
    _report(records, "a", 1, val_acc7=0.30, val_f1=0.90, val_loss=1.0)
    _report(records, "a", 2, val_acc7=0.40, val_f1=0.50, val_loss=2.0)
    _report(records, "a", 3, val_acc7=0.35, val_f1=0.95, val_loss=0.5)
    row = records.trials["a"]
    assert row["best_epoch"] == 2
    assert (row["best_val_acc7"], row["best_val_f1"], row["best_val_loss"]) == (0.40, 0.50, 2.0)
    assert (row["last_val_acc7"], row["last_val_f1"]) == (0.35, 0.95)
    # Nested config is flattened to dotted names; non-searched keys are constants.
    assert row["loss.alpha"] == 0.5 and row["optim.name"] == "adam" and row["config/seed"] == 3
    assert row["epochs"] == 3 and row["status"] == "running"


def test_min_mode_and_nan_never_best():
    records = _records(mode="min", metric="val_loss")
    records.start("a", {}, now=0.0)
    _report(records, "a", 1, val_loss=0.8)
    _report(records, "a", 2, val_loss=float("nan"))
    _report(records, "a", 3, val_loss=0.6)
    _report(records, "a", 4, val_loss=0.7)
    row = records.trials["a"]
    assert row["best_val_loss"] == 0.6 and row["best_epoch"] == 3
    assert row["last_val_loss"] == 0.7


def test_finish_sets_stopped_done_and_error():
    records = _records()
    for trial_id, epochs in (("stopped", 2), ("done", 4), ("failed", 1)):
        records.start(trial_id, {}, now=0.0)
        for epoch in range(1, epochs + 1):
            _report(records, trial_id, epoch, val_acc7=0.1 * epoch)
    records.finish("stopped", now=10.0)
    records.finish("done", now=10.0)
    records.finish("failed", error="loss became NaN at epoch 2", now=10.0)
    status = {t: (r["status"], r["error"]) for t, r in records.trials.items()}
    assert status == {"stopped": ("stopped", None), "done": ("done", None),
                      "failed": ("error", "loss became NaN at epoch 2")}
    assert records.trials["done"]["elapsed_s"] == pytest.approx(10.0)


def test_epoch_rows_keep_numbers_and_the_node_and_drop_tune_bookkeeping():
    records = _records()
    records.start("a", {}, now=0.0)
    _report(records, "a", 1, val_acc7=0.2, train_kd=0.1, node_id="n1", student_params=99,
            time_total_s=3.5)
    (row,) = records.epochs
    assert row == {"trial_id": "a", "epoch": 1, "training_iteration": 1, "val_acc7": 0.2,
                   "train_kd": 0.1, "student_params": 99, "time_total_s": 3.5, "node_id": "n1"}
    trial = records.trials["a"]
    assert trial["node_id"] == "n1" and trial["student_params"] == 99
    assert trial["elapsed_s"] == pytest.approx(3.5)  # the trial's own clock beats 1 s of wall time


def test_restart_without_checkpoint_replaces_replayed_epochs():
    records = _records()
    records.start("a", {}, now=0.0)
    for epoch, acc in ((1, 0.5), (2, 0.9), (3, 0.6)):
        _report(records, "a", epoch, val_acc7=acc)
    records.start("a", {}, now=50.0)  # Tune restarts the trial from scratch
    _report(records, "a", 1, val_acc7=0.4)
    row = records.trials["a"]
    assert [e["val_acc7"] for e in records.epochs] == [0.4]
    assert row["epochs"] == 1 and row["best_epoch"] == 1 and row["best_val_acc7"] == 0.4


def test_frames_order_columns_and_load_round_trips():
    records = _records()
    records.start("b", {"loss.alpha": 0.1, "optim.name": "sgd", "sizes": [1, 2]}, now=0.0)
    _report(records, "b", 1, val_acc7=0.3)
    trials = records.trials_frame()
    assert list(trials.columns[:4]) == ["trial_id", "loss.alpha", "optim.name", "config/sizes"]
    assert trials.loc[0, "config/sizes"] == "[1, 2]"  # lists become text: one type per column
    assert list(records.epochs_frame().columns[:2]) == ["trial_id", "epoch"]
    again = _records()
    again.load(trials, records.epochs_frame())
    _report(again, "b", 2, val_acc7=0.5)
    assert again.trials["b"]["best_epoch"] == 2 and len(again.epochs) == 2
    assert not any(isinstance(v, float) and math.isnan(v) for v in again.trials["b"].values())


def test_empty_frames_have_key_columns():
    records = _records()
    assert {"trial_id", "status"} <= set(records.trials_frame().columns)
    assert list(records.epochs_frame().columns) == ["trial_id", "epoch"]


def test_restored_trial_fills_the_epochs_its_checkpoint_remembers():
    # The driver died after Tune kept epoch 2's checkpoint but before epoch 2 reached the rows.
    records = _records()
    records.start("a", {}, now=0.0)
    _report(records, "a", 1, val_acc7=0.5)
    records.start("a", {}, now=50.0)
    _report(records, "a", 3, val_acc7=0.6, resumed_from_epoch=2,
            earlier_epochs=[{"epoch": 1, "val_acc7": 0.5}, {"epoch": 2, "val_acc7": 0.95}])
    row = records.trials["a"]
    by_epoch = {e["epoch"]: e["val_acc7"] for e in records.epochs}
    assert by_epoch == {1: 0.5, 2: 0.95, 3: 0.6}  # epoch 1 kept once, epoch 2 filled in
    assert row["epochs"] == 3 and row["best_epoch"] == 2 and row["best_val_acc7"] == 0.95
    assert all("earlier_epochs" not in e for e in records.epochs)


def test_gpu_seconds_are_the_trials_gpu_share_times_its_time():
    records = _records()
    records.start("g", {}, now=0.0)
    _report(records, "g", 1, val_acc7=0.3, gpus=0.25, time_total_s=8.0)
    assert records.trials["g"]["gpu_s"] == 2.0
    records.touch("g", now=20.0)  # the live view refreshes a running trial's clock
    assert records.trials["g"]["gpu_s"] == 5.0
    records.start("c", {}, now=0.0)
    _report(records, "c", 1, val_acc7=0.3, gpus=0.0, time_total_s=8.0)
    assert records.trials["c"]["gpu_s"] == 0.0  # a CPU trial costs no GPU time
