"""Teacher architectures by name: the MulT cross-modal network (paper 000) or DMD (paper 003).

`teacher.arch` in a space picks one; the rest of the `teacher:` section holds that
architecture's keys. Both return the same ModelOutput with MulT-named cross-modal pairs, so a
DMD teacher's heterogeneous cross-modal attention maps distil into the video-only student with
EDAM exactly like a MulT teacher's.
"""

from __future__ import annotations

from kdsearch.errors import SpaceError

TEACHER_ARCHS = ("mult", "dmd")


def teacher_defaults(arch: str) -> dict:
    """The `teacher:` keys and defaults of an architecture (`arch` included)."""
    if arch == "mult":
        from kdsearch.models.build import TEACHER_DEFAULTS

        return {"arch": "mult", **TEACHER_DEFAULTS}
    if arch == "dmd":
        from kdsearch.train.dmd_objective import DMD_DEFAULTS

        return {"arch": "dmd", **DMD_DEFAULTS}
    raise SpaceError(f"unknown teacher architecture {arch!r}; choose {' or '.join(TEACHER_ARCHS)}",
                     field="teacher.arch")


def split_arch(cfg: dict) -> tuple[str, dict]:
    rest = dict(cfg)
    return rest.pop("arch", "mult"), rest


def build_any_teacher(cfg: dict, *, dims: dict, lengths: dict, n_out: int):
    """The teacher network a `teacher:` section describes (freshly initialised)."""
    arch, rest = split_arch(cfg)
    teacher_defaults(arch)  # refuses an unknown arch with the key named
    if arch == "dmd":
        from kdsearch.train.dmd_objective import build_dmd

        return build_dmd(rest, dims=dims, lengths=lengths, n_out=n_out, section="teacher")
    from kdsearch.models.build import build_teacher

    return build_teacher(rest, dims=dims, lengths=lengths, n_out=n_out)


def teacher_objective(cfg: dict, *, dims: dict, lengths: dict, task):
    """(objective that trains the teacher, the teacher network inside it)."""
    arch, rest = split_arch(cfg)
    if arch == "dmd":
        from kdsearch.train.dmd_objective import build_dmd_objective

        objective = build_dmd_objective(rest, dims=dims, lengths=lengths, task=task, section="teacher")
        return objective, objective.model
    from kdsearch.train.objectives import TaskObjective

    model = build_any_teacher(cfg, dims=dims, lengths=lengths, n_out=task.n_out)
    return TaskObjective(model, task), model
