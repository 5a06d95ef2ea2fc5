"""--log tensorboard / mlflow against the real packages: a real smoke search (2 trials of 2 epochs,
tests/shared_searches.py), then its records read back with tensorboard's EventAccumulator and
MLflow's client. Skipped when the extras are not installed (`pip install -e ".[tensorboard,mlflow]"`)."""

import sys

import pandas as pd
import pytest

from kdsearch.cli import main
from kdsearch.errors import UserError
from kdsearch.trackers import parse_log
from smoke_space import write_smoke_space


@pytest.fixture
def search(two_trial_search):
    """The session's finished 2-trial search (tests/shared_searches.py), logged with --log
    tensorboard --log mlflow since both extras are installed."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    return two_trial_search


@pytest.mark.slow
def test_tensorboard_shows_every_trials_epochs(search):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    epochs = pd.read_parquet(search / "epochs.parquet")
    for trial_id, rows in epochs.groupby("trial_id"):
        acc = EventAccumulator(str(search / "tb" / trial_id))
        acc.Reload()
        events = acc.Scalars("val_acc7")
        assert [e.step for e in events] == sorted(rows["epoch"])
        assert [e.value for e in events] == pytest.approx(list(rows.sort_values("epoch")["val_acc7"]))


@pytest.mark.slow
def test_mlflow_has_a_run_per_trial_with_params_metrics_and_best_checkpoint(search):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(search / 'mlruns' / 'mlflow.db').absolute()}")
    experiment = client.get_experiment_by_name(search.name)
    runs = client.search_runs([experiment.experiment_id])
    trials = pd.read_parquet(search / "trials.parquet")
    assert sorted(r.info.run_name for r in runs) == sorted(trials["trial_id"])
    for run in runs:
        row = trials[trials.trial_id == run.info.run_name].iloc[0]
        assert float(run.data.params["loss.beta"]) == pytest.approx(row["loss.beta"])
        history = client.get_metric_history(run.info.run_id, "val_acc7")
        assert sorted(m.step for m in history) == list(range(1, int(row["epochs"]) + 1))
        assert run.info.status == "FINISHED" and run.data.tags["kdsearch.status"] == row["status"]
        files = [f.path for f in client.list_artifacts(run.info.run_id, "best_checkpoint")]
        assert files == ["best_checkpoint/state.pt"]


def test_a_tracker_that_is_not_installed_is_refused_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed
    with pytest.raises(UserError, match=r'--log: mlflow is not installed: pip install "kdsearch\[mlflow\]"'):
        parse_log(["mlflow"])
    with pytest.raises(UserError, match="unknown tracker 'wandb'"):
        parse_log(["wandb"])


def test_cli_refusal_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    space = write_smoke_space(tmp_path / "s.yaml")
    assert main(["run", str(space), "--name", "x", "--results-dir", str(tmp_path / "r"), "--log", "mlflow"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "kdsearch[mlflow]" in err and not (tmp_path / "r" / "x").exists()
