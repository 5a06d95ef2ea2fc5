"""EDAM-T↑: the teacher's maps resized to the student's by learned linear layers."""

import pytest
import torch

from p000_helpers import make_batch
from kdsearch.distill import build_loss
from kdsearch.distill.align import MapResizer, interpolation_matrix
from kdsearch.models import DISTILLED_PAIRS
from kdsearch.models.options import InvalidOption


def test_interpolation_matrix_is_linear_interpolation_with_aligned_ends():
    m = interpolation_matrix(3, 5)
    assert m.shape == (5, 3)
    assert torch.allclose(m.sum(dim=1), torch.ones(5))
    assert torch.allclose(m @ torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0]))


def test_resizer_changes_only_the_axes_that_differ():
    resizer = MapResizer((4, 10), (10, 10))
    assert resizer.cols is None and resizer.rows.weight.shape == (10, 4)
    out = resizer(torch.randn(2, 4, 10))
    assert out.shape == (2, 10, 10)
    with pytest.raises(ValueError, match="built for"):
        resizer(torch.randn(2, 5, 10))


def edam_up(teacher, student, **options):
    loss = build_loss("edam", pairs=DISTILLED_PAIRS[5], align="teacher_up", **options)
    loss.bind(student=student, teacher=teacher)
    return loss


def test_bind_builds_one_resizer_per_pair_and_layer_where_sizes_differ(models):
    teacher, student = models(student_align="none")
    loss = edam_up(teacher, student)
    # V<-L: teacher 4 x 10 (text queries), student 10 x 10; V<-A is 10 x 10 in both.
    assert sorted(loss.resizers) == ["V<-A|0", "V<-A|1", "V<-L|0", "V<-L|1"]
    assert loss.resizers["V<-L|0"].rows.weight.shape == (10, 4)
    assert loss.resizers["V<-A|0"].rows is None and loss.resizers["V<-A|0"].cols is None


@pytest.mark.parametrize("heads", ["average", "per_head"])
@pytest.mark.parametrize("direction", ["teacher_to_student", "paper"])
def test_loss_is_finite_and_trains_student_and_resizers_never_teacher(heads, direction, models, run_models):
    teacher, student = models(student_align="none")
    loss = edam_up(teacher, student, heads=heads, direction=direction, upsample_trainable=True)
    batch = make_batch()
    value = loss(*run_models(loss, teacher, student, batch), batch)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    resizer = loss.resizers["V<-L|0"].rows
    assert resizer.weight.grad is not None and resizer.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in teacher.parameters())


def test_resized_teacher_rows_are_distributions_over_the_students_allowed_keys(models, run_models):
    from kdsearch.distill.align import resized_teacher_log_maps
    from kdsearch.distill.edam import LOG_FLOOR, log_attention_maps

    teacher, student = models(student_align="none")
    loss = edam_up(teacher, student)
    s_out, t_out = run_models(loss, teacher, student, make_batch())
    log_t, allowed_t = log_attention_maps(t_out.attn_scores["V<-L"][0], 1.0, "average")
    log_s, allowed_s = log_attention_maps(s_out.attn_scores["V<-L"][0], 1.0, "average")
    resized = resized_teacher_log_maps(loss.resizers["V<-L|0"], log_t, allowed_t, allowed_s, LOG_FLOOR)
    probs = torch.where(allowed_s, resized.exp(), 0.0)
    assert resized.shape == log_s.shape
    assert torch.allclose(probs.sum(dim=-1), torch.ones_like(probs.sum(dim=-1)), atol=1e-5)
    assert not allowed_s.all()  # the student's causal mask is on, and masked keys got no mass


def test_fixed_interpolation_is_the_default_and_leaves_the_resizers_untrained(models, run_models):
    teacher, student = models(student_align="none")
    loss = edam_up(teacher, student)  # default changed from trainable (issue 15)
    assert not any(p.requires_grad for p in loss.resizers.parameters())
    batch = make_batch()
    loss(*run_models(loss, teacher, student, batch), batch).backward()
    assert any(p.grad is not None for p in student.parameters())


def test_teacher_up_with_already_matching_maps_is_refused(models):
    teacher, student = models(student_align="student_down")
    loss = build_loss("edam", pairs=DISTILLED_PAIRS[5], align="teacher_up")
    with pytest.raises(InvalidOption, match="student.align: none") as info:
        loss.bind(student=student, teacher=teacher)
    assert info.value.option == "align"


