"""kdsearch.atomic: the one way every writer writes a file."""

import os

import pytest

from kdsearch.atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text, temporary_path


def test_a_write_lands_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "deep" / "out.json"
    atomic_write_text(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "trials.parquet"
    atomic_write_bytes(path, b"old")

    def half_then_fail(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trials.parquet"]


def test_a_library_that_writes_by_path_gets_the_same_guarantee(tmp_path):
    path = tmp_path / "model.pt"
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"partial")
            assert tmp.parent == path.parent  # same folder: the rename is atomic
            raise RuntimeError("crashed mid-write")
    assert not path.exists() and not list(tmp_path.iterdir())


def test_temporary_names_per_process_or_fixed(tmp_path):
    path = tmp_path / "x.parquet"
    assert temporary_path(path).name == f"x.parquet.tmp-{os.getpid()}"
    # A file one process writes: a killed write's leftover is replaced by the next write.
    leftover = temporary_path(path, per_process=False)
    leftover.write_bytes(b"PAR1 half")
    atomic_write_bytes(path, b"whole", per_process=False)
    assert path.read_bytes() == b"whole" and not leftover.exists()
