"""MulT pickles round-trip into the layout: repaired values counted, padding kept, ids joined."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from import_fixtures import SIZES, mult_object, write_pickle
from kdsearch.data import load_dataset
from kdsearch.data.importers import detect_format, import_dataset
from kdsearch.data.info import describe_dataset


def _expected(obj, split, m):
    x = obj[split][m].astype(np.float32)
    x[~np.isfinite(x)] = 0
    return x


def test_mosei_noalign_round_trip_values_counts_and_ids(tmp_path, run_cli):
    src = write_pickle(tmp_path / "mosei_senti_data_noalign.pkl", mult_object())
    reference = mult_object()
    out = tmp_path / "mosei.h5"
    code, err = run_cli("data", "import", src, out)
    assert (code, err) == (0, "")
    ds = load_dataset(out)
    for split, n in SIZES.items():
        s = ds.splits[split]
        for m in ("text", "audio", "vision"):
            assert s.modality(m).dtype == np.float32
            np.testing.assert_array_equal(s.modality(m), _expected(reference, split, m))
        np.testing.assert_allclose(s.label, np.clip(reference[split]["labels"].reshape(n), -3, 3), rtol=1e-6)
    # -inf audio became 0 and left padding stayed in front: sample 0's last step is real data
    assert ds.splits["train"].audio[0, -1, 0] == 0 and ds.splits["train"].audio[0, -1, 1] != 0
    assert ds.attrs["nonfinite_replaced"]["train"] == {"text": 0, "audio": 3, "vision": 0, "label": 0}
    assert ds.attrs["nonfinite_replaced"]["valid"]["vision"] == 1
    assert ds.attrs["labels_clipped"] == {"train": {"label": 0}, "valid": {"label": 0}, "test": {"label": 1}}
    assert ds.splits["test"].label[3] == 3.0
    assert ds.splits["train"].id.tolist()[:2] == ["vidtrain0[0,2]", "vidtrain0[1.5,3.5]"]
    assert ds.splits["test"].id.tolist()[:2] == ["vidtest0[0,2]", "vidtest0[0,2]#2"]  # repeat renamed
    assert ds.attrs["ids_renamed"] == {"train": 0, "valid": 0, "test": 1}
    assert ds.attrs["source"] == "mult-pkl:mosei_senti_data_noalign.pkl" and ds.attrs["aligned"] is False
    assert ds.lengths == {"text": 4, "audio": 6, "vision": 7}


def test_info_shows_the_repair_counts_and_the_fingerprint_verifies(tmp_path):
    out = tmp_path / "m.h5"
    import_dataset(write_pickle(tmp_path / "mosei_senti_data_noalign.pkl", mult_object()), out)
    console = Console(record=True, width=160)
    console.print(describe_dataset(out, verify=True))
    text = console.export_text()
    assert "nonfinite replaced  train/audio 3, valid/vision 1" in text
    assert "labels clipped      test/label 1" in text and "(verified)" in text


def test_mosi_bytes_ids_protocol2_aligned_name(tmp_path):
    src = write_pickle(tmp_path / "mosi_data.pkl", mult_object(mosi_bytes_ids=True), protocol=2)
    out = tmp_path / "mosi.h5"
    fingerprint = import_dataset(src, out)
    ds = load_dataset(out)
    assert ds.fingerprint == fingerprint
    assert ds.splits["valid"].id.tolist() == ["vidvalid0[0,2]", "vidvalid0[1.5,3.5]", "vidvalid1[3,5]"]
    assert all(isinstance(i, str) for i in ds.splits["train"].id)
    assert ds.attrs["source"] == "mult-pkl:mosi_data.pkl" and ds.attrs["aligned"] is True


def test_content_is_the_same_whatever_the_pickle_protocol(tmp_path):
    fingerprints = {import_dataset(write_pickle(tmp_path / f"p{p}_data_noalign.pkl", mult_object(), p),
                                   tmp_path / f"p{p}.h5") for p in (2, 5)}
    assert len(fingerprints) == 1


def test_missing_ids_get_split_index_names(tmp_path):
    obj = mult_object()
    for split in obj:
        del obj[split]["id"]
    import_dataset(write_pickle(tmp_path / "iemocap_like_data.pkl", obj), tmp_path / "o.h5")
    assert load_dataset(tmp_path / "o.h5").splits["valid"].id.tolist() == ["valid-0", "valid-1", "valid-2"]


@pytest.mark.parametrize("name, expected", [
    ("mosei_senti_data_noalign.pkl", "mult-pkl"), ("mosi_data.pkl", "mult-pkl"),
    ("aligned_50.pkl", "mmsa-pkl"), ("unaligned_50.pkl", "mmsa-pkl"),
    ("renamed.bin", "mult-pkl"),  # no known name: the content says MulT (train/labels)
])
def test_detect_format(tmp_path, name, expected):
    assert detect_format(write_pickle(tmp_path / name, mult_object())) == expected