def test_student_down_with_different_maps_is_refused_naming_both_sizes(models):
    teacher, student = models(student_align="none")
    loss = build_loss("edam", pairs=DISTILLED_PAIRS[5])
    with pytest.raises(InvalidOption, match=r"V<-L is 10x10, teacher V<-L is 4x10.*teacher_up"):
        loss.bind(student=student, teacher=teacher)


def test_per_head_with_unequal_head_counts_is_refused_at_bind(models):
    teacher, student = models(student_heads=4)
    loss = build_loss("edam", pairs=DISTILLED_PAIRS[5], heads="per_head")
    with pytest.raises(InvalidOption, match="equal head counts"):
        loss.bind(student=student, teacher=teacher)


def test_attention_mask_off_in_both_models_gives_full_maps(models, run_models):
    teacher, student = models(student_align="none", attn_mask=False)
    loss = edam_up(teacher, student)
    s_out, t_out = run_models(loss, teacher, student, make_batch())
    assert s_out.attn_mask["V<-L"] is None and t_out.attn_mask["V<-L"] is None
    assert torch.isfinite(loss(s_out, t_out, make_batch()))


def _entropy(log_p):
    return float(-(log_p.exp() * log_p).sum(-1).mean())


def _train_upsampler_only(models, run_models, step_loss, steps=150):
    """The student frozen, Adam on the V<-L resizer alone; returns (target entropy, KD loss) before
    and after, the target being the teacher's map at the student's size."""
    from kdsearch.distill.align import resized_teacher_log_maps
    from kdsearch.distill.edam import LOG_FLOOR, log_attention_maps

    teacher, student = models(student_align="none", attn_mask=False)
    loss = edam_up(teacher, student, upsample_trainable=True)
    s_out, t_out = run_models(loss, teacher, student, make_batch())
    # A frozen student with definite maps (an untrained one is near uniform, and against a uniform
    # student every target costs the same).
    s_out.attn_scores = {k: [8 * x.detach() for x in v] for k, v in s_out.attn_scores.items()}
    log_t, allowed_t = log_attention_maps(t_out.attn_scores["V<-L"][0], 1.0, "average")
    log_s, allowed_s = log_attention_maps(s_out.attn_scores["V<-L"][0], 1.0, "average")
    resizer = loss.resizers["V<-L|0"]

    def measure():
        with torch.no_grad():
            target = resized_teacher_log_maps(resizer, log_t, allowed_t, allowed_s, LOG_FLOOR)
            return _entropy(target), float(-(target.exp() * log_s).sum(-1).mean())

    before = measure()
    optimiser = torch.optim.Adam(resizer.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        step_loss(loss, s_out, t_out, resizer, log_t, allowed_t, log_s, allowed_s).backward()
        optimiser.step()
    return before, measure()


def test_a_trainable_upsampler_on_the_kd_loss_alone_would_collapse_the_target(models, run_models):
    """The risk the safeguard exists for: the KD loss falls by reshaping its own target."""
    from kdsearch.distill.align import resized_teacher_log_maps
    from kdsearch.distill.edam import LOG_FLOOR

    def unguarded(_loss, _s, _t, resizer, log_t, allowed_t, log_s, allowed_s):
        target = resized_teacher_log_maps(resizer, log_t, allowed_t, allowed_s, LOG_FLOOR)
        return -(target.exp() * log_s).sum(-1).mean()

    (h0, kd0), (h1, kd1) = _train_upsampler_only(models, run_models, unguarded)
    assert kd1 < 0.8 * kd0 and h1 < 0.5 * h0


def test_the_safeguarded_upsampler_keeps_the_teachers_map(models, run_models):
    """Trained through EDAM's own loss, the resizer learns only to let the teacher's map be
    recovered: the target keeps its entropy and the KD loss cannot fall by reshaping it."""
    def guarded(loss, s_out, t_out, *_):
        return loss(s_out, t_out, make_batch())

    (h0, kd0), (h1, kd1) = _train_upsampler_only(models, run_models, guarded)
    assert h1 == pytest.approx(h0, rel=0.05) and kd1 == pytest.approx(kd0, rel=0.05)
