"""Every registered loss at every level it allows, bound as a trial binds it: a finite scalar,
gradients to the student and to the loss's own heads, never to the teacher."""

import pytest
import torch

from p000_helpers import N_TRAIN, make_batch
from kdsearch.distill import LOSSES, build_loss, loss_options
from kdsearch.models import DISTILLED_PAIRS

# Options each loss needs beyond `level` (a new loss adds its entry, or these tests fail).
OPTIONS = {
    "crd": {"nce_k": 8},
    "edam": {},
    "logit": {},
}
VARIANTS = {  # (name, extra options, student align) for the options that change the wiring
    "edam": [({"align": "teacher_up"}, "none"), ({"heads": "per_head"}, "student_down")],
    "crd": [({"negatives": "other_class"}, "student_down"), ({}, "none"), ({"map_rows": "per_row"}, "student_down")],
}


def cases():
    for name in sorted(LOSSES):
        for level in sorted(LOSSES[name].levels):
            yield name, level, {}, "student_down"
            for extra, align in VARIANTS.get(name, []):
                yield name, level, extra, align


def build(name, level, extra):
    options = {**OPTIONS.get(name, {}), **extra}
    accepted = loss_options(name)
    if "level" in accepted:
        options["level"] = level
    if "pairs" in accepted:
        options["pairs"] = DISTILLED_PAIRS[5]
    return build_loss(name, **options)


@pytest.mark.parametrize("teacher_grad", [False, True], ids=["frozen_teacher", "teacher_with_grad"])
@pytest.mark.parametrize("name,level,extra,align", list(cases()))
def test_bound_loss_trains_student_and_heads_only(name, level, extra, align, teacher_grad, models, run_models):
    teacher, student = models(student_align=align)
    loss = build(name, level, extra)
    loss.bind(student=student, teacher=teacher, n_train=N_TRAIN, labels=torch.linspace(-3, 3, N_TRAIN))
    own = [p for p in loss.parameters() if p.requires_grad]
    optimiser_would_see = {id(p) for p in own}  # built before the first forward, as in a trial
    batch = make_batch()
    value = loss(*run_models(loss, teacher, student, batch, teacher_grad=teacher_grad), batch)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(torch.isfinite(p.grad).all() for p in student.parameters() if p.grad is not None)
    assert {id(p) for p in loss.parameters() if p.requires_grad} == optimiser_would_see  # nothing created late
    assert all(p.grad is not None for p in own)
    assert all(p.grad is None for p in teacher.parameters())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_levels_declared_are_paper_levels(name):
    from kdsearch.distill import KD_LEVELS

    assert LOSSES[name].levels and LOSSES[name].levels <= KD_LEVELS
