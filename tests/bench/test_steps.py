"""The timed units of work really train (or infer) the real models."""

import torch

from kdsearch.bench import steps
from kdsearch.bench.naive_mult import NaiveMulT

TINY = {"d_model": 8, "heads": 2, "layers": 1}


def _snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_teacher_step_updates_every_step(tiny_shapes, cpu):
    teacher = steps.build_teacher_model(tiny_shapes, cpu, **TINY)
    split = steps.random_split(tiny_shapes, 6, cpu)
    step = steps.teacher_step(teacher, split)
    before = _snapshot(teacher)
    step()
    assert _changed(before, teacher)
    after_one = _snapshot(teacher)
    step()
    assert _changed(after_one, teacher)


def test_naive_step_updates_weights(tiny_shapes, cpu):
    naive = NaiveMulT(dims=tiny_shapes.dims, lengths=tiny_shapes.lengths, n_out=7, **TINY)
    step = steps.naive_teacher_step(naive, steps.random_split(tiny_shapes, 6, cpu))
    before = _snapshot(naive)
    step()
    assert _changed(before, naive)


def test_student_step_trains_the_student_only(tiny_shapes, cpu):
    objective = steps.student_objective(5, tiny_shapes, cpu, teacher_cfg=TINY, student_cfg=TINY)
    assert set(objective.kd.pairs) == {"V<-A", "V<-L"}
    teacher_before, student_before = _snapshot(objective.teacher), _snapshot(objective.student)
    split = steps.random_split(tiny_shapes, 6, cpu)
    out = objective(split.batch(torch.arange(6)))
    assert float(out["kd"].detach()) > 0  # EDAM really ran on the maps of both models
    steps.train_step_fn(objective, split)()
    assert _changed(student_before, objective.student)
    assert not _changed(teacher_before, objective.teacher)


def test_every_configuration_builds_its_teacher_branch(tiny_shapes, cpu):
    for config in (1, 2, 3, 4):
        objective = steps.student_objective(config, tiny_shapes, cpu, teacher_cfg=TINY, student_cfg=TINY)
        split = steps.random_split(tiny_shapes, 3, cpu)
        assert torch.isfinite(objective(split.batch(torch.arange(3)))["loss"])


def test_inference_returns_logits_in_eval_mode(tiny_shapes, cpu):
    student = steps.build_student_model(tiny_shapes, cpu, 5, **TINY)
    infer = steps.inference_fn(student, steps.random_split(tiny_shapes, 1, cpu))
    logits = infer()
    assert logits.shape == (1, 7) and not student.training
    student.train()
    assert torch.equal(infer(), logits)  # back to eval: deterministic, no dropout


def test_random_split_labels_in_range(tiny_shapes, cpu):
    split = steps.random_split(tiny_shapes, 32, cpu, seed=3)
    assert split.n == 32 and split.vision.shape == (32, 10, 5)
    assert float(split.label.min()) >= -3 and float(split.label.max()) <= 3


def test_preset_shapes():
    shapes = steps.shapes_of("mosei")
    assert shapes.lengths == {"text": 50, "audio": 500, "vision": 500}
    assert shapes.n_train == 16326
