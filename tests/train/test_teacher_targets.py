"""Teacher targets read from the cache give exactly the KD loss, gradients and training of the
online teacher, for every method and level (fp32: within 1e-6)."""

import numpy as np
import pytest
import torch

from kdsearch.distill import build_loss
from kdsearch.models import DISTILLED_PAIRS, MulTTeacher, VideoStudent
from kdsearch.train.experiment import TensorSplit
from kdsearch.train.objectives import DistillObjective
from kdsearch.train.tasks import get_task
from kdsearch.train.teacher_targets import (TeacherTargets, cache_bytes, compute_targets, load_targets,
                                            per_sample_shapes, save_targets, target_key)
from kdsearch.train.trainer import Trainer, TrainSettings

DIMS = {"text": 12, "audio": 6, "vision": 5}
LENGTHS = {"text": 4, "audio": 10, "vision": 10}
TINY = {"d_model": 8, "heads": 2, "layers": 2}
N = 40
PAIRS = dict(DISTILLED_PAIRS[5])

CASES = {
    "logit": ("logit", {}, {}),
    "edam": ("edam", {"pairs": PAIRS}, {}),
    "edam-per-head": ("edam", {"pairs": PAIRS, "heads": "per_head", "temperature": 2.0}, {}),
    "edam-teacher-up": ("edam", {"pairs": PAIRS, "align": "teacher_up"}, {"align": "none"}),
    **{f"crd-{level}": ("crd", {"pairs": PAIRS, "level": level, "nce_k": 8, "feat_dim": 16}, {})
       for level in ("final", "penultimate", "post_attention", "attention_maps")},
}


def _split(seed=0) -> TensorSplit:
    gen = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(N, LENGTHS[m], DIMS[m], generator=gen) for m in DIMS}
    return TensorSplit(**feats, label=torch.rand(N, generator=gen) * 6 - 3)


def _teacher() -> MulTTeacher:
    torch.manual_seed(123)
    return MulTTeacher(dims=DIMS, lengths=LENGTHS, n_out=7, embed_dropout=0.3, res_dropout=0.2, **TINY).eval()


def _objective(case, teacher, split, targets=None) -> DistillObjective:
    method, options, student_cfg = CASES[case]
    torch.manual_seed(7)  # both sides build the same student and loss heads
    student = VideoStudent(vision_dim=DIMS["vision"], lengths=LENGTHS, n_out=7, **{**TINY, **student_cfg})
    kd = build_loss(method, **options)
    kd.bind(student=student, teacher=teacher, n_train=split.n, labels=split.label)
    return DistillObjective(student, teacher, get_task("classification"), kd, alpha=0.5, beta=2.0,
                            targets=None if targets is None else TeacherTargets(targets))


@pytest.mark.parametrize("case", sorted(CASES))
def test_cached_loss_and_gradients_equal_online(case):
    teacher, split = _teacher(), _split()
    online = _objective(case, teacher, split)
    targets = compute_targets(teacher, split, online.kd, batch_size=16)  # other batches than training's
    cached = _objective(case, teacher, split, targets)
    batch = split.batch(torch.tensor([31, 2, 17, 5, 39, 0, 22, 9]))
    grads, losses = [], []
    for objective in (online, cached):
        objective.train()
        torch.manual_seed(0)  # the student's dropout draws the same masks on both sides
        out = objective(batch)
        out["loss"].backward()
        grads.append({n: p.grad.clone() for n, p in objective.named_parameters() if p.grad is not None})
        losses.append({k: float(out[k].detach()) for k in ("loss", "task", "kd")})
    assert losses[0]["kd"] != 0.0
    for key in losses[0]:
        assert abs(losses[1][key] - losses[0][key]) <= 1e-6, key
    assert grads[0].keys() == grads[1].keys() and any(k.startswith("student.") for k in grads[0])
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=0, atol=1e-6, msg=name)


