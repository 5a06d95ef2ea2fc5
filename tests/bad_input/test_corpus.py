"""Every user mistake in cases.yaml costs one clear line and exit code 2: no traceback, nothing written.

Each case runs the real CLI in a fresh copy of the corpus (cases/ plus the binary files of
bad_input_files.py). Most call `kdsearch.cli.main` in-process, where `ray.init` is a tripwire:
the brief of every `kdsearch run` case is to fail before Ray starts. A few run `python -m
kdsearch` in a subprocess, to prove the real entry point prints the same single line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bad_input_files import CASES_DIR, SPECIAL_FILES, build_corpus, make_special_files, snapshot
from kdsearch.cli import main
from kdsearch.errors import EXIT_USER_ERROR

CASES: list[dict] = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text())
PREFIX = "kdsearch: error: "
CASE_KEYS = {"id", "argv", "stderr", "stderr_re", "file", "field", "absent", "subprocess", "known_bug"}


def _param(case: dict):
    marks = [pytest.mark.xfail(strict=True, reason=case["known_bug"])] if case.get("known_bug") else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.fixture(scope="module")
def corpus_source(tmp_path_factory) -> Path:
    """The corpus, built once per module; each case works on its own copy."""
    root = tmp_path_factory.mktemp("corpus")
    build_corpus(root)
    return root


@pytest.fixture
def workdir(corpus_source, tmp_path, monkeypatch) -> Path:
    work = tmp_path / "work"
    shutil.copytree(corpus_source, work)
    make_special_files(work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("KDSEARCH_CACHE", str(tmp_path / "cache"))  # never the user's cache
    return work


def _ray_tripwire(*args, **kwargs):
    raise RuntimeError("ray.init was called: this mistake must be refused before Ray starts")


def _run_in_process(argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    if argv[0] == "run":
        import ray

        monkeypatch.setattr(ray, "init", _ray_tripwire)
    code = main(argv)
    return code, capsys.readouterr().err


def _run_subprocess(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "kdsearch", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input_costs_one_line_and_exit_code_2(case, workdir, tmp_path, capsys, monkeypatch):
    before = snapshot(tmp_path)
    if case.get("subprocess"):
        code, err = _run_subprocess(case["argv"], workdir)
    else:
        code, err = _run_in_process(case["argv"], capsys, monkeypatch)

    assert code == EXIT_USER_ERROR, f"exit code {code}, stderr:\n{err}"
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.isprintable(), f"control characters (colour codes?) in {line!r}"
    if "stderr" in case:
        assert line == case["stderr"]
    else:
        assert re.fullmatch(case["stderr_re"], line), line
    # `file: field: problem`, in that order, whichever of the two applies.
    named = ": ".join(part for part in (case["file"], case["field"]) if part)
    assert line.startswith(PREFIX + named + ": "), line

    for path in case.get("absent", []):
        assert not (workdir / path).exists(), f"{path} was written"
    assert snapshot(tmp_path) == before, "the failed command wrote or changed files"


def test_table_is_complete_and_consistent():
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)
    for case in CASES:
        assert set(case) <= CASE_KEYS, f"{case['id']}: unknown keys {set(case) - CASE_KEYS}"
        assert ("stderr" in case) != ("stderr_re" in case), f"{case['id']}: give exactly one of stderr, stderr_re"
        assert "file" in case and "field" in case and (case["file"] or case["field"]), case["id"]
        assert case.get("stderr", PREFIX).startswith(PREFIX), case["id"]
    assert sum(bool(c.get("subprocess")) for c in CASES) >= 2


def test_every_case_file_is_used():
    """A file in cases/ that no case reaches is a mistake in the corpus itself."""
    used = {arg for case in CASES for arg in case["argv"]} | set(SPECIAL_FILES)
    orphans = sorted(p.name for p in CASES_DIR.iterdir() if p.name not in used)
    assert not orphans, f"case files no case uses: {orphans}"
