"""CRD: RepDistiller's contrastive loss with memory banks, at each of paper 000's four levels."""

import pytest
import torch

from p000_helpers import N_TRAIN, make_batch
from kdsearch.distill import build_loss
from kdsearch.distill.crd_memory import ContrastMemory, nce_loss
from kdsearch.errors import SpaceError
from kdsearch.models import DISTILLED_PAIRS
from kdsearch.models.options import InvalidOption

LEVELS = ["final", "penultimate", "post_attention", "attention_maps"]


def bound_crd(teacher, student, **options):
    loss = build_loss("crd", pairs=DISTILLED_PAIRS[5], **{"nce_k": 8, **options})
    loss.bind(student=student, teacher=teacher, n_train=N_TRAIN, labels=torch.linspace(-3, 3, N_TRAIN))
    return loss


@pytest.mark.parametrize("level", LEVELS)
def test_bind_builds_one_unit_per_tensor_pair_with_the_models_widths(level, models):
    teacher, student = models()
    loss = bound_crd(teacher, student, level=level)
    expected = 1 if level in ("final", "penultimate") else 2 * 2  # 2 pairs x 2 layers
    assert len(loss.units) == expected
    unit = next(iter(loss.units.values()))
    assert unit["memory"].bank_s.shape == (N_TRAIN, 128)
    if level == "final":
        assert unit["embed_s"].linear.in_features == unit["embed_t"].linear.in_features == 7
    if level == "penultimate":  # student 3 x d, complete teacher 6 x d
        assert (unit["embed_s"].linear.in_features, unit["embed_t"].linear.in_features) == (3 * 8, 6 * 8)
    if level == "attention_maps":  # row mean of a map over the T_k keys
        assert unit["embed_s"].linear.in_features == 10


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_is_finite_and_trains_student_and_heads_not_teacher(level, models, run_models):
    teacher, student = models()
    loss = bound_crd(teacher, student, level=level)
    batch = make_batch()
    value = loss(*run_models(loss, teacher, student, batch), batch)
    assert value.dim() == 0 and torch.isfinite(value) and value > 0
    value.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    heads = [p for n, p in loss.named_parameters() if "embed_s" in n or "embed_t" in n]
    assert heads and all(p.grad is not None and p.grad.abs().sum() > 0 for p in heads)
    assert all(p.grad is None for p in teacher.parameters())


def test_bank_moves_on_backward_only_and_never_before(models, run_models):
    teacher, student = models()
    student.eval()  # no dropout: the two forwards see the same student
    loss = bound_crd(teacher, student, level="penultimate")
    memory = loss.units["penultimate"]["memory"]
    before = memory.bank_s.clone()
    batch = make_batch(start=3)
    first = loss(*run_models(loss, teacher, student, batch), batch)
    second = loss(*run_models(loss, teacher, student, batch), batch)
    assert torch.equal(first, second) and torch.equal(memory.bank_s, before)  # forward alone changes nothing
    first.backward()
    moved = (memory.bank_s - before).abs().sum(dim=1) > 0
    assert moved[3:7].all() and not moved[:3].any() and not moved[7:].any()  # exactly the batch's rows
    assert torch.allclose(memory.bank_s[3:7].norm(dim=1), torch.ones(4), atol=1e-5)  # renormalised
    assert memory.updates == 1


def test_normalising_constant_is_fixed_at_the_first_forward(models, run_models):
    teacher, student = models()
    loss = bound_crd(teacher, student, level="final")
    batch = make_batch()
    loss(*run_models(loss, teacher, student, batch), batch).backward()
    z = loss.units["final"]["memory"].z.clone()
    assert (z > 0).all()
    loss(*run_models(loss, teacher, student, make_batch(seed=1)), make_batch(seed=1)).backward()
    assert torch.equal(loss.units["final"]["memory"].z, z)


def test_k_must_stay_below_the_training_set(models):
    teacher, student = models()
    loss = build_loss("crd", nce_k=N_TRAIN)
    with pytest.raises(InvalidOption, match=f"nce_k < {N_TRAIN}"):
        loss.bind(student=student, teacher=teacher, n_train=N_TRAIN)


