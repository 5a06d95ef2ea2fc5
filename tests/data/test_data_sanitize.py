"""sanitize repairs raw arrays the way every reference loader does, and counts what it fixed."""

from __future__ import annotations

import numpy as np

from kdsearch.data.layout import load_dataset, write_dataset
from kdsearch.data.validate import add_counts, sanitize


def _raw():
    audio = np.ones((3, 4, 2), np.float32)
    audio[0, 1, 0] = -np.inf  # MOSEI audio quirk
    audio[2, 3, 1] = np.nan
    vision = np.ones((3, 4, 2), np.float64)
    vision[1, 0, 0] = np.inf
    label = np.array([3.4, -3.0, np.nan])
    return {"train/audio": audio, "train/vision": vision, "train/label": label, "train/id": np.array(["a", "b", "c"])}


def test_sanitize_replaces_nonfinite_clips_labels_and_counts():
    raw = _raw()
    fixed, counts = sanitize(raw)
    assert counts == {"nonfinite_replaced": {"train/audio": 2, "train/vision": 1, "train/label": 1},
                      "labels_clipped": {"train/label": 1}}
    assert fixed["train/audio"][0, 1, 0] == 0 and fixed["train/audio"][2, 3, 1] == 0
    assert fixed["train/vision"][1, 0, 0] == 0 and np.isfinite(fixed["train/vision"]).all()
    np.testing.assert_array_equal(fixed["train/label"], [3.0, -3.0, 0.0])  # -3 is in range: untouched
    assert fixed["train/id"] is raw["train/id"]  # not a feature: passed through
    assert np.isneginf(raw["train/audio"][0, 1, 0])  # copy=True leaves the input alone


def test_sanitize_in_place_and_counts_add_up():
    raw = _raw()
    fixed, first = sanitize(raw, copy=False)
    assert fixed["train/audio"] is raw["train/audio"] and raw["train/audio"][0, 1, 0] == 0
    _, second = sanitize({"train/audio": np.full((1, 1, 1), np.nan, np.float32), "train/label": np.array([-4.0])})
    total = add_counts(add_counts({}, first), second)
    assert total["nonfinite_replaced"]["train/audio"] == 3
    assert total["labels_clipped"]["train/label"] == 2


def test_sanitized_arrays_load_and_counts_are_stored(tmp_path, splits):
    splits["train"]["audio"][0, 0, 0] = -np.inf
    splits["test"]["label"][0] = 3.7
    stored = {"nonfinite_replaced": {}, "labels_clipped": {}}
    for split, fields in splits.items():
        splits[split], counts = sanitize(fields)
        for counter, per_field in counts.items():
            stored[counter][split] = per_field
    write_dataset(tmp_path / "d.h5", splits, {"source": "test", "aligned": False, **stored})
    ds = load_dataset(tmp_path / "d.h5")
    assert ds.attrs["nonfinite_replaced"]["train"]["audio"] == 1
    assert ds.attrs["labels_clipped"]["test"]["label"] == 1
    assert ds.splits["test"].label[0] == 3.0
