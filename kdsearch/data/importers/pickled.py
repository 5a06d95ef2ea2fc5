"""Convert a dict-of-splits feature pickle (MulT or MMSA) into the dataset layout, split by split.

Both public pickle families are ``{"train": {...}, "valid": {...}, "test": {...}}`` with numpy
arrays per field; they differ in field names, label shape, ids and extras, which a
`PickleLayout` describes. Everything is checked (splits, fields, ranks, N per split, T and D
across splits) before a byte is written, so a mismatched file fails fast with one message. Then
each split is converted field by field and written, and its arrays are dropped from the loaded
object at once, so memory peaks at the pickle plus one float32 field.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from kdsearch.data.bounds import check_split_shapes
from kdsearch.data.importers.common import (
    aligned_from_name,
    as_numeric,
    check_across_splits,
    clean_float32,
    known_feature_names,
    labels_1d,
    text_list,
    unique_ids,
)
from kdsearch.data.importers.staging import RepairCounts, staged_output
from kdsearch.data.schema import MODALITIES, SPLITS
from kdsearch.data.writer import DatasetWriter
from kdsearch.errors import DataError

# (raw ids or None, N, source path, "split/id") -> list of str (not yet unique)
IdRule = Callable[[object, int, str, str], list[str]]


@dataclass(frozen=True)
class PickleLayout:
    """Where a pickle family keeps each field.

    Attributes:
        fmt: the format's name, e.g. "mult-pkl" (prefix of the ``source`` attribute).
        label_key: the split's label field ("labels" or "regression_labels").
        make_ids: turns the split's raw ``id`` value into one string per sample.
        text_extras: string fields kept as non-layout datasets (MMSA ``raw_text``).
    """

    fmt: str
    label_key: str
    make_ids: IdRule
    text_extras: tuple[str, ...] = ()


def _split_dict(obj, path: str, split: str) -> Mapping:
    if not isinstance(obj, Mapping):
        raise DataError(f"top level is a {type(obj).__name__}, expected a dict with splits "
                        f"{', '.join(SPLITS)}", file=path, field="pickle")
    if split not in obj:
        keys = ", ".join(map(str, obj)) or "none"
        raise DataError(f"split missing (top-level keys: {keys})", file=path, field=split)
    data = obj[split]
    if not isinstance(data, Mapping):
        raise DataError(f"is a {type(data).__name__}, expected a dict of fields", file=path, field=split)
    return data


def _plan_split(data: Mapping, path: str, split: str, layout: PickleLayout) -> dict[str, tuple]:
    """Shapes the writer will be given for this split; checks fields, ranks and N."""
    shapes: dict[str, tuple] = {}
    for m in MODALITIES:
        if m not in data:
            raise DataError(f"field missing (fields: {', '.join(map(str, data))})", file=path, field=f"{split}/{m}")
        shapes[m] = as_numeric(data[m], path=path, key=f"{split}/{m}", rank=3).shape
    n = shapes["text"][0]
    for m in MODALITIES:
        if shapes[m][0] != n:
            raise DataError(f"has {shapes[m][0]} samples, but {split}/text has {n}", file=path, field=f"{split}/{m}")
    if layout.label_key not in data:
        raise DataError(f"field missing (fields: {', '.join(map(str, data))})", file=path,
                        field=f"{split}/{layout.label_key}")
    labels_1d(data[layout.label_key], n, path=path, key=f"{split}/{layout.label_key}")
    check_split_shapes(shapes, path, split)
    layout.make_ids(data.get("id"), n, path, f"{split}/id")  # undecodable ids refused before anything is staged
    for m in MODALITIES:
        name = f"{m}_lengths"
        if name in data:
            lengths = as_numeric(data[name], path=path, key=f"{split}/{name}", rank=1, what="integer lengths")
            if lengths.shape[0] != n:
                raise DataError(f"has {lengths.shape[0]} samples, but {split}/text has {n}", file=path,
                                field=f"{split}/{name}")
            shapes[name] = (n,)
    return shapes


def _lengths(value, seq_len: int) -> tuple[np.ndarray, int]:
    """True lengths as int32 inside [0, T], and how many had to be clipped into it."""
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr, nan=0.0, posinf=seq_len, neginf=0.0)
    arr = np.rint(arr).astype(np.int64)
    outside = int(np.count_nonzero((arr < 0) | (arr > seq_len)))
    return np.clip(arr, 0, seq_len).astype(np.int32), outside


def import_pickled(obj, src: str | os.PathLike, out: str | os.PathLike, layout: PickleLayout) -> str:
    """Write a loaded dict-of-splits pickle as a dataset file; return its fingerprint.

    `obj` is consumed: each split's arrays are removed from it once written (to free memory).

    Raises:
        DataError: a missing split or field, a wrong rank, N differing between fields, T or D
            differing between splits, undecodable ids or text (names file, split/field, problem).
    """
    src = os.fspath(src)
    plans = {s: _plan_split(_split_dict(obj, src, s), src, s, layout) for s in SPLITS}
    check_across_splits(plans, src, {m: m for m in MODALITIES})
    seq_lens = {m: plans["train"][m][1] for m in MODALITIES}
    dims = {m: plans["train"][m][2] for m in MODALITIES}
    attrs = {"source": f"{layout.fmt}:{os.path.basename(src)}",
             "aligned": aligned_from_name(src, seq_lens)}
    names = known_feature_names(dims)
    if names:
        attrs["feature_names"] = names

    counts, renamed, clipped_lengths = RepairCounts(), {}, {}
    with staged_output(out) as stage, DatasetWriter(stage.path, attrs=attrs, shapes=plans) as writer:
        for split in SPLITS:
            data = obj[split]
            n = plans[split]["text"][0]
            for m in MODALITIES:
                arr, fixed = clean_float32(as_numeric(data.pop(m), path=src, key=f"{split}/{m}"), m)
                counts.add(split, fixed)
                writer.write(split, 0, {m: arr})
                del arr
            label = labels_1d(data.pop(layout.label_key), n, path=src, key=f"{split}/{layout.label_key}")
            label, fixed = clean_float32(label, "label")
            counts.add(split, fixed)
            ids, renamed[split] = unique_ids(layout.make_ids(data.pop("id", None), n, src, f"{split}/id"))
            writer.write(split, 0, {"label": label, "id": ids})
            for name in [k for k in plans[split] if k.endswith("_lengths")]:
                lengths, clipped_lengths[f"{split}/{name}"] = _lengths(data.pop(name), seq_lens[name.split("_")[0]])
                writer.write(split, 0, {name: lengths})
            for name in layout.text_extras:
                if name in data:
                    stage.extra_datasets[(split, name)] = text_list(data.pop(name), n, path=src,
                                                                    key=f"{split}/{name}")
            obj[split] = None  # drop whatever fields the layout does not keep
        stage.attrs.update(counts.as_attrs())
        stage.attrs["ids_renamed"] = renamed
        if any(clipped_lengths.values()):
            stage.attrs["lengths_clipped"] = clipped_lengths
    return writer.fingerprint
