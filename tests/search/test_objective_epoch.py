"""Optuna is told what the leaderboard ranks: each trial's chosen epoch (search.objective_epoch).

One real smoke search (ASHA, TPE, 4 trials of 3 epochs). Ray's own OptunaSearch would give
Optuna the last epoch's value; here every finished trial's value is its best validation epoch's,
exactly the leaderboard's `best_val_acc7`, and a pruned trial's last step value is its best so far.
"""

import optuna
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from kdsearch.search.driver import RunOptions, run_search
from kdsearch.spec.space import load_space
from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow


def test_optuna_values_are_the_leaderboards_best_epochs(tmp_path, monkeypatch):
    monkeypatch.setenv("KDSEARCH_CACHE", str(tmp_path / "cache"))
    space = write_smoke_space(tmp_path / "s.yaml", search={"num_samples": 4}, train={"epochs": 3},
                              teacher_train={"epochs": 1})
    folder = run_search(load_space(str(space)), RunOptions(name="obj", results_root=str(tmp_path / "r")),
                        Console(quiet=True)).results_dir
    trials = pq.read_table(folder / "trials.parquet").to_pandas()
    epochs = pq.read_table(folder / "epochs.parquet").to_pandas()
    study = optuna.load_study(study_name="obj", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal"))))
    by_alpha = {round(r["loss.alpha"], 12): r for r in trials.to_dict("records")}
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == len(trials) == 4
    for t in finished:
        row = by_alpha[round(t.params["loss.alpha"], 12)]
        ran = epochs[epochs.trial_id == row["trial_id"]].sort_values("epoch")
        assert row["best_val_acc7"] == pytest.approx(ran["val_acc7"].max())
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert t.value == pytest.approx(row["best_val_acc7"])
        else:  # stopped by ASHA: told PRUNED at its last step with its best value so far
            assert row["status"] == "stopped"
            assert t.intermediate_values[max(t.intermediate_values)] == pytest.approx(row["best_val_acc7"])
    meta = (folder / "meta.json").read_text()
    assert '"objective_epoch": "best"' in meta
