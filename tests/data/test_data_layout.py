"""Write/load round trip, fingerprint properties, flat arrays for the object store."""

from __future__ import annotations

import h5py
import numpy as np
from tiny_data import ATTRS, SHAPES, SIZES, make_splits

from kdsearch.data.layout import (
    MODALITIES,
    SPLITS,
    DatasetWriter,
    load_dataset,
    split_arrays_from_flat,
    write_dataset,
)
from kdsearch.data.fingerprint import fingerprint_file


def test_round_trip_keeps_every_value_and_attribute(tmp_path, splits):
    path = tmp_path / "d.h5"
    fingerprint = write_dataset(path, splits, ATTRS)
    ds = load_dataset(path)
    assert set(ds.splits) == set(SPLITS)
    for split in SPLITS:
        got = ds.splits[split]
        assert got.n == SIZES[split]
        for m in MODALITIES:
            assert got.modality(m).dtype == np.float32
            np.testing.assert_array_equal(got.modality(m), splits[split][m])
        np.testing.assert_array_equal(got.label, splits[split]["label"])
        assert list(got.id) == list(splits[split]["id"])
        np.testing.assert_array_equal(got.extras["vision_lengths"], splits[split]["vision_lengths"])
    assert ds.dims == {m: SHAPES[m][1] for m in MODALITIES}
    assert ds.lengths == {m: SHAPES[m][0] for m in MODALITIES}
    assert ds.fingerprint == fingerprint and len(fingerprint) == 64
    assert ds.attrs["source"] == "test:tiny" and ds.attrs["aligned"] is False
    assert ds.attrs["format"] == "kdsearch-dataset" and ds.attrs["format_version"] == 1
    assert ds.attrs["feature_names"] == {"vision": ["a", "b", "c"]}
    # importers overwrite these; a writer that repaired nothing records zeros
    assert ds.attrs["nonfinite_replaced"]["train"] == {"text": 0, "audio": 0, "vision": 0, "label": 0}
    assert ds.attrs["labels_clipped"]["test"] == {"label": 0}


def test_fingerprint_is_the_content_hash_whatever_the_chunking(tmp_path, splits):
    whole = write_dataset(tmp_path / "a.h5", splits, ATTRS)
    shapes = {s: {k: v.shape for k, v in f.items()} for s, f in splits.items()}
    with DatasetWriter(tmp_path / "b.h5", attrs={**ATTRS, "source": "other"}, shapes=shapes) as w:
        for split, fields in splits.items():
            for start in range(0, SIZES[split], 2):  # 2-sample chunks, fields interleaved
                w.write(split, start, {k: v[start:start + 2] for k, v in fields.items()})
    assert w.fingerprint == whole  # attributes (source) are not content
    with h5py.File(tmp_path / "b.h5") as f:
        assert fingerprint_file(f) == whole

    changed = make_splits()
    changed["test"]["audio"][3, 5, 3] += 1e-3
    assert write_dataset(tmp_path / "c.h5", changed, ATTRS) != whole


def test_load_subset_of_splits(tiny_file):
    ds = load_dataset(tiny_file, splits=("train", "valid"))
    assert list(ds.splits) == ["train", "valid"]
    assert ds.dims["audio"] == SHAPES["audio"][1]


def test_flat_arrays_round_trip_without_copies(tiny_file):
    ds = load_dataset(tiny_file)
    flat = ds.to_arrays()
    assert "train/text" in flat and "test/label" in flat and "valid/vision_lengths" in flat
    assert not any(k.endswith("/id") for k in flat)
    assert all(a.dtype != object for a in flat.values())  # shareable zero-copy by Ray
    for split in SPLITS:
        back = split_arrays_from_flat(flat, split)
        assert back.id is None and back.n == SIZES[split]
        assert back.audio is ds.splits[split].audio  # zero-copy: the very same arrays
        assert back.extras["vision_lengths"] is ds.splits[split].extras["vision_lengths"]


def test_shapes_and_train_size_from_the_header_or_the_preset(tiny_file):
    from kdsearch.data.source import dataset_shapes, train_size
    from kdsearch.data.synthetic import PRESETS

    dims, lengths = dataset_shapes({"path": tiny_file})
    assert dims == {m: d for m, (_, d) in SHAPES.items()} and lengths == {m: t for m, (t, _) in SHAPES.items()}
    assert train_size({"path": tiny_file}) == SIZES["train"]
    assert train_size({"synthetic": "mosei"}) == PRESETS["mosei"].n_train == 16326
