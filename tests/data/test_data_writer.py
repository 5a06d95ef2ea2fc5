"""The writer commits atomically and refuses unclean or incomplete content."""

from __future__ import annotations

import os

import numpy as np
import pytest
from tiny_data import ATTRS

from kdsearch.data.layout import DatasetWriter, load_dataset, write_dataset
from kdsearch.errors import DataError


def _shapes(splits):
    return {s: {k: v.shape for k, v in f.items()} for s, f in splits.items()}


def test_exception_mid_write_leaves_no_file_and_no_tmp(tmp_path, splits):
    path = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="disk on fire"):
        with DatasetWriter(path, attrs=ATTRS, shapes=_shapes(splits)) as w:
            w.write("train", 0, splits["train"])
            assert os.path.exists(f"{path}.tmp-{os.getpid()}")  # written beside, not in place
            raise RuntimeError("disk on fire")
    assert os.listdir(tmp_path) == []


def test_failed_rewrite_keeps_the_previous_good_file(tiny_file, splits):
    before = load_dataset(tiny_file).fingerprint
    splits["valid"]["vision"][1, 2, 0] = np.nan
    with pytest.raises(DataError) as err:
        write_dataset(tiny_file, splits, ATTRS)
    assert str(err.value) == (f"{tiny_file}: valid/vision: 1 non-finite values (NaN or inf), first in sample 1; "
                              "importers must replace them (kdsearch.data.validate.sanitize)")
    assert load_dataset(tiny_file).fingerprint == before
    assert sorted(os.listdir(os.path.dirname(tiny_file))) == ["data.h5"]


def test_incomplete_file_is_not_committed(tmp_path, splits):
    path = tmp_path / "out.h5"
    with pytest.raises(ValueError, match="test/audio has 0 of 4 samples written"):
        with DatasetWriter(path, attrs=ATTRS, shapes=_shapes(splits)) as w:
            for split in ("train", "valid"):
                w.write(split, 0, splits[split])
            w.write("test", 0, {k: v for k, v in splits["test"].items() if k != "audio"})
    assert os.listdir(tmp_path) == []


def test_chunks_must_arrive_in_order(tmp_path, splits):
    with pytest.raises(ValueError, match="train/text written up to 0, got start 2"):
        with DatasetWriter(tmp_path / "o.h5", attrs=ATTRS, shapes=_shapes(splits)) as w:
            w.write("train", 2, {"text": splits["train"]["text"][2:4]})
    assert os.listdir(tmp_path) == []


def test_writer_rejects_duplicate_ids_across_chunks_and_bad_labels(tmp_path, splits):
    shapes = _shapes(splits)
    with pytest.raises(DataError, match="train/id: 1 duplicate ids, e.g. 'train-0' occurs more than once"):
        with DatasetWriter(tmp_path / "o.h5", attrs=ATTRS, shapes=shapes) as w:
            w.write("train", 0, {"id": splits["train"]["id"][:3]})
            w.write("train", 3, {"id": np.array(["train-0", "x", "y"], dtype=object)})
    with pytest.raises(DataError, match=r"test/label: 1 labels outside \[-3, 3\] \(min .*, max 3.5\)"):
        with DatasetWriter(tmp_path / "o.h5", attrs=ATTRS, shapes=shapes) as w:
            w.write("test", 0, {"label": np.array([0, 1, 3.5, -3], dtype=np.float32)})
    assert os.listdir(tmp_path) == []


def test_writer_needs_source_and_aligned(tmp_path, splits):
    with pytest.raises(ValueError, match="attrs must include"):
        DatasetWriter(tmp_path / "o.h5", attrs={"source": "x"}, shapes=_shapes(splits))
    assert os.listdir(tmp_path) == []
