"""MMSA pickles round-trip: regression labels, true lengths, ids and raw_text are kept."""

from __future__ import annotations

import h5py
import numpy as np

from import_fixtures import SHAPES, SIZES, mmsa_object, write_pickle
from kdsearch.data import load_dataset
from kdsearch.data.fingerprint import fingerprint_file
from kdsearch.data.importers import import_dataset


def test_unaligned_round_trip(tmp_path, run_cli):
    src = write_pickle(tmp_path / "unaligned_50.pkl", mmsa_object(), protocol=5)
    reference = mmsa_object()
    out = tmp_path / "mmsa.h5"
    assert run_cli("data", "import", src, out, "--format", "mmsa-pkl") == (0, "")
    ds = load_dataset(out)
    for split, n in SIZES.items():
        s, ref = ds.splits[split], reference[split]
        np.testing.assert_array_equal(s.label, ref["regression_labels"])
        np.testing.assert_array_equal(s.extras["audio_lengths"], ref["audio_lengths"])
        assert s.id.tolist() == ref["id"] and set(s.extras) == {"audio_lengths", "vision_lengths"}
    np.testing.assert_array_equal(ds.splits["test"].vision, reference["test"]["vision"])
    assert ds.splits["train"].audio[2, 0, 0] == 0  # was -inf
    assert ds.attrs["nonfinite_replaced"]["train"]["audio"] == 1
    # a true length longer than T is clipped to T and counted
    assert ds.splits["valid"].extras["vision_lengths"][0] == SHAPES["vision"][0]
    assert ds.attrs["lengths_clipped"]["valid/vision_lengths"] == 1
    assert ds.attrs["source"] == "mmsa-pkl:unaligned_50.pkl" and ds.attrs["aligned"] is False


def test_raw_text_is_kept_outside_the_fingerprint_and_other_fields_dropped(tmp_path):
    out = tmp_path / "a.h5"
    fingerprint = import_dataset(write_pickle(tmp_path / "aligned_50.pkl", mmsa_object()), out)
    with h5py.File(out, "r") as f:
        assert f["valid/raw_text"].asstr()[...].tolist() == [f"sentence valid {i} é" for i in range(3)]
        assert "text_bert" not in f["train"] and "annotations" not in f["train"]
        assert fingerprint_file(f) == fingerprint == f.attrs["fingerprint"]
    assert load_dataset(out).attrs["aligned"] is True
