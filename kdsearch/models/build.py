"""Build teachers and students from config dicts, with errors that name the YAML key.

The documented defaults are read off the constructors' signatures, so they cannot drift apart.
"""

from __future__ import annotations

import difflib
import inspect

from torch import nn

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


def did_you_mean(word: str, choices) -> str:
    """' (did you mean 'x'?)' for the closest of `choices`, or '' when none is close."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of `module` (each shared tensor counted once)."""
    return sum(p.numel() for p in module.parameters())
