"""Conversions every importer shares: features to clean float32, labels, ids, alignment, names."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

import numpy as np

from kdsearch.data.schema import MODALITIES
from kdsearch.data.validate import sanitize
from kdsearch.errors import DataError

# COVAREP's 74 dimensions in file order (docs/methods.md §1.1), the audio of every MOSEI file.
COVAREP_74 = ("F0", "VUV", "NAQ", "QOQ", "H1H2", "PSP", "MDQ", "peakSlope", "Rd", "Rd_conf", "creak",
              *(f"MCEP_{i}" for i in range(25)), *(f"HMPDM_{i}" for i in range(25)),
              *(f"HMPDD_{i}" for i in range(13)))

DEFAULT_LENGTHS = {"text": 50, "audio": 500, "vision": 500}


def known_feature_names(dims: Mapping[str, int]) -> dict[str, list[str]]:
    """Per-dimension names this code can vouch for from the dims alone (MOSEI COVAREP audio)."""
    return {"audio": list(COVAREP_74)} if dims.get("audio") == len(COVAREP_74) else {}


def aligned_from_name(name: str, seq_lens: Mapping[str, int]) -> bool:
    """Whether a file is word-aligned: from its public name, else from equal sequence lengths.

    ``*_noalign.pkl`` / ``unaligned_50.pkl`` are unaligned; ``aligned_50.pkl`` and the MulT
    ``mosei_senti_data.pkl`` / ``mosi_data.pkl`` are aligned.
    """
    stem = os.path.basename(name).lower()
    if "noalign" in stem or "unaligned" in stem or "unalign" in stem:
        return False
    if "aligned" in stem or re.fullmatch(r"(mosei_senti|mosi|iemocap)_data\.pkl", stem):
        return True
    return len({int(t) for t in seq_lens.values()}) == 1


def as_numeric(value, *, path: str, key: str, rank: int | None = None, what: str = "numbers") -> np.ndarray:
    """`value` as a numeric ndarray of the given rank (no copy when it already is one)."""
    arr = value if isinstance(value, np.ndarray) else None
    if arr is None:
        _refuse_expansion(value, path=path, key=key)
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as err:
            raise DataError(f"cannot be read as an array: {err}", file=path, field=key) from None
    if np.issubdtype(arr.dtype, np.complexfloating):  # casting would drop the imaginary part silently
        raise DataError(f"dtype {arr.dtype}: complex numbers, expected real {what}", file=path, field=key)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"dtype {arr.dtype}, expected {what}", file=path, field=key)
    if rank is not None and arr.ndim != rank:
        axes = {3: "(N, T, D)", 1: "(N,)"}.get(rank, f"rank {rank}")
        raise DataError(f"shape {arr.shape} has rank {arr.ndim}, expected {axes}", file=path, field=key)
    return arr


# Nested lists from a pickle can share sub-lists, so a few kilobytes can describe an array of
# billions of elements that np.asarray would build; 2**28 elements (1 GiB of float32) is more
# than any field of the public files holds as lists (they store ndarrays).
MAX_LIST_ELEMENTS = 1 << 28


def _refuse_expansion(value, *, path: str, key: str) -> None:
    """Count the elements nested lists expand to (shared sub-lists once per use, memoised)."""
    sizes: dict[int, int] = {}
    stack = [(value, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (list, tuple)):
            continue
        if done:
            sizes[id(node)] = sum(sizes.get(id(x), 1) if isinstance(x, (list, tuple)) else 1 for x in node) or 1
            if sizes[id(node)] > MAX_LIST_ELEMENTS:
                raise DataError(f"nested lists expand to more than {MAX_LIST_ELEMENTS:,} elements", file=path,
                                field=key)
        elif id(node) not in sizes:
            stack.append((node, True))
            stack.extend((x, False) for x in node if isinstance(x, (list, tuple)) and id(x) not in sizes)


def clean_float32(arr: np.ndarray, name: str) -> tuple[np.ndarray, dict]:
    """A writable float32 version of `arr` with NaN/±inf zeroed (labels also clipped), and counts.

    Converts in one step and repairs in place, so at most the original and one float32 copy
    exist at a time (none when the input already is writable float32).
    """
    if arr.dtype != np.float32 or not arr.flags.writeable:
        arr = np.array(arr, dtype=np.float32)
    fixed, counts = sanitize({name: arr}, copy=False)
    return fixed[name], counts


def labels_1d(value, n: int, *, path: str, key: str) -> np.ndarray:
    """Sentiment labels as (N,): MulT's (N,1,1) and (N,1) are squeezed; (N,4,2) is refused."""
    arr = as_numeric(value, path=path, key=key)
    if arr.ndim == 0 or arr.shape[0] != n or arr.size != n:
        raise DataError(f"shape {arr.shape}: expected one sentiment value per sample, (N,), (N,1) or (N,1,1) "
                        f"with N={n} (IEMOCAP-style emotion labels are not supported)", file=path, field=key)
    return arr.reshape(n)


