"""A DMD network as the frozen teacher of paper 000's video-only student (maps by pair name)."""

import torch
from dmd_fixtures import DIMS, LENGTHS, TINY, make_batch

from kdsearch.distill import build_loss
from kdsearch.models import DISTILLED_PAIRS, VideoStudent
from kdsearch.models.dmd import DMD
from kdsearch.train.objectives import DistillObjective
from kdsearch.train.tasks import get_task


def test_edam_distils_dmd_cross_modal_maps_into_the_student():
    torch.manual_seed(0)
    teacher = DMD(dims=DIMS, lengths=LENGTHS, n_out=7, **TINY)
    student = VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=7, config=5, **TINY)
    loss = build_loss("edam", pairs=DISTILLED_PAIRS[5])
    loss.bind(student=student, teacher=teacher)  # checks pair names and map sizes against DMD
    objective = DistillObjective(student, teacher, get_task("classification"), loss, alpha=1.0, beta=1.0)
    out = objective(make_batch())
    assert torch.isfinite(out["kd"]) and out["kd"] > 0
    out["loss"].backward()
    assert all(p.grad is None for p in teacher.parameters())  # frozen
    assert student.body.encoders["V<-A"].layers[0].attn.in_proj_weight.grad.abs().sum() > 0


def test_logit_kd_from_a_dmd_teacher():
    torch.manual_seed(0)
    teacher = DMD(dims=DIMS, lengths=LENGTHS, n_out=1, **TINY)
    student = VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=1, config=5, **TINY)
    objective = DistillObjective(student, teacher, get_task("regression"), build_loss("logit"), alpha=1.0, beta=1.0)
    out = objective(make_batch())
    assert torch.isfinite(out["kd"]) and out["logits"].shape == (6, 1)
