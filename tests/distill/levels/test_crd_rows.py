"""CRD as paper 000 and RepDistiller define it: one contrast per attention-map row (eq. 9), and
other-class negatives for the classification task."""

import pytest
import torch

from p000_helpers import N_TRAIN, make_batch
from kdsearch.distill import build_loss
from kdsearch.distill.crd_memory import ContrastMemory
from kdsearch.errors import SpaceError
from kdsearch.models import DISTILLED_PAIRS
from kdsearch.models.options import InvalidOption

LABELS = torch.linspace(-3, 3, N_TRAIN)


def per_row(teacher, student, **options):
    loss = build_loss("crd", pairs=DISTILLED_PAIRS[5], level="attention_maps", map_rows="per_row", nce_k=8, **options)
    loss.bind(student=student, teacher=teacher, n_train=N_TRAIN, labels=LABELS)
    return loss


def test_per_row_banks_hold_every_row_of_every_sample(models):
    teacher, student = models()
    loss = per_row(teacher, student)
    # config 5 with student_down: V<-L has the teacher's 4 text rows, V<-A 10 audio rows
    assert loss.units["V<-L|0"]["memory"].bank_s.shape == (N_TRAIN * 4, 128)
    assert loss.units["V<-A|1"]["memory"].bank_t.shape == (N_TRAIN * 10, 128)
    assert loss.units["V<-L|0"]["embed_s"].linear.in_features == 10  # one row: a distribution over 10 keys


def test_each_row_is_contrasted_with_the_same_row_of_other_samples():
    memory = ContrastMemory(20, 4, nce_k=5, nce_t=0.07, nce_m=0.5, rows=3)
    index = torch.tensor([2, 7])
    slots = memory._slots(memory.sample(index))
    assert slots.shape == (2 * 3, 6)
    assert torch.equal(slots[:, 0], torch.tensor([6, 7, 8, 21, 22, 23]))  # positives: the sample's own rows
    assert (slots % 3 == torch.arange(3).repeat(2).unsqueeze(1)).all()  # row r only meets row r


def test_per_row_loss_trains_student_and_heads_and_updates_the_batch_rows_only(models, run_models):
    teacher, student = models()
    loss = per_row(teacher, student)
    batch = make_batch(start=5)
    value = loss(*run_models(loss, teacher, student, batch), batch)
    assert value.dim() == 0 and torch.isfinite(value) and value > 0
    bank = loss.units["V<-L|0"]["memory"].bank_s
    before = bank.clone()
    value.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    moved = ((bank - before).abs().sum(dim=1) > 0).nonzero().flatten()
    assert torch.equal(moved, torch.arange(5 * 4, 9 * 4))  # samples 5..8, their 4 rows each


def test_per_row_differs_from_the_row_mean(models, run_models):
    teacher, student = models()
    batch = make_batch()
    rows = per_row(teacher, student)
    mean = build_loss("crd", pairs=DISTILLED_PAIRS[5], level="attention_maps", nce_k=8)
    mean.bind(student=student, teacher=teacher, n_train=N_TRAIN, labels=LABELS)
    assert not torch.isclose(rows(*run_models(rows, teacher, student, batch), batch),
                             mean(*run_models(mean, teacher, student, batch), batch))


def test_per_row_needs_maps_with_as_many_rows(models):
    teacher, student = models(student_align="none")  # student V<-L keeps 10 rows, teacher 4
    with pytest.raises(InvalidOption, match="student V<-L has 10 rows and teacher V<-L 4") as info:
        per_row(teacher, student)
    assert info.value.option == "map_rows"


def test_per_row_banks_too_large_are_refused_before_training(models):
    teacher, student = models()
    loss = build_loss("crd", pairs=DISTILLED_PAIRS[5], level="attention_maps", map_rows="per_row")
    loss.bind(student=student, teacher=teacher)  # validation binds the models only, then checks the size
    with pytest.raises(InvalidOption, match="GiB") as info:
        loss.check_train_size(16326 * 100)
    assert info.value.option == "map_rows"


@pytest.mark.parametrize("task, expected", [("classification", "other_class"), ("regression", "uniform"),
                                            (None, "uniform")])
def test_unset_negatives_follow_the_task(task, expected, models):
    teacher, student = models()
    loss = build_loss("crd", nce_k=8)
    loss.bind(student=student, teacher=teacher, n_train=N_TRAIN, labels=LABELS, task=task)
    assert loss.units["final"]["memory"].negatives == expected


def test_set_negatives_win_over_the_task(models):
    teacher, student = models()
    loss = build_loss("crd", nce_k=8, negatives="uniform")
    loss.bind(student=student, teacher=teacher, n_train=N_TRAIN, labels=LABELS, task="classification")
    assert loss.units["final"]["memory"].negatives == "uniform"


def test_unknown_map_rows_names_the_yaml_key():
    with pytest.raises(SpaceError) as info:
        build_loss("crd", map_rows="each")
    assert info.value.field == "distill.map_rows"
