"""What a dataset file may declare before kdsearch reads it: usable shapes, sizes that fit in
memory, root attributes that are single values.

HDF5 describes arrays before it stores them, so every check here reads metadata only: a file
that declares an empty split, a zero-wide modality, terabytes of rows or an attribute stored
as an array costs one line naming the file and field, not a traceback or an exhausted machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import h5py
import numpy as np

from kdsearch.data.schema import MODALITIES, field_key
from kdsearch.errors import DataError


def check_split_shapes(shapes: Mapping[str, tuple], path: str, split: str) -> None:
    """A split a model trains, is validated or scored on needs samples, and every modality needs
    time steps and features: an empty split would "train" a model on nothing, a zero-wide
    modality build layers of width 0 that fail deep inside torch."""
    n = shapes["text"][0]
    if n == 0:
        raise DataError("has 0 samples: every split needs at least one (a model cannot train, be validated "
                        "or be scored on nothing)", file=path, field=split)
    for m in MODALITIES:
        _, t, d = shapes[m]
        if t == 0 or d == 0:
            what = "sequence length" if t == 0 else "feature dim"
            raise DataError(f"{what} 0 in shape {tuple(shapes[m])}: each sample needs time steps and features",
                            file=path, field=field_key(split, m))


def check_fits_memory(f: h5py.File, path: str, shapes: Mapping[str, Mapping[str, tuple]]) -> None:
    """Refuse a file whose splits declare more bytes than this machine's memory, before reading
    any: HDF5 stores a declared shape without its data (chunks never written read as zeros),
    so a small file can promise terabytes."""
    need = 0
    for split, fields in shapes.items():
        for name, shape in fields.items():
            need += int(np.prod(shape, dtype=object)) * f[split][name].dtype.itemsize
    total = machine_memory()
    if need > total:
        raise DataError(f"declares {need / 2**30:,.1f} GiB of arrays, more than this machine's {total / 2**30:,.1f} "
                        "GiB of memory (loading reads every split it needs whole)", file=path)


def machine_memory() -> int:
    """Physical memory in bytes (no third-party package: sysconf answers on Linux and macOS)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: refuse only what no machine holds


def scalar_attr(f: h5py.File, name: str, path: str):
    """A root attribute as one Python value: an attribute stored as an array (h5py writes a list
    that way) is refused by name rather than compared element-wise."""
    value = f.attrs.get(name)
    if isinstance(value, np.ndarray):
        raise DataError(f"stored as an array of shape {value.shape}, expected a single value", file=path, field=name)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError("not UTF-8 text", file=path, field=name) from None
    return value
