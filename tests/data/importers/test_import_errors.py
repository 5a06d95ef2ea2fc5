"""Every kind of bad source: one message naming file, split/field and problem; exit 2; no output."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from import_fixtures import VIDEOS, csd_folder, mult_object, write_pickle


def _mult(tmp_path, edits=None, name="mosei_senti_data_noalign.pkl"):
    """A MulT pickle with edits {(split, field): new value, None to delete; (split, None): delete}."""
    obj = mult_object()
    for (split, field), value in (edits or {}).items():
        if field is None:
            del obj[split]
        elif value is None:
            del obj[split][field]
        else:
            obj[split][field] = value
    return write_pickle(tmp_path / name, obj)


def _fails(run_cli, assert_nothing_written, src, out, *flags, expected: str):
    code, err = run_cli("data", "import", src, out, *flags)
    assert code == 2
    assert err.startswith("kdsearch: error: ") and err.count("\n") == 1, err
    assert expected in err, err
    assert_nothing_written(out)


BAD_PICKLES = {
    "missing split": ({("valid", None): None}, "valid: split missing (top-level keys: train, test)"),
    "missing field": ({("test", "audio"): None}, "test/audio: field missing (fields: text, vision, labels, id)"),
    "N differs between fields": ({("train", "audio"): np.zeros((4, 6, 5))},
                                 "train/audio: has 4 samples, but train/text has 5"),
    "dim differs across splits": ({("valid", "vision"): np.zeros((3, 7, 2))},
                                  "valid/vision: feature dim 2 differs from train's 3"),
    "length differs across splits": ({("test", "text"): np.zeros((4, 9, 6))},
                                     "test/text: sequence length 9 differs from train's 4"),
    "wrong rank": ({("train", "vision"): np.zeros((5, 18))},
                   "train/vision: shape (5, 18) has rank 2, expected (N, T, D)"),
    "not numbers": ({("train", "text"): np.full((5, 4, 6), "x")}, "train/text: dtype <U1, expected numbers"),
    "IEMOCAP labels": ({("train", "labels"): np.zeros((5, 4, 2))},
                       "train/labels: shape (5, 4, 2): expected one sentiment value per sample"),
    "id rows vs N": ({("valid", "id"): np.array([["a", "1", "2"]])},
                     "valid/id: has 1 rows, but the split has N=3 samples"),
    "ids not UTF-8": ({("test", "id"): np.array([[b"\xff\xfe", b"1", b"2"]] * 4)},
                      "test/id: row 0 is not UTF-8 text"),
}


@pytest.mark.parametrize("case", list(BAD_PICKLES))
def test_bad_mult_pickle(tmp_path, run_cli, assert_nothing_written, case):
    edits, expected = BAD_PICKLES[case]
    src = _mult(tmp_path, edits)
    _fails(run_cli, assert_nothing_written, src, tmp_path / "out.h5", expected=f"{src}: {expected}")


def test_truncated_pickle(tmp_path, run_cli, assert_nothing_written):
    whole = pickle.dumps(mult_object(), protocol=4)
    src = tmp_path / "mosi_data_noalign.pkl"
    src.write_bytes(whole[: len(whole) * 2 // 3])
    _fails(run_cli, assert_nothing_written, src, tmp_path / "out.h5",
           expected=f"{src}: pickle: truncated pickle (ends before its STOP opcode)")


class _Shell:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path, run_cli, assert_nothing_written):
    marker = tmp_path / "pwned"
    obj = mult_object()
    obj["test"]["id"] = _Shell(marker)  # deep inside an otherwise valid file
    src = write_pickle(tmp_path / "mosei_senti_data.pkl", obj)
    _fails(run_cli, assert_nothing_written, src, tmp_path / "out.h5",
           expected=f"{src}: pickle: refused global {os.system.__module__}.system")
    assert not marker.exists()
    # undetectable name: the content is inspected with the same restricted loader
    _fails(run_cli, assert_nothing_written, os.rename(src, tmp_path / "x.pkl") or tmp_path / "x.pkl",
           tmp_path / "out.h5", expected="x.pkl: pickle: refused global")
    assert not marker.exists()


def test_failure_mid_write_leaves_a_previous_output_untouched(tmp_path, run_cli):
    """train and valid are written before test's ids fail to decode: nothing may survive."""
    out = tmp_path / "out.h5"
    out.write_bytes(b"previous dataset")
    src = _mult(tmp_path, {("test", "id"): np.array([[b"ok", b"1", b"2"]] * 3 + [[b"\xff", b"1", b"2"]])})
    code, err = run_cli("data", "import", src, out)
    assert code == 2 and f"{src}: test/id: row 3 is not UTF-8 text" in err
    assert out.read_bytes() == b"previous dataset"
    assert sorted(os.listdir(tmp_path)) == ["mosei_senti_data_noalign.pkl", "out.h5"]


