"""CMU-SDK .csd folders: segments cut per modality, left-padded/truncated, folds in any form."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from import_fixtures import DIMS, OUTSIDE, VIDEOS, csd_folder, write_csd
from kdsearch.data import load_dataset
from kdsearch.data.importers import detect_format, import_dataset
from kdsearch.data.importers.common import COVAREP_74
from kdsearch.errors import DataError

LENGTHS = {"text": 5, "audio": 20, "vision": 12}


def _sequence(folder, name, vid):
    with h5py.File(folder / f"{name}.csd", "r") as f:
        group = f[name]["data"][vid]
        return group["features"][...], group["intervals"][...]


def test_round_trip_cuts_pads_and_truncates_segments(tmp_path, run_cli):
    folder = tmp_path / "mosei"
    csd_folder(folder)
    out = tmp_path / "csd.h5"
    code, err = run_cli("data", "import", folder, out, "--folds", folder / "folds.json",
                        "--lengths", "text=5,audio=20,vision=12")
    assert (code, err) == (0, "")
    assert detect_format(folder) == "csd"
    ds = load_dataset(out)
    assert ds.lengths == LENGTHS and ds.dims == DIMS
    train = ds.splits["train"]
    assert train.id.tolist() == ["tr0[0]", "tr0[1]", "tr1[0]", "tr1[1]", "tr2[0]", "tr2[1]"]

    # audio of segment 0 (0-2 s at 4 Hz): 8 frames, left-padded to 20, the -inf frame zeroed
    audio, _ = _sequence(folder, "CMU_MOSEI_COVAREP", "tr0")
    expected = np.zeros((20, DIMS["audio"]), np.float32)
    expected[12:] = audio[:8]
    expected[13, 0] = 0.0
    np.testing.assert_array_equal(train.audio[0], expected)
    assert train.extras["audio_lengths"][:2].tolist() == [8, 14]
    # text of segment 1 (2.5-6 s at 2 Hz): 7 frames overlap, the last 5 are kept
    text, intervals = _sequence(folder, "CMU_MOSEI_TimestampedWordVectors", "tr0")
    np.testing.assert_array_equal(train.text[1], text[5:12][-5:].astype(np.float32))
    assert train.extras["text_lengths"][1] == 5
    assert ds.attrs["nonfinite_replaced"]["train"]["audio"] == 1

    labels, _ = _sequence(folder, "CMU_MOSEI_Labels", "va1")
    np.testing.assert_allclose(ds.splits["valid"].label[2:4], labels[:, 0], rtol=1e-6)
    assert ds.splits["test"].label[5] == -3.0  # -3.5, clipped
    assert ds.attrs["labels_clipped"]["test"] == {"label": 1}
    assert ds.attrs["dropped"] == {"segments_of_videos_in_no_fold": 2, "fold_videos_without_labels": 0}
    assert ds.attrs["feature_names"]["audio"] == list(COVAREP_74)
    assert ds.attrs["feature_names"]["vision"] == ["vision0", "vision1", "vision2"]  # from metadata
    assert ds.attrs["source"] == "csd:mosei" and ds.attrs["aligned"] is False


def test_default_lengths_are_mult_ones(tmp_path):
    folder = tmp_path / "d"
    csd_folder(folder)
    import_dataset(folder, tmp_path / "o.h5", folds=str(folder / "folds.json"))
    ds = load_dataset(tmp_path / "o.h5", splits=("valid",))
    assert ds.lengths == {"text": 50, "audio": 500, "vision": 500}
    assert not ds.splits["valid"].audio[:, :-14].any()  # left padding: zeros first, data last


def test_folds_as_yaml_text_or_flags_give_the_same_dataset(tmp_path):
    folder = tmp_path / "d"
    csd_folder(folder)
    (tmp_path / "folds.yaml").write_text("standard_train_fold: [tr0, tr1, tr2]\n"
                                         "standard_valid_fold: [va0, va1, va2]\nstandard_test_fold: [te0, te1, te2]\n")
    (tmp_path / "folds.txt").write_text("# CMU standard folds\ntrain: tr0, tr1\ntr2\ndev:\nva0 va1\nva2\n"
                                        "test: te0 te1 te2\n")
    flags = [f"{split}={','.join(ids)}" for split, ids in VIDEOS.items()]
    fingerprints = {import_dataset(folder, tmp_path / f"{i}.h5", folds=folds) for i, folds in enumerate(
        [str(folder / "folds.json"), str(tmp_path / "folds.yaml"), str(tmp_path / "folds.txt"), flags, VIDEOS])}
    assert len(fingerprints) == 1


def test_fold_videos_without_labels_are_counted(tmp_path):
    folder = tmp_path / "d"
    csd_folder(folder)
    folds = {**VIDEOS, "test": [*VIDEOS["test"], "never_labelled"], "train": [*VIDEOS["train"], OUTSIDE]}
    import_dataset(folder, tmp_path / "o.h5", folds=folds)
    ds = load_dataset(tmp_path / "o.h5")
    assert ds.attrs["dropped"] == {"segments_of_videos_in_no_fold": 0, "fold_videos_without_labels": 1}
    assert ds.splits["train"].n == 8


def test_two_candidate_files_for_a_modality_are_refused(tmp_path):
    folder = tmp_path / "d"
    csd_folder(folder)
    write_csd(folder / "CMU_MOSEI_VisualFacet41.csd", "CMU_MOSEI_VisualFacet41", {})
    with pytest.raises(DataError, match=r"d: vision: 2 candidate files \(CMU_MOSEI_VisualFacet41.csd, "):
        import_dataset(folder, tmp_path / "o.h5", folds=VIDEOS)


def test_explicit_files_override_name_matching(tmp_path):
    folder = tmp_path / "d"
    csd_folder(folder)
    files = {"text": "CMU_MOSEI_TimestampedWordVectors", "audio": "CMU_MOSEI_COVAREP",
             "vision": "CMU_MOSEI_VisualFacet42", "labels": "CMU_MOSEI_Labels"}
    renamed = {}
    for role, name in files.items():  # names that match no keyword
        renamed[role] = str(folder / f"seq_{role[:2]}.h5")
        (folder / f"{name}.csd").rename(renamed[role])
    (folder / "keep.csd").write_text(json.dumps({}))  # the folder still looks like a csd folder
    import_dataset(folder, tmp_path / "o.h5", fmt="csd", folds=VIDEOS, csd_files=renamed)
    assert load_dataset(tmp_path / "o.h5").splits["test"].n == 6
