"""`kdsearch data info` and `kdsearch data synth`: what a dataset file holds, at a glance.

`describe_dataset` reads the structure, the attributes and the labels only (not the multi-GB
features), so it answers in well under a second even for MOSEI-sized files.
"""

from __future__ import annotations

import os
import time

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from kdsearch.data.layout import read_attrs
from kdsearch.data.schema import MODALITIES, SPLITS, field_key
from kdsearch.data.synthetic import PRESETS, generate
from kdsearch.data.bounds import check_fits_memory
from kdsearch.data.validate import check_root_attrs, check_structure, check_values, open_h5, read_field
from kdsearch.data.fingerprint import fingerprint_file
from kdsearch.errors import DataError, UserError

CLASSES = tuple(range(-3, 4))


def _fmt_shape(shape: tuple) -> str:
    return " x ".join(str(s) for s in shape[1:])


def _nonzero_counts(counter) -> str:
    """'train/audio 12, test/label 1' from {"train": {"audio": 12, ...}, ...}; 'none' if all 0."""
    if not isinstance(counter, dict):
        return "not recorded" if counter is None else str(counter)
    parts = [f"{split}/{name} {n}" for split, fields in counter.items() if isinstance(fields, dict)
             for name, n in fields.items() if n]
    return ", ".join(parts) if parts else "none"


def class_histogram(labels: np.ndarray) -> np.ndarray:
    """Counts of the 7 classes round(clip(y, -3, 3)) (half to even, as Acc7), for -3..3."""
    classes = np.round(np.clip(labels, -3, 3)).astype(np.int64) + 3
    return np.bincount(classes, minlength=7)


def describe_dataset(path: str | os.PathLike, *, verify: bool = False) -> Group:
    """A rich renderable describing a dataset file.

    Args:
        path: the dataset file.
        verify: also recompute the content fingerprint (reads every byte) and compare it.

    Raises:
        DataError: the file is missing, corrupt, or does not follow the layout.
    """
    path = os.fspath(path)
    with open_h5(path) as f:
        check_root_attrs(f, path)
        shapes = check_structure(f, path, SPLITS)
        check_fits_memory(f, path, shapes)  # a file no run could load is refused before any read
        labels = {}
        for split in SPLITS:
            key = field_key(split, "label")
            labels[split] = read_field(f[split]["label"], path, key)
            check_values(labels[split], path=path, key=key)
        attrs = read_attrs(f)
        if verify:
            actual = fingerprint_file(f)
            if actual != attrs.get("fingerprint"):
                raise DataError(f"stored {attrs.get('fingerprint')!r} but the content hashes to {actual!r} "
                                "(file changed after it was written)", file=path, field="fingerprint")

    head = Table.grid(padding=(0, 2))
    head.add_row("file", path)
    head.add_row("source", str(attrs.get("source", "?")))
    head.add_row("aligned", str(attrs.get("aligned", "?")))
    head.add_row("fingerprint", str(attrs.get("fingerprint", "?")) + ("  (verified)" if verify else ""))
    head.add_row("nonfinite replaced", _nonzero_counts(attrs.get("nonfinite_replaced")))
    head.add_row("labels clipped", _nonzero_counts(attrs.get("labels_clipped")))
    if isinstance(attrs.get("generator"), dict):
        params = attrs["generator"].get("params", {})
        head.add_row("generator", f"seed {attrs['generator'].get('seed')}, "
                     + ", ".join(f"{k}={v}" for k, v in params.items()))

    shape_table = Table(title="splits (T x D per modality)", title_justify="left")
    for col in ("split", "N", *MODALITIES, "extras"):
        shape_table.add_column(col, justify="right" if col == "N" else "left")
    label_table = Table(title="labels (7 classes: round(clip(y)))", title_justify="left")
    for col in ("split", "mean", "std", "min", "max", *(f"{c:+d}" if c else "0" for c in CLASSES)):
        label_table.add_column(col, justify="left" if col == "split" else "right")
    for split in SPLITS:
        s, y = shapes[split], labels[split].astype(np.float64)
        extras = ", ".join(f"{name} {_fmt_shape(shape) or '-'}" for name, shape in s.items()
                           if name not in (*MODALITIES, "label", "id"))
        shape_table.add_row(split, str(s["label"][0]), *(_fmt_shape(s[m]) for m in MODALITIES), extras or "-")
        stats = ("-",) * 4
        if y.size:
            stats = (f"{y.mean():.3f}", f"{y.std():.3f}", f"{y.min():.2f}", f"{y.max():.2f}")
        label_table.add_row(split, *stats, *(str(c) for c in class_histogram(y)))
    return Group(head, Text(""), shape_table, label_table)


def info_command(path: str | os.PathLike, *, verify: bool = False, console: Console | None = None) -> int:
    """`kdsearch data info PATH`: print the description; 0 on success.

    A `DataError` propagates: the CLI prints its one line and exits with code 2.
    """
    (console or Console()).print(describe_dataset(path, verify=verify))
    return 0


def synth_command(out: str | os.PathLike, preset: str = "small", seed: int = 0, *,
                  overrides: dict | None = None, console: Console | None = None) -> int:
    """`kdsearch data synth OUT --preset small --seed 0`: generate, then describe; 0 on success.

    A `UserError` (unknown preset or parameter) propagates to the CLI (exit code 2).
    """
    if preset not in PRESETS:  # name the flag the user typed (the generator calls it a field)
        raise UserError(f"unknown preset {preset!r} (choose {', '.join(PRESETS)})", field="--preset")
    if os.path.isdir(out):
        raise UserError("is a folder; give the .h5 file to write", file=os.fspath(out))
    console = console or Console()
    start = time.perf_counter()
    try:
        with console.status(f"generating {preset} dataset..."):
            fingerprint = generate(out, preset=preset, seed=seed, **(overrides or {}))
    except OSError as exc:  # the writer has already removed its temporary file
        raise UserError(f"cannot write: {exc.strerror or exc}", file=os.fspath(out)) from None
    seconds = time.perf_counter() - start
    size_mb = os.path.getsize(out) / 1e6
    console.print(f"wrote {out} ({size_mb:,.1f} MB) in {seconds:.1f} s, fingerprint {fingerprint[:16]}")
    console.print(describe_dataset(out))
    return 0
