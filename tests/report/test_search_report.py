"""`kdsearch report`: plots a reader can trust (a colour per trial, finished ones bold, log axes
for log-sampled parameters, importances with their method, axis label and a small-study caveat)
and a summary.md that carries the test metrics `kdsearch evaluate` wrote."""

import json

import matplotlib
import optuna
import pandas as pd
import yaml

from kdsearch.cli import main
from kdsearch.report import search_report
from kdsearch.report.search_report import write_report

matplotlib.use("Agg")


def _results(folder, n=6):
    """A real Optuna study (journal) and result files of `n` trials over a log-sampled lr."""
    folder.mkdir(parents=True)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal")))
    study = optuna.create_study(study_name=folder.name, storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    trials, epochs = [], []
    for i in range(n):
        t = study.ask({"train.lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
                       "loss.beta": optuna.distributions.FloatDistribution(0.0, 3.0)})
        score = 0.5 - abs(t.params["train.lr"] - 0.01) + 0.01 * t.params["loss.beta"]
        study.tell(t, score)
        status = "done" if i % 2 == 0 else "stopped"
        trials.append({"trial_id": f"t{i}", "status": status, "train.lr": t.params["train.lr"],
                       "loss.beta": t.params["loss.beta"], "epochs": 2, "best_epoch": 2, "best_val_acc7": score})
        epochs += [{"trial_id": f"t{i}", "epoch": e, "val_acc7": score - 0.1 / e} for e in (1, 2)]
    (folder / "meta.json").write_text(json.dumps({"metric": "val_acc7", "mode": "max", "max_epochs": 2,
                                                  "searched": ["train.lr", "loss.beta"]}))
    (folder / "space.yaml").write_text(yaml.safe_dump({"params": {"train.lr": {"type": "float", "low": 1e-4,
                                                                               "high": 0.1, "log": True},
                                                                  "loss.beta": {"type": "float", "low": 0, "high": 3}}}))
    pd.DataFrame(trials).to_parquet(folder / "trials.parquet")
    pd.DataFrame(epochs).to_parquet(folder / "epochs.parquet")
    return folder


def _figures(monkeypatch):
    """Every figure the report draws, kept open for inspection (the report closes them)."""
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    return kept


def test_curves_axes_and_importances_say_what_they_show(tmp_path, monkeypatch):
    folder = _results(tmp_path / "s")
    kept = _figures(monkeypatch)
    text = write_report(folder).read_text()
    curves, params, imp = kept[:3]
    lines = curves.axes[0].get_lines()
    assert len({line.get_color() for line in lines}) == 6  # one colour per trial
    bold = [line for line in lines if line.get_linewidth() > 1]
    assert len(bold) == 3 and all("(done)" in line.get_label() for line in bold)
    assert all(line.get_alpha() < 0.5 for line in lines if line not in bold)  # stopped ones faded
    scales = {ax.get_xlabel(): ax.get_xscale() for ax in params.axes}
    assert scales == {"train.lr (log scale)": "log", "loss.beta": "linear"}
    ax = imp.axes[0]
    assert "PED-ANOVA" in ax.get_title() and ax.get_xlabel().startswith("importance of val_acc7")
    assert any("rough hint" in t.get_text() for t in imp.texts)  # 6 trials: the caveat is on the figure
    assert "Method: PED-ANOVA (Optuna), on the study's 6 finished trials" in text and "> Only 6 finished" in text
    assert "Not evaluated yet" in text


def test_summary_carries_the_test_metrics_evaluate_wrote(tmp_path, capsys):
    folder = _results(tmp_path / "s")
    pd.DataFrame([{"trial_id": "t0", "epoch": 2, "best_val_acc7": 0.41, "test_acc7": 0.3875, "test_f1": 0.25}]
                 ).to_parquet(folder / "evaluation.parquet")
    assert main(["report", str(folder)]) == 0
    text = (folder / "report" / "summary.md").read_text()
    assert "## Test split (kdsearch evaluate)" in text and "test_acc7" in text and "0.3875" in text


def test_no_caveat_once_enough_trials_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(search_report, "FEW_TRIALS", 5)
    text = write_report(_results(tmp_path / "s")).read_text()
    assert "Only 6" not in text and "Method: PED-ANOVA" in text
