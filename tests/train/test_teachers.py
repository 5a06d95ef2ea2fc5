"""The registry of teacher architectures: one entry each for MulT and DMD."""

import pytest
import torch

from kdsearch.errors import SpaceError
from kdsearch.train.tasks import get_task
from kdsearch.train.teachers import (
    TEACHER_ARCHS, TeacherArch, build_any_teacher, register_arch, teacher_defaults, teacher_objective, teacher_title,
)

DIMS = {"text": 5, "audio": 4, "vision": 3}
LENGTHS = {"text": 6, "audio": 8, "vision": 8}


def test_both_architectures_are_registered_with_their_keys():
    assert set(TEACHER_ARCHS) == {"mult", "dmd"}
    assert teacher_defaults("mult")["arch"] == "mult" and "branch" in teacher_defaults("mult")
    assert teacher_defaults("dmd")["arch"] == "dmd" and "lambda1" in teacher_defaults("dmd")


def test_an_unknown_architecture_names_the_key_and_the_nearest_one():
    with pytest.raises(SpaceError, match="did you mean 'mult'") as err:
        teacher_defaults("mutl")
    assert err.value.field == "teacher.arch"


def test_a_second_entry_of_the_same_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_arch(TeacherArch(name="mult", defaults=dict, build=None, objective=None, title=str))


@pytest.mark.parametrize("section,title", [({}, "MulT complete"), ({"branch": "video"}, "MulT video"),
                                           ({"arch": "dmd"}, "DMD")])
def test_titles_name_the_architecture_and_branch(section, title):
    assert teacher_title(section) == title


@pytest.mark.parametrize("arch", ["mult", "dmd"])
def test_each_architecture_builds_and_trains_through_its_entry(arch):
    small = {"mult": {"d_model": 8, "heads": 2, "layers": 1}, "dmd": {"d_model": 8, "heads": 2, "layers": 1}}[arch]
    cfg = {"arch": arch, **small}
    task = get_task("classification")
    model = build_any_teacher(cfg, dims=DIMS, lengths=LENGTHS, n_out=task.n_out)
    objective, inside = teacher_objective(cfg, dims=DIMS, lengths=LENGTHS, task=task)
    assert type(inside) is type(model)
    batch = {m: torch.randn(2, LENGTHS[m], DIMS[m]) for m in DIMS} | {"label": torch.tensor([0.5, -1.0])}
    out = objective(batch)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and out["logits"].shape == (2, task.n_out)
