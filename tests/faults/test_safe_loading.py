"""Checkpoint files that need arbitrary unpickling are refused, unread, by every kdsearch loader.

The payload is live: plain `pickle` runs it (checked first), and it creates a marker file. Each
loader must refuse with one clear line naming the file, and the marker must never appear.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from kdsearch.errors import UserError
from kdsearch.train.model_files import load_model_file
from kdsearch.verbs.checkpoints import best_checkpoint, load_trainer_state
from kdsearch.train.teacher_cache import load_teacher_blob


class WritesMarker:
    """Unpickling it creates `path`: what a malicious checkpoint would do, harmlessly."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def poisoned(tmp_path) -> tuple[Path, Path]:
    """(a torch.save file whose unpickling writes a marker, the marker's path)."""
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(WritesMarker(control)))
    assert control.exists()  # the payload does run under plain pickle
    marker = tmp_path / "marker"
    file = tmp_path / "poisoned.pt"
    torch.save({"arch": "mult", "epoch": 1, "trainer": {}, "state_dict": {}, "payload": WritesMarker(marker)}, file)
    return file, marker


def _refused(load, file: Path, marker: Path) -> str:
    with pytest.raises(UserError) as err:
        load()
    assert not marker.exists(), "the pickled payload ran"
    message = err.value.message
    assert message.startswith(f"{file}: ") and "\n" not in message and "\x1b[" not in message
    return message


def test_teacher_cache_refuses_a_pickled_object(poisoned):
    file, marker = poisoned
    message = _refused(lambda: load_teacher_blob(file), file, marker)
    assert "Python objects" in message


def test_model_file_refuses_a_pickled_object(poisoned):
    file, marker = poisoned
    message = _refused(lambda: load_model_file(file), file, marker)
    assert "Python objects" in message


def test_trial_checkpoints_refuse_a_pickled_object(poisoned, tmp_path):
    """What `kdsearch evaluate` and `export` read: a trial's state.pt in Tune's folder."""
    file, marker = poisoned
    results = tmp_path / "results" / "r"
    state = results / "tune" / "student_trial_abc123_1_x" / "checkpoint_000000" / "state.pt"
    state.parent.mkdir(parents=True)
    (results / "space.yaml").write_text("name: r\nconfig: {}\n")
    state.write_bytes(file.read_bytes())
    message = _refused(lambda: best_checkpoint(results, "abc123", None), state, marker)
    assert "Python objects" in message
    message = _refused(lambda: load_trainer_state(state), state, marker)
    assert "Python objects" in message
