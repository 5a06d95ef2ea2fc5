"""A packed search (`resources.students_per_worker: 3`): real Ray, Tune, ASHA, Optuna and files.

Each packed student stays its own trial everywhere a user looks: its own rows, its own Optuna
trial (pruned when ASHA stopped it), its own checkpoint (evaluate and export restore it), its own
failure when its loss becomes NaN, and numbers that `replay` (the trial alone, without Ray)
reproduces. The students run without dropout so a replay matches to float round-off.
"""

import math

import optuna
import pyarrow.parquet as pq
import pytest
import torch
from rich.console import Console

from kdsearch.search.driver import RunOptions, run_search
from kdsearch.spec.space import load_space
from smoke_space import write_smoke_space

pytestmark = pytest.mark.slow

NO_DROPOUT = {k: 0.0 for k in ("attn_dropout", "relu_dropout", "res_dropout", "embed_dropout", "out_dropout")}
# Beside the smoke space's alpha, beta and temperature: a rate of 1e30 diverges at once, and
# gradient accumulation is a recipe of the one-student loop (such a trial trains alone).
MORE = {"train.lr": {"type": "categorical", "choices": [0.002, 0.003, 0.004, 1.0e+30]},
        "train.accumulate": {"type": "categorical", "choices": [1, 2]}}


@pytest.fixture(scope="module")
def packed_search(tmp_path_factory):
    root = tmp_path_factory.mktemp("packed")
    mp = pytest.MonkeyPatch()
    mp.setenv("KDSEARCH_CACHE", str(root / "cache"))
    path = write_smoke_space(root / "packed.yaml", student=NO_DROPOUT, params=MORE,
                             search={"num_samples": 6, "max_failures": 0, "sampler": {"name": "random", "seed": 0}},
                             resources={"students_per_worker": 3})
    console = Console(record=True, width=200, force_terminal=False)
    outcome = run_search(load_space(str(path)), RunOptions(name="packed", results_root=str(root / "results")), console)
    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas()
    epochs = pq.read_table(outcome.results_dir / "epochs.parquet").to_pandas()
    yield outcome, trials, epochs, console.export_text()
    mp.undo()


def test_each_packed_student_is_its_own_trial(packed_search):
    outcome, trials, epochs, text = packed_search
    assert "3 students packed per worker" in text
    assert len(trials) == 6 and trials["trial_id"].is_unique
    packed = epochs.merge(trials[["trial_id", "train.accumulate"]], on="trial_id")
    assert (packed["packed"] == (packed["train.accumulate"] == 1)).all() and (epochs["pack_shares_batches"] == 0).all()
    assert (packed.loc[packed["packed"] == 0, "pack_size"] == 1).all()  # a trial alone in its own pack
    assert {0, 1} <= set(packed["packed"]) and epochs["pack_size"].max() >= 2  # students really trained together
    diverged = trials[trials["train.lr"] > 1]
    assert len(diverged) >= 1 and (diverged["status"] == "error").all()
    assert diverged["error"].str.contains("loss became NaN/inf at epoch 1").all()
    healthy = trials[trials["train.lr"] < 1]
    assert len(healthy) >= 2 and set(healthy["status"]) <= {"done", "stopped"}
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(outcome.results_dir / "optuna.journal")))
    states = [t.state for t in optuna.load_study(study_name="packed", storage=storage).trials]
    assert len(states) == 6
    assert states.count(optuna.trial.TrialState.PRUNED) == int((trials.status == "stopped").sum())
    assert states.count(optuna.trial.TrialState.FAIL) == len(diverged)


def test_replay_reproduces_packed_trials(packed_search):
    from kdsearch.verbs.replay import replay

    outcome, trials, _, _ = packed_search
    healthy = trials[trials["train.lr"] < 1].sort_values("epochs")
    for trial_id in (healthy.iloc[0]["trial_id"], healthy.iloc[-1]["trial_id"]):  # shortest and longest
        replayed, recorded = replay(outcome.results_dir, trial_id, console=Console(quiet=True))
        assert len(replayed) == len(recorded) >= 1
        for row, (_, old) in zip(replayed, recorded.iterrows()):
            for key in ("train_loss", "val_loss"):
                assert abs(row[key] - old[key]) < 1e-5, (trial_id, row["epoch"], key)


def test_a_packed_trials_checkpoint_restores_its_weights(packed_search, tmp_path):
    from kdsearch.train.experiment import tensor_split
    from kdsearch.verbs.evaluate import restore_trial
    from kdsearch.verbs.export import export

    outcome, trials, epochs, _ = packed_search
    best = trials[trials["train.lr"] < 1].sort_values("best_val_acc7").iloc[-1]
    trainer, _, dataset, epoch, _ = restore_trial(outcome.results_dir, best["trial_id"], best.get("best_epoch"))
    valid = tensor_split(dataset.to_arrays(), "valid", torch.device("cpu"))
    recorded = epochs[(epochs.trial_id == best["trial_id"]) & (epochs.epoch == epoch)].iloc[0]
    assert math.isclose(trainer.evaluate(valid, prefix="val_")["val_loss"], recorded["val_loss"], abs_tol=1e-5)
    assert export(outcome.results_dir, tmp_path / "student.pt", console=Console(quiet=True)).is_file()
