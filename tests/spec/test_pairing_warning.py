"""Paper 000's configuration <-> teacher pairing: another pairing runs, with one warning line."""

from pathlib import Path

import yaml

from kdsearch.cli import main
from kdsearch.spec.space import load_space


def space_file(tmp_path: Path, student_config: int, branch: str, beta: float = 1.0) -> str:
    from kdsearch.models import BRANCH_PAIRS, DISTILLED_PAIRS

    raw = yaml.safe_load(Path("search_spaces/smoke.yaml").read_text())
    raw["student"]["config"] = student_config
    raw["teacher"]["branch"] = branch
    # The configuration's student pairs, each given one of this teacher's cross-modal transformers.
    teacher_pairs = [p for p in BRANCH_PAIRS[branch] if not p.startswith("mem")]
    pairs = dict(zip(DISTILLED_PAIRS[student_config], teacher_pairs))
    raw["distill"] = {"method": "crd", "level": "final", "nce_k": 64, "pairs": pairs}
    raw["loss"]["beta"] = beta
    raw["params"] = {"loss.alpha": raw["params"]["loss.alpha"]}
    path = tmp_path / "pairing.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_another_pairing_runs_with_one_line_naming_the_papers(tmp_path, capsys):
    file = space_file(tmp_path, student_config=3, branch="video")
    space = load_space(file)
    assert len(space.warnings) == 1
    line = space.warnings[0]
    assert line.startswith(f"{file}: teacher.branch: student.config 3 with the video teacher")
    assert "1 complete, 2 video, 3 language, 4 audio, 5 complete" in line
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"kdsearch: warning: {line}"]


def test_validate_prints_the_warning_and_still_succeeds(tmp_path, capsys):
    assert main(["validate", space_file(tmp_path, student_config=2, branch="audio")]) == 0
    out, err = capsys.readouterr()
    assert ": OK" in out
    assert "student.config 2 with the audio teacher" in err and len(err.strip().splitlines()) == 1


def test_the_papers_pairings_and_no_kd_baselines_stay_quiet(tmp_path, capsys):
    assert load_space(space_file(tmp_path, student_config=4, branch="audio")).warnings == []
    assert load_space(space_file(tmp_path, student_config=3, branch="video", beta=0.0)).warnings == []
    assert load_space("table1").warnings == []
    assert capsys.readouterr().err == ""
