"""Model files: one self-describing checkpoint format for teachers and students.

A model file is a dict of tensors and plain values (loadable with ``weights_only=True``):
``arch`` ("mult" teacher or "video_student"), ``config`` (the builder's section: the keys of
`TEACHER_DEFAULTS` / `STUDENT_DEFAULTS`), ``dims`` and ``lengths`` per modality, ``n_out``,
``task`` (or None), ``state_dict`` and any extra facts (``val_metrics``, ``source``, ...). It is
the teacher cache's format (`kdsearch.search.teacher_pool`), so a cached teacher, an imported
MulT checkpoint and an exported student all load the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from kdsearch.errors import UserError

ARCHS = ("mult", "video_student")
_REQUIRED = ("arch", "config", "dims", "lengths", "n_out", "state_dict")


def model_blob(model: nn.Module, *, arch: str, config: dict, dims: dict, lengths: dict, n_out: int,
               task: str | None, **extra) -> dict:
    """The model-file dict of `model` (weights copied to CPU)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"arch": arch, "config": dict(config), "dims": dict(dims), "lengths": dict(lengths), "n_out": int(n_out),
            "task": task, "state_dict": state, **extra}


def save_model_file(blob: dict, path: str | os.PathLike) -> Path:
    """Write `blob` atomically (a crash never leaves half a file under the final name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def load_model_file(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on `device`, its blob) from a model file.

    Raises:
        UserError: unreadable file, missing fields, unknown arch, or weights that do not fit the
            described model; the message names the file.
    """
    from kdsearch.models.build import build_student, build_teacher

    file = str(path)
    try:
        blob = torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError("no such model file", file=file) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a foreign or truncated file
        raise UserError(f"not a kdsearch model file: {str(exc).splitlines()[0]}", file=file) from None
    missing = [k for k in _REQUIRED if not isinstance(blob, dict) or k not in blob]
    if missing:
        raise UserError(f"not a kdsearch model file (missing {', '.join(missing)})", file=file)
    if blob["arch"] not in ARCHS:
        raise UserError(f"unknown arch {blob['arch']!r}; known: {', '.join(ARCHS)}", file=file, field="arch")
    build = build_teacher if blob["arch"] == "mult" else build_student
    try:
        model = build(blob["config"], dims=blob["dims"], lengths=blob["lengths"], n_out=int(blob["n_out"]))
        model.load_state_dict(blob["state_dict"])
    except UserError as err:
        raise UserError(err.problem, file=file, field=err.field) from None
    except RuntimeError as err:
        raise UserError(f"weights do not fit the described model: {str(err).splitlines()[0]}", file=file) from None
    return model.to(device).eval(), blob
