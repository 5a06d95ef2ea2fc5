"""Every registered loss honours the same contract (parametrized over the registry)."""

import pytest
import torch

from kdsearch.distill import KD_LEVELS, LOSSES, build_loss


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("n_out", [7, 1])
def test_finite_scalar_with_gradients_to_the_student_only(name, n_out, kd_setup, run_models, example_options):
    teacher, student, batch = kd_setup(n_out)
    loss_fn = build_loss(name, **example_options.get(name, {}))
    assert loss_fn.levels and loss_fn.levels <= KD_LEVELS
    s_out, t_out = run_models(loss_fn, teacher, student, batch)
    loss = loss_fn(s_out, t_out, batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    student_grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert student_grads and any(g.abs().sum() > 0 for g in student_grads)
    assert all(torch.isfinite(g).all() for g in student_grads)
    assert all(p.requires_grad and p.grad is None for p in teacher.parameters())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_teacher_run_with_grad_enabled_still_gets_no_gradient(name, kd_setup, run_models, example_options):
    teacher, student, batch = kd_setup()
    loss_fn = build_loss(name, **example_options.get(name, {}))
    s_out, t_out = run_models(loss_fn, teacher, student, batch, teacher_grad=True)
    assert t_out.logits.requires_grad  # the teacher graph exists ...
    loss_fn(s_out, t_out, batch).backward()
    assert all(p.grad is None for p in teacher.parameters())  # ... but the loss detached it


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_maps_asked_for_exist_in_both_models(name, kd_setup, example_options):
    teacher, student, _ = kd_setup()
    loss_fn = build_loss(name, **example_options.get(name, {}))
    assert loss_fn.student_maps() <= set(student.pair_names)
    assert loss_fn.teacher_maps() <= set(teacher.pair_names)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_is_deterministic_in_eval(name, kd_setup, run_models, example_options):
    teacher, student, batch = kd_setup()
    teacher.eval(), student.eval()
    loss_fn = build_loss(name, **example_options.get(name, {}))
    first = loss_fn(*run_models(loss_fn, teacher, student, batch), batch)
    second = loss_fn(*run_models(loss_fn, teacher, student, batch), batch)
    assert torch.equal(first, second)
