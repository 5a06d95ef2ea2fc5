"""CMU-MultimodalSDK computational sequences (``.csd``) into the dataset layout.

Input: a folder with one ``.csd`` per modality and one of labels (or an explicit role -> file
mapping), and the standard video folds (`kdsearch.data.importers.folds`). Files are matched to
roles by their file name or sequence name: labels ``*Label*``, text ``*WordVector*``/``*glove*``,
audio ``*COVAREP*`` (else ``*OpenSmile*``), vision ``*Facet*`` (else ``*OpenFace*``).

Each labelled segment (a row of the labels sequence: interval + values, column 0 the sentiment)
of a video in a fold becomes one sample with id ``"<video>[<segment index>]"``, as the SDK names
aligned segments. Per modality, the frames overlapping the segment are cut out, then the last T
are kept or the sequence is left-padded with zeros to T (default text 50, audio 500, vision 500),
as the MulT files are; the true lengths are stored as ``<modality>_lengths``. Segments of videos
in no fold are dropped and counted; a fold video with no labels is counted; a labelled fold
video missing from a modality file is an error. The import streams video by video.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextlib import ExitStack

import numpy as np

from kdsearch.data.importers.common import DEFAULT_LENGTHS, clean_float32, known_feature_names
from kdsearch.data.importers.csd_reader import CsdSequence, fit_length, segment_frames
from kdsearch.data.importers.folds import load_folds
from kdsearch.data.importers.staging import RepairCounts, staged_output
from kdsearch.data.schema import MODALITIES, SPLITS
from kdsearch.data.writer import DatasetWriter
from kdsearch.data.bounds import check_split_shapes
from kdsearch.errors import DataError, UserError

FORMAT = "csd"
ROLES = (*MODALITIES, "labels")
# Per role: keywords tried in order; the first keyword matching any file wins.
_KEYWORDS = {"labels": ("label",), "text": ("wordvector", "glove"), "audio": ("covarep", "opensmile"),
             "vision": ("facet", "openface")}
_CHUNK = 128  # samples buffered per write: 128 x 500 x 74 float32 is 19 MB


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def find_csd_files(src: str | os.PathLike) -> dict[str, str]:
    """Role -> file for the ``.csd`` files of a folder, matched by file and sequence name.

    Raises:
        DataError: not a folder, no ``.csd`` files, a role without a file, or two candidates.
    """
    src = os.fspath(src)
    if not os.path.isdir(src):
        raise DataError("a .csd import reads a folder holding one .csd per modality and one of labels",
                        file=src)
    files = sorted(os.path.join(src, f) for f in os.listdir(src) if f.lower().endswith(".csd"))
    if not files:
        raise DataError("no .csd files in this folder", file=src)
    names = {}
    for path in files:
        with CsdSequence(path) as seq:
            names[path] = _norm(os.path.basename(path)) + " " + _norm(seq.name)
    found = {}
    for role, keywords in _KEYWORDS.items():
        for keyword in keywords:
            hits = [p for p, n in names.items() if keyword in n and (role == "labels" or "label" not in n)]
            if len(hits) > 1:
                raise DataError(f"{len(hits)} candidate files ({', '.join(map(os.path.basename, hits))}); "
                                "keep one in the folder", file=src, field=role)
            if hits:
                found[role] = hits[0]
                break
        else:
            raise DataError(f"no .csd file for this role (names containing {' or '.join(keywords)}) among "
                            f"{', '.join(map(os.path.basename, files))}", file=src, field=role)
    return found


def _plan(labels: CsdSequence, folds: dict[str, list[str]], where: str):
    """Per split, [(video, [(segment index, start, end)])]; plus drop counts."""
    fold_of = {vid: split for split in SPLITS for vid in folds[split]}
    dropped = sum(len(labels.read(v)[0]) for v in labels.videos if v not in fold_of)
    plan, missing = {}, 0
    for split in SPLITS:
        plan[split] = []
        for vid in folds[split]:
            if vid not in labels:
                missing += 1
                continue
            _, intervals = labels.read(vid)
            plan[split].append((vid, [(k, float(s), float(e)) for k, (s, e) in enumerate(intervals)]))
        if not any(segs for _, segs in plan[split]):
            raise DataError(f"no labelled segment: none of its {len(folds[split])} videos (from {where}) "
                            "has labels in this file", file=labels.path, field=split)
    return plan, {"segments_of_videos_in_no_fold": dropped, "fold_videos_without_labels": missing}


def _check_lengths(lengths: Mapping | None) -> dict[str, int]:
    out = dict(DEFAULT_LENGTHS)
    for m, t in (lengths or {}).items():
        if m not in MODALITIES:
            raise UserError(f"unknown modality {m!r} (modalities: {', '.join(MODALITIES)})", field="--lengths")
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
            raise UserError(f"{m} length must be an integer >= 1, got {t!r}", field="--lengths")
        out[m] = int(t)
    return out


def import_csd(src: str | os.PathLike, out: str | os.PathLike, folds, *, lengths: Mapping | None = None,
               files: Mapping[str, str] | None = None) -> str:
    """Convert computational sequences into the dataset layout at `out`; return the fingerprint.

    Args:
        src: the folder holding the ``.csd`` files (used for matching when `files` is None).
        out: the dataset file to write (atomically).
        folds: the video folds, anything `folds.load_folds` accepts.
        lengths: fixed sequence length per modality (defaults text 50, audio 500, vision 500).
        files: explicit role -> path for "text", "audio", "vision", "labels".

    Raises:
        DataError: unreadable or malformed sequences, a labelled fold video missing from a
            modality, inconsistent feature dims, bad folds (names file, field, problem).
        UserError: no folds, bad lengths.
    """
    seq_lens = _check_lengths(lengths)
    fold_lists, where = load_folds(folds)
    files = dict(files) if files else find_csd_files(src)
    missing = [r for r in ROLES if r not in files]
    if missing:
        raise UserError(f"no file for {', '.join(missing)}", field="files")
    with ExitStack() as stack:
        seqs = {role: stack.enter_context(CsdSequence(files[role])) for role in ROLES}
        plan, dropped = _plan(seqs["labels"], fold_lists, where)
        first_vid = plan["train"][0][0] if plan["train"] else next(v for s in SPLITS for v, _ in plan[s])
        first = {m: seqs[m].read(first_vid, context=" (needed for its labelled segments)") for m in MODALITIES}
        dims = {m: first[m][0].shape[1] for m in MODALITIES}
        shapes = {split: {**{m: (n, seq_lens[m], dims[m]) for m in MODALITIES},
                          **{f"{m}_lengths": (n,) for m in MODALITIES}}
                  for split, n in ((s, sum(len(segs) for _, segs in plan[s])) for s in SPLITS)}
        for split in SPLITS:  # a fold list that leaves a split empty, or a zero-wide feature file
            check_split_shapes(shapes[split], os.fspath(src), split)
        aligned = all(np.array_equal(first[m][1], first["text"][1]) for m in MODALITIES)
        names = known_feature_names(dims) if "covarep" in _norm(seqs["audio"].name + files["audio"]) else {}
        for m in MODALITIES:
            dim_names = seqs[m].dimension_names(dims[m])
            if dim_names:
                names[m] = dim_names
        attrs = {"source": f"{FORMAT}:{os.path.basename(os.path.abspath(os.fspath(src)))}", "aligned": aligned,
                 "source_files": {r: os.path.basename(files[r]) for r in ROLES}, "folds": where,
                 "label": f"column 0 (sentiment) of {seqs['labels'].name}"}
        if names:
            attrs["feature_names"] = names
        with staged_output(out) as stage, DatasetWriter(stage.path, attrs=attrs, shapes=shapes) as writer:
            counts, empty = RepairCounts(), {s: dict.fromkeys(MODALITIES, 0) for s in SPLITS}
            for split in SPLITS:
                _write_split(writer, seqs, split, plan[split], seq_lens, dims, counts, empty[split])
            stage.attrs.update(counts.as_attrs())
            stage.attrs.update({"dropped": dropped, "empty_segments": empty})
    return writer.fingerprint


def _write_split(writer, seqs, split, videos, seq_lens, dims, counts, empty) -> None:
    """Stream one split: cut, pad and buffer samples video by video, write every _CHUNK."""
    buf = {m: np.zeros((_CHUNK, seq_lens[m], dims[m]), np.float32) for m in MODALITIES}
    lens = {m: np.zeros(_CHUNK, np.int32) for m in MODALITIES}
    labels, ids, written = np.zeros(_CHUNK, np.float32), [], 0

    def flush():
        nonlocal written
        k = len(ids)
        if not k:
            return
        arrays = {"id": np.array(ids, dtype=object)}
        for name, arr in [*((m, buf[m][:k]) for m in MODALITIES), ("label", labels[:k])]:
            arrays[name], fixed = clean_float32(arr, name)
            counts.add(split, fixed)
        arrays.update({f"{m}_lengths": lens[m][:k] for m in MODALITIES})
        writer.write(split, written, arrays)
        written += k
        ids.clear()

    for vid, segments in videos:
        label_values, _ = seqs["labels"].read(vid)
        if label_values.shape[1] < 1:
            raise DataError("has no label column", file=seqs["labels"].path,
                            field=seqs["labels"].field(vid, "features"))
        context = f" ({split} fold, labelled in {os.path.basename(seqs['labels'].path)})"
        streams = {m: seqs[m].read(vid, context=context) for m in MODALITIES}
        for k, start, end in segments:
            row = len(ids)
            for m in MODALITIES:
                lens[m][row] = fit_length(segment_frames(*streams[m], start, end), seq_lens[m], buf[m][row])
                empty[m] += int(lens[m][row] == 0)
            labels[row] = label_values[k, 0]
            ids.append(f"{vid}[{k}]")
            if len(ids) == _CHUNK:
                flush()
    flush()
