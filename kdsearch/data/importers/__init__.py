"""`kdsearch data import`: the public CMU-MOSEI / CMU-MOSI feature files into the dataset layout.

Formats (docs/methods.md §1.1): ``mult-pkl`` (MulT's ``mosei_senti_data[_noalign].pkl``,
``mosi_data[_noalign].pkl``), ``mmsa-pkl`` (MMSA's ``aligned_50.pkl``, ``unaligned_50.pkl``) and
``csd`` (a folder of CMU-MultimodalSDK computational sequences plus video folds). Every import
zeroes and counts NaN/±inf, clips and counts labels outside [-3, 3], checks shapes, and writes
atomically: a bad source leaves no output file. Pickles are read with a restricted unpickler
(`safe_pickle`) that cannot run code.
"""

from __future__ import annotations

import os
import re
import time

from kdsearch.data.importers.csd import import_csd
from kdsearch.data.importers.mmsa_pkl import import_mmsa_pkl
from kdsearch.data.importers.mult_pkl import import_mult_pkl
from kdsearch.data.importers.safe_pickle import load_pickle
from kdsearch.data.schema import MODALITIES
from kdsearch.errors import DataError, UserError
from kdsearch.userfiles import regular_file

__all__ = ["FORMATS", "detect_format", "import_dataset", "import_command", "parse_lengths", "load_pickle"]

FORMATS = ("mult-pkl", "mmsa-pkl", "csd")
_MMSA_NAME = re.compile(r"(un)?aligned_\d+\.pkl")
_MULT_NAME = re.compile(r".+_data(_noalign)?\.pkl")
_PICKLE_EXTS = (".pkl", ".pickle", ".pk")


def _format_from_content(obj, path: str) -> str:
    split = obj.get("train") if isinstance(obj, dict) else None
    if isinstance(split, dict):
        if "regression_labels" in split:
            return "mmsa-pkl"
        if "labels" in split:
            return "mult-pkl"
    raise DataError("a pickle, but neither MulT's (train/labels) nor MMSA's (train/regression_labels) "
                    "layout; give --format", file=path)


def _detect(src: str) -> tuple[str, object]:
    """(format, the unpickled object when content had to be inspected, else None)."""
    if not os.path.exists(src):
        raise DataError("file not found", file=src)
    if os.path.isdir(src):
        if any(f.lower().endswith(".csd") for f in os.listdir(src)):
            return "csd", None
        raise DataError("a folder without .csd files; expected a MulT/MMSA .pkl or a folder of .csd files",
                        file=src)
    try:
        regular_file(src, what="feature file")  # a named pipe would block the read below forever
    except UserError as exc:
        raise DataError(exc.problem, file=src) from None
    name = os.path.basename(src).lower()
    if name.endswith(".csd"):
        raise DataError("a single .csd file; import the folder holding one .csd per modality and one of labels",
                        file=src)
    if _MMSA_NAME.fullmatch(name):
        return "mmsa-pkl", None
    if _MULT_NAME.fullmatch(name):
        return "mult-pkl", None
    with open(src, "rb") as fh:
        head = fh.read(8)
    if name.endswith(_PICKLE_EXTS) or head[:1] == b"\x80":  # protocol >= 2 starts with PROTO
        obj = load_pickle(src)
        return _format_from_content(obj, src), obj
    kind = "an HDF5 file" if head == b"\x89HDF\r\n\x1a\n" else "not a pickle"
    raise DataError(f"cannot tell the format ({kind}); expected a MulT/MMSA .pkl or a folder of .csd files, "
                    f"or give --format ({', '.join(FORMATS)})", file=src)


def detect_format(src: str | os.PathLike) -> str:
    """The format of `src`: by the public file names, else by the pickle's content.

    Raises:
        DataError: missing, or none of the formats (names the file and what it looks like).
    """
    return _detect(os.fspath(src))[0]


def parse_lengths(text: str | None) -> dict[str, int] | None:
    """``"text=50,audio=500,vision=500"`` -> {"text": 50, ...}; None stays None."""
    if text is None:
        return None
    lengths = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name.strip() not in MODALITIES or not value.strip().isdigit() or int(value) < 1:
            raise UserError(f"expected MODALITY=LENGTH pairs like text=50,audio=500,vision=500, got {part!r}",
                            field="--lengths")
        lengths[name.strip()] = int(value)
    return lengths


def import_dataset(src: str | os.PathLike, out: str | os.PathLike, fmt: str | None = None, folds=None, *,
                   lengths: dict[str, int] | None = None, csd_files: dict[str, str] | None = None) -> str:
    """Convert `src` into a dataset file at `out`; return the content fingerprint.

    Args:
        src: a MulT or MMSA ``.pkl``, or a folder of ``.csd`` files.
        out: the dataset file to write; it appears only when complete and valid.
        fmt: "mult-pkl", "mmsa-pkl" or "csd"; detected when None.
        folds: csd only: a folds file, a mapping, or ``SPLIT=ID,...`` strings (`folds.load_folds`).
        lengths: csd only: fixed sequence length per modality (pickles are already fixed-length).
        csd_files: csd only: explicit role -> file ("text", "audio", "vision", "labels").

    Raises:
        DataError: the source is unreadable, refused, malformed or mismatched.
        UserError: an unknown format or an option that does not apply to the format.
    """
    src, out = os.fspath(src), os.fspath(out)
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} (formats: {', '.join(FORMATS)})", file=src, field="--format")
    if os.path.exists(out) and (os.path.isdir(out) or os.path.samefile(src, out)):
        raise UserError("output must be a new .h5 file, not the source or a folder", file=out)
    obj = None
    if fmt is None:
        fmt, obj = _detect(src)
    if fmt != "csd":
        for flag, value in (("--folds", folds), ("--lengths", lengths), ("csd_files", csd_files)):
            if value:
                raise UserError(f"applies to .csd imports only ({fmt} files carry their splits and fixed lengths)",
                                file=src, field=flag)
        if obj is None:
            obj = load_pickle(src)
        importer = import_mult_pkl if fmt == "mult-pkl" else import_mmsa_pkl
        return importer(src, out, obj=obj)
    return import_csd(src, out, folds, lengths=lengths, files=csd_files)


def import_command(src: str, out: str, fmt: str | None = None, folds=None, lengths: str | None = None,
                   console=None) -> int:
    """`kdsearch data import SRC OUT`: import, then describe the result; 0 on success.

    A `UserError` propagates: the CLI prints its one line and exits with code 2.
    """
    from rich.console import Console

    from kdsearch.data.info import describe_dataset

    console = console or Console()
    start = time.perf_counter()
    with console.status(f"importing {src}..."):
        fingerprint = import_dataset(src, out, fmt, folds, lengths=parse_lengths(lengths))
    seconds = time.perf_counter() - start
    console.print(f"wrote {out} ({os.path.getsize(out) / 1e6:,.1f} MB) in {seconds:.1f} s, "
                  f"fingerprint {fingerprint[:16]}")
    console.print(describe_dataset(out))
    return 0
