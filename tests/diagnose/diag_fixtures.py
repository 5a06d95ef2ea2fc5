"""A tiny synthetic dataset and tiny teacher/student checkpoints in tmp_path (a unique module name)."""

from types import SimpleNamespace

import pytest
import torch

from kdsearch.data import generate
from kdsearch.models.build import build_student, build_teacher
from kdsearch.train.teacher_cache import save_teacher_blob

# Small enough for seconds on 2 CPU cores; T_a == T_v as in the synthetic presets.
SYNTH = dict(n_train=8, n_valid=10, n_test=4, text_len=4, audio_len=8, vision_len=8, text_dim=6, audio_dim=5,
             vision_dim=4, text_tokens=1, event_count=2)
DIMS = {"text": 6, "audio": 5, "vision": 4}
LENGTHS = {"text": 4, "audio": 8, "vision": 8}
TEACHER_CFG = {"d_model": 8, "heads": 2, "layers": 2}
STUDENT_CFG = {"config": 5, "d_model": 8, "heads": 2, "layers": 1}


@pytest.fixture
def tiny_run(tmp_path):
    """Paths of a tiny dataset, a cached-style teacher checkpoint and a student checkpoint."""
    data = tmp_path / "tiny.h5"
    generate(data, preset="small", seed=3, **SYNTH)
    torch.manual_seed(0)
    teacher = build_teacher(TEACHER_CFG, dims=DIMS, lengths=LENGTHS, n_out=7)
    teacher_path = tmp_path / "cache" / "teachers" / "abc123" / "teacher.pt"
    save_teacher_blob({"state_dict": teacher.state_dict(), "arch": "mult", "config": {"arch": "mult", **TEACHER_CFG},
                       "dims": DIMS, "lengths": LENGTHS, "n_out": 7, "task": "classification",
                       "val_metrics": {"val_acc7": 0.5}}, teacher_path)
    student = build_student(STUDENT_CFG, dims=DIMS, lengths=LENGTHS, n_out=7)
    student_path = tmp_path / "student.pt"
    torch.save({"state_dict": student.state_dict(), "config": dict(STUDENT_CFG)}, student_path)
    return SimpleNamespace(data=data, teacher=teacher_path, student=student_path, tmp=tmp_path,
                           teacher_model=teacher.eval(), student_model=student.eval())