def test_unknown_and_undetectable_formats(tmp_path, run_cli, assert_nothing_written):
    src = _mult(tmp_path)
    _fails(run_cli, assert_nothing_written, src, tmp_path / "o.h5", "--format", "hdf5",
           expected=f"{src}: --format: unknown format 'hdf5' (formats: mult-pkl, mmsa-pkl, csd)")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a dataset")
    _fails(run_cli, assert_nothing_written, notes, tmp_path / "o.h5",
           expected=f"{notes}: cannot tell the format (not a pickle)")
    empty = tmp_path / "empty"
    empty.mkdir()
    _fails(run_cli, assert_nothing_written, empty, tmp_path / "o.h5", expected=f"{empty}: a folder without .csd files")
    _fails(run_cli, assert_nothing_written, src, tmp_path / "o.h5", "--folds", "x.json",
           expected=f"{src}: --folds: applies to .csd imports only")


def test_csd_missing_a_modality_for_a_video(tmp_path, run_cli, assert_nothing_written):
    folder = tmp_path / "mosei"
    csd_folder(folder, drop=("audio", "va1"))
    audio = folder / "CMU_MOSEI_COVAREP.csd"
    _fails(run_cli, assert_nothing_written, folder, tmp_path / "o.h5", "--folds", folder / "folds.json",
           expected=f"{audio}: CMU_MOSEI_COVAREP/data/va1: video 'va1' has no sequence in this file "
                    "(valid fold, labelled in CMU_MOSEI_Labels.csd)")


def test_csd_dim_changing_between_videos(tmp_path, run_cli, assert_nothing_written):
    import h5py

    folder = tmp_path / "mosei"
    csd_folder(folder)
    vision = folder / "CMU_MOSEI_VisualFacet42.csd"
    with h5py.File(vision, "r+") as f:
        group = f["CMU_MOSEI_VisualFacet42/data/te1"]
        t = group["features"].shape[0]
        del group["features"]
        group["features"] = np.zeros((t, 4))
    _fails(run_cli, assert_nothing_written, folder, tmp_path / "o.h5", "--folds", folder / "folds.json",
           expected=f"{vision}: CMU_MOSEI_VisualFacet42/data/te1/features: feature dim 4 differs from 3 "
                    "of video 'tr0'")


def test_csd_folds_problems(tmp_path, run_cli, assert_nothing_written):
    folder = tmp_path / "mosei"
    csd_folder(folder)
    out = tmp_path / "o.h5"
    _fails(run_cli, assert_nothing_written, folder, out, expected="--folds: a .csd import needs the train/valid/test")
    twice = [f"{s}={','.join(v)}" for s, v in VIDEOS.items()] + ["test=tr1"]
    _fails(run_cli, assert_nothing_written, folder, out, *(a for f in twice for a in ("--folds", f)),
           expected="--folds: test: video 'tr1' is listed also in train")
    bad = tmp_path / "folds.json"
    bad.write_text('{"train": ["tr0"], "holdout": ["te0"]}')
    _fails(run_cli, assert_nothing_written, folder, out, "--folds", bad,
           expected=f"{bad}: holdout: unknown fold 'holdout' (folds are train, valid, test)")
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"train": ["tr0"], "valid": ["zz"], "test": ["te0"]}')
    _fails(run_cli, assert_nothing_written, folder, out, "--folds", unknown,
           expected=f"{folder / 'CMU_MOSEI_Labels.csd'}: valid: no labelled segment: none of its 1 videos")
    _fails(run_cli, assert_nothing_written, folder, out, "--folds", folder / "folds.json", "--lengths", "audio=0",
           expected="--lengths: expected MODALITY=LENGTH pairs")


def test_csd_file_that_is_not_a_sequence(tmp_path, run_cli, assert_nothing_written):
    folder = tmp_path / "mosei"
    csd_folder(folder)
    text = folder / "CMU_MOSEI_TimestampedWordVectors.csd"
    text.write_bytes(text.read_bytes()[:2048])  # truncated download
    _fails(run_cli, assert_nothing_written, folder, tmp_path / "o.h5", "--folds", folder / "folds.json",
           expected=f"{text}: truncated or corrupt HDF5 file")
