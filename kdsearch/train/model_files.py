"""Load a kdsearch model file (a cached or imported teacher, an exported student) as a model.

The file format is `kdsearch.models.checkpoint`'s; which network a file holds is its `arch`:
the video-only student, or a teacher architecture of `kdsearch.train.teachers`.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from kdsearch.errors import UserError
from kdsearch.models.checkpoint import REQUIRED_FIELDS, STUDENT_ARCH, read_weights_only, state_dict_mismatch
from kdsearch.train.teachers import TEACHER_ARCHS, build_any_teacher


def model_file_archs() -> tuple[str, ...]:
    """Every `arch` a model file may name."""
    return (*TEACHER_ARCHS, STUDENT_ARCH)


def load_model_file(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on `device`, its blob) from a model file.

    Raises:
        UserError: unreadable file, missing fields, unknown arch, or weights that do not fit the
            described model; the message names the file.
    """
    from kdsearch.models.build import build_student

    file = str(path)
    blob = read_weights_only(file, what="kdsearch model file")
    missing = [k for k in REQUIRED_FIELDS if not isinstance(blob, dict) or k not in blob]
    if missing:
        raise UserError(f"not a kdsearch model file (missing {', '.join(missing)})", file=file)
    if blob["arch"] not in model_file_archs():
        raise UserError(f"unknown arch {blob['arch']!r}; known: {', '.join(model_file_archs())}", file=file,
                        field="arch")
    shapes = {"dims": blob["dims"], "lengths": blob["lengths"], "n_out": int(blob["n_out"])}
    try:
        if blob["arch"] == STUDENT_ARCH:
            model = build_student(blob["config"], **shapes)
        else:  # a teacher: the cache's files carry `arch` in their config too
            model = build_any_teacher({**blob["config"], "arch": blob["arch"]}, **shapes)
        model.load_state_dict(blob["state_dict"])
    except UserError as err:
        raise UserError(err.problem, file=file, field=err.field) from None
    except RuntimeError:
        raise UserError(f"weights do not fit the {blob['arch']} model its config describes: "
                        f"{state_dict_mismatch(model, blob['state_dict'])}", file=file, field="state_dict") from None
    return model.to(device).eval(), blob
