"""The one dataset layout every source is converted to, and its in-memory form.

File: an HDF5 file with groups ``train``, ``valid``, ``test``; each holds ``text`` (N,T_l,D_l),
``audio`` (N,T_a,D_a), ``vision`` (N,T_v,D_v) float32, ``label`` (N,) float32 in [-3,3], ``id``
(N,) UTF-8 strings, and optionally ``<modality>_lengths`` (N,) and ``<modality>_events`` (N,E).
Root attributes: ``format``, ``format_version``, ``source``, ``aligned``, ``fingerprint``,
``nonfinite_replaced``, ``labels_clipped`` (JSON), optional ``feature_names`` (JSON) and whatever
else the writer passed (e.g. a generator's parameters).

Memory: a `Dataset` holds plain numpy arrays. `Dataset.to_arrays` flattens them into one dict
that the search driver `ray.put`s once; trials rebuild a `SplitArrays` view of it with
`split_arrays_from_flat` without copying.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from kdsearch.data.bounds import check_fits_memory
from kdsearch.data.schema import MODALITIES, SPLITS, field_key
from kdsearch.data.validate import (
    check_ids_unique,
    check_root_attrs,
    check_structure,
    check_values,
    open_h5,
    read_field,
)
from kdsearch.data.writer import DatasetWriter, write_dataset
from kdsearch.errors import DataError

__all__ = [
    "SPLITS", "MODALITIES", "SplitArrays", "Dataset", "DatasetWriter", "write_dataset",
    "load_dataset", "read_attrs", "split_arrays_from_flat",
]


@dataclass(frozen=True)
class SplitArrays:
    """The arrays of one split.

    Attributes:
        text, audio, vision: (N, T, D) float32 features.
        label: (N,) float32 sentiment in [-3, 3].
        id: (N,) object array of str, or None when rebuilt from `Dataset.to_arrays` (ids are
            not shipped to trials: object arrays cannot be shared zero-copy).
        extras: optional fields by stored name, e.g. ``"vision_lengths"``, ``"vision_events"``.
    """

    text: np.ndarray
    audio: np.ndarray
    vision: np.ndarray
    label: np.ndarray
    id: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.label.shape[0])

    def modality(self, name: str) -> np.ndarray:
        """Features of a modality by name ("text", "audio" or "vision")."""
        return getattr(self, name)


@dataclass
class Dataset:
    """A dataset loaded into memory (validated).

    Attributes:
        path: the file it was loaded from.
        attrs: root attributes, JSON-valued ones decoded (dicts/lists), numpy scalars as Python.
        splits: split name -> arrays, for the splits that were loaded.
    """

    path: str
    attrs: dict
    splits: dict[str, SplitArrays]

    @property
    def _first(self) -> SplitArrays:
        return next(iter(self.splits.values()))

    @property
    def dims(self) -> dict[str, int]:
        """Feature dimension per modality, e.g. {"text": 300, "audio": 74, "vision": 35}."""
        return {m: int(self._first.modality(m).shape[2]) for m in MODALITIES}

    @property
    def lengths(self) -> dict[str, int]:
        """Sequence length per modality, e.g. {"text": 50, "audio": 500, "vision": 500}."""
        return {m: int(self._first.modality(m).shape[1]) for m in MODALITIES}

    @property
    def fingerprint(self) -> str:
        """Hex sha256 of the content, as stored when the file was written."""
        return str(self.attrs.get("fingerprint", ""))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat {"train/text": arr, ..., "train/label": arr, "train/vision_events": ...}, no ids.

        The arrays are the dataset's own (no copy); every value is a plain numeric array, which
        Ray's object store shares zero-copy between the trials of a node.
        """
        flat: dict[str, np.ndarray] = {}
        for split, arrays in self.splits.items():
            for name in (*MODALITIES, "label"):
                flat[field_key(split, name)] = getattr(arrays, name)
            for name, arr in arrays.extras.items():
                flat[field_key(split, name)] = arr
        return flat


def split_arrays_from_flat(arrays: Mapping[str, np.ndarray], split: str) -> SplitArrays:
    """Rebuild one split from a `Dataset.to_arrays` dict, without copying (inverse of it).

    Raises:
        KeyError: the dict holds no such split.
    """
    prefix = f"{split}/"
    mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    if "label" not in mine:
        raise KeyError(f"no split {split!r} in arrays (keys: {sorted(arrays)[:6]}...)")
    core = {name: mine.pop(name) for name in (*MODALITIES, "label")}
    ids = mine.pop("id", None)
    return SplitArrays(**core, id=ids, extras=mine)


def _decode_attr(value):
    if isinstance(value, np.ndarray):  # an attribute written as a list: plain Python, as JSON would give
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str) and value[:1] in "{[":  # stored by the writer with json.dumps
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def read_attrs(f) -> dict:
    """Root attributes of an open file, decoded (JSON strings to dicts/lists)."""
    return {name: _decode_attr(value) for name, value in f.attrs.items()}


def load_dataset(path: str | os.PathLike, *, splits: tuple[str, ...] = SPLITS) -> Dataset:
    """Read a dataset file into memory and validate it completely.

    Args:
        path: the HDF5 file.
        splits: which splits to load (e.g. ("train", "valid") for a search, which never
            touches test).

    Returns:
        The `Dataset`.

    Raises:
        DataError: anything wrong with the file, with one message naming file, field and problem.
    """
    path = os.fspath(path)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise DataError(f"unknown split {unknown[0]!r} (splits are {', '.join(SPLITS)})", file=path)
    with open_h5(path) as f:
        check_root_attrs(f, path)
        shapes = check_structure(f, path, tuple(splits))
        check_fits_memory(f, path, shapes)
        loaded = {split: _load_split(f, path, split, shapes[split]) for split in splits}
        attrs = read_attrs(f)
    return Dataset(path=path, attrs=attrs, splits=loaded)


def _load_split(f, path: str, split: str, shapes: dict[str, tuple]) -> SplitArrays:
    arrays: dict[str, np.ndarray] = {}
    for name in shapes:
        key = field_key(split, name)
        arr = read_field(f[split][name], path, key)
        modality = name.split("_")[0]
        seq_len = shapes[modality][1] if modality in MODALITIES and name != modality else None
        if name == "id":
            check_ids_unique(arr, path=path, key=key)
        else:
            check_values(arr, path=path, key=key, seq_len=seq_len)
        arrays[name] = arr
    core = {name: arrays.pop(name) for name in (*MODALITIES, "label", "id")}
    return SplitArrays(**core, extras=arrays)