@pytest.mark.parametrize("case", ["edam", "crd-attention_maps", "logit"])
def test_cached_training_follows_the_online_one(case):
    """Two epochs of the real Trainer (shuffled batches, Adam, CRD's bank updates): same losses and weights."""
    teacher, split = _teacher(), _split()
    runs = []
    for use_cache in (False, True):
        targets = compute_targets(teacher, split, _objective(case, teacher, split).kd) if use_cache else None
        objective = _objective(case, teacher, split, targets)
        trainer = Trainer(objective, get_task("classification"),
                          TrainSettings(epochs=2, batch_size=8, lr=1e-3, grad_clip=0.8, seed=3))
        losses = [trainer.train_epoch(split, epoch) for epoch in (1, 2)]
        runs.append((losses, {k: v.clone() for k, v in objective.state_dict().items()}))
    for a, b in zip(runs[0][0], runs[1][0]):
        assert a.keys() == b.keys()
        for key in a:
            assert abs(a[key] - b[key]) < 1e-6, key
    for name, value in runs[0][1].items():
        torch.testing.assert_close(runs[1][1][name], value, rtol=0, atol=1e-6, msg=name)


def test_teacher_is_deterministic_in_eval_mode_despite_dropout():
    """The teacher has dropout; in eval mode two calls (and any batch) give the same targets."""
    teacher, split = _teacher(), _split()
    kd = build_loss("crd", pairs=PAIRS, level="post_attention", nce_k=8)
    teacher.train()  # compute_targets must switch it to eval itself
    first = compute_targets(teacher, split, kd, batch_size=7)
    second = compute_targets(teacher, split, kd, batch_size=40)
    assert teacher.training  # and restore its mode
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_only_what_the_loss_reads_is_stored_and_sized_from_shapes():
    teacher, split = _teacher(), _split()
    kd = build_loss("edam", pairs={"V<-L": "V<-L"})
    targets = compute_targets(teacher, split, kd)
    assert sorted(targets) == ["features|final", "features|penultimate", "logits", "maps|V<-L|0", "maps|V<-L|1"]
    assert targets["maps|V<-L|0"].shape == (N, 2, 4, 10)
    shapes = per_sample_shapes(teacher, kd, DIMS, LENGTHS)
    assert {k: (N, *v) for k, v in shapes.items()} == {k: a.shape for k, a in targets.items()}
    assert cache_bytes(shapes, N, "float32") == sum(a.nbytes for a in targets.values())
    assert cache_bytes(shapes, N, "bfloat16") * 2 == cache_bytes(shapes, N, "float32")
    logit_only = compute_targets(teacher, split, build_loss("logit"))
    assert sorted(logit_only) == ["features|final", "features|penultimate", "logits"]
    assert target_key("t", kd, "float32") != target_key("t", build_loss("logit"), "float32")
    assert target_key("t", kd, "float32") != target_key("t", kd, "float16")
    assert target_key("t", kd, "float32") == target_key("t", build_loss("edam", pairs={"V<-L": "V<-L"},
                                                                        temperature=3.0), "float32")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_storage_round_trips_through_disk(tmp_path, dtype):
    teacher, split = _teacher(), _split()
    kd = build_loss("edam", pairs=PAIRS)
    exact = TeacherTargets(compute_targets(teacher, split, kd)).lookup(torch.arange(N))
    path = tmp_path / "t" / "targets.npz"
    save_targets(compute_targets(teacher, split, kd, dtype), path)
    half = TeacherTargets(load_targets(path)).lookup(torch.arange(N))
    scores, approx = exact.attn_scores["V<-L"][1], half.attn_scores["V<-L"][1]
    assert approx.dtype == torch.float32
    assert torch.equal(torch.isinf(scores), torch.isinf(approx))  # masked keys stay -inf
    finite = torch.isfinite(scores)
    torch.testing.assert_close(approx[finite], scores[finite], rtol=1e-2, atol=1e-2)


def test_a_dmd_teacher_gives_the_same_targets_in_any_batch():
    """DMD as the frozen teacher (its graph units mix modalities, never samples): cached = online."""
    from kdsearch.models.dmd import DMD
    from kdsearch.train.objectives import run_model

    torch.manual_seed(5)
    teacher = DMD(dims=DIMS, lengths=LENGTHS, n_out=7, **TINY).eval()
    split = _split()
    kd = build_loss("edam", pairs=PAIRS)
    cached = TeacherTargets(compute_targets(teacher, split, kd, batch_size=7))
    index = torch.tensor([30, 1, 12, 39, 4])
    with torch.no_grad():
        online = run_model(teacher, split.batch(index), kd.teacher_maps(), kd.teacher_post_attention())
    looked_up = cached.lookup(index)
    torch.testing.assert_close(looked_up.logits, online.logits, rtol=0, atol=1e-6)
    for pair, layers in online.attn_scores.items():
        for mine, theirs in zip(looked_up.attn_scores[pair], layers):
            torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-6)
