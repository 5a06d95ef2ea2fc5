"""Tiny real dataset files for the data-layer tests (imported by conftest.py and tests)."""

from __future__ import annotations

import numpy as np
import pytest

from kdsearch.data.layout import write_dataset

SIZES = {"train": 6, "valid": 3, "test": 4}
SHAPES = {"text": (5, 7), "audio": (6, 4), "vision": (6, 3)}  # (T, D) per modality


def make_splits(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Clean arrays for all three splits, with an optional field, at tiny sizes."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in SIZES.items():
        fields = {m: rng.standard_normal((n, *shape)).astype(np.float32) for m, shape in SHAPES.items()}
        fields["label"] = rng.uniform(-3, 3, n).astype(np.float32)
        fields["id"] = np.array([f"{split}-{i}" for i in range(n)], dtype=object)
        fields["vision_lengths"] = rng.integers(1, SHAPES["vision"][0] + 1, n).astype(np.int32)
        splits[split] = fields
    return splits


ATTRS = {"source": "test:tiny", "aligned": False, "feature_names": {"vision": ["a", "b", "c"]}}


@pytest.fixture
def splits():
    return make_splits()


@pytest.fixture
def tiny_file(tmp_path, splits):
    """A valid dataset file; returns its path as str."""
    path = tmp_path / "data.h5"
    write_dataset(path, splits, ATTRS)
    return str(path)
