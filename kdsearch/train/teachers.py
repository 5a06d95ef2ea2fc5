"""Teacher architectures by the name `teacher.arch` uses: MulT (paper 000) and DMD (paper 003).

One registry, one entry per architecture; nothing outside it asks "is this a DMD teacher?".
Each entry says which `teacher:` keys it takes (with defaults), how it builds the network, how
the network is trained on its own (the teacher cache trains it), and how a person calls it.
Both networks return the same ModelOutput with MulT-named cross-modal pairs, so a DMD teacher's
heterogeneous cross-modal maps distil into the video-only student exactly like a MulT teacher's.

Adding an architecture: one `TeacherArch` and its `register_arch` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from kdsearch.config import did_you_mean
from kdsearch.errors import SpaceError, short


@dataclass(frozen=True)
class TeacherArch:
    """One teacher architecture.

    Attributes:
        name: the `teacher.arch` value (also a model file's `arch`).
        defaults: the `teacher:` keys it takes, with their defaults (`arch` excluded).
        build: (section without `arch`, dims, lengths, n_out) -> a freshly initialised network.
        objective: (section without `arch`, dims, lengths, task) -> (objective that trains it
            alone, the network inside it).
        title: (section) -> what a person calls it ("MulT complete", "DMD").
        branches: it comes as paper 000's complete / video / audio / language teachers.
    """

    name: str
    defaults: Callable[[], dict]
    build: Callable[..., nn.Module]
    objective: Callable[..., tuple[nn.Module, nn.Module]]
    title: Callable[[dict], str]
    branches: bool = False


TEACHER_ARCHS: dict[str, TeacherArch] = {}
DEFAULT_ARCH = "mult"


def register_arch(arch: TeacherArch) -> TeacherArch:
    if arch.name in TEACHER_ARCHS:
        raise ValueError(f"teacher architecture {short(arch.name)} is already registered")
    TEACHER_ARCHS[arch.name] = arch
    return arch


def get_arch(name) -> TeacherArch:
    """The registered architecture `name`; SpaceError naming `teacher.arch` otherwise."""
    if not isinstance(name, str) or name not in TEACHER_ARCHS:
        raise SpaceError(f"unknown teacher architecture {short(name)}; choose {' or '.join(TEACHER_ARCHS)}"
                         + did_you_mean(str(name), TEACHER_ARCHS), field="teacher.arch")
    return TEACHER_ARCHS[name]


def split_arch(cfg: dict) -> tuple[TeacherArch, dict]:
    """(architecture, the section's other keys) of a `teacher:` section."""
    rest = dict(cfg)
    return get_arch(rest.pop("arch", DEFAULT_ARCH)), rest


def teacher_defaults(name: str) -> dict:
    """The `teacher:` keys and defaults of an architecture (`arch` included)."""
    return {"arch": name, **get_arch(name).defaults()}


def build_any_teacher(cfg: dict, *, dims: dict, lengths: dict, n_out: int) -> nn.Module:
    """The teacher network a `teacher:` section describes (freshly initialised)."""
    arch, rest = split_arch(cfg)
    return arch.build(rest, dims=dims, lengths=lengths, n_out=n_out)


def teacher_objective(cfg: dict, *, dims: dict, lengths: dict, task):
    """(objective that trains the teacher alone, the teacher network inside it)."""
    arch, rest = split_arch(cfg)
    return arch.objective(rest, dims=dims, lengths=lengths, task=task)


def teacher_title(cfg: dict) -> str:
    """What a person calls the teacher of a `teacher:` section: 'MulT complete', 'DMD'."""
    arch, rest = split_arch(cfg)
    return arch.title(rest)


# ------------------------------------------------------------------ the two architectures
def _mult_defaults() -> dict:
    from kdsearch.models.build import TEACHER_DEFAULTS

    return dict(TEACHER_DEFAULTS)


def _mult_build(cfg: dict, *, dims: dict, lengths: dict, n_out: int) -> nn.Module:
    from kdsearch.models.build import build_teacher

    return build_teacher(cfg, dims=dims, lengths=lengths, n_out=n_out)


def _mult_objective(cfg: dict, *, dims: dict, lengths: dict, task):
    from kdsearch.train.objectives import TaskObjective

    model = _mult_build(cfg, dims=dims, lengths=lengths, n_out=task.n_out)
    return TaskObjective(model, task), model


def _dmd_defaults() -> dict:
    from kdsearch.train.dmd_objective import DMD_DEFAULTS

    return dict(DMD_DEFAULTS)


def _dmd_build(cfg: dict, *, dims: dict, lengths: dict, n_out: int) -> nn.Module:
    from kdsearch.train.dmd_objective import build_dmd

    return build_dmd(cfg, dims=dims, lengths=lengths, n_out=n_out, section="teacher")


def _dmd_objective(cfg: dict, *, dims: dict, lengths: dict, task):
    from kdsearch.train.dmd_objective import build_dmd_objective

    objective = build_dmd_objective(cfg, dims=dims, lengths=lengths, task=task, section="teacher")
    return objective, objective.model


register_arch(TeacherArch(name="mult", defaults=_mult_defaults, build=_mult_build, objective=_mult_objective,
                          title=lambda cfg: f"MulT {cfg.get('branch', 'complete')}", branches=True))
register_arch(TeacherArch(name="dmd", defaults=_dmd_defaults, build=_dmd_build, objective=_dmd_objective,
                          title=lambda cfg: "DMD"))
