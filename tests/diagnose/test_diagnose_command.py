"""End to end: `kdsearch diagnose` on a tiny teacher (and student) and a tiny synthetic file."""

import json

import numpy as np
import pytest
import torch
from matplotlib.image import imread
from rich.console import Console

from kdsearch.cli import main
from kdsearch.data import load_dataset
from kdsearch.diagnose import diagnose_command
from kdsearch.errors import EXIT_USER_ERROR

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def quiet():
    return Console(width=200, record=True)


def test_diagnose_writes_ranked_json_and_valid_pngs(tiny_run):
    out = tiny_run.tmp / "out"
    console = quiet()
    assert diagnose_command(tiny_run.teacher, tiny_run.data, out_dir=out, console=console) == 0
    report = json.loads((out / "diagnose.json").read_text())
    teacher_maps = report["maps"]["teacher"]
    # Complete MulT, 2 layers: 6 cross pairs x 2 layers + 3 mem stages x max(2, 3) layers.
    assert len(teacher_maps) == 6 * 2 + 3 * 3
    conc = [m["concentration"] for m in teacher_maps]
    assert conc == sorted(conc, reverse=True) and [m["rank"] for m in teacher_maps] == list(range(1, 22))
    assert all(0.0 <= c <= 1.0 for c in conc)
    assert report["ranking"][0] == f"{teacher_maps[0]['pair']}/{teacher_maps[0]['layer']}"
    assert report["data"]["samples"] == 10 and report["teacher"]["key"] == "abc123"
    by_name = {(m["pair"], m["layer"]): m for m in teacher_maps}
    assert "event_mass" in by_name[("V<-A", 0)] and "event_mass" in by_name[("mem_A", 2)]
    assert "event_mass" not in by_name[("L<-V", 0)]  # keys from text: no planted events
    # Uniform share under the square causal mask: row i sees keys 0..i; row 0 (forced) is left out.
    events = load_dataset(tiny_run.data, splits=("valid",)).splits["valid"].extras["vision_events"]
    want = np.mean([[(ev <= i).sum() / (i + 1) for i in range(1, 8)] for ev in events])
    assert by_name[("V<-A", 0)]["event_uniform"] == pytest.approx(want)
    assert 0 <= by_name[("V<-A", 0)]["event_mass"] <= 1
    for m in teacher_maps:
        png = out / m["png"]
        assert png.read_bytes()[:8] == PNG_SIGNATURE
    picture = imread(out / by_name[("V<-A", 0)]["png"])
    assert picture.shape[0] >= 400 and picture.shape[1] >= 400 and picture[..., :3].std() > 0.05
    text = console.export_text()
    assert "ranked by concentration" in text and "most mass on the true event steps" in text


def test_diagnose_student_and_per_head(tiny_run):
    out = tiny_run.tmp / "with-student"
    assert diagnose_command(tiny_run.teacher, tiny_run.data, split="test", out_dir=out,
                            student_path=tiny_run.student, max_samples=3, per_head=True, console=quiet()) == 0
    report = json.loads((out / "diagnose.json").read_text())
    student_maps = report["maps"]["student"]
    assert {m["pair"] for m in student_maps} == {"V<-V", "V<-L", "V<-A"}
    assert all(m["samples"] == 3 and len(m["per_head"]) == 2 for m in student_maps)
    assert all("event_mass" in m for m in student_maps)  # keys are video steps
    assert (out / "student_V_from_L_layer0_head1.png").read_bytes()[:8] == PNG_SIGNATURE


def test_cli_runs_and_defaults_the_folder_to_the_teacher_key(tiny_run, monkeypatch):
    monkeypatch.chdir(tiny_run.tmp)
    assert main(["diagnose", str(tiny_run.teacher), str(tiny_run.data), "--max-samples", "4"]) == 0
    assert (tiny_run.tmp / "diagnose-abc123" / "diagnose.json").is_file()


def test_user_errors_exit_2(tiny_run, tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "nope.pt"), str(tiny_run.data)]) == EXIT_USER_ERROR
    assert "no such teacher checkpoint" in capsys.readouterr().err
    assert main(["diagnose", str(tiny_run.teacher), str(tiny_run.data), "--max-samples", "0"]) == EXIT_USER_ERROR
    bad = tmp_path / "not-a-teacher.pt"
    torch.save({"weights": 1}, bad)
    assert main(["diagnose", str(bad), str(tiny_run.data)]) == EXIT_USER_ERROR
    assert "missing state_dict" in capsys.readouterr().err
    # A dataset whose shapes differ from the teacher's is refused with the field named.
    from kdsearch.data import generate
    other = tmp_path / "other.h5"
    generate(other, preset="small", seed=0, n_train=4, n_valid=4, n_test=4, text_len=4, audio_len=8,
             vision_len=6, text_dim=6, audio_dim=5, vision_dim=4, text_tokens=1, event_count=2)
    assert main(["diagnose", str(tiny_run.teacher), str(other)]) == EXIT_USER_ERROR
    assert "valid/vision" in capsys.readouterr().err


def test_student_blob_may_hold_an_objective_state_and_a_whole_config(tiny_run):
    from kdsearch.diagnose.run import build_student_from_blob
    from diag_fixtures import STUDENT_CFG

    teacher_blob = torch.load(tiny_run.teacher, weights_only=True)
    state = {f"student.{k}": v for k, v in tiny_run.student_model.state_dict().items()}
    student = build_student_from_blob({"state_dict": state, "config": {"student": STUDENT_CFG, "task": "x"}},
                                      "s.pt", teacher_blob)
    vision = torch.randn(2, 8, 4)
    assert torch.allclose(student(vision).logits, tiny_run.student_model(vision).logits)


def test_exported_student_model_file_loads_and_a_teacher_file_is_refused(tiny_run):
    from kdsearch.diagnose.run import build_student_from_blob
    from kdsearch.errors import UserError
    from kdsearch.models.checkpoint import model_blob
    from diag_fixtures import DIMS, LENGTHS, STUDENT_CFG

    teacher_blob = torch.load(tiny_run.teacher, weights_only=True)
    exported = model_blob(tiny_run.student_model, arch="video_student", config=STUDENT_CFG, dims=DIMS,
                          lengths=LENGTHS, n_out=7, task="classification")
    student = build_student_from_blob(exported, "s.pt", teacher_blob)
    vision = torch.randn(2, 8, 4)
    assert torch.allclose(student(vision).logits, tiny_run.student_model(vision).logits)
    with pytest.raises(UserError, match="video student"):
        build_student_from_blob(teacher_blob, "t.pt", teacher_blob)
