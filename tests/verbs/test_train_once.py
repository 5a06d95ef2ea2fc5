"""`kdsearch train`: one configuration trained in-process with a trial's own code, no Ray."""

import numpy as np
import pytest

from kdsearch.cli import main
from kdsearch.train.model_files import load_model_file
from kdsearch.verbs.predict import predict_command
from kdsearch.verbs.train_once import parse_sets


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KDSEARCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_trains_the_fixed_config_and_keeps_the_best_epoch(tmp_path, cache, capsys):
    out = tmp_path / "student.pt"
    assert main(["train", "smoke", "--set", "train.epochs=2", "--set", "loss.beta=0.5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "teacher epoch 2/2" in text  # no teacher cached yet: trained and cached, as a search would
    assert "epoch 1/2" in text and "epoch 2/2" in text and "Best epoch" in text
    model, blob = load_model_file(out)
    assert blob["arch"] == "video_student" and blob["config"]["config"] == 5
    assert blob["val_metrics"]["epoch"] in (1.0, 2.0) and 0 <= blob["val_metrics"]["val_acc7"] <= 1
    (data,) = (cache / "data").glob("*.h5")
    assert predict_command(str(out), str(data), split="valid", out=str(tmp_path / "p.npy")) == 0
    preds = np.load(tmp_path / "p.npy")
    assert preds.shape[1] == 7 and np.isfinite(preds).all()
    # A second run takes the cached teacher.
    assert main(["train", "smoke", "--set", "train.epochs=1"]) == 0
    assert "Reusing cached teacher" in capsys.readouterr().out


def test_a_dmd_space_trains_and_saves_a_dmd_model(tmp_path, cache, capsys):
    out = tmp_path / "dmd.pt"
    assert main(["train", "dmd", "--set", "train.epochs=1", "--set", "model.d_model=8", "--set", "model.heads=2",
                 "--set", "model.layers=1", "--out", str(out)]) == 0
    assert "Training the DMD model" in capsys.readouterr().out
    _, blob = load_model_file(out)
    assert blob["arch"] == "dmd"


@pytest.mark.parametrize("sets,words", [
    (["loss.betta=1"], "loss.betta"),                 # checked like the file: did-you-mean
    (["loss.beta"], "--set: expected PATH=VALUE"),
    (["train.epochs=0"], "train.epochs"),
])
def test_bad_settings_cost_one_line_and_exit_2(cache, capsys, sets, words):
    argv = ["train", "smoke"] + [a for s in sets for a in ("--set", s)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_set_values_are_read_as_yaml():
    assert parse_sets(["a.b=2", "c=0.5", "d=[1, 2]", "e=true", "f=edam"]) == {
        "a.b": 2, "c": 0.5, "d": [1, 2], "e": True, "f": "edam"}


def test_train_reads_the_teacher_cache_and_learns_exactly_what_the_online_teacher_teaches(cache, capsys):
    """`kdsearch train` computes the cache in-process (once: the second run reuses it); the
    metrics equal those of `teacher_cache: off`, which runs the teacher every step."""
    from kdsearch.verbs.train_once import train_once

    common = ["train.epochs=2", "loss.beta=2.0"]
    cached = train_once("smoke", sets=[*common, "distill.teacher_cache=on"])
    text = capsys.readouterr().out
    assert "teacher targets cached once" in text and "Teacher targets computed once" in text
    online = train_once("smoke", sets=[*common, "distill.teacher_cache=off"])
    assert "teacher cache off" in capsys.readouterr().out
    assert cached.keys() == online.keys()
    for key in cached:
        assert abs(cached[key] - online[key]) < 1e-6 or key == "epoch_time_s", key
    train_once("smoke", sets=[*common, "train.epochs=1"])
    assert "Reusing cached teacher targets" in capsys.readouterr().out
