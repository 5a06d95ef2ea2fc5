"""Packed students train exactly as their unpacked runs: same losses, metrics and weights (1e-5),
each with its own alpha, beta, temperature, learning rate, seed, labelled subset and clipping;
a student whose loss becomes NaN leaves the pack alone."""

import copy
import dataclasses
import math

import pytest
import torch

from kdsearch.distill import build_loss
from kdsearch.models import DISTILLED_PAIRS, MulTTeacher, VideoStudent
from kdsearch.train.experiment import TensorSplit, labelled_mask
from kdsearch.train.objectives import DistillObjective
from kdsearch.train.packing import Member, PackedTrainer, check_packable
from kdsearch.train.tasks import get_task
from kdsearch.train.teacher_targets import TeacherTargets, compute_targets
from kdsearch.train.trainer import Trainer, TrainSettings

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 4, "audio": 10, "vision": 10}
TINY = {"d_model": 8, "heads": 2, "layers": 2}
NO_DROPOUT = {k: 0.0 for k in ("attn_dropout", "relu_dropout", "res_dropout", "embed_dropout", "out_dropout")}
N, BATCH, EPOCHS = 16, 8, 10  # 2 steps an epoch: 20 steps
TASK = get_task("classification")

SETTINGS = [  # alpha, beta, temperature, lr, seed, labelled fraction, grad clip, weight decay
    dict(alpha=1.0, beta=1.0, temperature=1.0, lr=1e-3, seed=0, fraction=1.0, grad_clip=0.8, weight_decay=0.0),
    dict(alpha=0.3, beta=2.5, temperature=2.0, lr=3e-3, seed=1, fraction=0.5, grad_clip=0.0, weight_decay=1e-4),
    dict(alpha=0.7, beta=0.5, temperature=0.7, lr=5e-4, seed=2, fraction=0.25, grad_clip=0.5, weight_decay=0.0),
]


def _split(seed, n=N):
    gen = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(n, LENGTHS[m], DIMS[m], generator=gen) for m in DIMS}
    return TensorSplit(**feats, label=torch.rand(n, generator=gen) * 6 - 3)


def _setup():
    torch.manual_seed(100)
    teacher = MulTTeacher(dims=DIMS, lengths=LENGTHS, n_out=7, **TINY).eval()
    train, valid = _split(0), _split(1, n=12)
    members = []
    for s in SETTINGS:
        torch.manual_seed(s["seed"])  # each student's own initialisation, as build_run seeds it
        student = VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=7, **TINY, **NO_DROPOUT)
        kd = build_loss("edam", pairs=dict(DISTILLED_PAIRS[5]), temperature=s["temperature"])
        kd.bind(student=student, teacher=teacher, n_train=N)
        members.append(Member(student=student, kd=kd, alpha=s["alpha"], beta=s["beta"], lr=s["lr"], seed=s["seed"],
                              grad_clip=s["grad_clip"], weight_decay=s["weight_decay"],
                              labelled=labelled_mask(N, s["fraction"], seed=s["seed"])))
    return teacher, train, valid, members


def _unpacked(teacher, train, member):
    """The member's own run: DistillObjective with the online teacher and the one Trainer."""
    objective = DistillObjective(copy.deepcopy(member.student), teacher, TASK, copy.deepcopy(member.kd),
                                 alpha=member.alpha, beta=member.beta)
    settings = TrainSettings(epochs=EPOCHS, batch_size=BATCH, lr=member.lr, weight_decay=member.weight_decay,
                             grad_clip=member.grad_clip, seed=member.seed)
    return Trainer(objective, TASK, settings), dataclasses.replace(train, labelled=member.labelled)


def test_each_packed_student_equals_its_unpacked_run_over_20_steps():
    teacher, train, valid, members = _setup()
    solo = [_unpacked(teacher, train, m) for m in members]
    pack = PackedTrainer(members, TASK, batch_size=BATCH,
                         targets=TeacherTargets(compute_targets(teacher, train, members[0].kd)))
    for epoch in range(1, EPOCHS + 1):
        packed = pack.train_epoch(train, epoch)
        packed_val = pack.evaluate(valid)
        for i, (trainer, split) in enumerate(solo):
            alone = trainer.train_epoch(split, epoch)
            for key in ("train_loss", "train_task", "train_kd"):
                assert abs(packed[i][key] - alone[key]) < 1e-5, (epoch, i, key, packed[i][key], alone[key])
            alone_val = trainer.evaluate(valid, prefix="val_")
            assert abs(packed_val[i]["val_loss"] - alone_val["val_loss"]) < 1e-5
    assert pack.steps == [20, 20, 20]
    for i, (trainer, _) in enumerate(solo):
        _assert_same_weights(pack.state_dict(i), trainer.objective.student, valid)
    # The students really differ (a pack that trained one student K times would pass the above
    # only if the settings were equal).
    assert not torch.allclose(pack.state_dict(0)["head.out_layer.weight"], pack.state_dict(1)["head.out_layer.weight"])


def _assert_same_weights(packed: dict, student, valid) -> None:
    """Every weight within 1e-5, except the attention key biases: their gradient is zero in exact
    arithmetic (softmax ignores a shift shared by a row), so Adam turns float round-off (different
    in a batched kernel) into steps of about lr. They change no output, which is checked instead."""
    weights = student.state_dict()
    assert packed.keys() == weights.keys()
    d = TINY["d_model"]
    for name, value in weights.items():
        mine = packed[name]
        if name.endswith("attn.in_proj_bias"):
            mine, value = torch.cat([mine[:d], mine[2 * d:]]), torch.cat([value[:d], value[2 * d:]])
        assert (mine - value).abs().max().item() < 1e-5, name
    twin = copy.deepcopy(student).eval()
    twin.load_state_dict(packed)
    student.eval()
    with torch.no_grad():
        torch.testing.assert_close(twin(valid.vision).logits, student(valid.vision).logits, rtol=0, atol=1e-5)


def test_a_diverging_student_fails_alone_and_a_stopped_one_leaves():
    teacher, train, valid, members = _setup()
    solo = _unpacked(teacher, train, members[2])
    members[0].alpha = math.nan  # its loss is NaN from the first step
    pack = PackedTrainer(members, TASK, batch_size=BATCH,
                         targets=TeacherTargets(compute_targets(teacher, train, members[0].kd)))
    first = pack.train_epoch(train, 1)
    assert not math.isfinite(first[0]["train_loss"])
    assert [m.seed for m in pack.failed] == [0] and "NaN" in pack.failed[0].failed
    assert [m.seed for m in pack.members] == [1, 2]
    stopped = pack.remove(0)  # e.g. ASHA stopped the student of seed 1
    assert stopped.seed == 1 and len(pack.members) == 1
    trainer, split = solo
    alone = trainer.train_epoch(split, 1)
    assert abs(first[2]["train_loss"] - alone["train_loss"]) < 1e-5
    for epoch in (2, 3):
        packed, alone = pack.train_epoch(train, epoch), trainer.train_epoch(split, epoch)
        assert abs(packed[0]["train_loss"] - alone["train_loss"]) < 1e-5
    _assert_same_weights(pack.state_dict(0), trainer.objective.student, valid)


def test_crd_is_refused_with_a_reason():
    kd = build_loss("crd", level="final", nce_k=4)
    kd.bind(n_train=10)
    kd._add_unit("final", 7, 7)
    kd.bind(n_train=10)
    with pytest.raises(ValueError, match="students_per_worker: 1"):
        check_packable(kd)