def test_default_k_is_mosei_sized_and_fits_a_smaller_training_set(models):
    from kdsearch.distill.crd import DEFAULT_NCE_K

    teacher, student = models()
    loss = build_loss("crd")  # no nce_k in the space
    loss.bind(student=student, teacher=teacher, n_train=N_TRAIN)
    assert loss.nce_k == N_TRAIN - 1 < DEFAULT_NCE_K == 4096
    assert loss.units["final"]["memory"].sample(torch.arange(3)).shape == (3, N_TRAIN)
    big = build_loss("crd")
    big.check_train_size(16326)
    big.bind(n_train=16326)
    assert big.nce_k == 4096


def test_other_class_negatives_never_share_the_anchor_class():
    classes = torch.arange(30) % 3
    memory = ContrastMemory(30, 4, nce_k=50, nce_t=0.07, nce_m=0.5, classes=classes, negatives="other_class")
    index = torch.tensor([0, 1, 2, 5])
    idx = memory.sample(index)
    assert idx.shape == (4, 51) and torch.equal(idx[:, 0], index)
    assert (classes[idx[:, 1:]] != classes[index].unsqueeze(1)).all()
    assert len(torch.unique(idx[:, 1:])) > 10  # drawn across the other classes, not one sample


def test_other_class_negatives_are_distinct_when_every_pool_holds_k():
    classes = torch.arange(40) % 4  # pools of 30 other-class samples
    memory = ContrastMemory(40, 4, nce_k=30, nce_t=0.07, nce_m=0.5, classes=classes, negatives="other_class")
    index = torch.tensor([0, 1, 6, 39])
    idx = memory.sample(index)
    assert idx.shape == (4, 31) and torch.equal(idx[:, 0], index)
    for row, anchor in zip(idx[:, 1:], index):
        assert len(torch.unique(row)) == 30  # the whole pool, each sample once
        assert (classes[row] != classes[anchor]).all()


def test_uniform_negatives_are_reproducible_per_step_and_change_after_an_update():
    memory = ContrastMemory(100, 4, nce_k=16, nce_t=0.07, nce_m=0.5, seed=3)
    index = torch.arange(4)
    first = memory.sample(index)
    assert torch.equal(first, memory.sample(index))
    memory.update(index, torch.randn(4, 4), torch.randn(4, 4))
    assert not torch.equal(first, memory.sample(index))


def test_nce_loss_prefers_a_dominant_positive():
    strong = torch.tensor([[10.0, 0.01, 0.01, 0.01]])
    weak = torch.tensor([[0.01, 10.0, 0.01, 0.01]])
    assert nce_loss(strong, 100) < nce_loss(weak, 100)


@pytest.mark.parametrize("options,field", [
    ({"level": "attention_maps", "pairs": None}, "distill.pairs"),
    ({"nce_k": 0}, "distill.nce_k"),
    ({"nce_m": 1.0}, "distill.nce_m"),
    ({"pool": "max"}, "distill.pool"),
    ({"negatives": "hard"}, "distill.negatives"),
])
def test_bad_options_name_the_yaml_key(options, field):
    with pytest.raises(SpaceError) as info:
        build_loss("crd", **options)
    assert info.value.field == field


@pytest.mark.parametrize("pool", ["mean", "last", "flatten"])
def test_post_attention_pooling_options(pool, models, run_models):
    teacher, student = models()
    loss = bound_crd(teacher, student, level="post_attention", pool=pool)
    width = loss.units["V<-A|0"]["embed_s"].linear.in_features
    assert width == (8 * 10 if pool == "flatten" else 8)
    batch = make_batch()
    assert torch.isfinite(loss(*run_models(loss, teacher, student, batch), batch))


def test_per_head_maps_and_no_mask_work_with_different_student_heads(models, run_models):
    teacher, student = models(attn_mask=False, student_heads=4)
    loss = bound_crd(teacher, student, level="attention_maps", heads="per_head")
    # "V<-L": queries from L, keys from V, so rows of T_k = 10 video keys, side by side per head
    assert loss.units["V<-L|0"]["embed_s"].linear.in_features == 4 * 10
    assert loss.units["V<-L|0"]["embed_t"].linear.in_features == 2 * 10
    batch = make_batch()
    value = loss(*run_models(loss, teacher, student, batch), batch)
    value.backward()
    assert torch.isfinite(value)


def test_unbound_loss_grows_its_bank_and_warns(models, run_models):
    teacher, student = models()
    loss = build_loss("crd", nce_k=4)
    with pytest.warns(UserWarning, match="bind"):
        loss(*run_models(loss, teacher, student, make_batch()), make_batch())
    late = make_batch(start=20)
    loss(*run_models(loss, teacher, student, late), late)
    assert loss.units["final"]["memory"].n_data == 24
