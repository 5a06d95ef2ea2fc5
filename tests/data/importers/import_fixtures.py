"""Tiny source files in the exact public layouts (MulT, MMSA pickles; CMU-SDK .csd folders)."""

from __future__ import annotations

import json
import pickle

import h5py
import numpy as np

SIZES = {"train": 5, "valid": 3, "test": 4}
# (T, D) per modality, unaligned-style: different lengths per modality.
SHAPES = {"text": (4, 6), "audio": (6, 5), "vision": (7, 3)}  # video longest, as in MOSEI


def _padded(rng, n: int, t: int, d: int, real: np.ndarray) -> np.ndarray:
    """(n, t, d) features left-padded with zeros: sample i has `real[i]` real steps at the end."""
    x = np.zeros((n, t, d), np.float64)
    for i, k in enumerate(real):
        x[i, t - k:] = rng.standard_normal((k, d)) + 0.5
    return x


def mult_object(seed: int = 0, *, mosi_bytes_ids: bool = False) -> dict:
    """A MulT dict of splits: (N,1,1) labels, -inf audio, NaN vision, left padding, id rows."""
    rng = np.random.default_rng(seed)
    obj = {}
    for split, n in SIZES.items():
        fields = {}
        for m, (t, d) in SHAPES.items():
            fields[m] = _padded(rng, n, t, d, rng.integers(1, t + 1, n))
        fields["labels"] = rng.uniform(-3, 3, (n, 1, 1))
        rows = [[f"vid{split}{i // 2}", f"{i * 1.5:g}", f"{i * 1.5 + 2:g}"] for i in range(n)]
        fields["id"] = np.array(rows, dtype="S" if mosi_bytes_ids else "U")
        obj[split] = fields
    obj["train"]["audio"][0, -1, 0] = -np.inf  # MOSEI audio holds -inf
    obj["train"]["audio"][1, -1, :2] = -np.inf
    obj["valid"]["vision"][2, -1, 1] = np.nan
    obj["test"]["labels"][3, 0, 0] = 3.4  # old MOSEI labels exceed 3
    obj["test"]["id"][1] = obj["test"]["id"][0]  # a repeated id row
    return obj


def mmsa_object(seed: int = 0) -> dict:
    """An MMSA dict of splits: BERT-like text, regression_labels, lengths, raw_text, extras."""
    rng = np.random.default_rng(seed)
    obj = {}
    for split, n in SIZES.items():
        fields = {m: rng.standard_normal((n, t, d)).astype(np.float32) for m, (t, d) in SHAPES.items()}
        fields["regression_labels"] = rng.uniform(-3, 3, n).astype(np.float32)
        fields["id"] = [f"vid{split}{i}$_${i}" for i in range(n)]
        fields["raw_text"] = [f"sentence {split} {i} é" for i in range(n)]
        fields["audio_lengths"] = rng.integers(1, SHAPES["audio"][0] + 1, n).tolist()
        fields["vision_lengths"] = rng.integers(1, SHAPES["vision"][0] + 1, n)
        fields["text_bert"] = np.zeros((n, 3, SHAPES["text"][0]))
        fields["annotations"] = ["Positive"] * n
        fields["classification_labels"] = np.ones(n)
        obj[split] = fields
    obj["train"]["audio"][2, 0, 0] = -np.inf
    obj["valid"]["vision_lengths"][0] = SHAPES["vision"][0] + 3  # longer than T: clipped and counted
    return obj


def write_pickle(path, obj, protocol: int = 4) -> str:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)
    return str(path)


def write_csd(path, name: str, videos: dict, metadata: dict | None = None) -> str:
    """A computational sequence: /<name>/data/<vid>/{features, intervals}, /<name>/metadata."""
    with h5py.File(path, "w") as f:
        root = f.create_group(name)
        data = root.create_group("data")
        for vid, (features, intervals) in videos.items():
            group = data.create_group(vid)
            group["features"] = features
            group["intervals"] = intervals
        meta = root.create_group("metadata")
        for key, value in (metadata or {"root name": name}).items():
            meta.create_dataset(key, data=json.dumps(value) if isinstance(value, list) else value,
                                dtype=h5py.string_dtype())
    return str(path)


def _frames(rng, duration: float, rate: float, d: int):
    """Features at `rate` Hz for `duration` seconds, with (start, end) intervals."""
    t = int(duration * rate)
    starts = np.arange(t) / rate
    return rng.standard_normal((t, d)), np.stack([starts, starts + 1 / rate], axis=1)


# Three videos per fold plus one in no fold; each video has two labelled segments.
VIDEOS = {"train": ["tr0", "tr1", "tr2"], "valid": ["va0", "va1", "va2"], "test": ["te0", "te1", "te2"]}
OUTSIDE = "nofold0"
SEGMENTS = np.array([[0.0, 2.0], [2.5, 6.0]])
RATES = {"text": 2.0, "audio": 4.0, "vision": 3.0}  # frames per second
DIMS = {"text": 6, "audio": 74, "vision": 3}


def csd_folder(root, seed: int = 0, *, drop: tuple[str, str] | None = None) -> str:
    """A folder of MOSEI-named .csd files; `drop=(modality, video)` leaves one sequence out."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    vids = [v for vs in VIDEOS.values() for v in vs] + [OUTSIDE]
    files = {"text": "CMU_MOSEI_TimestampedWordVectors", "audio": "CMU_MOSEI_COVAREP",
             "vision": "CMU_MOSEI_VisualFacet42"}
    for m, name in files.items():
        videos = {v: _frames(rng, 7.0, RATES[m], DIMS[m]) for v in vids if (m, v) != drop}
        if m == "audio":
            videos["tr0"][0][1, 0] = -np.inf  # inside segment 0 (frame 0.25-0.5 s)
        meta = {"dimension names": [f"{m}{i}" for i in range(DIMS[m])]} if m == "vision" else None
        write_csd(root / f"{name}.csd", name, videos, meta)
    labels = {v: (np.column_stack([rng.uniform(-3, 3, 2), rng.uniform(0, 3, (2, 6))]), SEGMENTS.copy())
              for v in vids}
    labels["te2"][0][1, 0] = -3.5
    write_csd(root / "CMU_MOSEI_Labels.csd", "CMU_MOSEI_Labels", labels)
    (root / "folds.json").write_text(json.dumps(VIDEOS))
    return str(root)
