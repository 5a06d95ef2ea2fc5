"""The one YAML loader (kdsearch.safe_yaml) and the user-file reader (kdsearch.userfiles)."""

from __future__ import annotations

import os
import time

import pytest
import yaml

from kdsearch import safe_yaml
from kdsearch.cli import main
from kdsearch.errors import UserError, one_line, short
from kdsearch.userfiles import check_output_path, load_user_json, read_user_text, regular_file


def test_numbers_and_dates_read_as_a_user_means_them():
    doc = safe_yaml.load("a: 1e-3\nb: 5E+2\nc: 1.0e-3\nd: 3\ne: 2024-01-01\nf: 0x10\ng: .inf\nh: 1_000\n")
    assert doc == {"a": 0.001, "b": 500.0, "c": 0.001, "d": 3, "e": "2024-01-01", "f": 16, "g": float("inf"),
                   "h": 1000}
    assert isinstance(doc["d"], int)
    assert yaml.safe_load("a: 1e-3")["a"] == "1e-3"  # PyYAML's own loader is untouched


def test_lr_written_1e_3_and_a_date_name_validate(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "space.yaml").write_text("name: 2024-01-01\ntrain: {lr: 1e-3}\n")
    assert main(["validate", "space.yaml"]) == 0
    assert "experiment '2024-01-01'" in capsys.readouterr().out


def test_billion_laughs_is_refused_in_milliseconds():
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    started = time.perf_counter()
    with pytest.raises(safe_yaml.BoundedError, match="expands to more than"):
        safe_yaml.load("\n".join(levels))
    assert time.perf_counter() - started < 1.0


def test_bounds_depth_recursion_and_many_documents():
    with pytest.raises(safe_yaml.BoundedError, match="nested more than"):
        safe_yaml.load("a: " + "[" * 200 + "]" * 200)
    with pytest.raises(safe_yaml.BoundedError, match="recursive anchor"):
        safe_yaml.load("a: &x [1, *x]")
    doc = "x: &x [" + ", ".join(["0"] * 999) + "]\ny: [" + ", ".join(["*x"] * 98) + "]\n"
    safe_yaml.load(doc)  # ~100k values: just under the bound
    with pytest.raises(safe_yaml.BoundedError, match="in all"):
        safe_yaml.load_all("---\n".join([doc] * 3))


def test_merge_keys_and_duplicate_keys():
    assert safe_yaml.load("a: &a {x: 1}\nb: {<<: *a, y: 2}") == {"a": {"x": 1}, "b": {"x": 1, "y": 2}}
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'x'"):
        safe_yaml.load("x: 1\nx: 2\n")


def test_only_regular_files_are_read(tmp_path):
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    with pytest.raises(UserError, match="named pipe"):
        read_user_text(pipe)
    with pytest.raises(UserError, match="folder"):
        regular_file(tmp_path)
    with pytest.raises(UserError, match="too long"):
        regular_file(tmp_path / ("x" * 300))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * 2048)
    with pytest.raises(UserError, match="larger than"):
        read_user_text(big, limit=1024)


def test_json_depth_is_bounded(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text("[" * 10000 + "]" * 10000)
    with pytest.raises(UserError, match="nested 10000 levels"):
        load_user_json(path)


def test_output_paths(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_output_path(tmp_path / "file" / "deeper" / "out.npy")
    with pytest.raises(UserError, match="empty path"):
        check_output_path("")
    check_output_path(tmp_path / "new" / "out.npy")  # missing folders are fine: they are made


def test_messages_stay_one_short_printable_line():
    nested = ["x"] * 9
    for _ in range(8):
        nested = [nested] * 9
    assert len(short(nested)) < 320 and len(short("a" * 10**6)) < 100
    assert one_line("a\nb\x00c\ud800") == "a\\nb\\x00c\\ud800"
    assert len(UserError("y" * 10_000, file="f").message) <= 400
