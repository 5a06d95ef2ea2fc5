"""Read CMU-MultimodalSDK computational sequences (``.csd``), checking what is read.

A ``.csd`` is an HDF5 file whose root holds one group named after the sequence (e.g.
``CMU_MOSEI_COVAREP``), with a ``data`` group of one group per video id, each holding
``features`` (T, D) and ``intervals`` (T, 2) in seconds, and a ``metadata`` group. Videos are
read lazily, one at a time, so a multi-GB sequence never sits in memory whole.
"""

from __future__ import annotations

import json
import os

import h5py
import numpy as np

from kdsearch.errors import DataError


class CsdSequence:
    """One open computational sequence.

    Args:
        path: the ``.csd`` file.

    Raises:
        DataError: not HDF5, truncated, or not laid out as a computational sequence.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise DataError("file not found", file=self.path)
        if not h5py.is_hdf5(self.path):
            raise DataError("not an HDF5 file, so not a computational sequence", file=self.path)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as err:
            raise DataError("truncated or corrupt HDF5 file; download it again", file=self.path) from err
        roots = [k for k, v in self._file.items()
                 if isinstance(v, h5py.Group) and isinstance(v.get("data"), h5py.Group)]
        if len(roots) != 1:
            self.close()
            problem = "no" if not roots else f"{len(roots)} ({', '.join(roots)})"
            raise DataError(f"{problem} top-level group with a 'data' group: not a CMU-MultimodalSDK "
                            "computational sequence", file=self.path, field="/")
        self.name = roots[0]
        self._data = self._file[self.name]["data"]
        self._ref_dim: tuple[str, int] | None = None

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> CsdSequence:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def videos(self) -> list[str]:
        """Video ids, in file order."""
        return list(self._data.keys())

    def __contains__(self, vid: str) -> bool:
        return vid in self._data

    def field(self, vid: str, name: str = "") -> str:
        """The in-file path of a video (or one of its datasets), as named in messages."""
        return "/".join(p for p in (self.name, "data", vid, name) if p)

    def read(self, vid: str, *, context: str = "") -> tuple[np.ndarray, np.ndarray]:
        """(features (T, D), intervals (T, 2)) of one video, checked.

        Args:
            vid: the video id.
            context: why the video is needed, appended to a "missing" message (e.g. its fold).

        Raises:
            DataError: the video is missing, or its arrays are unreadable, have the wrong shape,
                are not numbers, or have a feature dim different from earlier videos.
        """
        group = self._data.get(vid)
        if not isinstance(group, h5py.Group):
            raise DataError(f"video {vid!r} has no sequence in this file{context}", file=self.path,
                            field=self.field(vid))
        arrays = []
        for name in ("features", "intervals"):
            ds = group.get(name)
            if not isinstance(ds, h5py.Dataset):
                raise DataError("dataset missing", file=self.path, field=self.field(vid, name))
            if not (np.issubdtype(ds.dtype, np.number) or ds.dtype == np.bool_):
                raise DataError(f"dtype {ds.dtype}, expected numbers (is this a feature sequence?)",
                                file=self.path, field=self.field(vid, name))
            try:
                arrays.append(ds[...])
            except (OSError, ValueError) as err:
                raise DataError("cannot be read: truncated or corrupt HDF5 file", file=self.path,
                                field=self.field(vid, name)) from err
        features, intervals = arrays
        if features.ndim != 2:
            raise DataError(f"shape {features.shape}, expected (T, D)", file=self.path,
                            field=self.field(vid, "features"))
        if intervals.shape != (features.shape[0], 2):
            raise DataError(f"shape {intervals.shape}, expected (T, 2) with T={features.shape[0]} as in features",
                            file=self.path, field=self.field(vid, "intervals"))
        if self._ref_dim is None:
            self._ref_dim = (vid, features.shape[1])
        elif features.shape[1] != self._ref_dim[1]:
            raise DataError(f"feature dim {features.shape[1]} differs from {self._ref_dim[1]} of video "
                            f"{self._ref_dim[0]!r}", file=self.path, field=self.field(vid, "features"))
        return features, intervals

    def dimension_names(self, dim: int) -> list[str] | None:
        """The metadata's "dimension names" when present and `dim` long, else None."""
        meta = self._file[self.name].get("metadata")
        ds = meta.get("dimension names") if isinstance(meta, h5py.Group) else None
        if not isinstance(ds, h5py.Dataset):
            return None
        try:
            value = ds[()]
            values = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.ravel(value)]
            if len(values) == 1 and values[0].startswith("["):  # stored as one JSON string
                values = [str(v) for v in json.loads(values[0])]
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        return values if len(values) == dim else None


def segment_frames(features: np.ndarray, intervals: np.ndarray, start: float, end: float) -> np.ndarray:
    """The frames whose interval overlaps [start, end), in time order.

    A frame overlaps when it starts before the segment ends and ends after it starts; an
    instantaneous frame (start == end) counts when it lies inside the segment.
    """
    lo, hi = intervals[:, 0], intervals[:, 1]
    inside = ((lo < end) & (hi > start)) | ((lo == hi) & (lo >= start) & (lo < end))
    idx = np.nonzero(inside)[0]
    return features[idx[np.argsort(lo[idx], kind="stable")]]


def fit_length(frames: np.ndarray, seq_len: int, out: np.ndarray) -> int:
    """Write `frames` into `out` (seq_len, D), left-padded with zeros or keeping the last frames.

    Left padding puts real data at the last step, which last-element pooling relies on (the
    MulT files are padded the same way). Returns the true length kept (at most seq_len).
    """
    kept = frames[-seq_len:] if len(frames) > seq_len else frames
    out[:] = 0
    if len(kept):
        out[seq_len - len(kept):] = kept
    return len(kept)
