"""Scarce labels: a fixed seeded subset feeds the task loss; distillation sees every sample."""

import torch

from kdsearch.spec.space import load_space
from kdsearch.train.experiment import build_kd_loss, build_models, labelled_mask
from kdsearch.train.objectives import DistillObjective
from kdsearch.train.tasks import get_task

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 4, "audio": 10, "vision": 10}


def test_subset_is_deterministic_for_a_seed():
    a, b, c = labelled_mask(1000, 0.15, 0), labelled_mask(1000, 0.15, 0), labelled_mask(1000, 0.15, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert int(a.sum()) == 150
    assert labelled_mask(1000, 1.0, 0) is None


def tiny_objective(beta=1.0):
    config = load_space("smoke").config
    config["loss"]["beta"] = beta
    teacher, student = build_models(config, DIMS, LENGTHS)
    return DistillObjective(student, teacher, get_task("classification"), build_kd_loss(config), alpha=1.0,
                            beta=beta), student


def batch(labelled):
    torch.manual_seed(0)
    b = 6
    return {"text": torch.randn(b, 4, 12), "audio": torch.randn(b, 10, 6), "vision": torch.randn(b, 10, 5),
            "label": torch.tensor([-3.0, -1.0, 0.0, 1.0, 2.0, 3.0]), "index": torch.arange(b),
            "labelled": torch.tensor(labelled)}


def test_unlabelled_batch_trains_through_distillation_only():
    objective, student = tiny_objective()
    out = objective(batch([False] * 6))
    assert out["task"].item() == 0.0
    assert out["kd"].item() > 0.0
    out["loss"].backward()
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)


def test_task_loss_uses_only_labelled_samples():
    objective, _ = tiny_objective(beta=0.0)
    full = objective(batch([True] * 6))
    part = objective(batch([True, True, False, False, False, False]))
    objective.eval()
    with torch.no_grad():
        logits = objective.predict(batch([True] * 6))
    expected = get_task("classification").loss(logits[:2], torch.tensor([-3.0, -1.0]))
    objective.train()
    assert "kd" not in full  # beta = 0: the teacher is never run
    assert part["task"].item() != full["task"].item()
    objective.eval()
    assert torch.allclose(objective(batch([True, True, False, False, False, False]))["task"], expected, atol=1e-6)
