"""Every way a stored file can be wrong gives one exact message naming file, field and problem."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from kdsearch.data.layout import load_dataset
from kdsearch.errors import DataError


def _error(path, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        load_dataset(path, **kwargs)
    return str(err.value)


def _replace(f: h5py.File, key: str, data) -> None:
    del f[key]
    f[key] = data


def test_missing_file(tmp_path):
    path = tmp_path / "nope.h5"
    assert _error(path) == f"{path}: file not found"


def test_not_hdf5(tmp_path):
    path = tmp_path / "data.h5"
    path.write_text("text,audio\n1,2\n")
    assert _error(path) == f"{path}: not an HDF5 file"


def test_truncated_file(tiny_file):
    size = os.path.getsize(tiny_file)
    with open(tiny_file, "r+b") as fh:
        fh.truncate(size // 2)
    assert _error(tiny_file) == f"{tiny_file}: truncated or corrupt HDF5 file (re-create or re-import it)"


def test_not_this_layout(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    assert _error(path) == f"{path}: format: root attribute missing: not a kdsearch-dataset file"


@pytest.mark.parametrize("edit, expected", [
    (lambda f: f.attrs.__setitem__("format_version", 2), "format_version: is 2, this kdsearch reads version 1"),
    (lambda f: f.attrs.__delitem__("fingerprint"),
     "fingerprint: root attribute missing; write files with kdsearch (data synth / import)"),
    (lambda f: f.__delitem__("valid"), "valid: split group missing"),
    (lambda f: f.__delitem__("test/label"), "test/label: field missing"),
    (lambda f: _replace(f, "train/audio", np.zeros((5, 6, 4), np.float32)),
     "train/audio: has 5 samples, but train/text has 6"),
    (lambda f: _replace(f, "valid/vision", np.zeros((3, 6, 20), np.float32)),
     "valid/vision: feature dim 20 differs from train's 3"),
    (lambda f: _replace(f, "test/audio", np.zeros((4, 9, 4), np.float32)),
     "test/audio: sequence length 9 differs from train's 6"),
    (lambda f: _replace(f, "train/text", np.zeros((6, 5, 7), np.float64)),
     "train/text: dtype float64, expected float32"),
    (lambda f: _replace(f, "train/vision", np.zeros((6, 18), np.float32)),
     "train/vision: shape (6, 18) has rank 2, expected (N, T, D)"),
    (lambda f: f["train/id"].__setitem__(4, "train-1"),
     "train/id: 1 duplicate ids, e.g. 'train-1' occurs 2 times"),
    (lambda f: f["valid/vision"].__setitem__((2, 0, 1), np.nan),
     "valid/vision: 1 non-finite values (NaN or inf), first in sample 2; "
     "importers must replace them (kdsearch.data.validate.sanitize)"),
    (lambda f: f["test/audio"].__setitem__((1, 3), -np.inf),
     "test/audio: 4 non-finite values (NaN or inf), first in sample 1; "
     "importers must replace them (kdsearch.data.validate.sanitize)"),
    (lambda f: f["valid/label"].__setitem__(1, -3.5),
     "valid/label: 1 labels outside [-3, 3] (min -3.5, max {vmax:g})"),
    (lambda f: f["train/vision_lengths"].__setitem__(0, 7),
     "train/vision_lengths: values must lie in [0, 6], found 7"),
])
def test_bad_content_gives_one_exact_message(tiny_file, edit, expected):
    with h5py.File(tiny_file, "r+") as f:
        edit(f)
        vmax = float(f["valid/label"][...].max()) if "valid/label" in f else 0.0
    assert _error(tiny_file) == f"{tiny_file}: " + expected.format(vmax=vmax)


def test_unknown_split_requested(tiny_file):
    assert _error(tiny_file, splits=("train", "dev")) == f"{tiny_file}: unknown split 'dev' (splits are train, valid, test)"


def test_only_requested_splits_are_checked(tiny_file):
    with h5py.File(tiny_file, "r+") as f:
        f["test/label"][0] = 9.0
    assert set(load_dataset(tiny_file, splits=("train", "valid")).splits) == {"train", "valid"}
