"""`kdsearch predict` runs any saved model file: a student sees video only, rows keep file order."""

import numpy as np
import pytest
import torch

from p000_helpers import DIMS, LENGTHS, TINY, dataset_splits
from kdsearch.data.layout import write_dataset
from kdsearch.errors import DataError, UserError
from kdsearch.models import VideoStudent
from kdsearch.models.checkpoint import model_blob, save_model_file
from kdsearch.train.model_files import load_model_file
from kdsearch.verbs.predict import predict_command


@pytest.fixture
def data_file(tmp_path):
    splits = dataset_splits()
    write_dataset(tmp_path / "data.h5", splits, {"source": "test", "aligned": False})
    return tmp_path / "data.h5", splits


def student_file(tmp_path, config=5):
    torch.manual_seed(0)
    cfg = {"config": config, "align": "student_down", **TINY}
    student = VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=7, **cfg)
    blob = model_blob(student, arch="video_student", config=cfg, dims=DIMS, lengths=LENGTHS, n_out=7,
                      task="classification")
    return save_model_file(blob, tmp_path / "student.pt"), student.eval()


def test_student_predictions_equal_its_forward_on_video_in_order(tmp_path, data_file, capsys):
    path, splits = data_file
    model_path, student = student_file(tmp_path)
    assert predict_command(str(model_path), str(path), split="valid", out=str(tmp_path / "p"), batch_size=3) == 0
    preds = np.load(tmp_path / "p.npy")  # ".npy" appended, and said so in the summary
    with torch.no_grad():
        expected = student(torch.from_numpy(splits["valid"]["vision"])).logits.numpy()
    assert preds.shape == (4, 7) and np.allclose(preds, expected, atol=1e-5)
    out = capsys.readouterr().out
    assert "p.npy" in out and "acc7=" in out and "f1=" in out


def test_loaded_file_rebuilds_the_same_model(tmp_path):
    model_path, student = student_file(tmp_path, config=3)
    model, blob = load_model_file(model_path)
    assert blob["arch"] == "video_student" and model.config == 3
    for (name, a), b in zip(student.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_feature_width_mismatch_is_a_data_error(tmp_path):
    splits = dataset_splits(dims={**DIMS, "vision": 9})
    write_dataset(tmp_path / "wide.h5", splits, {"source": "test", "aligned": False})
    model_path, _ = student_file(tmp_path)
    with pytest.raises(DataError, match="9-d but the model"):
        predict_command(str(model_path), str(tmp_path / "wide.h5"), out=str(tmp_path / "p.npy"))


def test_a_file_without_the_model_fields_is_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "bare.pt")
    with pytest.raises(UserError, match="missing arch"):
        load_model_file(tmp_path / "bare.pt")


def test_weights_of_another_architecture_say_what_differs(tmp_path):
    model_path, _ = student_file(tmp_path, config=5)
    blob = torch.load(model_path, weights_only=True)
    blob["config"] = {**blob["config"], "config": 2}  # a configuration-2 student has other transformers
    save_model_file(blob, tmp_path / "other.pt")
    with pytest.raises(UserError) as info:
        load_model_file(tmp_path / "other.pt")
    assert info.value.field == "state_dict" and "missing" in info.value.message and "unexpected" in info.value.message


class _Payload:
    def __reduce__(self):
        return (open, ("ran.marker", "w"))


def test_a_file_holding_python_objects_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"state_dict": _Payload()}, tmp_path / "objects.pt")
    with pytest.raises(UserError, match="holds Python objects") as info:
        load_model_file(tmp_path / "objects.pt")
    assert "\x1b" not in info.value.message and not (tmp_path / "ran.marker").exists()
