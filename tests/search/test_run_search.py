"""A real search: real Ray, real Optuna study, real trials, real parquet files (tiny sizes)."""

import optuna
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from shared_searches import SMOKE_TRIALS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_search(smoke_search):
    """The session's smoke search (tests/shared_searches.py), with its cache in force: replay,
    evaluate and export read the dataset and the teacher from it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KDSEARCH_CACHE", str(smoke_search.cache))
        yield smoke_search.space, smoke_search.outcome, smoke_search.text


def test_every_trial_lands_in_parquet(finished_search):
    space, outcome, _ = finished_search
    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas()
    epochs = pq.read_table(outcome.results_dir / "epochs.parquet").to_pandas()
    assert len(trials) == SMOKE_TRIALS
    assert set(trials["status"]) <= {"done", "stopped"}
    assert int(trials["epochs"].sum()) == len(epochs)
    for path in space.params:
        assert trials[path].notna().all()
    # A stopped trial ran fewer epochs than the budget; a done one ran them all.
    max_epochs = space.config["train"]["epochs"]
    assert (trials.loc[trials.status == "done", "epochs"] == max_epochs).all()
    assert (trials.loc[trials.status == "stopped", "epochs"] < max_epochs).all()
    assert trials["best_val_acc7"].between(0, 1).all()
    assert (trials["student_params"] > 0).all()


def test_optuna_is_told_pruned_for_asha_stopped_trials(finished_search):
    space, outcome, _ = finished_search
    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas()
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(outcome.results_dir / "optuna.journal")))
    study = optuna.load_study(study_name="tiny", storage=storage)
    states = [t.state for t in study.trials]
    assert len(states) == SMOKE_TRIALS
    n_stopped = int((trials.status == "stopped").sum())
    assert states.count(optuna.trial.TrialState.PRUNED) == n_stopped
    assert states.count(optuna.trial.TrialState.COMPLETE) == SMOKE_TRIALS - n_stopped
    for t in study.trials:
        if t.state == optuna.trial.TrialState.PRUNED:
            assert t.intermediate_values  # reported at the step where ASHA stopped it


def test_trial_configs_hold_the_sampled_values(finished_search):
    space, outcome, _ = finished_search
    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas()
    for path, spec in space.params.items():
        assert trials[path].between(spec.low, spec.high).all()


def test_driver_output_tells_the_story(finished_search):
    _, outcome, text = finished_search
    assert "No GPU in use: trials run on CPU." in text
    assert "teacher epoch 1/2" in text  # cold cache: the teacher was trained, with progress
    assert "kdsearch leaderboard" in text  # the final table
    assert (outcome.results_dir / "space.yaml").is_file()
    assert outcome.teachers_reused == 0 and len(outcome.teacher_metrics) == 1
    (teacher,) = outcome.teacher_metrics
    assert teacher.endswith("(MulT complete)")  # the closing summary says which teacher a key is


def test_replay_reproduces_a_trial_on_cpu(finished_search):
    from kdsearch.verbs.replay import replay

    _, outcome, _ = finished_search
    trials = pq.read_table(outcome.results_dir / "trials.parquet").to_pandas()
    trial_id = trials.sort_values("epochs").iloc[0]["trial_id"]
    replayed, recorded = replay(outcome.results_dir, trial_id, console=Console(file=None, quiet=True))
    assert len(replayed) == len(recorded) >= 1
    for row, (_, rec) in zip(replayed, recorded.iterrows()):
        for metric in ("val_loss", "val_acc7", "val_f1"):
            assert abs(row[metric] - rec[metric]) < 1e-4


def test_evaluate_scores_the_test_split_once(finished_search):
    from kdsearch.verbs.evaluate import evaluate

    _, outcome, _ = finished_search
    quiet = Console(quiet=True)
    table = evaluate(outcome.results_dir, top=2, console=quiet)
    assert len(table) == 2 and table["test_acc7"].between(0, 1).all()
    again = Console(record=True, width=200)
    evaluate(outcome.results_dir, top=2, console=again)
    assert "already evaluated" in again.export_text()
    stored = pq.read_table(outcome.results_dir / "evaluation.parquet").to_pandas()
    assert sorted(stored["trial_id"]) == sorted(table["trial_id"])


def test_export_then_predict_and_torchscript_agree(finished_search, tmp_path):
    import numpy as np
    import torch

    from kdsearch.data.source import dataset_path
    from kdsearch.train.model_files import load_model_file
    from kdsearch.verbs.export import export

    space, outcome, _ = finished_search
    quiet = Console(quiet=True)
    model_file = export(outcome.results_dir, tmp_path / "student.pt", console=quiet)
    script_file = export(outcome.results_dir, tmp_path / "student.ts", fmt="torchscript", console=quiet)
    model, blob = load_model_file(model_file)
    assert blob["arch"] == "video_student" and "preprocess" in blob
    scripted = torch.jit.load(str(script_file))
    from kdsearch.data.layout import load_dataset

    vision = torch.from_numpy(np.asarray(load_dataset(str(dataset_path(space.config["data"]))).splits["test"].vision[:8]))
    with torch.no_grad():
        assert torch.allclose(model(vision).logits, scripted(vision), atol=1e-5)


def test_report_writes_plots_and_summary(finished_search):
    from kdsearch.report.search_report import write_report

    space, outcome, _ = finished_search
    summary = write_report(outcome.results_dir)
    text = summary.read_text()
    assert "## Best trial" in text and "loss.beta" in text
    for name in ("learning_curves.png", "metric_vs_params.png"):
        png = summary.parent / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
