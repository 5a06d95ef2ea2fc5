"""`data info` / `data synth`: the description names splits, shapes, label stats and counters."""

from __future__ import annotations

import h5py
import pytest
from rich.console import Console

from kdsearch.cli import main
from kdsearch.data.info import class_histogram, describe_dataset, info_command, synth_command
from kdsearch.errors import DataError


def _render(renderable) -> str:
    console = Console(record=True, width=160)
    console.print(renderable)
    return console.export_text()


def _rows(text: str, split: str) -> list[list[str]]:
    """Cells of every table row of `split` (the shapes row first, then the labels row)."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines()
            if line.startswith(f"│ {split} ")]


def test_describe_shows_splits_shapes_stats_and_provenance(tiny_file):
    with h5py.File(tiny_file, "r+") as f:
        f["valid/label"][...] = [-3.0, 0.5, 2.6]
        fingerprint = f.attrs["fingerprint"]
    text = _render(describe_dataset(tiny_file))
    assert "test:tiny" in text and fingerprint in text
    assert "nonfinite replaced  none" in text and "labels clipped      none" in text
    shapes, _ = _rows(text, "train")
    assert shapes == ["train", "6", "5 x 7", "6 x 4", "6 x 3", "vision_lengths -"]
    _, labels = _rows(text, "valid")
    # mean 0.033, min -3, max 2.6; classes -3, 0 (0.5 rounds half to even) and +3 once each
    assert labels[:2] == ["valid", "0.033"] and labels[3:5] == ["-3.00", "2.60"]
    assert labels[5:] == ["1", "0", "0", "1", "0", "0", "1"]


def test_class_histogram_rounds_half_to_even():
    assert class_histogram([-3.4, -2.5, 0.5, 1.5, 2.9, 7.0]).tolist() == [1, 1, 0, 1, 0, 1, 2]


def test_verify_detects_content_changed_after_writing(tiny_file):
    with h5py.File(tiny_file, "r+") as f:
        f["test/text"][0, 0, 0] += 1.0
    _render(describe_dataset(tiny_file))  # structure and labels are still fine
    with pytest.raises(DataError, match="fingerprint: stored '.*' but the content hashes to"):
        describe_dataset(tiny_file, verify=True)


def test_info_and_synth_commands(tmp_path, capsys):
    console = Console(record=True, width=160)
    out = tmp_path / "sub" / "s.h5"
    assert synth_command(out, "small", 3, overrides={"n_train": 40, "n_valid": 8, "n_test": 8},
                         console=console) == 0
    assert info_command(out, verify=True, console=console) == 0
    text = console.export_text()
    assert "synthetic:small" in text and "(verified)" in text and "seed 3" in text
    shape_rows = [row for row in _rows(text, "train") if "8 x 300" in row]
    assert len(shape_rows) == 2 and shape_rows[0][1:5] == ["40", "8 x 300", "32 x 74", "32 x 35"]


def test_cli_turns_a_bad_file_into_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x00" * 100)
    assert main(["data", "info", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"kdsearch: error: {bad}: not an HDF5 file"
