"""kd-gain end to end on tiny settings: real data files, real teacher cache, real training.

Whether distillation *wins* is a measurement (README), not asserted here: at these sizes the
numbers are noise. What is asserted: the pipeline runs, both students share the labelled subset,
the test split and the validation-chosen epochs are reported, the teacher cache is reused, and
the Markdown/JSON outputs hold the table.
"""

from __future__ import annotations

import json

import pytest

from kdsearch.cli import main
from kdsearch.errors import UserError
from kdsearch.experiments import KDGainOptions, kd_gain_command, run_kd_gain
from kdsearch.experiments.kd_gain_report import markdown, spread, verdict

TINY_DATA = {"n_train": 64, "n_valid": 32, "n_test": 32}
TINY_MODELS = {"teacher.d_model": 8, "teacher.layers": 1, "student.d_model": 8, "student.layers": 1,
               "train.batch_size": 32, "teacher_train.batch_size": 32}


def tiny(**kw) -> KDGainOptions:
    return KDGainOptions(**{"seeds": (0,), "epochs": 2, "teacher_epochs": 1, "generator": dict(TINY_DATA),
                            "overrides": dict(TINY_MODELS), **kw})


def test_one_seed_end_to_end_then_teacher_reused(cache_dir):
    report = run_kd_gain(tiny())
    (row,) = report["per_seed"]
    assert report["seeds"] == [0] and row["teacher_reused"] is False
    # The space's scarce-label setting: 15% of 64 training labels, the same count for both students.
    assert row["no_kd"]["labelled"] == row["kd"]["labelled"] == round(0.15 * 64)
    assert row["pairs"] == {"V<-A": "mem_A", "V<-V": "mem_A", "V<-L": "A<-L"}
    for model in ("teacher", "no_kd", "kd"):
        assert 0.0 <= row[model]["test"]["acc7"] <= 1.0
        summary = report["summary"][model]["acc7"]
        assert summary["values"] == [row[model]["test"]["acc7"]] and summary["std"] == 0.0
    assert 1 <= row["no_kd"]["epoch"] <= 2 and 1 <= row["kd"]["epoch"] <= 2
    gain = report["gains"]["kd_minus_no_kd"]["acc7"]["mean"]
    assert gain == pytest.approx(row["kd"]["test"]["acc7"] - row["no_kd"]["test"]["acc7"])
    # Where the maps look: the teacher's mem_A and A<-L keys are audio steps (events known), every
    # student map's keys are video steps.
    assert set(row["teacher"]["focus"]) == {"mem_A", "A<-L"}
    for focus in row["teacher"]["focus"].values():
        assert 0.0 < focus["event_mass"] < 1.0 and 0.0 < focus["event_uniform"] < focus["window_uniform"] < 1.0
    assert set(row["kd"]["focus"]) == set(row["no_kd"]["focus"]) == {"V<-A", "V<-V", "V<-L"}
    assert (cache_dir / "data" / "kd-gain").is_dir()

    again = run_kd_gain(tiny())
    assert again["per_seed"][0]["teacher_reused"] is True
    assert again["per_seed"][0]["teacher"]["test"] == row["teacher"]["test"]


def test_command_writes_markdown_and_json(cache_dir, tmp_path, capsys):
    out = tmp_path / "res" / "kd_gain.md"
    assert kd_gain_command(seeds=[1], epochs=1, teacher_epochs=1, out=str(out), generator=dict(TINY_DATA),
                           overrides=dict(TINY_MODELS)) == 0
    text = out.read_text()
    assert "| model | test acc7 | test F1 (weighted) | epoch chosen |" in text
    assert "no KD (β = 0), 10 labels" in text and "EDAM (β = 3, t = 1)" in text
    assert "student V<-A ← teacher mem_A" in text and "labelled fraction 0.15" in text
    assert text.count("| teacher mem_A (distilled) |") == 1  # distilled into two student maps, shown once
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["seeds"] == [1] and data["settings"]["labelled"] == 10
    assert data["settings"]["generator"]["n_train"] == 64
    assert "teacher" in capsys.readouterr().out


def test_bad_options_are_user_errors(cache_dir, tmp_path):
    with pytest.raises(UserError, match="seeds repeat"):
        run_kd_gain(tiny(seeds=(0, 0)))
    with pytest.raises(UserError, match="--epochs: must be a positive integer"):
        run_kd_gain(tiny(epochs=0))
    space = tmp_path / "file.yaml"
    space.write_text("name: f\ndata: {path: " + str(tmp_path / "x.h5") + "}\n")
    with pytest.raises(UserError):
        run_kd_gain(tiny(space=str(space)))
    assert not (cache_dir / "teachers").exists()  # failed before any training


def test_cli_refuses_a_negative_seed_with_exit_code_2(cache_dir, capsys):
    assert main(["experiment", "kd-gain", "--seeds", "-1", "--out", "unused.md"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_spread_and_verdicts():
    s = spread([0.1, 0.3])
    assert s["mean"] == pytest.approx(0.2) and s["std"] == pytest.approx(0.141421, rel=1e-4)
    assert spread([0.5])["std"] == 0.0
    assert verdict([0.02, 0.01, 0.03], "A", "B") == "A beats B on every seed (+2.0 points on average)."
    assert "not on every seed" in verdict([0.05, -0.01], "A", "B")
    assert "does NOT beat" in verdict([-0.02, 0.01], "A", "B")


def test_markdown_states_a_loss_honestly():
    row = {"seed": 0, "pairs": {"V<-A": "mem_A"}, "seconds": 1.0,
           "teacher": {"epoch": 3, "test": {"acc7": 0.5, "f1": 0.5}, "focus": {}},
           "no_kd": {"epoch": 2, "test": {"acc7": 0.2, "f1": 0.2}, "focus": {}, "labelled": 10},
           "kd": {"epoch": 2, "test": {"acc7": 0.15, "f1": 0.1}, "focus": {}, "labelled": 10}}
    from kdsearch.experiments.kd_gain import experiment_config
    from kdsearch.experiments.kd_gain_report import summarise

    config, search = experiment_config(tiny())
    report = summarise([row], config=config, opts=tiny(), search=search, device="cpu", wall_s=60.0)
    text = markdown(report)
    assert "does NOT beat the no-KD student (-5.0 points on average)" in text
    # One seed has no spread: no "± 0.0", and the header says so.
    assert "| distilled − no KD (paired by seed) | -5.0 | -10.0 | |" in text
    assert "one seed (0): no spread to show" in text
    assert "re-run: `kdsearch experiment kd-gain --seeds 0`" in text  # the default space needs no flag
