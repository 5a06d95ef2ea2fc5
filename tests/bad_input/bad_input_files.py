"""The binary inputs of the bad-input corpus, written at test time into a working folder.

Text cases (space YAMLs, cluster files) live in ``cases/``; what cannot be a readable text file
(HDF5 datasets, pickles, torch checkpoints) is made here from tiny real arrays and models, then
damaged in exactly one way each. `write_raw_dataset` writes the layout with h5py directly, because
kdsearch's own writer refuses every defect these files need to carry.
"""

from __future__ import annotations

import builtins
import os
import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from kdsearch.data.layout import write_dataset
from kdsearch.data.schema import FORMAT, FORMAT_VERSION, MODALITIES

CASES_DIR = Path(__file__).parent / "cases"
SIZES = {"train": 6, "valid": 3, "test": 4}
SHAPES = {"text": (5, 7), "audio": (6, 4), "vision": (6, 3)}  # (T, D) per modality
ATTRS = {"source": "test:bad-input", "aligned": False}
MARKER = "pwned.marker"  # what the malicious pickle and checkpoint try to create when loaded


def clean_splits(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Clean arrays for the three splits at tiny sizes (the dims of the model files below)."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in SIZES.items():
        fields = {m: rng.standard_normal((n, *shape)).astype(np.float32) for m, shape in SHAPES.items()}
        fields["label"] = rng.uniform(-3, 3, n).astype(np.float32)
        fields["id"] = np.array([f"{split}-{i}" for i in range(n)], dtype=object)
        splits[split] = fields
    return splits


def write_raw_dataset(path: Path, splits: dict[str, dict[str, np.ndarray]]) -> None:
    """Write `splits` in the dataset layout as given, defects included (no checks, no repair)."""
    with h5py.File(path, "w") as f:
        f.attrs["format"], f.attrs["format_version"] = FORMAT, FORMAT_VERSION
        f.attrs["fingerprint"] = "0" * 64  # any non-empty value: load_dataset does not re-hash
        f.attrs["source"], f.attrs["aligned"] = ATTRS["source"], ATTRS["aligned"]
        for split, fields in splits.items():
            group = f.create_group(split)
            for name, arr in fields.items():
                if name == "id":
                    group.create_dataset(name, data=np.asarray(arr, dtype=object), dtype=h5py.string_dtype("utf-8"))
                else:
                    group.create_dataset(name, data=arr)


def _damaged(base: dict, edit) -> dict:
    splits = {s: {k: np.array(v, copy=True) for k, v in fields.items()} for s, fields in base.items()}
    edit(splits)
    return splits


def _set(split: str, name: str, index: tuple, value):
    def edit(splits):
        splits[split][name][index] = value
    return edit


def _replace(split: str, name: str, array: np.ndarray):
    def edit(splits):
        splits[split][name] = array
    return edit


def _drop(split: str, name: str):
    def edit(splits):
        del splits[split][name]
    return edit


def _retype(split: str, name: str, dtype):
    def edit(splits):
        splits[split][name] = splits[split][name].astype(dtype)
    return edit


DATASET_DEFECTS = {
    "nan_features.h5": _set("train", "audio", (2, 1, 0), np.nan),
    "inf_features.h5": _set("valid", "vision", (0, 0, 0), np.inf),
    "labels_out_of_range.h5": _set("test", "label", (1,), 4.5),
    "duplicate_ids.h5": _set("train", "id", (1,), "train-0"),
    "missing_field.h5": _drop("valid", "label"),
    "wrong_dim.h5": _replace("valid", "vision", np.zeros((SIZES["valid"], SHAPES["vision"][0], 4), np.float32)),
    "wrong_rank.h5": _replace("valid", "vision", np.zeros((SIZES["valid"], SHAPES["vision"][0]), np.float32)),
    "wrong_count.h5": _replace("train", "label", np.zeros(SIZES["train"] - 1, np.float32)),
    "float64_features.h5": _retype("train", "text", np.float64),
}


class _CreatesMarker:
    """Unpickling this calls open(MARKER, "w"): a harmless stand-in for os.system."""

    def __reduce__(self):
        return (builtins.open, (MARKER, "w"))


def _mult_pickle_object(splits: dict, *, drop: str | None = None) -> dict:
    """MulT's dict-of-splits layout (text/audio/vision, labels (N,1,1), id rows)."""
    obj = {}
    for split, fields in splits.items():
        entry = {m: fields[m].astype(np.float64) for m in MODALITIES}
        entry["labels"] = fields["label"].reshape(-1, 1, 1).astype(np.float64)
        entry["id"] = np.array([[i, "0", "1"] for i in fields["id"]], dtype="U")
        entry.pop(drop, None)
        obj[split] = entry
    return obj


def _model_files(dest: Path) -> None:
    from kdsearch.models.build import STUDENT_DEFAULTS, TEACHER_DEFAULTS, build_student, build_teacher
    from kdsearch.models.checkpoint import model_blob, save_model_file

    dims = {m: d for m, (_, d) in SHAPES.items()}
    lengths = {m: t for m, (t, _) in SHAPES.items()}
    torch.manual_seed(0)
    tcfg = {**TEACHER_DEFAULTS, "d_model": 8, "heads": 2, "layers": 1}
    teacher = build_teacher(tcfg, dims=dims, lengths=lengths, n_out=7)
    blob = model_blob(teacher, arch="mult", config=tcfg, dims=dims, lengths=lengths, n_out=7, task="classification")
    save_model_file(blob, dest / "teacher.pt")
    scfg = {**STUDENT_DEFAULTS, "d_model": 8, "heads": 2, "layers": 1}
    student = build_student(scfg, dims=dims, lengths=lengths, n_out=7)
    save_model_file(model_blob(student, arch="video_student", config=scfg, dims=dims, lengths=lengths, n_out=7,
                               task="classification"), dest / "student.pt")
    # A teacher's weights under a student's description: a checkpoint of another architecture.
    save_model_file({**blob, "arch": "video_student", "config": scfg}, dest / "wrong_arch.pt")
    torch.save(blob["state_dict"], dest / "kdsearch_teacher_state.pt")  # not MulT's MULTModel names
    torch.save({"state_dict": _CreatesMarker()}, dest / "malicious.pt")
    data = (dest / "teacher.pt").read_bytes()
    (dest / "truncated.pt").write_bytes(data[: len(data) // 2])


def build_corpus(dest: Path) -> None:
    """Copy the text cases into `dest` and write every binary input next to them."""
    shutil.copytree(CASES_DIR, dest, dirs_exist_ok=True)
    base = clean_splits()
    write_dataset(dest / "good.h5", base, ATTRS)
    for name, edit in DATASET_DEFECTS.items():
        write_raw_dataset(dest / name, _damaged(base, edit))
    good = (dest / "good.h5").read_bytes()
    (dest / "truncated.h5").write_bytes(good[: len(good) // 2])
    (dest / "not_hdf5.h5").write_text("text,audio,vision\n1,2,3\n")
    with h5py.File(dest / "future_version.h5", "w") as f:
        f.attrs["format"], f.attrs["format_version"], f.attrs["fingerprint"] = FORMAT, FORMAT_VERSION + 6, "0" * 64

    (dest / "malicious.pkl").write_bytes(pickle.dumps({"train": _CreatesMarker()}))
    whole = pickle.dumps(_mult_pickle_object(base), protocol=4)
    (dest / "truncated.pkl").write_bytes(whole[: len(whole) // 2])
    # Names of the form *_data.pkl are MulT's, so the format is detected from the name.
    (dest / "no_vision_data.pkl").write_bytes(pickle.dumps(_mult_pickle_object(base, drop="vision")))
    flat = _mult_pickle_object(base)
    flat["valid"]["text"] = flat["valid"]["text"][:, :, 0]  # rank 2 where (N, T, D) is expected
    (dest / "flat_text_data.pkl").write_bytes(pickle.dumps(flat))
    _model_files(dest)

    _second_round(dest, base)

    (dest / "not_results").mkdir()
    (dest / "not_results" / "notes.txt").write_text("a folder, but not a kdsearch search\n")
    (dest / "results" / "taken").mkdir(parents=True)  # an earlier search's folder, for --name clashes


def _zero_train(splits):
    for name in list(splits["train"]):
        splits["train"][name] = splits["train"][name][:0]


def _zero_wide_text(splits):
    for fields in splits.values():
        fields["text"] = np.zeros((len(fields["label"]), SHAPES["text"][0], 0), np.float32)


def _huge_declared_rows(path: Path) -> None:
    """train declares 10**9 rows in chunks never written: a 20 KB file promising ~300 GiB."""
    with h5py.File(path, "a") as f:
        group = f["train"]
        for name in list(group):
            shape, dtype = group[name].shape, group[name].dtype
            del group[name]
            group.create_dataset(name, shape=(10**9, *shape[1:]), dtype=dtype, chunks=(1, *shape[1:]))


def _second_round(dest: Path, base: dict) -> None:
    """The second corpus (careless and hostile files): bounds, encodings, shapes, attributes."""
    (dest / "not_utf8.yaml").write_bytes(b"name: latin\ndescription: caf\xe9 au lait\n")
    (dest / "cluster_not_utf8.yaml").write_bytes(b"cluster_name: x\nprovider: {type: aws}\n# \xff\xfe\n")
    (dest / "binary_space.yaml").write_bytes(b"name: bin\n\x00\x01\x02\n")
    write_raw_dataset(dest / "empty_train.h5", _damaged(base, _zero_train))
    write_raw_dataset(dest / "zero_text.h5", _damaged(base, _zero_wide_text))
    write_raw_dataset(dest / "attr_array.h5", base)
    with h5py.File(dest / "attr_array.h5", "a") as f:
        f.attrs["format_version"] = np.array([FORMAT_VERSION, FORMAT_VERSION])
    write_raw_dataset(dest / "attr_array_format.h5", base)
    with h5py.File(dest / "attr_array_format.h5", "a") as f:
        f.attrs["format"] = np.array([FORMAT.encode()] * 3)
    write_raw_dataset(dest / "huge_rows.h5", base)
    _huge_declared_rows(dest / "huge_rows.h5")

    def mult(edit) -> bytes:
        obj = _mult_pickle_object(base)
        edit(obj)
        return pickle.dumps(obj)

    def complex_labels(obj):
        obj["train"]["labels"] = obj["train"]["labels"] + 0.5j

    def nul_id(obj):
        obj["valid"]["id"] = np.array([[f"v{i}\x00x", "0", "1"] for i in range(SIZES["valid"])], dtype=object)

    def surrogate_id(obj):
        obj["test"]["id"] = np.array([["clip\ud800", "0", "1"]] + [[f"t{i}", "0", "1"] for i in range(1, 4)],
                                     dtype=object)

    def empty_train(obj):
        obj["train"] = {k: v[:0] for k, v in obj["train"].items()}

    def zero_wide_audio(obj):
        for split in obj.values():
            split["audio"] = split["audio"][:, :, :0]

    def list_bomb(obj):
        row = [0.0] * 1000
        obj["train"]["text"] = [[row] * 1000] * 1000  # shared rows: a small pickle, 10**9 floats as an array

    for name, edit in (("complex_labels", complex_labels), ("nul_id", nul_id), ("surrogate_id", surrogate_id),
                       ("empty_train", empty_train), ("zero_audio", zero_wide_audio), ("list_bomb", list_bomb)):
        (dest / f"{name}_data.pkl").write_bytes(mult(edit))
    # bytearray(2**40): a global the loader admits (pickles of bytearrays name it), asked to allocate.
    (dest / "bytearray_bomb_data.pkl").write_bytes(b"\x80\x04cbuiltins\nbytearray\n\x8a\x06\x00\x00\x00\x00\x00"
                                                   b"\x01\x85R.")

    bad = dest / "results" / "bad_meta"
    bad.mkdir(parents=True)
    (bad / "meta.json").write_text("[" * 5000 + "]" * 5000)
    typed = dest / "results" / "typed_meta"
    typed.mkdir(parents=True)
    (typed / "meta.json").write_text('{"metric": "val_acc7", "mode": "max", "searched": "loss.beta", "max_epochs": 3}')
    broken = dest / "results" / "broken_space"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text('{"metric": "val_acc7", "mode": "max", "searched": [], "max_epochs": 3}')
    (broken / "space.yaml").write_text("config: &c [*c]\n")
    pd.DataFrame({"trial_id": ["t0001"], "status": ["done"]}).to_parquet(broken / "trials.parquet")
    pd.DataFrame({"trial_id": ["t0001"], "epoch": [1]}).to_parquet(broken / "epochs.parquet")


SPECIAL_FILES = ("pipe_space.yaml", "pipe_cluster.yaml", "pipe.h5", "pipe_model.pt", "pipe_data.pkl")


def make_special_files(dest: Path) -> None:
    """Named pipes (made in each case's own folder: copying one would block on opening it)."""
    for name in SPECIAL_FILES:
        os.mkfifo(dest / name)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of every file and folder under `root`."""
    out = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        out[str(path.relative_to(root))] = (stat.st_size if path.is_file() else -1, stat.st_mtime_ns)
    return out
