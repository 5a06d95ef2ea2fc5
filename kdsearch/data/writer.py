"""Streaming, atomic writer of the one dataset layout, with a content fingerprint.

A MOSEI-sized file is ~6 GB, so samples arrive in chunks and are hashed as they are written; the
file appears under its final name only once complete (a crash leaves no half-written dataset that
a later search could mistake for a good one).

The fingerprint (kdsearch.data.fingerprint) is computed while writing and depends on the content
only, so it can key teacher caches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import h5py
import numpy as np

from kdsearch.atomic import commit, discard, temporary_path
from kdsearch.data.fingerprint import FieldHasher
from kdsearch.data.schema import (
    COUNTER_ATTRS,
    FIELD_SPECS,
    FORMAT,
    FORMAT_VERSION,
    MODALITIES,
    REQUIRED_FIELDS,
    SPLITS,
    field_key,
)
from kdsearch.data.validate import check_ids_unique, check_values
from kdsearch.errors import DataError

_STR = h5py.string_dtype("utf-8")
_RESERVED_ATTRS = ("format", "format_version", "fingerprint")


def _attr_value(value):
    """HDF5 attributes hold scalars and strings; nested structures are stored as JSON."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


class DatasetWriter:
    """Write a dataset file split by split, chunk by chunk; commit atomically on close.

    Use as a context manager: on a clean exit the temporary file ``<path>.tmp-<pid>`` is renamed
    to `path`; on any exception it is removed and `path` is left untouched.

    Args:
        path: final file path (parent directories are created).
        attrs: root attributes; must contain ``source`` and ``aligned``. Dicts and lists are
            stored as JSON strings. Missing ``nonfinite_replaced``/``labels_clipped`` are
            written as zeros (nothing was repaired).
        shapes: split -> field -> shape for all three splits. ``text``, ``audio`` and ``vision``
            are required; ``label`` and ``id`` default to (N,); optional fields
            (``vision_lengths``, ``vision_events``, ...) may be added.
    """

    def __init__(self, path: str | os.PathLike, *, attrs: Mapping, shapes: Mapping[str, Mapping[str, tuple]]):
        self.path = os.fspath(path)
        self._shapes = _complete_shapes(shapes)
        missing = [k for k in ("source", "aligned") if k not in attrs]
        if missing:
            raise ValueError(f"DatasetWriter: attrs must include {missing}")
        self._hasher = FieldHasher()
        self._filled = {s: dict.fromkeys(fields, 0) for s, fields in self._shapes.items()}
        self._ids: dict[str, set[str]] = {s: set() for s in SPLITS}
        self.fingerprint: str | None = None
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        self._tmp = str(temporary_path(self.path))
        self._file = h5py.File(self._tmp, "w")
        try:
            self._create(attrs)
        except BaseException:
            self.abort()
            raise

    def _create(self, attrs: Mapping) -> None:
        root = self._file.attrs
        root["format"], root["format_version"] = FORMAT, FORMAT_VERSION
        for counter in COUNTER_ATTRS:
            zeros = {s: {f: 0 for f in (*MODALITIES, "label")} for s in SPLITS}
            root[counter] = _attr_value(zeros if counter == "nonfinite_replaced" else
                                        {s: {"label": 0} for s in SPLITS})
        for name, value in attrs.items():
            if name in _RESERVED_ATTRS:
                raise ValueError(f"DatasetWriter: attribute {name!r} is set by the writer itself")
            root[name] = _attr_value(value)
        for split, fields in self._shapes.items():
            group = self._file.create_group(split)
            for name, shape in fields.items():
                spec = FIELD_SPECS[name]
                # Contiguous, uncompressed storage: loading a 6 GB file is then one read per field.
                group.create_dataset(name, shape=shape, dtype=_STR if spec.kind == "str" else spec.dtype)
                self._hasher.start(field_key(split, name), shape)

    def write(self, split: str, start: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write samples ``start : start + len`` of some fields of one split.

        Each field must be written in order (`start` equal to the samples written so far for
        that field), which keeps the fingerprint independent of the chunk size. Values are
        checked as they arrive (finite, labels in range, ids unique), so no unclean file can
        be stored.

        Raises:
            DataError: a value check failed (names the final path and split/field).
            ValueError: unknown split/field, out-of-order start, or wrong shape.
        """
        if split not in self._shapes:
            raise ValueError(f"DatasetWriter.write: unknown split {split!r}")
        for name, arr in arrays.items():
            key = field_key(split, name)
            if name not in self._shapes[split]:
                raise ValueError(f"DatasetWriter.write: {key} is not in the declared shapes")
            if start != self._filled[split][name]:
                raise ValueError(f"DatasetWriter.write: {key} written up to {self._filled[split][name]}, "
                                 f"got start {start}")
            arr = self._convert(name, arr)
            shape = self._shapes[split][name]
            if arr.shape[1:] != shape[1:] or start + len(arr) > shape[0]:
                raise ValueError(f"DatasetWriter.write: {key} chunk {arr.shape} at {start} "
                                 f"does not fit declared shape {shape}")
            seq_len = self._seq_len(split, name)
            check_values(arr, path=self.path, key=key, offset=start, seq_len=seq_len)
            if name == "id":
                self._check_new_ids(split, arr)
            self._file[split][name][start:start + len(arr)] = arr
            self._hasher.update(key, arr)
            self._filled[split][name] += len(arr)

    @staticmethod
    def _convert(name: str, arr: np.ndarray) -> np.ndarray:
        if FIELD_SPECS[name].kind == "str":
            return np.array([s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in arr], dtype=object)
        return np.ascontiguousarray(arr, dtype=FIELD_SPECS[name].dtype)

    def _seq_len(self, split: str, name: str) -> int | None:
        modality = name.split("_")[0]
        if FIELD_SPECS[name].kind != "int" or modality not in MODALITIES:
            return None
        return self._shapes[split][modality][1]

    def _check_new_ids(self, split: str, ids: np.ndarray) -> None:
        key = field_key(split, "id")
        check_ids_unique(ids, path=self.path, key=key)
        seen = self._ids[split]
        again = [i for i in ids if i in seen]
        if again:
            raise DataError(f"{len(again)} duplicate ids, e.g. {again[0]!r} occurs more than once",
                            file=self.path, field=key)
        seen.update(ids)

    def close(self) -> str:
        """Check that every field was written completely, store the fingerprint, commit."""
        for split, fields in self._filled.items():
            for name, n in fields.items():
                if n != self._shapes[split][name][0]:
                    self.abort()
                    raise ValueError(f"DatasetWriter.close: {field_key(split, name)} has {n} of "
                                     f"{self._shapes[split][name][0]} samples written")
        self.fingerprint = self._hasher.hexdigest()
        self._file.attrs["fingerprint"] = self.fingerprint
        self._file.close()
        commit(self._tmp, self.path)
        return self.fingerprint

    def abort(self) -> None:
        """Close and delete the temporary file; the final path is not touched."""
        try:
            self._file.close()
        finally:
            discard(self._tmp)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _complete_shapes(shapes: Mapping[str, Mapping[str, tuple]]) -> dict[str, dict[str, tuple]]:
    if set(shapes) != set(SPLITS):
        raise ValueError(f"DatasetWriter: shapes must have exactly the splits {SPLITS}, got {sorted(shapes)}")
    out: dict[str, dict[str, tuple]] = {}
    for split in SPLITS:
        fields = {k: tuple(int(x) for x in v) for k, v in shapes[split].items()}
        unknown = set(fields) - set(FIELD_SPECS)
        if unknown or not set(MODALITIES) <= set(fields):
            raise ValueError(f"DatasetWriter: {split} fields {sorted(fields)} need {MODALITIES}; "
                             f"unknown: {sorted(unknown)}")
        n = fields["text"][0]
        fields.setdefault("label", (n,))
        fields.setdefault("id", (n,))
        for name, shape in fields.items():
            if len(shape) != FIELD_SPECS[name].rank or shape[0] != n:
                raise ValueError(f"DatasetWriter: {split}/{name} shape {shape} does not match "
                                 f"{FIELD_SPECS[name].axes} with N={n}")
        out[split] = {k: fields[k] for k in [*REQUIRED_FIELDS, *sorted(set(fields) - set(REQUIRED_FIELDS))]}
    return out


def write_dataset(path: str | os.PathLike, splits: Mapping[str, Mapping[str, np.ndarray]], attrs: Mapping) -> str:
    """Write whole in-memory arrays as one dataset file (atomically); return its fingerprint.

    Args:
        path: output file.
        splits: split -> field -> array (``text``, ``audio``, ``vision``, ``label``, ``id`` and
            any optional fields).
        attrs: root attributes, as for `DatasetWriter`.
    """
    shapes = {s: {name: np.shape(a) for name, a in fields.items()} for s, fields in splits.items()}
    with DatasetWriter(path, attrs=attrs, shapes=shapes) as writer:
        for split, fields in splits.items():
            writer.write(split, 0, fields)
    return writer.fingerprint
