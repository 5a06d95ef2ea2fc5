"""Model files: one self-describing checkpoint format for teachers and students.

A model file is a dict of tensors and plain values (loadable with ``weights_only=True``):
``arch`` ("mult" teacher or "video_student"), ``config`` (the builder's section: the keys of
`TEACHER_DEFAULTS` / `STUDENT_DEFAULTS`), ``dims`` and ``lengths`` per modality, ``n_out``,
``task`` (or None), ``state_dict`` and any extra facts (``val_metrics``, ``source``, ...). It is
the teacher cache's format (`kdsearch.train.teacher_cache`), so a cached teacher, an imported
MulT checkpoint and an exported student all load the same way (`kdsearch.train.model_files`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import nn

from kdsearch.atomic import atomic_write
from kdsearch.errors import UserError
from kdsearch.userfiles import regular_file

# A model file's `arch`: a teacher architecture (kdsearch.train.teachers) or the video-only student.
STUDENT_ARCH = "video_student"
REQUIRED_FIELDS = ("arch", "config", "dims", "lengths", "n_out", "state_dict")


def model_blob(model: nn.Module, *, arch: str, config: dict, dims: dict, lengths: dict, n_out: int,
               task: str | None, **extra) -> dict:
    """The model-file dict of `model` (weights copied to CPU)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"arch": arch, "config": dict(config), "dims": dict(dims), "lengths": dict(lengths), "n_out": int(n_out),
            "task": task, "state_dict": state, **extra}


def save_model_file(blob: dict, path: str | os.PathLike) -> Path:
    """Write `blob` atomically (a crash never leaves half a file under the final name)."""
    atomic_write(path, lambda f: torch.save(blob, f))
    return Path(path)


def read_weights_only(file: str, *, what: str, objects_hint: str = "refused unread: loading it could run code"):
    """`torch.load(weights_only=True)`, with one plain line for a file that is not one.

    A file holding pickled Python objects is refused without running them; torch's own message
    (ANSI-styled, explaining how to load the file unsafely) is not advice to pass on.
    """
    try:
        regular_file(file, what=what.removeprefix("kdsearch "))  # a named pipe would block torch.load
    except UserError as exc:
        raise UserError(exc.problem, file=file) from None
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"no such {what.removeprefix('kdsearch ')}", file=file) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a truncated or foreign file
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
        if "Weights only load failed" in text:
            problem = f"it holds Python objects, not only tensors and plain values ({objects_hint})"
        else:
            problem = text.splitlines()[0] if text else type(exc).__name__
        raise UserError(f"not a {what}: {problem}", file=file) from None


def state_dict_mismatch(model: nn.Module, state: dict) -> str:
    """What differs between `model`'s weights and `state`: missing, unexpected, shape changes."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    resized = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
               if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape)]
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape differs", resized)):
        if keys:
            parts.append(f"{len(keys)} {label} ({', '.join(keys[:2])}{', ...' if len(keys) > 2 else ''})")
    return "; ".join(parts) or "load_state_dict refused them"
