"""The train/valid/test video-id folds a CMU-MultimodalSDK import splits its videos by.

The standard folds are lists of video ids (the SDK ships them as Python lists,
``standard_train_fold`` etc.); the ``.csd`` files themselves carry no split. They reach kdsearch as

- a JSON or YAML file mapping ``train``/``valid``/``test`` to lists of video ids (the SDK names
  ``standard_train_fold``..., and ``dev``/``val``/``validation`` for valid, are accepted too);
- a text file with lines ``train: id1, id2, ...`` or a ``train:`` line followed by ids, one or
  more per line (comma or blank separated; ``#`` starts a comment);
- ``--folds SPLIT=ID,ID,...`` flags, one per split (may be combined with a file).

A video in two folds is refused; order within a fold is kept (it fixes the sample order).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence

import yaml

from kdsearch.data.schema import SPLITS
from kdsearch import safe_yaml
from kdsearch.errors import DataError, UserError
from kdsearch.userfiles import read_user_text

_ALIASES = {
    "train": "train", "standard_train_fold": "train",
    "valid": "valid", "dev": "valid", "val": "valid", "validation": "valid", "standard_valid_fold": "valid",
    "test": "test", "standard_test_fold": "test",
}
_FLAG = re.compile(r"^\s*([A-Za-z_]+)\s*=(.*)$", re.S)
_HEADER = re.compile(r"^\s*([A-Za-z_]+)\s*:(.*)$")


def _split_name(name: str, *, file: str) -> str:
    split = _ALIASES.get(str(name).strip().lower())
    if split is None:
        raise DataError(f"unknown fold {name!r} (folds are {', '.join(SPLITS)})", file=file, field=str(name))
    return split


def _ids(text: str) -> list[str]:
    return [t for t in re.split(r"[,\s]+", text) if t]


def _from_mapping(raw, file: str) -> dict[str, list[str]]:
    if not isinstance(raw, Mapping):
        raise DataError(f"must map {', '.join(SPLITS)} to lists of video ids, got a {type(raw).__name__}",
                        file=file)
    folds: dict[str, list[str]] = {}
    for name, ids in raw.items():
        split = _split_name(name, file=file)
        if isinstance(ids, str):
            ids = _ids(ids)
        if not isinstance(ids, Sequence) or not all(isinstance(i, (str, int)) for i in ids):
            raise DataError("must be a list of video ids", file=file, field=str(name))
        folds.setdefault(split, []).extend(str(i) for i in ids)
    return folds


def _from_text(text: str, file: str) -> dict[str, list[str]]:
    folds: dict[str, list[str]] = {}
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        header = _HEADER.match(line)
        if header and header.group(1).lower() in _ALIASES:
            current = _split_name(header.group(1), file=file)
            folds.setdefault(current, []).extend(_ids(header.group(2)))
        elif line.strip():
            if current is None:
                raise DataError("video ids before any 'train:'/'valid:'/'test:' line", file=file,
                                field=f"line {number}")
            folds[current].extend(_ids(line))
    return folds


def read_folds_file(path: str | os.PathLike) -> dict[str, list[str]]:
    """Folds from a JSON, YAML or text file (see the module docstring)."""
    path = os.fspath(path)
    try:
        text = read_user_text(path, what="folds file")
    except UserError as err:
        raise DataError(err.problem, file=path, field=err.field) from None
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        try:
            return _from_mapping(json.loads(text), path)
        except json.JSONDecodeError as err:
            raise DataError(f"malformed JSON: {err.msg}", file=path, field=f"line {err.lineno}") from None
    if ext in (".yaml", ".yml"):
        try:
            return _from_mapping(safe_yaml.load(text), path)
        except yaml.YAMLError as err:
            raise DataError(f"malformed YAML: {getattr(err, 'problem', err)}", file=path) from None
    return _from_text(text, path)


def load_folds(spec) -> tuple[dict[str, list[str]], str]:
    """Resolve folds given as a file, a mapping, or a list of files and ``SPLIT=ID,...`` flags.

    Args:
        spec: a path; a mapping split -> ids; or a sequence of paths and ``SPLIT=ID,ID`` strings.

    Returns:
        (split -> video ids for all three splits, a name of where they came from for messages).

    Raises:
        UserError: no folds given. DataError: unreadable file, unknown fold name, a split with
            no videos, or a video in two folds.
    """
    if spec is None or (not isinstance(spec, (str, os.PathLike, Mapping)) and not spec):
        raise UserError("a .csd import needs the train/valid/test video folds: --folds FILE "
                        "(JSON/YAML/text) or --folds train=ID,ID --folds valid=... --folds test=...",
                        field="--folds")
    if isinstance(spec, Mapping):
        folds, where = _from_mapping(spec, "folds"), "folds"
    else:
        items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
        folds, sources = {}, []
        for item in items:
            item = os.fspath(item)
            flag = _FLAG.match(item)
            if flag and not os.path.exists(item):
                part, sources = _from_mapping({flag.group(1): _ids(flag.group(2))}, "--folds"), [*sources, "--folds"]
            else:
                part, sources = read_folds_file(item), [*sources, item]
            for split, ids in part.items():
                folds.setdefault(split, []).extend(ids)
        where = " + ".join(dict.fromkeys(sources))
    return _checked(folds, where), where


def _checked(folds: dict[str, list[str]], where: str) -> dict[str, list[str]]:
    owner: dict[str, str] = {}
    for split in SPLITS:
        ids = folds.get(split, [])
        if not ids:
            raise DataError("fold is empty or missing: every split needs video ids", file=where, field=split)
        for vid in ids:
            if vid in owner:
                where_else = "twice" if owner[vid] == split else f"also in {owner[vid]}"
                raise DataError(f"video {vid!r} is listed {where_else}", file=where, field=split)
            owner[vid] = split
    return {s: list(folds[s]) for s in SPLITS}
