"""Build teachers and students from config dicts, with errors that name the YAML key.

The documented defaults are read off the constructors' signatures, so they cannot drift apart.
"""

from __future__ import annotations

import inspect

from torch import nn

from kdsearch.config import did_you_mean
from kdsearch.errors import SpaceError
from kdsearch.models.mult_teacher import MulTTeacher
from kdsearch.models.options import InvalidOption
from kdsearch.models.video_student import VideoStudent


def _keyword_defaults(cls: type, exclude: tuple[str, ...]) -> dict:
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params
            if p.kind is p.KEYWORD_ONLY and p.default is not p.empty and p.name not in exclude}


TEACHER_DEFAULTS: dict = _keyword_defaults(MulTTeacher, exclude=("dims", "lengths", "n_out"))
STUDENT_DEFAULTS: dict = _keyword_defaults(VideoStudent, exclude=("vision_dim", "lengths", "n_out"))


def _construct(cls: type, section: str, defaults: dict, cfg: dict, fixed: dict):
    for key in cfg:
        if key not in defaults:
            raise SpaceError(f"unknown key{did_you_mean(key, defaults)}; allowed: {', '.join(defaults)}",
                             field=f"{section}.{key}")
    try:
        return cls(**fixed, **{**defaults, **cfg})
    except InvalidOption as err:
        raise SpaceError(err.problem, field=f"{section}.{err.option}") from err


def build_teacher(cfg: dict, *, dims: dict[str, int], lengths: dict[str, int], n_out: int) -> MulTTeacher:
    """A `MulTTeacher` from `cfg` (keys of `TEACHER_DEFAULTS`; missing keys take the defaults).

    Args:
        cfg: the space's `teacher:` section.
        dims, lengths: per-modality feature widths and sequence lengths ("text", "audio", "vision").
        n_out: output units.

    Raises:
        SpaceError: unknown key or bad value, naming `teacher.<key>`.
    """
    return _construct(MulTTeacher, "teacher", TEACHER_DEFAULTS, cfg, dict(dims=dims, lengths=lengths, n_out=n_out))


def build_student(cfg: dict, *, dims: dict[str, int], lengths: dict[str, int], n_out: int) -> VideoStudent:
    """A `VideoStudent` from `cfg` (keys of `STUDENT_DEFAULTS`); errors name `student.<key>`."""
    fixed = dict(vision_dim=dims["vision"], lengths=lengths, n_out=n_out)
    return _construct(VideoStudent, "student", STUDENT_DEFAULTS, cfg, fixed)


def count_parameters(*modules) -> int:
    """Parameters of `modules` (real or on the meta device), each shared tensor counted once
    (a tensor two modules share, such as a KD loss's head bound to the student, too)."""
    seen: dict[int, int] = {}
    for module in modules:
        if isinstance(module, nn.Module):  # a loss without heads may be a plain object
            for param in module.parameters():
                seen[id(param)] = param.numel()
    return sum(seen.values())
