"""Optuna is told what the leaderboard ranks: each trial's chosen epoch (search.objective_epoch).

The session's real smoke search (tests/shared_searches.py: ASHA, TPE, 6 trials of 3 epochs). Ray's
own OptunaSearch would give Optuna the last epoch's value; here every finished trial's value is
its best validation epoch's, exactly the leaderboard's `best_val_acc7`, and a pruned trial's last
step value is its best so far.
"""

import optuna
import pyarrow.parquet as pq
import pytest

from shared_searches import SMOKE_TRIALS

pytestmark = pytest.mark.slow


def test_optuna_values_are_the_leaderboards_best_epochs(smoke_search):
    folder = smoke_search.outcome.results_dir
    trials = pq.read_table(folder / "trials.parquet").to_pandas()
    epochs = pq.read_table(folder / "epochs.parquet").to_pandas()
    study = optuna.load_study(study_name=smoke_search.outcome.name, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal"))))
    by_alpha = {round(r["loss.alpha"], 12): r for r in trials.to_dict("records")}
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == len(trials) == SMOKE_TRIALS
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
