"""Checks that turn every way a dataset file can be wrong into one clear `DataError`.

Each failure names the file, the split/field and the problem, e.g.
``data.h5: valid/vision: feature dim 20 differs from train's 35``; no h5py or numpy traceback
ever reaches the user. `load_dataset` runs these checks and never repairs anything: a stored
file must already be clean. Importers repair raw data with `sanitize` (and store its counts)
before writing.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Mapping

import h5py
import numpy as np

from kdsearch.data.schema import (
    FIELD_SPECS,
    FORMAT,
    FORMAT_VERSION,
    LABEL_MAX,
    LABEL_MIN,
    MODALITIES,
    REQUIRED_FIELDS,
    field_key,
)
from kdsearch.data.bounds import check_split_shapes, scalar_attr
from kdsearch.data.metadata_guard import check_metadata_readable
from kdsearch.errors import DataError, UserError, short
from kdsearch.userfiles import os_problem, regular_file

# Rows are scanned in blocks so a finite-check's boolean temporary stays near 16 M elements,
# whatever the split size (MOSEI audio alone is 2.4 GB).
_BLOCK_ELEMENTS = 1 << 24


def open_h5(path: str) -> h5py.File:
    """Open a dataset file for reading, or raise a DataError saying why it cannot be read."""
    try:
        os.stat(path)
    except OSError as exc:
        raise DataError("file not found" if exc.errno == errno.ENOENT else os_problem(exc, "dataset file"),
                        file=path) from None
    except ValueError:  # a NUL in the name
        raise DataError("a file name cannot hold a NUL character", file=path) from None
    try:
        regular_file(path, what="dataset file")  # a pipe or device would block or stream forever
    except UserError as exc:
        raise DataError(exc.problem, file=path) from None
    if not h5py.is_hdf5(path):
        raise DataError("not an HDF5 file", file=path)
    check_metadata_readable(path)  # a corrupt heap can make libhdf5 loop for ever in this process
    try:
        return h5py.File(path, "r")
    except OSError as err:  # h5py reports a truncated file only when opening it
        raise DataError("truncated or corrupt HDF5 file (re-create or re-import it)", file=path) from err


def read_field(ds: h5py.Dataset, path: str, key: str) -> np.ndarray:
    """Read a whole dataset into memory; corruption inside the data becomes a DataError."""
    try:
        if FIELD_SPECS[key.split("/")[-1]].kind == "str":
            return ds.asstr()[...].astype(object)
        return ds[...]
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise DataError("cannot be read: truncated or corrupt HDF5 file", file=path, field=key) from err


def check_root_attrs(f: h5py.File, path: str) -> None:
    """Check the root attributes that mark a file as this layout, in a version this code reads."""
    fmt = scalar_attr(f, "format", path)
    if fmt is None:
        raise DataError(f"root attribute missing: not a {FORMAT} file", file=path, field="format")
    if fmt != FORMAT:
        raise DataError(f"is {short(fmt)}, expected {FORMAT!r}", file=path, field="format")
    version = scalar_attr(f, "format_version", path)
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise DataError(f"is {short(version)}, this kdsearch reads version {FORMAT_VERSION}", file=path,
                        field="format_version")
    fingerprint = scalar_attr(f, "fingerprint", path)
    if not fingerprint:  # teacher caches are keyed by it: never guess one
        raise DataError("root attribute missing; write files with kdsearch (data synth / import)",
                        file=path, field="fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint.isalnum() or len(fingerprint) > 128:
        raise DataError(f"must be a hex digest, got {short(fingerprint)}", file=path, field="fingerprint")


def check_structure(f: h5py.File, path: str, splits: tuple[str, ...]) -> dict[str, dict[str, tuple]]:
    """Check groups, fields, dtypes, ranks and shape agreement, without reading any data.

    Returns:
        split -> field -> shape, for the required fields and any optional ones present.
    """
    shapes: dict[str, dict[str, tuple]] = {}
    for split in splits:
        group = f.get(split)
        if not isinstance(group, h5py.Group):
            raise DataError("split group missing", file=path, field=split)
        shapes[split] = _check_split_fields(group, path, split)
    _check_across_splits(shapes, path)
    return shapes


def _check_split_fields(group: h5py.Group, path: str, split: str) -> dict[str, tuple]:
    shapes: dict[str, tuple] = {}
    for name in [*REQUIRED_FIELDS, *(n for n in FIELD_SPECS if n not in REQUIRED_FIELDS)]:
        key, obj = field_key(split, name), group.get(name)
        if obj is None:
            if name in REQUIRED_FIELDS:
                raise DataError("field missing", file=path, field=key)
            continue
        if not isinstance(obj, h5py.Dataset):
            raise DataError("is a group, expected a dataset", file=path, field=key)
        spec = FIELD_SPECS[name]
        if not _dtype_ok(obj.dtype, spec.kind):
            expected = {"float": "float32", "int": "an integer dtype", "str": "UTF-8 strings"}[spec.kind]
            raise DataError(f"dtype {obj.dtype}, expected {expected}", file=path, field=key)
        if len(obj.shape) != spec.rank:
            raise DataError(f"shape {obj.shape} has rank {len(obj.shape)}, expected {spec.axes}",
                            file=path, field=key)
        shapes[name] = tuple(obj.shape)
    check_split_shapes(shapes, path, split)
    n = shapes["text"][0]
    for name, shape in shapes.items():
        if shape[0] != n:
            raise DataError(f"has {shape[0]} samples, but {field_key(split, 'text')} has {n}",
                            file=path, field=field_key(split, name))
    return shapes


def _dtype_ok(dtype: np.dtype, kind: str) -> bool:
    if kind == "float":
        return dtype == np.float32
    if kind == "int":
        return np.issubdtype(dtype, np.integer)
    return h5py.check_string_dtype(dtype) is not None


def _check_across_splits(shapes: dict[str, dict[str, tuple]], path: str) -> None:
    """Models are built once for all splits, so T and D of each modality must agree."""
    first = next(iter(shapes), None)
    for split in list(shapes)[1:]:
        for m in MODALITIES:
            (_, t_ref, d_ref), (_, t, d) = shapes[first][m], shapes[split][m]
            if d != d_ref:
                raise DataError(f"feature dim {d} differs from {first}'s {d_ref}", file=path,
                                field=field_key(split, m))
            if t != t_ref:
                raise DataError(f"sequence length {t} differs from {first}'s {t_ref}", file=path,
                                field=field_key(split, m))


def check_values(arr: np.ndarray, *, path: str, key: str, offset: int = 0,
                 seq_len: int | None = None) -> None:
    """Check the content of one field (or a chunk of it starting at sample `offset`).

    Features and labels must be finite, labels inside [-3, 3], lengths inside [0, seq_len] and
    event steps inside [0, seq_len). Ids are checked by `check_ids_unique`.
    """
    name = key.split("/")[-1]
    kind = FIELD_SPECS[name].kind
    if kind == "float":
        bad, first = _count_nonfinite(arr)
        if bad:
            raise DataError(f"{bad} non-finite values (NaN or inf), first in sample {first + offset}; "
                            "importers must replace them (kdsearch.data.validate.sanitize)",
                            file=path, field=key)
    if name == "label" and arr.size:
        lo, hi = float(arr.min()), float(arr.max())
        if lo < LABEL_MIN or hi > LABEL_MAX:
            outside = int(np.count_nonzero((arr < LABEL_MIN) | (arr > LABEL_MAX)))
            raise DataError(f"{outside} labels outside [{LABEL_MIN:g}, {LABEL_MAX:g}] "
                            f"(min {lo:g}, max {hi:g})", file=path, field=key)
    if kind == "int" and seq_len is not None and arr.size:
        top = seq_len if name.endswith("_lengths") else seq_len - 1
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > top:
            raise DataError(f"values must lie in [0, {top}], found {lo if lo < 0 else hi}",
                            file=path, field=key)


def check_ids_unique(ids: np.ndarray, *, path: str, key: str) -> None:
    """Ids name samples in reports and caches, so each must occur once per split."""
    values, counts = np.unique(ids.astype(str), return_counts=True)
    dup = np.nonzero(counts > 1)[0]
    if dup.size:
        example, times = str(values[dup[0]]), counts[dup[0]]
        raise DataError(f"{dup.size} duplicate ids, e.g. {example!r} occurs {times} times", file=path, field=key)


def _row_blocks(arr: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    row = max(1, int(np.prod(arr.shape[1:], dtype=np.int64)))
    step = max(1, _BLOCK_ELEMENTS // row)
    for start in range(0, len(arr), step):
        yield start, arr[start:start + step]


def _count_nonfinite(arr: np.ndarray) -> tuple[int, int]:
    """Number of NaN/inf values and the first sample holding one (-1 if none)."""
    total, first = 0, -1
    for start, block in _row_blocks(arr):
        bad = ~np.isfinite(block)
        n = int(np.count_nonzero(bad))
        if n and first < 0:
            first = start + int(np.nonzero(bad.reshape(len(block), -1).any(axis=1))[0][0])
        total += n
    return total, first


def sanitize(arrays: Mapping[str, np.ndarray], *, copy: bool = True
             ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, int]]]:
    """Replace NaN/±inf by 0 in features and labels, and clip labels to [-3, 3].

    Raw MOSEI audio holds -inf (every reference loader zeroes it) and old MOSEI labels exceed 3;
    importers call this before writing and store the counts as root attributes.

    Args:
        arrays: field -> array, keyed by field name ("audio") or flat key ("train/audio");
            fields other than features and labels pass through untouched.
        copy: False repairs the arrays in place (saves memory on multi-GB imports).

    Returns:
        (repaired arrays, counts) with counts = {"nonfinite_replaced": {field: n},
        "labels_clipped": {field: n}} using the keys of `arrays`.
    """
    out: dict[str, np.ndarray] = {}
    counts: dict[str, dict[str, int]] = {"nonfinite_replaced": {}, "labels_clipped": {}}
    for key, arr in arrays.items():
        name = key.split("/")[-1]
        if name not in (*MODALITIES, "label"):
            out[key] = arr
            continue
        arr = np.array(arr, copy=True) if copy else arr
        replaced = 0
        for _, block in _row_blocks(arr):  # in place on views of `arr`, block by block
            bad = ~np.isfinite(block)
            replaced += int(np.count_nonzero(bad))
            block[bad] = 0
        counts["nonfinite_replaced"][key] = replaced
        if name == "label":
            outside = (arr < LABEL_MIN) | (arr > LABEL_MAX)
            counts["labels_clipped"][key] = int(np.count_nonzero(outside))
            np.clip(arr, LABEL_MIN, LABEL_MAX, out=arr)
        out[key] = arr
    return out, counts


def add_counts(total: dict[str, dict[str, int]], more: Mapping[str, Mapping[str, int]]) -> dict:
    """Sum `sanitize` counts of several chunks into `total` (updated in place and returned)."""
    for counter, per_field in more.items():
        bucket = total.setdefault(counter, {})
        for key, n in per_field.items():
            bucket[key] = bucket.get(key, 0) + int(n)
    return total
