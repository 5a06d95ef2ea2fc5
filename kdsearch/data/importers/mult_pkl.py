"""MulT feature pickles: ``mosei_senti_data[_noalign].pkl``, ``mosi_data[_noalign].pkl``.

Layout (docs/methods.md §1.1): ``{split: {"vision", "text", "audio", "labels", "id"}}`` with features
(N,T,D), labels (N,1,1) and ``id`` rows of >= 3 fields (video id, then segment fields such as
start and end times; bytes in the MOSI files). Features are already left-padded or truncated to
a fixed length, so they are copied as they are, after NaN/±inf are zeroed and counted.

Id rule: a row ``(video, f1, f2, ...)`` becomes ``"video[f1,f2,...]"`` (bytes decoded as UTF-8,
numbers written as Python prints them), a single-field row stays as it is, a file without ids
gets ``"<split>-<index>"``; a repeated id gets ``#2``, ``#3``... (see `common.unique_ids`).
"""

from __future__ import annotations

import os

import numpy as np

from kdsearch.data.importers.common import decode_text
from kdsearch.data.importers.pickled import PickleLayout, import_pickled
from kdsearch.data.importers.safe_pickle import load_pickle
from kdsearch.errors import DataError

FORMAT = "mult-pkl"


def _is_scalar_text(value) -> bool:
    return isinstance(value, (str, bytes, np.str_, np.bytes_)) or (isinstance(value, np.ndarray) and value.ndim == 0)


def mult_ids(raw, n: int, path: str, key: str) -> list[str]:
    """One string per sample from MulT ``id`` rows (see the module docstring for the rule)."""
    split = key.split("/")[0]
    if raw is None:
        return [f"{split}-{i}" for i in range(n)]
    rows = list(raw) if isinstance(raw, (list, tuple)) else None
    if rows is None:
        if not isinstance(raw, np.ndarray) or raw.ndim == 0:
            raise DataError(f"is a {type(raw).__name__}, expected one id row per sample", file=path, field=key)
        rows = list(raw)
    if len(rows) != n:
        raise DataError(f"has {len(rows)} rows, but the split has N={n} samples", file=path, field=key)
    ids = []
    for i, row in enumerate(rows):
        if _is_scalar_text(row):
            fields = [decode_text(row, path=path, key=key, row=i)]
        else:
            fields = [decode_text(v, path=path, key=key, row=i) for v in np.asarray(row, dtype=object).ravel()]
        fields = [f.strip() for f in fields]
        if not fields or not fields[0]:
            raise DataError(f"row {i} is empty", file=path, field=key)
        ids.append(fields[0] if len(fields) == 1 else f"{fields[0]}[{','.join(fields[1:])}]")
    return ids


LAYOUT = PickleLayout(fmt=FORMAT, label_key="labels", make_ids=mult_ids)


def import_mult_pkl(src: str | os.PathLike, out: str | os.PathLike, obj=None) -> str:
    """Convert a MulT pickle into the dataset layout at `out`; return the fingerprint.

    Args:
        src: the ``.pkl`` file.
        out: the dataset file to write (atomically).
        obj: the already-unpickled content of `src` (it is consumed), to avoid a second load.

    Raises:
        DataError: an unreadable, refused or mismatched file (names file, split/field, problem).
    """
    if obj is None:
        obj = load_pickle(src)
    return import_pickled(obj, src, out, LAYOUT)