def decode_text(value, *, path: str, key: str, row: int) -> str:
    """A str from str/bytes/numpy scalars; bytes must be UTF-8 (MOSI's MulT ids are bytes)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"row {row} is not UTF-8 text: {value[:40]!r}", file=path, field=key) from None
    text = str(value)
    # HDF5 stores UTF-8 strings ended by NUL: a NUL or an unpaired surrogate cannot be written.
    bad = next((c for c in text if c == "\x00" or "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        what = "a NUL character" if bad == "\x00" else f"an unpaired surrogate ({ascii(bad)})"
        raise DataError(f"row {row} holds {what}, which UTF-8 text cannot store", file=path, field=key)
    return text


def text_list(value, n: int, *, path: str, key: str) -> list[str]:
    """A list of N strings (MMSA ``raw_text``, 1-D ids), bytes decoded as UTF-8."""
    items = list(value.reshape(-1) if isinstance(value, np.ndarray) else value)
    if len(items) != n:
        raise DataError(f"has {len(items)} entries, expected N={n}", file=path, field=key)
    return [decode_text(v, path=path, key=key, row=i) for i, v in enumerate(items)]


def unique_ids(ids: Iterable[str]) -> tuple[np.ndarray, int]:
    """Make ids unique: the k-th repeat (k >= 2) of an id gets the suffix ``#k``.

    The public files hold a few repeated clip ids; renaming (rather than dropping) keeps every
    sample and keeps the first occurrence's name. Returns (ids, number renamed).
    """
    out, seen, renamed = [], {}, 0
    for i in ids:
        if i in seen:
            k = seen[i] + 1
            while f"{i}#{k}" in seen:
                k += 1
            seen[i] = k
            i = f"{i}#{k}"
            renamed += 1
        seen.setdefault(i, 1)
        out.append(i)
    return np.array(out, dtype=object), renamed


def check_across_splits(shapes: Mapping[str, Mapping[str, tuple]], path: str, keys: Mapping[str, str]) -> None:
    """T and D of each modality must agree across splits: one model serves all of them.

    Args:
        shapes: split -> modality -> (N, T, D).
        path: the source file, for messages.
        keys: modality -> its name in the source (e.g. "audio"), for messages.
    """
    first = next(iter(shapes))
    for split in list(shapes)[1:]:
        for m in MODALITIES:
            (_, t_ref, d_ref), (_, t, d) = shapes[first][m], shapes[split][m]
            if d != d_ref:
                raise DataError(f"feature dim {d} differs from {first}'s {d_ref}", file=path,
                                field=f"{split}/{keys[m]}")
            if t != t_ref:
                raise DataError(f"sequence length {t} differs from {first}'s {t_ref}", file=path,
                                field=f"{split}/{keys[m]}")
