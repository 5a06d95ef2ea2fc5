"""The content fingerprint of a dataset file: what teacher caches and results are keyed by.

A sha256 over each field's bytes in sample order (ids as NUL-terminated UTF-8), combined with the
fields' names, dtypes and shapes. It depends on the content only: not on the chunk size used to
write it (each field is hashed on its own), nor on the attributes (source, generator parameters).
"""

from __future__ import annotations

import hashlib

import h5py
import numpy as np

from kdsearch.data.schema import FIELD_SPECS, FORMAT, FORMAT_VERSION, SPLITS, field_key


class FieldHasher:
    """Per-field sha256 digests combined into one fingerprint (same scheme for writer and file)."""

    def __init__(self) -> None:
        self._fields: dict[str, tuple[str, tuple, "hashlib._Hash"]] = {}

    def start(self, key: str, shape: tuple) -> None:
        """Begin hashing field `key` (e.g. "train/audio") of the given full shape."""
        spec = FIELD_SPECS[key.split("/")[-1]]
        dtype = "utf8" if spec.kind == "str" else spec.dtype.str
        self._fields[key] = (dtype, tuple(int(s) for s in shape), hashlib.sha256())

    def update(self, key: str, arr: np.ndarray) -> None:
        """Add the next samples of field `key`, already converted to the stored dtype."""
        digest = self._fields[key][2]
        if arr.dtype == object:  # ids: NUL-terminated UTF-8 (NUL cannot occur inside an id)
            digest.update(b"".join(s.encode("utf-8") + b"\0" for s in arr))
        else:
            digest.update(np.ascontiguousarray(arr).data)

    def hexdigest(self) -> str:
        """The fingerprint of everything hashed so far."""
        outer = hashlib.sha256(f"{FORMAT}/{FORMAT_VERSION}\n".encode())
        for key in sorted(self._fields):
            dtype, shape, digest = self._fields[key]
            outer.update(f"{key} {dtype} {shape}\n".encode())
            outer.update(digest.digest())
        return outer.hexdigest()


def fingerprint_file(f: h5py.File, block: int = 512) -> str:
    """Recompute the fingerprint of an open dataset file (to verify the stored attribute)."""
    hasher = FieldHasher()
    for split in SPLITS:
        for name, ds in f[split].items():
            if name not in FIELD_SPECS:
                continue  # not part of the layout, so not content (the writer never stores one)
            spec = FIELD_SPECS[name]
            key = field_key(split, name)
            hasher.start(key, ds.shape)
            for start in range(0, ds.shape[0], block):
                chunk = ds.asstr()[start:start + block].astype(object) if spec.kind == "str" else \
                    np.asarray(ds[start:start + block], dtype=spec.dtype)
                hasher.update(key, chunk)
    return hasher.hexdigest()
