"""kd-gain is `kdsearch confirm` on a space's fixed configuration: tiny settings, real data file,
real teacher cache, real Ray Tune grid.

Whether distillation *wins* is a measurement (README), not asserted here: at these sizes the
numbers are noise. What is asserted: both students train over the seeds (paired, the same labelled
subset count), the test split and the validation-chosen epochs are reported with the teacher and
chance, and the Markdown/JSON outputs hold the tables.
"""

from __future__ import annotations

import json

import pytest

from kdsearch.cli import main
from kdsearch.errors import UserError
from kdsearch.experiments import KDGainOptions, kd_gain_command
from kdsearch.experiments.kd_gain import experiment_config

TINY_DATA = {"n_train": 64, "n_valid": 32, "n_test": 32}
TINY_MODELS = {"teacher.d_model": 8, "teacher.layers": 1, "student.d_model": 8, "student.layers": 1,
               "train.batch_size": 32, "teacher_train.batch_size": 32}


def tiny(**kw) -> KDGainOptions:
    return KDGainOptions(**{"seeds": (0,), "epochs": 2, "teacher_epochs": 1, "generator": dict(TINY_DATA),
                            "overrides": dict(TINY_MODELS), **kw})


@pytest.mark.slow
def test_command_runs_confirm_and_writes_markdown_and_json(cache_dir, tmp_path, capsys):
    out = tmp_path / "res" / "kd_gain.md"
    assert kd_gain_command(seeds=[0, 1], epochs=1, teacher_epochs=1, out=str(out), generator=dict(TINY_DATA),
                           overrides=dict(TINY_MODELS)) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["command"] == "confirm" and data["seeds"] == [0, 1]
    assert list(data["configurations"]) == ["distilled", "no-KD"]
    assert data["configurations"]["no-KD"]["overrides"] == {"loss.beta": 0.0}
    assert data["configurations"]["distilled"]["epochs"] == [1, 1]
    assert "MulT complete" in next(iter(data["teacher"]))
    text = out.read_text()
    assert "| distilled | 2 |" in text and "| no-KD | vs" not in text and "| distilled | no-KD |" in text
    assert (tmp_path / "res" / "kd_gain" / "confirm.png").is_file()  # the grid's folder, resumable
    assert (cache_dir / "data" / "kd-gain").is_dir()
    assert "Wrote" in capsys.readouterr().out


def test_bad_options_are_user_errors(cache_dir, tmp_path):
    with pytest.raises(UserError, match="seeds repeat"):
        experiment_config(tiny(seeds=(0, 0)))
    with pytest.raises(UserError, match="--epochs: must be a positive integer"):
        experiment_config(tiny(epochs=0))
    with pytest.raises(UserError, match="loss.beta"):
        experiment_config(tiny(overrides={"loss.beta": 0.0}))
    assert not (cache_dir / "teachers").exists()  # failed before any training


def test_a_space_on_a_dataset_file_is_accepted(cache_dir, tmp_path):
    """kd-gain used to refuse data.path; like confirm, it now runs on any dataset."""
    config, _ = experiment_config(tiny(generator={}, overrides={**TINY_MODELS, "data": {"path": "/x.h5"}}))
    assert config["data"] == {"path": "/x.h5"}


def test_cli_refuses_a_negative_seed_with_exit_code_2(cache_dir, capsys):
    assert main(["experiment", "kd-gain", "--seeds", "-1", "--out", "unused.md"]) == 2
    assert "--seeds" in capsys.readouterr().err
