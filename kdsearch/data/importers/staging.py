"""Atomic output for importers: the dataset file appears complete or not at all.

`DatasetWriter` already commits atomically, but it fixes the root attributes when it opens the
file, while an importer only knows what it repaired (non-finite values, clipped labels) once the
last sample is written. So an import writes with `DatasetWriter` to a staging path, then adds
the final counts and any non-layout datasets (MMSA's ``raw_text``) and only then renames the
staging file to the requested name. Any error, Ctrl-C included, removes the staging file and
leaves a previous file at the output path untouched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import h5py
import numpy as np

from kdsearch.atomic import commit, discard
from kdsearch.data.schema import MODALITIES, SPLITS

_STR = h5py.string_dtype("utf-8")


class StagedOutput:
    """The staging path an import writes to, and what is added to it before the rename.

    Attributes:
        path: where `DatasetWriter` should write (next to the final file, same file system).
        attrs: root attributes set (overwritten) just before the rename; dicts become JSON.
        extra_datasets: (split, name) -> list of str, stored as UTF-8 string datasets that the
            layout's loader ignores (they are not part of the content fingerprint).
    """

    def __init__(self, final_path: str):
        self.final_path = final_path
        self.path = f"{final_path}.importing-{os.getpid()}"
        self.attrs: dict = {}
        self.extra_datasets: dict[tuple[str, str], Sequence[str]] = {}

    def _finish(self) -> None:
        with h5py.File(self.path, "r+") as f:
            for name, value in self.attrs.items():
                f.attrs[name] = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
            for (split, name), values in self.extra_datasets.items():
                f[split].create_dataset(name, data=np.array(list(values), dtype=object), dtype=_STR)
        commit(self.path, self.final_path)


@contextmanager
def staged_output(final_path: str | os.PathLike) -> Iterator[StagedOutput]:
    """Yield a `StagedOutput`; commit it on a clean exit, delete the staging file otherwise."""
    final_path = os.fspath(final_path)
    os.makedirs(os.path.dirname(os.path.abspath(final_path)), exist_ok=True)
    stage = StagedOutput(final_path)
    try:
        yield stage
        stage._finish()
    finally:
        if os.path.exists(stage.path):
            discard(stage.path)


class RepairCounts:
    """What an import repaired, in the form `kdsearch data info` reads from the root attributes.

    ``nonfinite_replaced`` = {split: {text, audio, vision, label: n}} and ``labels_clipped`` =
    {split: {"label": n}}, as `kdsearch.data.validate.sanitize` counts them.
    """

    def __init__(self) -> None:
        self.nonfinite = {s: {f: 0 for f in (*MODALITIES, "label")} for s in SPLITS}
        self.clipped = {s: {"label": 0} for s in SPLITS}

    def add(self, split: str, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Add the counts `sanitize` returned for fields of `split` (keyed by field name)."""
        for name, n in counts.get("nonfinite_replaced", {}).items():
            self.nonfinite[split][name] += int(n)
        for name, n in counts.get("labels_clipped", {}).items():
            self.clipped[split][name] += int(n)

    def as_attrs(self) -> dict:
        """The two root attributes."""
        return {"nonfinite_replaced": self.nonfinite, "labels_clipped": self.clipped}
